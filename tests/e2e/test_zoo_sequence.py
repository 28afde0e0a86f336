"""examples/zoo/multi_tower_din.config run as a user would: synthetic click logs with a grouped
click history, `rec-train`, `rec-eval` of the checkpoint, then `rec-export` and predictions
from the exported model that match the checkpoint's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, rec, run, torchrun

pytestmark = pytest.mark.slow

CONFIG = ROOT / "examples/zoo/multi_tower_din.config"
STEPS = 24
EDITS = {"train_config.num_steps": STEPS, "data_config.batch_size": 128, "data_config.num_workers": 0}


def synth(out: Path, rows: int, seed: int) -> Path:
    result = rec(
        "rec_data.cli", "synth", "--pipeline_config_path", str(CONFIG),
        "--num_rows", str(rows), "--seed", str(seed), "--output", str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("din")
    data = {"train": synth(tmp / "train.parquet", 3000, 1), "eval": synth(tmp / "eval.parquet", 1000, 2)}
    result = rec(
        "rec_dist.cli.train", "--pipeline_config_path", str(CONFIG), "--edit_config_json", json.dumps(EDITS),
        "--model_dir", str(tmp / "model"), "--train_input_path", str(data["train"]), "--eval_input_path", str(data["eval"]),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {**data, "tmp": tmp, "model_dir": tmp / "model"}


def test_train_beats_chance_and_eval_of_the_checkpoint_agrees(trained: dict[str, Path]) -> None:
    model_dir = trained["model_dir"]
    during = [json.loads(line) for line in (model_dir / "train_eval_result_v2.txt").read_text().splitlines()]
    assert during[-1]["global_step"] == STEPS
    # the synthetic label depends on the history's items; a few steps already rank well above chance
    assert during[-1]["auc"] > 0.6
    evaluated = rec(
        "rec_dist.cli.eval", "--pipeline_config_path", str(model_dir / "pipeline.config"), "--eval_input_path", str(trained["eval"])
    )
    assert evaluated.returncode == 0, evaluated.stderr[-4000:]
    result = json.loads((model_dir / "eval_result.txt").read_text().splitlines()[-1])
    assert set(result) == {"global_step", "auc", "binary_cross_entropy"}
    for key, value in during[-1].items():
        assert result[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_exported_model_predicts_as_the_checkpoint(trained: dict[str, Path]) -> None:
    tmp, config = trained["tmp"], str(trained["model_dir"] / "pipeline.config")
    export_dir = tmp / "export"
    # QUANT_EMB=0: pooled tables stay float32 (INT8 by default), so the two agree to float precision
    exported = run(
        [sys.executable, "-m", "rec_export.cli", "--pipeline_config_path", config, "--export_dir", str(export_dir)],
        env={"QUANT_EMB": "0"},
    )
    assert exported.returncode == 0, exported.stderr[-4000:]
    rows = pq.read_table(trained["eval"]).slice(0, 300)
    unlabeled = tmp / "unlabeled.parquet"
    pq.write_table(rows.drop(["clk"]).append_column("row_id", pa.array(range(rows.num_rows))), unlabeled)
    common = ["--predict_input_path", str(unlabeled), "--reserved_columns", "row_id"]
    by_export = rec("rec_dist.cli.predict", "--scripted_model_path", str(export_dir), "--predict_output_path", str(tmp / "p_export"), *common)
    assert by_export.returncode == 0, by_export.stderr[-4000:]
    by_ckpt = rec("rec_dist.cli.predict", "--pipeline_config_path", config, "--predict_output_path", str(tmp / "p_ckpt"), *common)
    assert by_ckpt.returncode == 0, by_ckpt.stderr[-4000:]
    a, b = pq.read_table(tmp / "p_export/part-0.parquet"), pq.read_table(tmp / "p_ckpt/part-0.parquet")
    assert a["row_id"].to_pylist() == b["row_id"].to_pylist() == list(range(rows.num_rows))
    assert np.abs(a["probs"].to_numpy() - b["probs"].to_numpy()).max() <= 1e-5


def test_two_ranks_shard_the_history_tables(trained: dict[str, Path], tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    result = torchrun(
        "rec_dist.cli.train", "--pipeline_config_path", str(CONFIG), "--edit_config_json", json.dumps(EDITS),
        "--model_dir", str(model_dir), "--train_input_path", str(trained["train"]), "--eval_input_path", str(trained["eval"]),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    plan = next(line for line in result.stderr.splitlines() if "sharding plan over 2 rank(s)" in line)
    # the tables the candidate and its click history share are planned like any other
    assert " item:" in plan and " cate:" in plan
    during = [json.loads(line) for line in (model_dir / "train_eval_result_v2.txt").read_text().splitlines()]
    assert during[-1]["global_step"] == STEPS and during[-1]["auc"] > 0.6
