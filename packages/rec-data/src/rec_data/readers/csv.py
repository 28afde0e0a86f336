"""CsvReader: one split per file; delimiter, header and column types from the DataConfig."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv

from rec_core.errors import ConfigError, DataError

from rec_data.fields import csv_arrow_type
from rec_data.options import CsvOptions
from rec_data.readers.base import BaseReader, conform, select_columns
from rec_data.readers.splits import Split

_BLOCK_SIZE = 16 << 20
_COLUMN_COUNT = re.compile(r"Expected (\d+) columns, got (\d+)")
_CONVERSION = re.compile(r"CSV column #(\d+): .*?conversion error to (\S+?): invalid value '(.*)'", re.S)


def _header(path: str, delimiter: str) -> list[str]:
    with fsspec.open(path, "rt", encoding="utf-8", newline="") as f:
        first = next(csv.reader(f, delimiter=delimiter), None)
    return [c.strip() for c in first] if first else []


def _locate(path: str, opts: CsvOptions, predicate: Callable[[list[str]], bool]) -> int | None:
    """The 1-based line of the first data row for which predicate(fields) holds; None if none."""
    with fsspec.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter=opts.delimiter)
        if opts.with_header:
            next(rows, None)
        for fields in rows:
            if fields and predicate(fields):
                return rows.line_num
    return None


def _has_data_line(path: str, with_header: bool, probe: int = 1 << 20) -> bool:
    """Whether a CSV file has a row beyond its header (reads at most the first MiB)."""
    with fsspec.open(path, "rb") as f:
        head = f.read(probe + 1)
    if len(head) > probe:
        return True  # more than a MiB: not a header alone
    non_blank = sum(1 for line in head.splitlines() if line.strip())
    return non_blank > int(with_header)


class CsvReader(BaseReader):
    """Reads delimited text files; without a header the columns are named by input_fields."""

    kind = "csv"
    split_unit = "CSV file"
    extensions = (".csv",)

    def __init__(self, input_path: str, *, options: CsvOptions | None = None, **kwargs: Any) -> None:
        self.options = options or CsvOptions()
        super().__init__(input_path, **kwargs)

    @classmethod
    def from_data_config(cls, data_config: Any, input_path: str, **kwargs: Any) -> CsvReader:
        """A CsvReader with DataConfig.delimiter, with_header and input_fields(_str)."""
        options = CsvOptions.from_data_config(data_config) if data_config is not None else None
        return cls(input_path, options=options, **kwargs)

    def _file_columns(self, path: str) -> list[str]:
        if self.options.with_header:
            names = _header(path, self.options.delimiter)
            repeated = sorted({n for n in names if names.count(n) > 1 or not n})
            if repeated:
                raise DataError(
                    f"{path}: the header line repeats or leaves empty column names {repeated}; "
                    "is with_header right for this file?"
                )
            return names
        if not self.options.fields:
            raise ConfigError(
                "data_config.input_fields",
                "a CSV input without a header needs input_fields or input_fields_str to name its columns",
            )
        return [name for name, _ in self.options.fields]

    def _plan(self, columns: list[str] | None) -> tuple[pa.Schema, list[Split]]:
        splits: list[Split] = []
        names: list[str] | None = None
        for path in self.files:
            fs, p = fsspec.core.url_to_fs(path)
            size = fs.size(p)
            if not size or not _has_data_line(path, self.options.with_header):
                continue  # an empty file (or a header alone) holds no rows
            available = self._file_columns(path)
            wanted = select_columns(available, columns if names is None else names, path)
            names = names or wanted
            splits.append(Split(path, None, None, size))
        if names is None:
            return pa.schema([]), splits
        declared = dict(self.options.fields or ())
        types = {n: csv_arrow_type(declared[n]) for n in names if n in declared}
        if len(types) < len(names):
            # Infer the rest from the first file, then hold every file to those types.
            stream, handle = self._open(splits[0].path, names, types)
            inferred = stream.schema
            handle.close()  # type: ignore[attr-defined]
            types.update({n: inferred.field(n).type for n in names if n not in types})
        return pa.schema([(n, types[n]) for n in names]), splits

    def _open(
        self, path: str, names: list[str], types: dict[str, pa.DataType]
    ) -> tuple[pacsv.CSVStreamingReader, object]:
        opts = self.options
        read = pacsv.ReadOptions(
            column_names=None if opts.with_header else [n for n, _ in opts.fields or ()],
            block_size=_BLOCK_SIZE,
        )
        parse = pacsv.ParseOptions(delimiter=opts.delimiter)
        convert = pacsv.ConvertOptions(
            column_types=types,
            include_columns=names,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        handle = fsspec.open(path, "rb").open()
        try:
            stream = pacsv.open_csv(
                handle, read_options=read, parse_options=parse, convert_options=convert
            )
            return stream, handle
        except pa.ArrowInvalid as e:
            handle.close()
            raise self._explain(path, e) from e

    def read_split(self, split: Split) -> Iterator[pa.RecordBatch]:
        """The rows of one CSV file, in blocks, converted to the reader's schema."""
        types = {f.name: f.type for f in self._schema}
        stream, handle = self._open(split.path, self._schema.names, types)
        try:
            while True:
                try:
                    batch = stream.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as e:
                    raise self._explain(split.path, e) from e
                yield conform(batch, self._schema, split.path)
        finally:
            handle.close()  # type: ignore[attr-defined]

    def _explain(self, path: str, error: pa.ArrowInvalid) -> DataError:
        """A DataError naming the file and line of a malformed row (found by rescanning it)."""
        message = str(error)
        m = _COLUMN_COUNT.search(message)
        if m:
            expected, got = int(m.group(1)), int(m.group(2))
            line = _locate(path, self.options, lambda row: len(row) != expected)
            where = f"line {line}" if line else "a row"
            return DataError(
                f"{path}: {where}: malformed CSV row: expected {expected} columns, got {got}"
            )
        m = _CONVERSION.search(message)
        if m:
            index, type_name, value = int(m.group(1)), m.group(2), m.group(3)
            line = _locate(
                path, self.options, lambda row: index < len(row) and row[index] == value
            )
            columns = self._file_columns(path)
            column = columns[index] if index < len(columns) else f"#{index}"
            where = f"line {line}" if line else "a row"
            return DataError(
                f"{path}: {where}: column {column!r}: cannot parse {value!r} as {type_name}"
            )
        return DataError(f"{path}: malformed CSV: {message}")

