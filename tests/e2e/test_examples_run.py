"""Every real-data example config (examples/frappe, examples/ml1m) runs end to end on CPU.

The real data stay out of the repository, so `rec-data synth` makes a small table with the
config's columns (one table per example folder: its configs read the same columns), and a
sampler's item table is written from it; `rec-train` then runs one short epoch of the config
as written (its optimizers, schedules and model) and evaluates the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from rec_core.config import load_pipeline_config
from tests.conftest import ROOT, rec

pytestmark = pytest.mark.slow

CONFIGS = sorted((ROOT / "examples/frappe").glob("*.config")) + sorted((ROOT / "examples/ml1m").glob("*.config"))
BATCH, STEPS = 128, 3


@pytest.fixture(scope="module")
def folder_data(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """Synthetic data per example folder, made on first use."""
    return {}


def synth(config: Path, cache: dict[Path, Path], tmp: pytest.TempPathFactory) -> Path:
    if config.parent not in cache:
        data = tmp.mktemp(config.parent.name) / "data.parquet"
        made = rec("rec_data.cli", "synth", "--pipeline_config_path", str(config), "--num_rows", str(BATCH * STEPS), "--seed", "1", "--output", str(data))
        assert made.returncode == 0, made.stderr[-3000:]
        cache[config.parent] = data
    return cache[config.parent]


def sampler_edits(config: Path, data: Path, out: Path) -> dict[str, str]:
    """A uniform item table for the config's negative sampler (if any), from the data's item ids."""
    data_config = load_pipeline_config(str(config)).data_config
    if not data_config.HasField("negative_sampler"):
        return {}
    sampler = data_config.negative_sampler
    ids = pc.unique(pq.read_table(data, columns=[sampler.item_id_field]).column(0)).to_pylist()
    out.write_text("id\tweight\tfeature\n" + "".join(f"{i}\t1\t{i}\n" for i in ids))
    return {"data_config.negative_sampler.input_path": str(out)}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_trains_and_evaluates(
    config: Path, tmp_path: Path, folder_data: dict[Path, Path], tmp_path_factory: pytest.TempPathFactory
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
