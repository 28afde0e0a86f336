"""ArrowReader: Arrow IPC files (.arrow / .feather / .ipc), one split per record batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.ipc as ipc

from rec_core.errors import DataError

from rec_data.readers.base import BaseReader, check_file_schema, conform, select_columns
from rec_data.readers.splits import Split


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _local_path(path: str) -> str:
    return path[len("file://") :] if path.startswith("file://") else path


class _Opened:
    """An open IPC source: the file format (random access) or the stream format (sequential)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.file: ipc.RecordBatchFileReader | None = None
        self.stream: ipc.RecordBatchStreamReader | None = None
        try:
            if _is_local(path):
                self._handle: Any = pa.memory_map(_local_path(path), "r")
            else:
                self._handle = fsspec.open(path, "rb").open()
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: cannot open: {e}") from e
        try:
            self.file = ipc.open_file(self._handle)
        except (pa.ArrowInvalid, OSError):
            # Not the file format (no footer): maybe an IPC stream.
            try:
                self._handle.seek(0)
                self.stream = ipc.open_stream(self._handle)
            except (pa.ArrowInvalid, OSError) as e:
                self.close()
                raise DataError(f"{path}: not a readable Arrow IPC file or stream: {e}") from e

    @property
    def schema(self) -> pa.Schema:
        return (self.file or self.stream).schema  # type: ignore[union-attr]

    def close(self) -> None:
        self._handle.close()


class ArrowReader(BaseReader):
    """Reads Arrow IPC data: the file format (Feather v2) and the stream format.

    File-format files are split per record batch (rows known when planning, memory-mapped
    locally); a stream is one split (its rows are unknown until read), weighted by bytes.
    Do not mix the two kinds in one input: splits are balanced by rows for the first and
    by bytes for the second.
    """

    kind = "arrow"
    split_unit = "Arrow record batch"
    extensions = (".arrow", ".feather", ".ipc", ".arrows")

    def _plan(self, columns: list[str] | None) -> tuple[pa.Schema, list[Split]]:
        schema: pa.Schema | None = None
        splits: list[Split] = []
        for path in self.files:
            src = _Opened(path)
            try:
                file_schema = src.schema
                if schema is None:
                    wanted = select_columns(file_schema.names, columns, path)
                    schema = pa.schema([file_schema.field(c) for c in wanted])
                    self.schema_source = path
                else:
                    check_file_schema(file_schema, schema, path, self.schema_source)
                if src.file is not None:
                    for i in range(src.file.num_record_batches):
                        n = src.file.get_batch(i).num_rows
                        if n > 0:
                            splits.append(Split(path, i, n, n))
                else:
                    fs, p = fsspec.core.url_to_fs(path)
                    size = int(fs.size(p) or 0)
                    splits.append(Split(path, None, None, max(1, size)))
            finally:
                src.close()
        assert schema is not None  # expand_input_path never returns an empty list
        return schema, splits

    def read_split(self, split: Split) -> Iterator[pa.RecordBatch]:
        """One record batch of a file, or every batch of a stream."""
        src = _Opened(split.path)
        try:
            if src.file is not None:
                yield conform(src.file.get_batch(split.row_group).select(self._schema.names), self._schema, split.path)
                return
            assert src.stream is not None
            for b in src.stream:
                yield conform(b.select(self._schema.names), self._schema, split.path)
        except (pa.ArrowInvalid, OSError) as e:
            raise DataError(f"{split.path}: cannot read Arrow data: {e}") from e
        finally:
            src.close()
