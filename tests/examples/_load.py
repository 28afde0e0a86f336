"""Import an example's prepare_data.py (the examples are scripts, not packages)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def prepare_module(example: str) -> ModuleType:
    """examples/<example>/prepare_data.py as a module."""
    spec = importlib.util.spec_from_file_location(f"prepare_{example}", ROOT / "examples" / example / "prepare_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data_dir(name: str) -> Path:
    """The shared data set `name`; skips the test when it is not on this machine."""
    path = DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the real data set is not on this machine")
    return path
