"""convert-easyrec end to end: EasyRec configs in examples/easyrec convert through the console
script, and the converted configs train with rec-train on rec-data synth data."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess]
EXAMPLES = Path(__file__).resolve().parents[3] / "examples/easyrec"


def _convert(tools: Runner, name: str, out: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    return tools("convert-easyrec", "--easyrec_config_path", EXAMPLES / f"{name}.config", "--output_tzrec_config_path", out, *extra, check=check)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deepfm", {"auc", "grouped_auc", "binary_cross_entropy"}),
        ("dbmtl", {"auc_ctr", "auc_cvr", "binary_cross_entropy_ctr", "binary_cross_entropy_cvr"}),
        ("dssm", {"recall@1", "recall@5", "softmax_cross_entropy"}),
    ],
)
def test_converted_config_trains(name: str, expected: set[str], tmp_path: Path, tools: Runner, script: Runner, repo_root: Path) -> None:
    config = tmp_path / f"{name}.config"
    result = _convert(tools, name, config)
    assert "converted;" in result.stdout
    report = (tmp_path / f"{name}.config.report.txt").read_text()
    assert "l2_regularization" in report  # dropped, and said so
    train = tmp_path / "train.parquet"
    script("rec-data", "synth", "--pipeline_config_path", config, "--num_rows", "1200", "--seed", "1", "--output", train)
    edits: dict[str, object] = {"train_config.num_steps": 4, "data_config.batch_size": 128, "data_config.num_workers": 0}
    if name == "dssm":
        script("python", repo_root / "examples/zoo/make_sampler_tables.py", "--input", train, "--output_dir", tmp_path, "--attr_fields", "item_id,cate_id,brand,price")
        edits.update({"data_config.negative_sampler.input_path": str(tmp_path / "items.txt"), "data_config.negative_sampler.num_sample": 32})
    model_dir = tmp_path / "model"
    script(
        "rec-train", "--pipeline_config_path", config, "--model_dir", model_dir, "--train_input_path", train,
        "--eval_input_path", train, "--edit_config_json", json.dumps(edits), timeout=600,
    )
    result = json.loads((model_dir / "train_eval_result_v2.txt").read_text().splitlines()[-1])
    assert result["global_step"] == 4
    assert set(result) - {"global_step"} == expected
    assert all(math.isfinite(v) for v in result.values())


def test_strict_refuses_a_config_with_dropped_options(tmp_path: Path, tools: Runner) -> None:
    out = tmp_path / "deepfm.config"
    result = _convert(tools, "deepfm", out, "--strict", check=False)
    assert result.returncode == 2
    assert "error:" in result.stderr and "train_config.sync_replicas: line 10:" in result.stderr and "--strict" in result.stderr
    assert not out.exists()


def test_report_goes_where_asked(tmp_path: Path, tools: Runner) -> None:
    report = tmp_path / "report.txt"
    _convert(tools, "dbmtl", tmp_path / "dbmtl.config", "--report_path", report)
    lines = report.read_text().splitlines()
    assert lines[1] == "# 3 option(s) dropped, 2 note(s)"
    assert "dropped: eval_config.metrics_set (line 22): multi-task models take their metrics from task_towers" in lines
