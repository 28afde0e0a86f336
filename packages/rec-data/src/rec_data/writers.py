"""Writers: record batches → `<dir>/part-<rank>.parquet|.csv`, committed atomically on close."""

from __future__ import annotations

import posixpath
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import TracebackType
from typing import IO, Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from rec_core.errors import DataError
from rec_core.logging_utils import get_logger

from rec_data.paths import to_url

logger = get_logger(__name__)

Writable = pa.RecordBatch | pa.Table | Mapping[str, Any]


def output_file(path: str, rank: int, extension: str, aliases: tuple[str, ...] = ()) -> str:
    """`path` itself when it names a .<extension> (or alias) file, else `<path>/part-<rank>.<extension>`."""
    if any(path.endswith(f".{e}") for e in (extension, *aliases)):
        return path
    return f"{path.rstrip('/')}/part-{rank}.{extension}"


def _as_table(data: Writable) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    return pa.table(dict(data))


class BaseWriter(ABC):
    """Writes to a hidden temp file beside the target and renames it into place on close().

    Leaving a `with` block by an exception, or calling abort(), deletes the temp file, so a
    file under the final name is always complete. A process killed mid-way leaves only the
    hidden temp file (`.<name>.tmp-<id>`), which readers skip.

    A plugin writer (entry-point group `rec.writers`) subclasses this, sets `kind` and
    `extension`, and implements `_open`, `_write` and `_finish`.
    """

    kind = ""
    extension = ""
    # Other endings that name a single output file (e.g. "feather" for the Arrow writer).
    aliases: tuple[str, ...] = ()

    def __init__(self, path: str, rank: int = 0) -> None:
        final = output_file(path, rank, self.extension, self.aliases)
        self._fs, self._final = fsspec.core.url_to_fs(final)
        parent = posixpath.dirname(self._final)
        if parent:
            self._fs.makedirs(parent, exist_ok=True)
        name = posixpath.basename(self._final)
        self._tmp = posixpath.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:12]}")
        self._handle: IO[bytes] | None = None
        self._schema: pa.Schema | None = None
        self._closed = False
        self.rows_written = 0

    @property
    def path(self) -> str:
        """Where the data will be once close() commits it."""
        return to_url(self._fs, self._final)

    def write(self, data: Writable) -> None:
        """Append a record batch, table or {column: values} mapping."""
        if self._closed:
            raise DataError(f"{self.path}: write after close")
        table = _as_table(data)
        if self._handle is None:
            self._schema = table.schema
            self._handle = self._fs.open(self._tmp, "wb")
            self._open(self._handle, table.schema)
        elif not table.schema.equals(self._schema):
            try:
                table = table.select(self._schema.names).cast(self._schema)  # type: ignore[union-attr]
            except (KeyError, pa.ArrowException) as e:
                raise DataError(f"{self.path}: batch schema differs from the first batch's: {e}") from e
        self._write(table)
        self.rows_written += table.num_rows

    def close(self) -> None:
        """Finish the file and move it to its final name."""
        if self._closed:
            return
        self._closed = True
        if self._handle is None:
            logger.warning("%s: nothing was written, no file created", self.path)
            return
        try:
            self._finish()
            self._handle.close()
            self._fs.mv(self._tmp, self._final)
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        """Drop what was written; no file appears under the final name."""
        if self._closed:
            return
        self._closed = True
        self._discard()

    def _discard(self) -> None:
        try:
            if self._handle is not None and not self._handle.closed:
                # Finish the format writer first so it does not write to a closed file when
                # garbage-collected; what it writes goes to the temp file, deleted below.
                try:
                    self._finish()
                except Exception:  # noqa: BLE001 - the file is being thrown away anyway
                    pass
                self._handle.close()
        finally:
            if self._fs.exists(self._tmp):
                self._fs.rm(self._tmp)

    def __enter__(self) -> BaseWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @abstractmethod
    def _open(self, handle: IO[bytes], schema: pa.Schema) -> None:
        """Start the format's writer on the temp file."""

    @abstractmethod
    def _write(self, table: pa.Table) -> None:
        """Write one table."""

    @abstractmethod
    def _finish(self) -> None:
        """Write the format's trailer (the temp file is closed by the caller)."""


