"""Shared fixtures for the end-to-end tests: synthetic data and CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples/quickstart/deepfm.config"
_LAUNCHER_VARS = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK"}


def run(args: list[str], timeout: int = 300, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run a command with this interpreter's environment; output captured as text."""
    # a child never joins a process group that this test process may have created
    inherited = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_VARS}
    full_env = {**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd)


def rec(module: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a rec CLI module (e.g. rec_dist.cli.train) as `python -m`."""
    return run([sys.executable, "-m", module, *args], timeout=timeout)


def torchrun(module: str, *args: str, nproc: int = 2, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a rec CLI module under torchrun with `nproc` CPU processes."""
    return run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", module, *args],
        timeout=timeout,
        env={"OMP_NUM_THREADS": "1"},
    )


def write_config(path: Path, edits: dict[str, object], base: Path = QUICKSTART) -> Path:
    """A copy of `base` with `edits` (dot-bracket paths) applied."""
    from rec_core.config import edit_config, load_pipeline_config, save_message

    config = load_pipeline_config(str(base))
    edit_config(config, edits)
    save_message(config, str(path))
    return path


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small learnable train/eval Parquet files for the quickstart config (same label concept)."""
    out = tmp_path_factory.mktemp("data")
    paths = {}
    for split, rows, seed in (("train", 8000, 1), ("eval", 3000, 2)):
        paths[split] = out / f"{split}.parquet"
        result = rec(
            "rec_data.cli", "synth", "--pipeline_config_path", str(QUICKSTART),
            "--num_rows", str(rows), "--seed", str(seed), "--output", str(paths[split]),
        )
        assert result.returncode == 0, result.stderr
    return paths
