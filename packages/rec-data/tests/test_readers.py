from __future__ import annotations

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rec_core.errors import ConfigError, DataError
from rec_data.options import CsvOptions
from rec_data.readers import CsvReader, ParquetReader, assign_splits, rebatch, shuffle_rebatch
from rec_data.readers.splits import Split


def _ids(batches) -> list[int]:  # type: ignore[no-untyped-def]
    return [i for b in batches for i in b.column("id").to_pylist()]


def test_parquet_exact_batches_across_files(tmp_path, ids_parquet) -> None:  # type: ignore[no-untyped-def]
    ids_parquet(str(tmp_path / "a.parquet"), 0, 25, 10)
    ids_parquet(str(tmp_path / "b.parquet"), 25, 17, 4)
    reader = ParquetReader(str(tmp_path), columns=["id"], batch_size=8)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [8, 8, 8, 8, 8, 2]
    assert _ids(batches) == list(range(42))
    assert batches[0].schema.names == ["id"]
    assert reader.num_rows() == 42 and reader.num_files() == 2 and len(reader.splits) == 3 + 5


def test_parquet_drop_remainder(tmp_path, ids_parquet) -> None:  # type: ignore[no-untyped-def]
    ids_parquet(str(tmp_path / "a.parquet"), 0, 42, 10)
    batches = list(ParquetReader(str(tmp_path), batch_size=8, drop_remainder=True))
    assert [b.num_rows for b in batches] == [8] * 5
    assert batches[0].schema.names == ["id", "x", "s"]


def test_parquet_casts_later_files_to_the_first_schema(tmp_path, ids_parquet) -> None:  # type: ignore[no-untyped-def]
    ids_parquet(str(tmp_path / "a.parquet"), 0, 5, 5)
    pq.write_table(pa.table({"id": pa.array([5, 6], pa.int32())}), tmp_path / "b.parquet")
    batches = list(ParquetReader(str(tmp_path), columns=["id"], batch_size=100))
    assert batches[0].schema.field("id").type == pa.int64()
    assert _ids(batches) == list(range(7))


def test_parquet_missing_column_names_file_and_columns(tmp_path, ids_parquet) -> None:  # type: ignore[no-untyped-def]
    ids_parquet(str(tmp_path / "a.parquet"), 0, 5, 5)
    pq.write_table(pa.table({"id": [1], "other": [2]}), tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"b\.parquet: column 'x' not found; the file has columns: id, other"):
        ParquetReader(str(tmp_path), columns=["id", "x"])


def test_parquet_corrupt_file_is_named(tmp_path, ids_parquet) -> None:  # type: ignore[no-untyped-def]
    ids_parquet(str(tmp_path / "a.parquet"), 0, 5, 5)
    (tmp_path / "broken.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable Parquet file"):
        ParquetReader(str(tmp_path))


def test_parquet_empty_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pq.write_table(pa.table({"id": pa.array([], pa.int64())}), tmp_path / "e.parquet")
    with pytest.raises(DataError, match="is empty"):
        ParquetReader(str(tmp_path / "e.parquet"))


def test_no_match_names_pattern(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=r"no data file matches input path '.*/\*\.parquet'"):
        ParquetReader(f"{tmp_path}/*.parquet")


def test_memory_urls(ids_parquet) -> None:  # type: ignore[no-untyped-def]
    fs = fsspec.filesystem("memory")
    fs.mkdir("/readers_t")
    with fs.open("/readers_t/a.parquet", "wb") as f:
        pq.write_table(pa.table({"id": np.arange(30)}), f, row_group_size=7)
    fs.pipe("/readers_t/b.csv", b"id,name\n30,x\n31,y\n")
    assert _ids(ParquetReader("memory://readers_t/*.parquet", batch_size=4)) == list(range(30))
    csv = CsvReader("memory://readers_t/b.csv", options=CsvOptions(with_header=True), batch_size=4)
    assert _ids(csv) == [30, 31]


