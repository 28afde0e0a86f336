"""File-system access through fsspec, so every path may be local or a URL (memory://, s3://, ...)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import IO

import fsspec
from fsspec import AbstractFileSystem


def url_to_fs(path: str) -> tuple[AbstractFileSystem, str]:
    """The file system that serves `path`, and the path within it."""
    return fsspec.core.url_to_fs(path)


def is_local(path: str) -> bool:
    """True when `path` is on the local file system."""
    fs, _ = url_to_fs(path)
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def exists(path: str) -> bool:
    """True when `path` exists (file or directory)."""
    fs, p = url_to_fs(path)
    return fs.exists(p)


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w") -> Iterator[IO]:
    """Write `path` through a temporary sibling that replaces it only when the block succeeds."""
    fs, p = url_to_fs(path)
    parent = os.path.dirname(p)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.{os.path.basename(p)}.tmp-{uuid.uuid4().hex[:8]}" if parent else f".{p}.tmp"
    try:
        with fs.open(tmp, mode) as f:
            yield f
        fs.mv(tmp, p)
    except BaseException:
        if fs.exists(tmp):
            fs.rm(tmp)
        raise
