"""A third-party reader plugin (tests/plugins/rec-plugin-jsonl) feeds training, chosen by file ending."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import rec, write_config

pytestmark = pytest.mark.slow


def _to_jsonl(parquet: Path, out: Path) -> Path:
    from rec_data.writers import create_writer

    with create_writer(str(out), 0, kind="jsonl") as w:  # the plugin's writer, found by kind
        w.write(pq.read_table(parquet))
    return out


def test_quickstart_trains_from_json_lines(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    train = _to_jsonl(synth_data["train"], tmp_path / "train.jsonl")
    evals = _to_jsonl(synth_data["eval"], tmp_path / "eval.jsonl")
    first = json.loads(train.read_text().splitlines()[0])
    assert {"user_id", "item_id", "device", "clk"} <= set(first)
    # The quickstart config says ParquetDataset; the .jsonl ending picks the plugin's reader.
    config = write_config(tmp_path / "pipeline.config", {"model_dir": str(tmp_path / "model")})
    edits = {
        "train_input_path": str(train),
        "eval_input_path": str(evals),
        "data_config.batch_size": 256,
        "train_config.num_epochs": 1,
        "train_config.save_checkpoints_steps": 1000,
    }
    result = rec("rec_dist.cli.train", "--pipeline_config_path", str(config), "--edit_config_json", json.dumps(edits))
    assert result.returncode == 0, result.stderr[-3000:]
    match = re.search(r"final eval: .*auc=([0-9.]+)", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) > 0.6
    assert list((tmp_path / "model").glob("model.ckpt-*"))