def test_csv_with_header(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.csv").write_text("id,name,score\n1,a,0.5\n2,,1.5\n3,c,2.5\n")
    (tmp_path / "b.csv").write_text("id,name,score\n4,d,3.5\n")
    reader = CsvReader(str(tmp_path), options=CsvOptions(with_header=True), columns=["score", "id", "name"], batch_size=3)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [3, 1]
    assert batches[0].schema.names == ["score", "id", "name"]
    assert _ids(batches) == [1, 2, 3, 4]
    assert batches[0].column("name").to_pylist() == ["a", None, "c"]
    assert reader.schema.field("score").type == pa.float64()


def test_csv_without_header_uses_input_fields(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.csv").write_text("1\tx\t7\n2\ty\t8\n")
    opts = CsvOptions(delimiter="\t", fields=(("id", "INT64"), ("tag", "STRING"), ("n", "INT32")))
    batches = list(CsvReader(str(tmp_path / "a.csv"), options=opts, batch_size=10))
    assert batches[0].to_pydict() == {"id": [1, 2], "tag": ["x", "y"], "n": [7, 8]}
    assert batches[0].schema.field("n").type == pa.int32()


def test_csv_without_header_or_fields_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.csv").write_text("1,2\n")
    with pytest.raises(ConfigError, match="input_fields"):
        CsvReader(str(tmp_path / "a.csv"))


def test_csv_wrong_column_count_names_file_and_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.csv").write_text("id,name\n1,a\n2,b\n3\n4,d\n")
    with pytest.raises(DataError, match=r"bad\.csv: line 4: malformed CSV row: expected 2 columns, got 1"):
        list(CsvReader(str(tmp_path), options=CsvOptions(with_header=True), batch_size=2))
    # Typed columns skip inference, so the same row fails while reading instead.
    typed = CsvOptions(with_header=True, fields=(("id", "INT64"), ("name", "STRING")))
    reader = CsvReader(str(tmp_path), options=typed, batch_size=2)
    with pytest.raises(DataError, match=r"bad\.csv: line 4: malformed CSV row"):
        list(reader)


def test_csv_unparsable_value_names_file_line_and_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.csv").write_text("1,a\n2,b\nthree,c\n")
    opts = CsvOptions(fields=(("id", "INT64"), ("name", "STRING")))
    with pytest.raises(DataError, match=r"bad\.csv: line 3: column 'id': cannot parse 'three' as int64"):
        list(CsvReader(str(tmp_path / "bad.csv"), options=opts))


def test_csv_missing_column_names_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.csv").write_text("id,name\n1,a\n")
    with pytest.raises(DataError, match=r"a\.csv: column 'label' not found; the file has columns: id, name"):
        CsvReader(str(tmp_path / "a.csv"), options=CsvOptions(with_header=True), columns=["label"])


def test_csv_empty_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.csv").write_text("")
    with pytest.raises(DataError, match="is empty"):
        CsvReader(str(tmp_path / "a.csv"), options=CsvOptions(with_header=True))


def test_multichar_delimiter_rejected() -> None:
    with pytest.raises(ConfigError, match="delimiter"):
        CsvOptions(delimiter="||")


def test_rebatch_sizes() -> None:
    src = [pa.record_batch({"id": np.arange(s, s + n)}) for s, n in [(0, 3), (3, 0), (3, 10), (13, 1)]]
    out = list(rebatch(src, 4))
    assert [b.num_rows for b in out] == [4, 4, 4, 2]
    assert _ids(out) == list(range(14))
    assert [b.num_rows for b in rebatch(src, 4, drop_remainder=True)] == [4, 4, 4]


def test_shuffle_rebatch_keeps_rows_and_sizes() -> None:
    src = [pa.record_batch({"id": np.arange(s, s + 10)}) for s in range(0, 100, 10)]
    out = list(shuffle_rebatch(src, 8, 2, np.random.default_rng(0)))
    assert [b.num_rows for b in out] == [8] * 12 + [4]
    ids = _ids(out)
    assert sorted(ids) == list(range(100)) and ids != list(range(100))


def test_assign_splits_balances_rows_and_covers_all() -> None:
    splits = [Split("f", i, n, n) for i, n in enumerate([100, 10, 10, 50, 50, 30, 20, 30])]
    for rng in (None, np.random.default_rng(3)):
        parts = assign_splits(splits, 3, rng)
        assert sorted(s.row_group for p in parts for s in p) == list(range(8))
        loads = [sum(s.weight for s in p) for p in parts]
        assert max(loads) - min(loads) <= 30
