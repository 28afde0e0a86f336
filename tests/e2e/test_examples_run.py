"""Every real-data example config (examples/frappe, ml1m, ml100k, aliccp, taobao) runs end to end on CPU.

The real data stay out of the repository, so `rec-data synth` makes a small table with the
config's columns (one table per example folder and label set: a folder's configs read the same
feature columns, but e.g. a rating and a retrieval model have different labels), and a
sampler's item table is written from it; `rec-train` then runs one short epoch of the config
as written (its optimizers, schedules and model) and evaluates the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rec_core.config import load_pipeline_config
from tests.conftest import ROOT, rec

pytestmark = pytest.mark.slow

CONFIGS = [config for folder in ("frappe", "ml1m", "ml100k", "aliccp", "taobao") for config in sorted((ROOT / "examples" / folder).glob("*.config"))]
BATCH, STEPS = 128, 3


@pytest.fixture(scope="module")
def folder_data(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[Path, tuple[str, ...]], Path]:
    """Synthetic data per example folder, made on first use."""
    return {}


def synth(config: Path, cache: dict[tuple[Path, tuple[str, ...]], Path], tmp: pytest.TempPathFactory) -> Path:
    key = (config.parent, tuple(load_pipeline_config(str(config)).data_config.label_fields))
    if key not in cache:
        data = tmp.mktemp(config.parent.name) / "data.parquet"
        made = rec("rec_data.cli", "synth", "--pipeline_config_path", str(config), "--num_rows", str(BATCH * STEPS), "--seed", "1", "--output", str(data))
        assert made.returncode == 0, made.stderr[-3000:]
        cache[key] = data
    return cache[key]


def sampler_edits(config: Path, data: Path, out: Path) -> dict[str, str]:
    """A uniform item table for the config's negative sampler (if any): each item id of the data
    with the attr_fields of its first row (list values joined by rec's multi-value separator)."""
    data_config = load_pipeline_config(str(config)).data_config
    if not data_config.HasField("negative_sampler"):
        return {}
    sampler = data_config.negative_sampler
    table = pq.read_table(data, columns=list(dict.fromkeys([sampler.item_id_field, *sampler.attr_fields])))
    ids = table.column(sampler.item_id_field).to_pylist()
    first = {item: row for row, item in reversed(list(enumerate(ids)))}
    attrs = {name: table.column(name).to_pylist() for name in sampler.attr_fields}

    def text(value: object) -> str:
        return data_config.fg_encoded_multival_sep.join(map(str, value)) if isinstance(value, list) else str(value)

    rows = [f"{item}\t1\t{sampler.attr_delimiter.join(text(attrs[n][row]) for n in sampler.attr_fields)}\n" for item, row in first.items()]
    out.write_text("id\tweight\tfeature\n" + "".join(rows))
    return {"data_config.negative_sampler.input_path": str(out)}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_trains_and_evaluates(
    config: Path, tmp_path: Path, folder_data: dict[tuple[Path, tuple[str, ...]], Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = synth(config, folder_data, tmp_path_factory)
    # one epoch of STEPS batches: the configs count in epochs
    edits = {"train_config.num_epochs": 1, "data_config.batch_size": BATCH, "data_config.num_workers": 0}
    edits.update(sampler_edits(config, data, tmp_path / "items.txt"))
    model_dir = tmp_path / "model"
    trained = rec(
        "rec_dist.cli.train", "--pipeline_config_path", str(config), "--edit_config_json", json.dumps(edits),
        "--model_dir", str(model_dir), "--train_input_path", str(data), "--eval_input_path", str(data), "--seed", "1",
    )
    assert trained.returncode == 0, trained.stderr[-4000:]
    assert (model_dir / f"model.ckpt-{STEPS}").exists()
    final = json.loads((model_dir / "train_eval_result_v2.txt").read_text().splitlines()[-1])
    assert final["global_step"] == STEPS and len(final) > 1, final
