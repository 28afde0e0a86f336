"""`rec-train --seed` makes a run reproducible: same seed, same eval metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

QUICKSTART = Path(__file__).resolve().parents[3] / "examples/quickstart/deepfm.config"


def _run(*args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}}
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


def _train(tmp_path: Path, name: str, seed: int, data: dict[str, Path]) -> list[dict[str, float]]:
    model_dir = tmp_path / name
    # one epoch of 3000 rows in batches of 512: 6 steps, evaluated after steps 3 and 6
    edits = {"train_config.num_epochs": 1, "train_config.save_checkpoints_steps": 3}
    _run(
        "rec_dist.cli.train",
        "--pipeline_config_path", str(QUICKSTART),
        "--train_input_path", str(data["train"]),
        "--eval_input_path", str(data["eval"]),
        "--model_dir", str(model_dir),
        "--edit_config_json", json.dumps(edits),
        "--seed", str(seed),
    )  # fmt: skip
    return [json.loads(line) for line in (model_dir / "train_eval_result_v2.txt").read_text().splitlines()]


def test_same_seed_gives_identical_eval_metrics(tmp_path: Path) -> None:
    data = {}
    for split, rows, seed in (("train", 3000, 1), ("eval", 1000, 2)):
        data[split] = tmp_path / f"{split}.parquet"
        _run(
            "rec_data.cli", "synth", "--pipeline_config_path", str(QUICKSTART),
            "--num_rows", str(rows), "--seed", str(seed), "--output", str(data[split]),
        )  # fmt: skip
    first = _train(tmp_path, "a", 7, data)
    assert [r["global_step"] for r in first] == [3, 6]
    assert _train(tmp_path, "b", 7, data) == first
    assert _train(tmp_path, "c", 8, data) != first, "another seed starts from other weights"
