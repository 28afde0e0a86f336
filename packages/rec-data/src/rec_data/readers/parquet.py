"""ParquetReader: split by row group, balanced by rows; reads only the requested columns."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from rec_core.errors import DataError

from rec_data.readers.base import BaseReader, check_file_schema, conform, select_columns
from rec_data.readers.splits import Split

# Largest raw batch pulled from a row group; rebatching cuts the stream to batch_size anyway.
_MAX_READ_ROWS = 65536


def open_parquet(path: str) -> pq.ParquetFile:
    """Open a Parquet file (local or URL), raising a DataError that names it when unreadable."""
    try:
        handle = fsspec.open(path, "rb").open()
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot open: {e}") from e
    try:
        return pq.ParquetFile(handle)
    except (pa.ArrowException, OSError, ValueError) as e:
        handle.close()
        raise DataError(f"{path}: not a readable Parquet file: {e}") from e


class ParquetReader(BaseReader):
    """Reads Parquet files; one split per non-empty row group."""

    kind = "parquet"
    split_unit = "Parquet row group"
    extensions = (".parquet", ".pq")

    def _plan(self, columns: list[str] | None) -> tuple[pa.Schema, list[Split]]:
        schema: pa.Schema | None = None
        splits: list[Split] = []
        for path in self.files:
            pf = open_parquet(path)
            try:
                file_schema = pf.schema_arrow
                if schema is None:
                    wanted = select_columns(file_schema.names, columns, path)
                    schema = pa.schema([file_schema.field(c) for c in wanted])
                    self.schema_source = path
                else:
                    check_file_schema(file_schema, schema, path, self.schema_source)
                meta = pf.metadata
                for rg in range(meta.num_row_groups):
                    n = meta.row_group(rg).num_rows
                    if n > 0:
                        splits.append(Split(path, rg, n, n))
            finally:
                pf.close()
        assert schema is not None  # expand_input_path never returns an empty list
        return schema, splits

    def read_split(self, split: Split) -> Iterator[pa.RecordBatch]:
        """The rows of one row group, in batches of up to 64Ki rows."""
        return self.read_splits([split])

    def read_splits(self, splits: Sequence[Split]) -> Iterator[pa.RecordBatch]:
        """Row groups in order; consecutive ones of one file are read with the file opened once."""
        for path, run in itertools.groupby(splits, key=lambda s: s.path):
            groups = [s.row_group for s in run]
            pf = open_parquet(path)
            try:
                for b in pf.iter_batches(
                    batch_size=min(self.batch_size, _MAX_READ_ROWS),
                    row_groups=groups,
                    columns=self._schema.names,
                ):
                    yield conform(b, self._schema, path)
            except (pa.ArrowException, OSError) as e:
                which = f"row group {groups[0]}" if len(groups) == 1 else f"row groups {groups}"
                raise DataError(f"{path}: cannot read {which}: {e}") from e
            finally:
                pf.close()
