"""Distributed training behaviour under torchrun on CPU (gloo)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, rec, run, torchrun, write_config

pytestmark = [pytest.mark.dist, pytest.mark.slow]
SCRIPT = ROOT / "tests/e2e/scripts/loss_curve.py"


def _config(tmp_path: Path, synth_data: dict[str, Path], **edits: object) -> Path:
    base = {
        "train_input_path": str(synth_data["train"]),
        "eval_input_path": str(synth_data["eval"]),
        "model_dir": str(tmp_path / "model"),
        "data_config.batch_size": 256,
        "data_config.num_workers": 0,
    }
    return write_config(tmp_path / "pipeline.config", {**base, **edits})


def test_sharded_loss_curve_matches_single_process(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    config = _config(
        tmp_path,
        synth_data,
        **{
            "train_config.sparse_optimizer": {"sgd_optimizer": {"lr": 0.5}},
            "train_config.dense_optimizer": {"sgd_optimizer": {"lr": 0.5, "momentum": 0.0}},
        },
    )
    common = ["--config", str(config), "--data", str(synth_data["train"]), "--init", str(tmp_path / "init"), "--steps", "30", "--global_batch", "256"]
    single = run([sys.executable, str(SCRIPT), *common, "--out", str(tmp_path / "one.json")])
    assert single.returncode == 0, single.stderr[-3000:]
    two = run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(SCRIPT), *common,
         "--out", str(tmp_path / "two.json")],
        env={"OMP_NUM_THREADS": "1"},
    )
    assert two.returncode == 0, two.stderr[-3000:]
    one_curve = json.loads((tmp_path / "one.json").read_text())
    two_curve = json.loads((tmp_path / "two.json").read_text())
    assert min(one_curve[-5:]) < one_curve[0] - 0.005, "the model must actually learn for the comparison to mean anything"
    assert two_curve == pytest.approx(one_curve, abs=1e-5)


def test_uneven_data_across_ranks_does_not_hang(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    table = pq.read_table(synth_data["train"])
    uneven = tmp_path / "uneven.parquet"
    with pq.ParquetWriter(uneven, table.schema) as writer:  # row groups of 3000 and 300 rows
        writer.write_table(table.slice(0, 3000), row_group_size=3000)
        writer.write_table(table.slice(3000, 300), row_group_size=300)
    config = _config(tmp_path, synth_data, train_input_path=str(uneven), **{"train_config.num_epochs": 2})
    start = time.time()
    result = torchrun("rec_dist.cli.train", "--pipeline_config_path", str(config), timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert time.time() - start < 240
    assert "final eval" in result.stdout


def _worker_pids(marker: str, rank: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in cmdline and "torch.distributed.run" not in cmdline and f"RANK={rank}".encode() in environ:
            pids.append(int(entry.name))
    return pids


def test_killed_rank_ends_the_job_non_zero_in_bounded_time(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    config = _config(tmp_path, synth_data, **{"train_config.num_epochs": 200, "train_config.save_checkpoints_steps": 10})
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         "-m", "rec_dist.cli.train", "--pipeline_config_path", str(config)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline and not list((tmp_path / "model").glob("model.ckpt-*/meta.json")):
            time.sleep(0.2)
        victims = _worker_pids(str(config), "1")
        assert victims, "rank 1 was not found"
        os.kill(victims[0], signal.SIGKILL)
        killed_at = time.time()
        code = proc.wait(timeout=120)
        assert code != 0
        assert time.time() - killed_at < 120
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run(["pkill", "-9", "-f", str(config)], check=False)


def test_checkpoint_from_one_rank_resumes_on_two(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    config = _config(tmp_path, synth_data, **{"train_config.num_epochs": 1})
    first = rec("rec_dist.cli.train", "--pipeline_config_path", str(config))
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = torchrun(
        "rec_dist.cli.train", "--pipeline_config_path", str(config), "--continue_train",
        "--edit_config_json", '{"train_config.num_epochs": 2}',
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "restored model and optimizer" in resumed.stderr and "planning the sharding again" in resumed.stderr
    steps = [json.loads(line)["global_step"] for line in (tmp_path / "model/train_eval_result_v2.txt").read_text().splitlines()]
    assert steps[-1] == 32 + 16  # epoch 1 on one rank (8000/256), epoch 2 on two (8000/2/256)


def test_distributed_predict_writes_every_row_once(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    config = _config(tmp_path, synth_data, **{"train_config.num_steps": 5})
    config_text = config.read_text().replace("num_epochs: 2\n", "")
    config.write_text(config_text)
    trained = rec("rec_dist.cli.train", "--pipeline_config_path", str(config))
    assert trained.returncode == 0, trained.stderr[-3000:]
    table = pq.read_table(synth_data["eval"])
    data = tmp_path / "ids.parquet"
    pq.write_table(table.append_column("row_id", pa.array(range(table.num_rows))), data, row_group_size=500)
    out = tmp_path / "pred"
    result = torchrun(
        "rec_dist.cli.predict", "--pipeline_config_path", str(config), "--predict_input_path", str(data),
        "--predict_output_path", str(out), "--reserved_columns", "row_id",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    parts = sorted(p.name for p in out.iterdir())
    assert parts == ["part-0.parquet", "part-1.parquet"]
    ids = [i for p in parts for i in pq.read_table(out / p)["row_id"].to_pylist()]
    assert sorted(ids) == list(range(table.num_rows))
