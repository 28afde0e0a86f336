"""Input paths: a comma-separated list of files, directories and globs, local or fsspec URLs."""

from __future__ import annotations

import posixpath

import fsspec
from fsspec import AbstractFileSystem

from rec_core.errors import DataError

_GLOB_CHARS = ("*", "?", "[")


def split_path_list(input_path: str) -> list[str]:
    """Split a comma-separated path list into its non-empty, whitespace-trimmed entries."""
    return [p.strip() for p in input_path.split(",") if p.strip()]


def _is_local(fs: AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def to_url(fs: AbstractFileSystem, path: str) -> str:
    """The string that names `path` on `fs` again: the plain path when local, else a full URL."""
    return path if _is_local(fs) else fs.unstrip_protocol(path)


def _is_hidden(name: str) -> bool:
    # Temp files of our writers start with "." and Spark/Hadoop markers (_SUCCESS) with "_".
    return name.startswith((".", "_"))


def _files_under(fs: AbstractFileSystem, directory: str) -> list[str]:
    files = []
    root = directory.rstrip("/")
    for path in fs.find(root):
        rel = posixpath.relpath(path, root) if path.startswith(root) else posixpath.basename(path)
        if not any(_is_hidden(part) for part in rel.split("/")):
            files.append(path)
    return sorted(files)


def _expand_entry(entry: str) -> list[str]:
    fs, path = fsspec.core.url_to_fs(entry)
    if any(c in path for c in _GLOB_CHARS):
        matches = sorted(fs.glob(path))
    elif fs.exists(path):
        matches = [path]
    else:
        matches = []
    files: list[str] = []
    for m in matches:
        if fs.isdir(m):
            files.extend(_files_under(fs, m))
        elif not _is_hidden(posixpath.basename(m)):
            files.append(m)
    return [to_url(fs, f) for f in files]


def expand_input_path(input_path: str) -> list[str]:
    """All data files named by `input_path` (files, globs, directories), in order, each once."""
    entries = split_path_list(input_path)
    if not entries:
        raise DataError(f"input path is empty: {input_path!r}")
    seen: set[str] = set()
    files: list[str] = []
    for entry in entries:
        found = _expand_entry(entry)
        if not found:
            raise DataError(f"no data file matches input path {entry!r}")
        for f in found:
            if f not in seen:
                seen.add(f)
                files.append(f)
    return files
