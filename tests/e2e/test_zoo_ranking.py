"""The ranking examples under examples/zoo (DCN, DCN-v2, xDeepFM, WuKong, MaskNet, Rocket
Launching, PEPNet), run as a user would: `rec-data synth`, `rec-train` for a few steps, `rec-eval`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import ROOT, rec

pytestmark = pytest.mark.slow

ZOO = ROOT / "examples/zoo"
RANKING = ["dcn_v1", "dcn_v2", "xdeepfm", "wukong", "masknet", "rocket_launching"]
STEPS = 4


def synth(config: Path, out_dir: Path) -> dict[str, Path]:
    """A small train/eval pair for `config`."""
    paths = {}
    for split, rows, seed in (("train", 1500, 1), ("eval", 500, 2)):
        paths[split] = out_dir / f"{split}.parquet"
        made = rec(
            "rec_data.cli", "synth", "--pipeline_config_path", str(config),
            "--num_rows", str(rows), "--seed", str(seed), "--output", str(paths[split]),
        )
        assert made.returncode == 0, made.stderr[-2000:]
    return paths


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every single-task ranking example reads the same columns."""
    return synth(ZOO / "dcn_v1.config", tmp_path_factory.mktemp("rank_data"))


def train_and_eval(name: str, data: dict[str, Path], model_dir: Path) -> dict[str, float]:
    """rec-train for STEPS steps, then rec-eval of the checkpoint; the eval result."""
    edits = {"train_config.num_steps": STEPS, "data_config.batch_size": 128, "data_config.num_workers": 0}
    trained = rec(
        "rec_dist.cli.train", "--pipeline_config_path", str(ZOO / f"{name}.config"),
        "--edit_config_json", json.dumps(edits), "--model_dir", str(model_dir),
        "--train_input_path", str(data["train"]), "--eval_input_path", str(data["eval"]),
    )
    assert trained.returncode == 0, trained.stderr[-4000:]
    during = [json.loads(line) for line in (model_dir / "train_eval_result_v2.txt").read_text().splitlines()]
    assert during[-1]["global_step"] == STEPS

    evaluated = rec(
        "rec_dist.cli.eval", "--pipeline_config_path", str(model_dir / "pipeline.config"),
        "--eval_input_path", str(data["eval"]),
    )
    assert evaluated.returncode == 0, evaluated.stderr[-4000:]
    result = json.loads((model_dir / "eval_result.txt").read_text().splitlines()[-1])
    assert result["global_step"] == STEPS
    assert all(math.isfinite(v) for v in result.values())
    # the standalone eval of the saved checkpoint agrees with the eval at the end of training
    for key, value in during[-1].items():
        assert result[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    return result


@pytest.mark.parametrize("name", RANKING)
def test_ranking_example(name: str, data: dict[str, Path], tmp_path: Path) -> None:
    result = train_and_eval(name, data, tmp_path / "model")
    # Rocket Launching evaluates the served light net alone: no booster or distillation losses
    assert set(result) == {"global_step", "auc", "grouped_auc", "binary_cross_entropy"}
    assert 0.0 <= result["auc"] <= 1.0


def test_pepnet_example(tmp_path: Path) -> None:
    data = synth(ZOO / "pepnet.config", tmp_path)
    result = train_and_eval("pepnet", data, tmp_path / "model")
    assert set(result) == {"global_step", "auc_ctr", "auc_cvr", "binary_cross_entropy_ctr", "binary_cross_entropy_cvr"}
