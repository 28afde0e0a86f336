"""Fixtures for rec-tools tests: the console scripts, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
_LAUNCHER_VARS = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK"}

Runner = Callable[..., subprocess.CompletedProcess]


def _run(name: str, *args: str, cwd: Path = ROOT, timeout: int = 300, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_VARS}
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    result = subprocess.run([str(BIN / name), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    if check:
        assert result.returncode == 0, f"{name} {' '.join(map(str, args))}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="session")
def script() -> Runner:
    """`script(name, *args, cwd=, check=True)`: run a console script (`rec-train`, `rec-fg`, ...)."""
    return _run


@pytest.fixture(scope="session")
def tools() -> Runner:
    """`tools(*args, cwd=, check=True)`: run `rec-tools`; with check, a non-zero exit fails the test."""
    return lambda *args, **kw: _run("rec-tools", *args, **kw)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (examples/ lives there)."""
    return ROOT
