"""The built-in readers and writers pass the same conformance checks plugins run (rec_data.testing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from rec_data.options import CsvOptions
from rec_data.readers import ArrowReader, CsvReader, ParquetReader
from rec_data.testing import check_reader, check_writer
from rec_data.writers import ArrowWriter, CsvWriter, ParquetWriter


def _part(start: int, n: int) -> pa.Table:
    return pa.table({"id": np.arange(start, start + n), "v": np.ones(n)})


def test_parquet_reader_contract(tmp_path: Path) -> None:
    pq.write_table(_part(0, 40), tmp_path / "a.parquet", row_group_size=9)
    pq.write_table(_part(40, 13), tmp_path / "b.parquet", row_group_size=5)
    check_reader(ParquetReader, str(tmp_path), range(53))


def test_csv_reader_contract(tmp_path: Path) -> None:
    for name, start, n in (("a", 0, 20), ("b", 20, 11), ("c", 31, 3)):
        (tmp_path / f"{name}.csv").write_text("id,v\n" + "".join(f"{i},1.0\n" for i in range(start, start + n)))

    def make(path: str, **kw) -> CsvReader:  # type: ignore[no-untyped-def]
        return CsvReader(path, options=CsvOptions(with_header=True), **kw)

    check_reader(make, str(tmp_path), range(34))


def test_arrow_reader_contract(tmp_path: Path) -> None:
    with ipc.new_file(tmp_path / "a.arrow", _part(0, 1).schema) as w:
        w.write_table(_part(0, 30), max_chunksize=8)
    check_reader(ArrowReader, str(tmp_path / "a.arrow"), range(30))


@pytest.mark.parametrize("cls", [ParquetWriter, ArrowWriter, CsvWriter])
def test_writer_contract(tmp_path: Path, cls) -> None:  # type: ignore[no-untyped-def]
    read_back = None
    if cls is CsvWriter:
        def read_back(path: str) -> pa.Table:
            return pa.Table.from_batches(list(CsvReader(path, options=CsvOptions(with_header=True))))
    check_writer(cls, tmp_path, read_back=read_back)
