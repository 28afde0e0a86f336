"""The export directory: files, model_acc.json, assets, remote targets, and failures that leave nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import fsspec
import numpy as np
import pyarrow.parquet as pq
import pytest

from rec_core.config import load_pipeline_config
from rec_core.errors import CheckpointError, ConfigError
from rec_export import Predictor
from rec_export.acc import AccConfig
from rec_export.exporter import export

FP32 = AccConfig(quant_emb="")


@pytest.fixture(scope="module")
def exported(project: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    extra = tmp_path_factory.mktemp("extra") / "notes.txt"
    extra.write_text("served by rec")
    out = tmp_path_factory.mktemp("exports") / "e1"
    export(str(project["config"]), str(out), asset_files=[str(extra)], acc=FP32)
    return out


def test_export_holds_model_configs_acc_and_assets(exported: Path) -> None:
    names = {p.name for p in exported.iterdir()}
    assert {"scripted_model.pt", "pipeline.config", "fg.json", "model_acc.json", "notes.txt"} <= names
    acc = json.loads((exported / "model_acc.json").read_text())
    assert acc["EXPORTER"] == "torchscript"
    assert acc["QUANT_EMB"] == "0" and acc["ENABLE_AOT"] == "0" and acc["INPUT_TILE"] == "0"
    assert acc["MAX_EXPORT_BATCH_SIZE"] == "512"
    # the vocab file is copied as <stem>_<md5><ext> and both configs name that copy
    vocab = [n for n in names if n.startswith("tags_") and n.endswith(".txt")]
    assert len(vocab) == 1 and len(vocab[0]) == len("tags_") + 32 + len(".txt")
    fg = json.loads((exported / "fg.json").read_text())
    tag = next(e for e in fg["features"] if e["feature_name"] == "tag")
    assert tag["vocab_file"] == vocab[0] and "asset_dir" not in tag
    config = load_pipeline_config(str(exported / "pipeline.config"))
    id_tag = next(fc.id_feature for fc in config.feature_configs if fc.id_feature.feature_name == "tag")
    assert id_tag.vocab_file == vocab[0] and not id_tag.asset_dir


def test_a_moved_export_scores_without_the_original_assets(
    exported: Path, project: dict[str, Path], tmp_path: Path
) -> None:
    rows = pq.read_table(project["data"]).slice(0, 50)
    before = Predictor(str(exported)).predict(rows)["probs"]
    moved = tmp_path / "moved"
    shutil.copytree(exported, moved)
    assets = tmp_path / "assets_away"
    project["assets"].rename(assets)
    try:
        after = Predictor(str(moved)).predict(rows)["probs"]
    finally:
        assets.rename(project["assets"])
    np.testing.assert_array_equal(before, after)


def test_existing_target_is_refused_and_nothing_is_written(exported: Path, project: dict[str, Path]) -> None:
    before = sorted(p.name for p in exported.parent.iterdir())
    with pytest.raises(ConfigError, match="already exists"):
        export(str(project["config"]), str(exported), acc=FP32)
    assert sorted(p.name for p in exported.parent.iterdir()) == before


def test_missing_checkpoint_and_assets_fail_before_writing(project: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        export(str(project["config"]), str(tmp_path / "a"), checkpoint_path=str(tmp_path / "nowhere"), acc=FP32)
    with pytest.raises(ConfigError, match="--asset_files"):
        export(str(project["config"]), str(tmp_path / "b"), asset_files=[str(tmp_path / "missing.txt")], acc=FP32)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_exporter_leaves_no_staging_behind(
    project: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rec_export.exporters.torchscript import TorchScriptExporter

    def broken(self: object, job: object) -> dict:
        raise RuntimeError("disk full")

    monkeypatch.setattr(TorchScriptExporter, "export", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export(str(project["config"]), str(tmp_path / "c"), acc=FP32)
    assert list(tmp_path.iterdir()) == []


def test_remote_export_dir_is_staged_locally_and_uploaded(
    project: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_CACHE_DIR", str(tmp_path / "cache"))
    url = "memory://rec-export-test/e2"
    export(str(project["config"]), url, acc=FP32)
    fs = fsspec.filesystem("memory")
    assert {Path(p).name for p in fs.ls("/rec-export-test/e2", detail=False)} >= {"scripted_model.pt", "fg.json", "model_acc.json"}
    assert not [p for p in fs.ls("/rec-export-test", detail=False) if ".tmp-" in p]
    assert [p.name for p in (tmp_path / "cache").iterdir() if ".tmp-" in p.name] == []
    rows = pq.read_table(project["data"]).slice(0, 20)
    assert Predictor(url).predict(rows)["probs"].shape == (20,)
    with pytest.raises(ConfigError, match="already exists"):
        export(str(project["config"]), url, acc=FP32)


def test_env_flags_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AccConfig.from_env().quant_emb == "INT8"  # TorchEasyRec quantizes pooled tables by default
    monkeypatch.setenv("QUANT_EMB", "0")
    monkeypatch.setenv("ENABLE_AOT", "1")
    monkeypatch.setenv("MAX_EXPORT_BATCH_SIZE", "64")
    acc = AccConfig.from_env()
    assert (acc.quant_emb, acc.exporter, acc.max_export_batch_size) == ("", "aot", 64)
    monkeypatch.setenv("QUANT_EMB", "int9")
    with pytest.raises(ConfigError, match="QUANT_EMB"):
        AccConfig.from_env()
    monkeypatch.setenv("QUANT_EMB", "1")
    monkeypatch.setenv("ENABLE_TRT", "1")
    with pytest.raises(ConfigError, match="exclude each other"):
        AccConfig.from_env()
