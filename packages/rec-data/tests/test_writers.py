from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rec_core.errors import DataError
from rec_data.options import CsvOptions
from rec_data.readers import CsvReader
from rec_data.writers import CsvWriter, ParquetWriter, create_writer


def test_parquet_writer_part_file_and_row_groups(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with create_writer(str(tmp_path / "out"), rank=3, row_group_size=2) as w:
        w.write(pa.record_batch({"a": [1, 2, 3]}))
        w.write({"a": [4]})
    path = tmp_path / "out" / "part-3.parquet"
    assert w.path == str(path)
    f = pq.ParquetFile(path)
    assert f.metadata.num_rows == 4 and f.metadata.num_row_groups == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["part-3.parquet"]


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_exception_inside_with_leaves_no_file(tmp_path, kind) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError):
        with create_writer(str(tmp_path), 0, kind=kind) as w:
            w.write({"a": [1, 2]})
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_file_appears_only_on_close(tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = ParquetWriter(str(tmp_path / "x.parquet"))
    w.write({"a": [1]})
    assert not (tmp_path / "x.parquet").exists()
    assert [p.name.startswith(".x.parquet.tmp-") for p in tmp_path.iterdir()] == [True]
    w.close()
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]
    w2 = ParquetWriter(str(tmp_path / "x.parquet"))
    w2.write({"a": [2]})
    w2.abort()
    assert pq.read_table(tmp_path / "x.parquet").column("a").to_pylist() == [1]


def test_csv_writer_round_trips_through_reader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with CsvWriter(str(tmp_path), rank=1, delimiter="\t") as w:
        w.write({"id": [1, 2], "tags": [["a", "b"], []], "name": ["x,y", None]})
    reader = CsvReader(str(tmp_path / "part-1.csv"), options=CsvOptions(delimiter="\t", with_header=True))
    rows = next(iter(reader)).to_pydict()
    # An empty list is written as a quoted empty string; a null as an empty field.
    assert rows == {"id": [1, 2], "tags": ["a\x03b", ""], "name": ["x,y", None]}


def test_writer_on_memory_fs_and_schema_mismatch() -> None:
    with create_writer("memory://writers_t/out", 0) as w:
        w.write({"a": [1], "b": ["x"]})
        w.write({"b": ["y"], "a": [2]})  # reordered columns are fine
        with pytest.raises(DataError, match="schema differs"):
            w.write({"c": [1.0]})
    with fsspec.open("memory://writers_t/out/part-0.parquet", "rb") as f:
        assert pq.read_table(f).to_pydict() == {"a": [1, 2], "b": ["x", "y"]}


def test_unknown_writer_kind() -> None:
    with pytest.raises(DataError, match="unknown writer kind 'orc'"):
        create_writer("/tmp/x", 0, kind="orc")
