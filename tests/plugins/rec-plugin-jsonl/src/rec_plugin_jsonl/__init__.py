"""A JSON-lines reader and writer for rec, registered through the rec.readers / rec.writers entry points."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

import fsspec
import pyarrow as pa
import pyarrow.json as pajson

from rec_core.errors import DataError
from rec_data.readers.base import BaseReader, check_file_schema, conform, select_columns
from rec_data.readers.splits import Split
from rec_data.writers import BaseWriter

__all__ = ["JsonLinesReader", "JsonLinesWriter"]

_BLOCK_SIZE = 8 << 20


class JsonLinesReader(BaseReader):
    """Newline-delimited JSON objects, one split per file (balanced by bytes)."""

    kind = "jsonl"
    split_unit = "JSON-lines file"
    extensions = (".jsonl", ".ndjson")

    def _open(self, path: str, schema: pa.Schema | None = None) -> tuple[pajson.JSONStreamingReader, IO[bytes]]:
        handle = fsspec.open(path, "rb").open()
        parse = pajson.ParseOptions(explicit_schema=schema) if schema is not None else None
        try:
            return pajson.open_json(handle, read_options=pajson.ReadOptions(block_size=_BLOCK_SIZE), parse_options=parse), handle
        except pa.ArrowInvalid as e:
            handle.close()
            raise DataError(f"{path}: not readable as JSON lines: {e}") from e

    def _plan(self, columns: list[str] | None) -> tuple[pa.Schema, list[Split]]:
        schema: pa.Schema | None = None
        splits = []
        for path in self.files:
            fs, p = fsspec.core.url_to_fs(path)
            size = int(fs.size(p) or 0)
            if not size:
                continue
            stream, handle = self._open(path)
            try:
                file_schema = stream.schema
            finally:
                handle.close()
            if schema is None:
                wanted = select_columns(file_schema.names, columns, path)
                schema = pa.schema([file_schema.field(c) for c in wanted])
                self.schema_source = path
            else:
                check_file_schema(file_schema, schema, path, self.schema_source)
            splits.append(Split(path, None, None, size))
        return schema or pa.schema([]), splits

    def read_split(self, split: Split) -> Iterator[pa.RecordBatch]:
        """The rows of one file, in blocks."""
        stream, handle = self._open(split.path)
        try:
            while True:
                try:
                    batch = stream.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as e:
                    raise DataError(f"{split.path}: malformed JSON line: {e}") from e
                yield conform(batch.select(self.schema.names), self.schema, split.path)
        finally:
            handle.close()


class JsonLinesWriter(BaseWriter):
    """Writes one JSON object per row to part-<rank>.jsonl, committed on close."""

    kind = "jsonl"
    extension = "jsonl"

    def _open(self, handle: IO[bytes], schema: pa.Schema) -> None:
        pass

    def _write(self, table: pa.Table) -> None:
        assert self._handle is not None
        lines = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in table.to_pylist())
        self._handle.write(lines.encode("utf-8"))

    def _finish(self) -> None:
        pass
