"""File-system helpers, the rec logger and env flags."""

import logging

import pytest

from rec_core import env, fs
from rec_core.logging_utils import get_logger


def test_atomic_write_commits_only_on_success(tmp_path) -> None:
    target = tmp_path / "out" / "f.txt"
    with pytest.raises(RuntimeError):
        with fs.atomic_write(str(target)) as f:
            f.write("half")
            raise RuntimeError("crash")
    assert not target.exists() and list((tmp_path / "out").iterdir()) == []
    with fs.atomic_write(str(target)) as f:
        f.write("whole")
    assert target.read_text() == "whole"


def test_atomic_write_over_memory_urls() -> None:
    with fs.atomic_write("memory://rec-test/x.txt") as f:
        f.write("hi")
    assert fs.exists("memory://rec-test/x.txt") and not fs.is_local("memory://rec-test/x.txt")


def test_logger_names_sit_under_rec() -> None:
    assert get_logger("rec_dist.train").name == "rec.dist.train"
    assert get_logger("plugin").name == "rec.plugin"
    assert logging.getLogger("rec").handlers


def test_env_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USE_FARM_HASH_TO_BUCKETIZE", "true")
    assert env.use_farm_hash()
    monkeypatch.setenv("USE_FARM_HASH_TO_BUCKETIZE", "0")
    assert not env.use_farm_hash()
    monkeypatch.setenv("PROCESS_GROUP_TIMEOUT_SECONDS", "42")
    assert env.process_group_timeout_seconds() == 42
