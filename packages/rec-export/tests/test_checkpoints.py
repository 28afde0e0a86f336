"""Which checkpoint an export freezes: given, latest, or best by export_config."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from rec_core.errors import CheckpointError, ConfigError
from rec_dist.setup import prepare_config
from rec_export.checkpoints import choose_checkpoint


def _config(project: dict[str, Path], **export_config: object) -> object:
    config = prepare_config(str(project["config"]))
    for key, value in export_config.items():
        setattr(config.export_config, key, value)
    return config


def test_latest_by_default_and_an_explicit_path_wins(project: dict[str, Path]) -> None:
    config = _config(project)
    assert choose_checkpoint(config).endswith("model.ckpt-20")
    explicit = str(project["model_dir"] / "model.ckpt-10")
    assert choose_checkpoint(config, explicit) == explicit
    assert choose_checkpoint(config, str(project["model_dir"])).endswith("model.ckpt-20")


def test_best_follows_the_metric_and_its_direction(project: dict[str, Path]) -> None:
    # results: step 10 auc 0.8 loss 0.4; step 20 auc 0.7 loss 0.5
    assert choose_checkpoint(_config(project, exporter_type="best")).endswith("model.ckpt-10")
    lower_loss = _config(project, exporter_type="best", best_exporter_metric="loss", metric_larger_is_better=False)
    assert choose_checkpoint(lower_loss).endswith("model.ckpt-10")
    higher_loss = _config(project, exporter_type="best", best_exporter_metric="loss", metric_larger_is_better=True)
    assert choose_checkpoint(higher_loss).endswith("model.ckpt-20")


def test_best_without_results_falls_back_to_latest_with_a_warning(
    project: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(project["model_dir"], model_dir)
    (model_dir / "train_eval_result_v2.txt").unlink()
    config = _config(project, exporter_type="best")
    config.model_dir = str(model_dir)
    with caplog.at_level(logging.WARNING, logger="rec"):
        assert choose_checkpoint(config).endswith("model.ckpt-20")
    assert "exporting the latest checkpoint" in caplog.text
    unknown_metric = _config(project, exporter_type="best", best_exporter_metric="recall")
    assert choose_checkpoint(unknown_metric).endswith("model.ckpt-20")


def test_bad_exporter_type_and_missing_checkpoint_are_clear_errors(project: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="export_config.exporter_type"):
        choose_checkpoint(_config(project, exporter_type="newest"))
    config = _config(project)
    config.model_dir = str(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        choose_checkpoint(config)
