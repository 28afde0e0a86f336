"""Two CPU ranks under torchrun: tables sharded across both, SIGKILL, then --continue_train."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, rec, torchrun, write_config

pytestmark = [pytest.mark.dist, pytest.mark.slow]

STEPS_PER_EPOCH = 16  # 8000 rows / 2 ranks / batch 256, rounded up
EPOCHS = 6


def _complete(model_dir: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in model_dir.glob("model.ckpt-*") if (p / "meta.json").is_file())


def test_sharded_training_survives_sigkill_and_resumes(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    model_dir = tmp_path / "model"
    config = write_config(
        tmp_path / "pipeline.config",
        {
            "train_input_path": str(synth_data["train"]),
            "eval_input_path": str(synth_data["eval"]),
            "model_dir": str(model_dir),
            "data_config.batch_size": 256,
            "train_config.num_epochs": EPOCHS,
            "train_config.save_checkpoints_steps": 8,
        },
    )
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        "-m", "rec_dist.cli.train", "--pipeline_config_path", str(config),
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.time() + 240
    while time.time() < deadline and len(_complete(model_dir)) < 2:
        time.sleep(0.2)
    # the whole job dies at once: launcher and both ranks (workers run in their own sessions)
    os.killpg(proc.pid, signal.SIGKILL)
    subprocess.run(["pkill", "-9", "-f", str(config)], check=False)
    assert proc.wait(timeout=30) != 0
    done_before = _complete(model_dir)
    assert len(done_before) >= 2, "the run was killed before it saved two checkpoints"
    assert done_before[-1] < STEPS_PER_EPOCH * EPOCHS, "the run finished before it could be killed"

    # the embedding tables were spread over both ranks
    plan = json.loads((model_dir / f"model.ckpt-{done_before[-1]}" / "plan.json").read_text())
    ranks = {r for tables in plan.values() for t in tables.values() if t["sharding_type"] == "table_wise" for r in t["ranks"]}
    assert ranks == {0, 1}

    # what a crash mid-save leaves behind is never taken for a checkpoint
    (model_dir / ".model.ckpt-99999.tmp").mkdir(exist_ok=True)
    (model_dir / "model.ckpt-99999").mkdir()

    resumed = torchrun("rec_dist.cli.train", "--pipeline_config_path", str(config), "--continue_train")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"restored model and optimizer from {model_dir}/model.ckpt-{done_before[-1]}" in resumed.stderr
    steps = [json.loads(line)["global_step"] for line in (model_dir / "train_eval_result_v2.txt").read_text().splitlines()]
    assert steps[-1] == STEPS_PER_EPOCH * EPOCHS
    assert not (model_dir / ".model.ckpt-99999.tmp").exists()

    # a checkpoint written by two ranks restores in a single process
    single = rec("rec_dist.cli.eval", "--pipeline_config_path", str(config))
    assert single.returncode == 0, single.stderr[-3000:]
    result = json.loads((model_dir / "eval_result.txt").read_text())
    assert result["global_step"] == STEPS_PER_EPOCH * EPOCHS and result["auc"] > 0.7
