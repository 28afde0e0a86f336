"""`rec-tools benchmark` through the console script: two configs, averaged runs, a baseline."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rec_core.config import edit_config, load_pipeline_config, save_message
from rec_tools.benchmark import ConfigResult, compare, lower_is_better

Runner = Callable[..., subprocess.CompletedProcess]
EDITS = {"data_config.batch_size": 256, "data_config.num_workers": 0}


@pytest.mark.slow
def test_benchmark_two_configs_against_a_baseline(tmp_path: Path, tools: Runner, repo_root: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    quickstart = repo_root / "examples/quickstart/deepfm.config"
    for name, hidden in (("deepfm_small", [16]), ("deepfm_wide", [64, 32])):
        config = load_pipeline_config(str(quickstart))
        edit_config(config, {"model_config.deepfm.deep.hidden_units": hidden})
        config.train_config.ClearField("num_epochs")
        config.train_config.num_steps = 3
        save_message(config, str(configs / f"{name}.config"))
    baseline = tmp_path / "base.json"
    baseline.write_text(json.dumps({
        # an AUC of 0 is beaten by any model; a loss of 0 by none; a metric no run reports is missing
        "deepfm_small": {"auc": {"value": 0.0, "threshold": 0.01}, "binary_cross_entropy": 0.0},
        "deepfm_wide": {"auc": {"value": 0.5, "threshold": 0.5}, "recall@5": 0.3},
    }))
    data = repo_root / "examples/quickstart/data"
    result = tools(
        "benchmark", "--pipeline_config_path", configs, "--experiment_path", tmp_path / "exp", "--base_metric_path", baseline,
        "--run_cnt", "1", "--train_input_path", data / "train.parquet", "--eval_input_path", data / "eval.parquet",
        "--edit_config_json", json.dumps(EDITS), timeout=900,
    )
    doc = json.loads((tmp_path / "exp/benchmark_eval.json").read_text())
    assert (tmp_path / "exp/benchmark_eval.txt").read_text() == result.stdout
    small, wide = doc["configs"]["deepfm_small"], doc["configs"]["deepfm_wide"]
    assert len(small["runs"]) == 1 and all(run["ok"] for run in small["runs"] + wide["runs"])
    assert small["metrics"]["auc"]["mean"] == small["runs"][0]["metrics"]["auc"]
    assert small["metrics"]["auc"]["result"] == "better"
    assert small["metrics"]["binary_cross_entropy"]["result"] == "worse"
    assert wide["metrics"]["auc"]["result"] == "equal"
    assert wide["metrics"]["recall@5"]["result"] == "missing"
    assert doc["summary"] == {"better": 1, "equal": 1, "worse": 1, "missing": 1, "failed_runs": 0}
    assert "deepfm_small" in result.stdout and "summary: better 1, equal 1, worse 1, missing 1, failed runs 0" in result.stdout


def test_a_failing_run_is_reported_and_fails_the_command(tmp_path: Path, tools: Runner) -> None:
    config = tmp_path / "broken.config"
    config.write_text('train_input_path: "nope.parquet" eval_input_path: "nope.parquet" model_dir: "m"')
    result = tools("benchmark", "--pipeline_config_path", config, "--experiment_path", tmp_path / "exp", check=False, timeout=600)
    assert result.returncode == 1
    doc = json.loads((tmp_path / "exp/benchmark_eval.json").read_text())
    (run,) = doc["configs"]["broken"]["runs"]
    assert not run["ok"] and run["error"].startswith("rec-train exited 2: error:")
    assert doc["summary"]["failed_runs"] == 1


def test_bad_baseline_is_a_clear_error(tmp_path: Path, tools: Runner, repo_root: Path) -> None:
    baseline = tmp_path / "base.json"
    baseline.write_text(json.dumps({"deepfm": {"auc": "high"}}))
    result = tools(
        "benchmark", "--pipeline_config_path", repo_root / "examples/quickstart/deepfm.config",
        "--experiment_path", tmp_path, "--base_metric_path", baseline, check=False,
    )
    assert result.returncode == 2
    assert "--base_metric_path deepfm.auc: expected a number or" in result.stderr


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [("auc", 0.72, "better"), ("auc", 0.70, "worse"), ("auc", 0.7105, "equal"), ("binary_cross_entropy", 0.40, "better"),
     ("mean_squared_error", 0.9, "worse"), ("recall@10", 0.8, "better")],
)
def test_compare_direction(metric: str, value: float, expected: str) -> None:
    base = 0.5 if lower_is_better(metric) and metric != "binary_cross_entropy" else 0.71
    base = 0.45 if metric == "binary_cross_entropy" else base
    assert compare(metric, value, base, 0.001) == expected


def test_runs_are_averaged_over_successes() -> None:
    result = ConfigResult("x", "x.config", [
        {"ok": True, "metrics": {"auc": 0.7, "loss": 0.5}},
        {"ok": True, "metrics": {"auc": 0.8, "loss": 0.3}},
        {"ok": False, "metrics": {}},
    ])
    assert result.mean() == pytest.approx({"auc": 0.75, "loss": 0.4})
    assert result.stdev() == pytest.approx({"auc": 0.0707107, "loss": 0.1414214})
