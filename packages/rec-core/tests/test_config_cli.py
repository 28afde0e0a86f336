"""The `rec-config` command line: validate, show, edit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import text_format

from rec_core.cli.config_cli import main
from rec_core.config import load_pipeline_config
from rec_core.protos import pipeline_pb2

DATA = Path(__file__).resolve().parent / "data"
GOOD = str(DATA / "deepfm_criteo.config")


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--pipeline_config_path", GOOD]) == 0
    assert capsys.readouterr().out.strip() == f"OK: {GOOD}"


def test_validate_reports_one_clear_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    bad = tmp_path / "bad.config"
    bad.write_text(Path(GOOD).read_text().replace('feature_names: "int_1"', 'feature_names: "int_2"'))
    assert main(["validate", "--pipeline_config_path", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: model_config.feature_groups[2].feature_names[1]: unknown feature")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_validate_parse_error_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.config"
    bad.write_text("data_config { batch_size: lots }\n")
    assert main(["validate", "--pipeline_config_path", str(bad)]) == 2
    assert "data_config.batch_size: line 1, column 27: wrong value for field batch_size: expected uint32" in capsys.readouterr().err
    assert main(["validate", "--pipeline_config_path", str(tmp_path / "none.config")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_validate_for_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "p.config"
    cfg.write_text(Path(GOOD).read_text().replace("num_epochs: 1", ""))
    assert main(["validate", "--pipeline_config_path", str(cfg)]) == 0
    assert main(["validate", "--pipeline_config_path", str(cfg), "--for_training"]) == 2
    assert "train_config.num_epochs" in capsys.readouterr().err


def test_traceback_only_under_debug(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    assert main(["validate", "--pipeline_config_path", str(tmp_path / "none.config")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_show_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--pipeline_config_path", GOOD]) == 0
    shown = text_format.Parse(capsys.readouterr().out, pipeline_pb2.EasyRecConfig())
    assert shown == load_pipeline_config(GOOD)
    assert main(["show", "--pipeline_config_path", GOOD, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model_config"]["deepfm"]["deep"]["hidden_units"] == [512, 256, 128]
    assert data["data_config"]["dataset_type"] == "ParquetDataset"


def test_edit_to_stdout_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edits = json.dumps({"feature_configs[feature_name=cat_0].id_feature.embedding_dim": 64, "data_config.batch_size": "32"})
    assert main(["edit", "--pipeline_config_path", GOOD, "--edit_config_json", edits]) == 0
    edited = text_format.Parse(capsys.readouterr().out, pipeline_pb2.EasyRecConfig())
    assert edited.feature_configs[2].id_feature.embedding_dim == 64 and edited.data_config.batch_size == 32
    out = tmp_path / "out" / "edited.config"
    assert main(["edit", "--pipeline_config_path", GOOD, "--edit_config_json", edits, "--output", str(out)]) == 0
    assert load_pipeline_config(str(out)) == edited


def test_edit_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edit", "--pipeline_config_path", GOOD, "--edit_config_json", "{not json"]) == 2
    assert "--edit_config_json is not valid JSON" in capsys.readouterr().err
    bad = json.dumps({"train_config.sparse_optimizer.adagrad_optimizer.lrr": 1})
    assert main(["edit", "--pipeline_config_path", GOOD, "--edit_config_json", bad]) == 2
    assert "no field 'lrr' in FusedAdagradOptimizer" in capsys.readouterr().err


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as e:
        main(["validate"])
    assert e.value.code == 2


def test_cli_does_not_import_torch() -> None:
    code = "import sys, rec_core.cli.config_cli; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_console_script_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rec_core.cli.config_cli", "validate", "--pipeline_config_path", GOOD],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == f"OK: {GOOD}"
