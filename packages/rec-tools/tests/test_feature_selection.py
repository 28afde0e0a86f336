"""`rec-tools feature-selection` on a model trained (by rec-train) with variational dropout."""

from __future__ import annotations

import csv
import json
import math
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.distributed.checkpoint as dcp

from rec_core.config import load_pipeline_config, save_message
from rec_dist.checkpoint import latest_checkpoint, list_params
from rec_dist.setup import build_features, build_model

Runner = Callable[..., subprocess.CompletedProcess]
pytestmark = pytest.mark.slow  # trains with rec-train
EDITS = {"data_config.num_workers": 0}


def _train(script: Runner, repo_root: Path, model_dir: Path, edits: dict, steps: int = 20) -> None:
    """The quickstart DeepFM trained for `steps` steps (with `edits`) into model_dir."""
    data = repo_root / "examples/quickstart/data"
    config = load_pipeline_config(str(repo_root / "examples/quickstart/deepfm.config"))
    config.train_config.ClearField("num_epochs")
    config.train_config.num_steps = steps
    path = model_dir.parent / f"{model_dir.name}.config"
    save_message(config, str(path))
    script(
        "rec-train", "--pipeline_config_path", path, "--model_dir", model_dir,
        "--train_input_path", data / "train.parquet", "--eval_input_path", data / "eval.parquet",
        "--edit_config_json", json.dumps({**EDITS, **edits}), timeout=600,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, script: Runner, repo_root: Path) -> Path:
    model_dir = tmp_path_factory.mktemp("vd") / "model"
    _train(script, repo_root, model_dir, {"model_config.variational_dropout": {"regularization_lambda": 0.1}})
    return model_dir


def _stored_drop_p(model_dir: Path, group: str) -> list[float]:
    ckpt = latest_checkpoint(str(model_dir))
    (key,) = [n for n, _, _ in list_params(ckpt) if n.endswith(f"group_variational_dropouts.{group}.feature_p")]
    shape = dict((n, s) for n, s, _ in list_params(ckpt))[key]
    state = {key: torch.empty(shape)}
    dcp.load(state, checkpoint_id=ckpt)
    return torch.sigmoid(state[key]).tolist()


def test_ranks_writes_and_prunes(trained: Path, tmp_path: Path, tools: Runner) -> None:
    results = json.loads((trained / "train_eval_result_v2.txt").read_text().splitlines()[-1])
    assert {"wide_feature_p_loss", "fm_feature_p_loss", "deep_feature_p_loss"} <= set(results)
    out = tmp_path / "fs"
    result = tools(
        "feature-selection", "--pipeline_config_path", trained / "pipeline.config", "--model_dir", trained,
        "--output_dir", out, "--topk", "3", "--visualize", "--clear_variational_dropout",
    )
    assert result.stdout.strip() == str(out / "pipeline.config")
    source = load_pipeline_config(str(trained / "pipeline.config"))
    pruned = load_pipeline_config(str(out / "pipeline.config"))
    assert not pruned.model_config.HasField("variational_dropout")
    for group, after in zip(source.model_config.feature_groups, pruned.model_config.feature_groups):
        with open(out / f"feature_dropout_ratio_{group.group_name}.csv") as f:
            rows = list(csv.DictReader(f))
        drop = {r["feature_name"]: float(r["mean_drop_p"]) for r in rows}
        # every feature of the group, most useful (lowest drop probability) first
        assert set(drop) == set(group.feature_names)
        assert [float(r["mean_drop_p"]) for r in rows] == sorted(drop.values())
        # the values are the checkpoint's learnt probabilities, in the group's feature order
        stored = _stored_drop_p(trained, group.group_name)
        assert [drop[n] for n in group.feature_names] == pytest.approx(stored, abs=1e-6)
        best = {r["feature_name"] for r in rows[:3]}
        assert list(after.feature_names) == [n for n in group.feature_names if n in best]
        assert (out / f"feature_dropout_pic_{group.group_name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    used = {n for g in pruned.model_config.feature_groups for n in g.feature_names}
    assert {getattr(fc, fc.WhichOneof("feature")).feature_name for fc in pruned.feature_configs} == used
    assert all(0.0 < v < 1.0 and math.isfinite(v) for v in _stored_drop_p(trained, "deep"))
    features, _ = build_features(pruned)
    build_model(pruned, features)  # the pruned config still makes a model


def test_config_without_variational_dropout_is_refused(trained: Path, tmp_path: Path, tools: Runner, repo_root: Path) -> None:
    result = tools(
        "feature-selection", "--pipeline_config_path", repo_root / "examples/quickstart/deepfm.config", "--model_dir", trained,
        "--output_dir", tmp_path, check=False,
    )
    assert result.returncode == 2
    assert "model_config.variational_dropout: not set: feature selection reads the drop probabilities" in result.stderr


def test_checkpoint_without_the_parameters_is_refused(tmp_path: Path, tools: Runner, script: Runner, repo_root: Path, trained: Path) -> None:
    plain = tmp_path / "plain"
    _train(script, repo_root, plain, {}, steps=2)
    result = tools(
        "feature-selection", "--pipeline_config_path", trained / "pipeline.config", "--model_dir", plain,
        "--output_dir", tmp_path / "out", check=False,
    )
    assert result.returncode == 2
    assert "no group_variational_dropouts.wide.feature_p (was this model trained with variational_dropout?)" in result.stderr