class ParquetWriter(BaseWriter):
    """Writes one Parquet file; each write() call becomes row groups of at most row_group_size."""

    kind = "parquet"
    extension = "parquet"

    def __init__(self, path: str, rank: int = 0, *, row_group_size: int = 65536) -> None:
        super().__init__(path, rank)
        self.row_group_size = row_group_size
        self._writer: pq.ParquetWriter | None = None

    def _open(self, handle: IO[bytes], schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(handle, schema)

    def _write(self, table: pa.Table) -> None:
        assert self._writer is not None
        self._writer.write_table(table, row_group_size=self.row_group_size)

    def _finish(self) -> None:
        assert self._writer is not None
        self._writer.close()


def _csv_ready(table: pa.Table, separator: str) -> pa.Table:
    """Lists become separator-joined strings and maps `k:v` pairs: CSV has no nested types."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        t = field.type
        if pa.types.is_map(t):
            pairs = [
                None if row is None else separator.join(f"{k}:{v}" for k, v in row)
                for row in column.to_pylist()
            ]
            column = pa.chunked_array([pa.array(pairs, pa.string())])
        elif pa.types.is_list(t) or pa.types.is_large_list(t):
            if pa.types.is_nested(t.value_type):
                raise DataError(f"CSV cannot hold column {field.name!r} of type {t}")
            column = pc.binary_join(pc.cast(column, pa.list_(pa.string())), separator)
        columns.append(column)
    return pa.table(columns, names=table.schema.names)


class CsvWriter(BaseWriter):
    """Writes one delimited text file with a header line (unless include_header=False)."""

    kind = "csv"
    extension = "csv"

    def __init__(
        self,
        path: str,
        rank: int = 0,
        *,
        delimiter: str = ",",
        include_header: bool = True,
        list_separator: str = "\x03",
    ) -> None:
        super().__init__(path, rank)
        self.delimiter = delimiter
        self.include_header = include_header
        self.list_separator = list_separator
        self._writer: pacsv.CSVWriter | None = None

    def _open(self, handle: IO[bytes], schema: pa.Schema) -> None:
        # The CSV writer starts in _write: its schema is the first batch's after flattening.
        pass

    def _write(self, table: pa.Table) -> None:
        table = _csv_ready(table, self.list_separator)
        if self._writer is None:
            options = pacsv.WriteOptions(include_header=self.include_header, delimiter=self.delimiter)
            self._writer = pacsv.CSVWriter(self._handle, table.schema, write_options=options)
        self._writer.write_table(table)

    def _finish(self) -> None:
        if self._writer is not None:
            self._writer.close()


class ArrowWriter(BaseWriter):
    """Writes one Arrow IPC file (Feather v2 format); each write() call is one record batch or more."""

    kind = "arrow"
    extension = "arrow"
    aliases = ("feather", "ipc")

    def __init__(self, path: str, rank: int = 0, *, max_chunksize: int | None = 65536) -> None:
        super().__init__(path, rank)
        self.max_chunksize = max_chunksize
        self._writer: ipc.RecordBatchFileWriter | None = None

    def _open(self, handle: IO[bytes], schema: pa.Schema) -> None:
        self._writer = ipc.new_file(handle, schema)

    def _write(self, table: pa.Table) -> None:
        assert self._writer is not None
        self._writer.write_table(table, max_chunksize=self.max_chunksize)

    def _finish(self) -> None:
        assert self._writer is not None
        self._writer.close()


# The built-in kinds; create_writer also finds every `rec.writers` plugin by name or kind.
WRITERS: dict[str, type[BaseWriter]] = {"parquet": ParquetWriter, "csv": CsvWriter, "arrow": ArrowWriter}


def create_writer(path: str, rank: int = 0, kind: str = "parquet", **options: Any) -> BaseWriter:
    """A writer for rank `rank` under `path`: `kind` is a kind ("parquet", "csv", "arrow", a
    plugin's) or a `rec.writers` name ("ParquetWriter", ...)."""
    if kind in WRITERS:
        return WRITERS[kind](path, rank, **options)
    from rec_core.errors import PluginError

    from rec_data.plugins import WRITERS as GROUP
    from rec_data.plugins import resolve

    try:
        cls = resolve(GROUP, kind)
    except PluginError as e:
        raise DataError(f"unknown writer kind {kind!r}: {e}") from e
    return cls(path, rank, **options)
