"""Describe a data source: files, schema, row count and a few rows."""

from __future__ import annotations

import sys
from typing import TextIO

from rec_data.options import CsvOptions
from rec_data.plugins import READERS, reader_name_for, resolve
from rec_data.readers import BaseReader, CsvReader

_MAX_VALUE_CHARS = 100


def guess_kind(input_path: str) -> str:
    """The kind of reader ("parquet", "csv", "arrow", a plugin's) the files' endings name; parquet if none."""
    return resolve(READERS, reader_name_for(None, input_path)).kind


def open_source(input_path: str, kind: str, csv_options: CsvOptions | None, batch_size: int) -> BaseReader:
    """A reader over every column of the source; `kind` is a reader kind or `rec.readers` name."""
    cls = resolve(READERS, kind)
    if issubclass(cls, CsvReader):
        return cls(input_path, options=csv_options or CsvOptions(), batch_size=batch_size)
    return cls(input_path, batch_size=batch_size)


def _show(value: object) -> str:
    # repr() makes separators such as \x1d and \x03 visible.
    text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def inspect_source(
    input_path: str,
    *,
    kind: str | None = None,
    csv_options: CsvOptions | None = None,
    num_rows: int = 5,
    out: TextIO | None = None,
) -> None:
    """Print the files, schema, row count and first `num_rows` rows of `input_path`."""
    out = out or sys.stdout
    kind = kind or guess_kind(input_path)
    reader = open_source(input_path, kind, csv_options, max(1, num_rows))
    print(f"source: {input_path} ({kind}, {reader.num_files()} file(s), {len(reader.splits)} {reader.split_unit}(s))", file=out)
    print("schema:", file=out)
    for field in reader.schema:
        print(f"  {field.name}: {field.type}", file=out)
    batches = reader.to_batches()
    head = next(batches, None)
    total = reader.num_rows()
    if total is None:  # CSV keeps no row count; count by reading on
        total = (head.num_rows if head is not None else 0) + sum(b.num_rows for b in batches)
    print(f"rows: {total}", file=out)
    if head is None or num_rows <= 0:
        return
    for i, row in enumerate(head.slice(0, num_rows).to_pylist()):
        print(f"row {i}:", file=out)
        for name, value in row.items():
            print(f"  {name}: {_show(value)}", file=out)
