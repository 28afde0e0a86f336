"""A user's main path: train, evaluate, export, then predict from the export, the checkpoint and Predictor."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import rec, run

pytestmark = pytest.mark.slow


def _final_auc(stdout: str) -> float:
    match = re.search(r"final eval: .*auc=([0-9.]+)", stdout)
    assert match, stdout
    return float(match.group(1))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, synth_data: dict[str, Path]) -> dict[str, Path]:
    from tests.conftest import write_config

    tmp = tmp_path_factory.mktemp("trained")
    config = write_config(
        tmp / "pipeline.config",
        {
            "train_input_path": str(synth_data["train"]),
            "eval_input_path": str(synth_data["eval"]),
            "model_dir": str(tmp / "model"),
            "data_config.batch_size": 256,
            "train_config.save_checkpoints_steps": 40,
        },
    )
    result = rec("rec_dist.cli.train", "--pipeline_config_path", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    return {"config": config, "model_dir": tmp / "model", "tmp": tmp, "stdout": Path(tmp / "stdout.txt"), "out": result}  # type: ignore[dict-item]


def test_training_beats_chance_and_leaves_checkpoints_and_results(trained: dict) -> None:
    out = trained["out"]
    assert _final_auc(out.stdout) >= 0.70
    assert "samples/s=" in out.stderr  # progress is reported
    model_dir = trained["model_dir"]
    ckpts = sorted(p.name for p in model_dir.glob("model.ckpt-*"))
    assert ckpts and all((model_dir / c / "meta.json").is_file() for c in ckpts)
    lines = (model_dir / "train_eval_result_v2.txt").read_text().splitlines()
    results = [json.loads(line) for line in lines]
    assert [r["global_step"] for r in results] == sorted(r["global_step"] for r in results)
    assert results[-1]["auc"] == pytest.approx(_final_auc(out.stdout), abs=1e-6)
    assert list(model_dir.glob("events.out.tfevents.*")), "TensorBoard scalars are written"
    assert (model_dir / "pipeline.config").is_file()


def test_rerun_without_continue_train_refuses_the_model_dir(trained: dict) -> None:
    result = rec("rec_dist.cli.train", "--pipeline_config_path", str(trained["config"]))
    assert result.returncode == 2
    assert "already holds checkpoints" in result.stderr and "--continue_train" in result.stderr


def test_export_checkpoint_and_predictor_agree(trained: dict, synth_data: dict[str, Path]) -> None:
    tmp, config = trained["tmp"], str(trained["config"])
    rows = pq.read_metadata(synth_data["eval"]).num_rows
    export_dir = tmp / "export"
    # QUANT_EMB=0: pooled tables stay float32 (INT8 by default), so export and checkpoint agree to float precision
    result = run([sys.executable, "-m", "rec_export.cli", "--pipeline_config_path", config, "--export_dir", str(export_dir)], env={"QUANT_EMB": "0"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p.name for p in export_dir.iterdir()} >= {"scripted_model.pt", "pipeline.config", "fg.json", "model_acc.json"}

    again = rec("rec_export.cli", "--pipeline_config_path", config, "--export_dir", str(export_dir))
    assert again.returncode == 2 and "already exists" in again.stderr

    # the prediction input has no label column; clk is passed through only to compare
    unlabeled = tmp / "unlabeled.parquet"
    pq.write_table(pq.read_table(synth_data["eval"]).drop(["clk"]).append_column("row_id", pa.array(range(rows))), unlabeled)
    common = ["--predict_input_path", str(unlabeled), "--reserved_columns", "row_id"]
    r1 = rec("rec_dist.cli.predict", "--scripted_model_path", str(export_dir), "--predict_output_path", str(tmp / "p_export"), *common)
    assert r1.returncode == 0, r1.stderr[-3000:]
    r2 = rec("rec_dist.cli.predict", "--pipeline_config_path", config, "--predict_output_path", str(tmp / "p_ckpt"), *common)
    assert r2.returncode == 0, r2.stderr[-3000:]
    by_export = pq.read_table(tmp / "p_export/part-0.parquet")
    by_ckpt = pq.read_table(tmp / "p_ckpt/part-0.parquet")
    assert by_export.num_rows == by_ckpt.num_rows == rows
    assert by_export.column_names == ["row_id", "logits", "probs"]
    assert by_export["row_id"].to_pylist() == list(range(rows))
    p_export, p_ckpt = by_export["probs"].to_numpy(), by_ckpt["probs"].to_numpy()
    assert np.abs(p_export - p_ckpt).max() <= 1e-5

    from rec_export import Predictor

    predictor = Predictor(str(export_dir))
    raw_rows = pq.read_table(synth_data["eval"]).slice(0, 500).to_pylist()
    assert np.abs(predictor.predict(raw_rows)["probs"] - p_export[:500]).max() <= 1e-5


def test_eval_cli_appends_results(trained: dict) -> None:
    result = rec("rec_dist.cli.eval", "--pipeline_config_path", str(trained["config"]))
    assert result.returncode == 0, result.stderr[-3000:]
    line = json.loads((trained["model_dir"] / "eval_result.txt").read_text().splitlines()[-1])
    assert line["auc"] == pytest.approx(_final_auc(trained["out"].stdout), abs=1e-4)


def test_fine_tune_warm_starts_from_a_checkpoint(trained: dict, tmp_path: Path) -> None:
    from rec_core.config import load_pipeline_config, save_message

    config = load_pipeline_config(str(trained["config"]))
    config.model_dir = str(tmp_path / "ft")
    config.train_config.ClearField("num_epochs")
    config.train_config.num_steps = 1
    save_message(config, str(tmp_path / "ft.config"))
    result = rec(
        "rec_dist.cli.train", "--pipeline_config_path", str(tmp_path / "ft.config"),
        "--fine_tune_checkpoint", str(trained["model_dir"]),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "restored model from" in result.stderr
    # one step of fine-tuning keeps nearly all of the trained model's quality
    assert _final_auc(result.stdout) > _final_auc(trained["out"].stdout) - 0.05
