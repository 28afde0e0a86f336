"""One clear DataError per bad input, naming the file and column; no partial output after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rec_core.errors import DataError
from rec_core.protos import data_pb2
from rec_data.loader import create_dataloader
from rec_data.options import CsvOptions
from rec_data.readers import CsvReader, ParquetReader


def _config(**kw) -> data_pb2.DataConfig:  # type: ignore[no-untyped-def]
    kw.setdefault("dataset_type", data_pb2.ParquetDataset)
    return data_pb2.DataConfig(num_workers=0, **kw)


def test_string_label_is_named(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1.0, 2.0], "clk": ["1", "0"]}), tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"a\.parquet: column 'clk' has type string, but data_config\.label_fields needs a number"):
        create_dataloader(_config(label_fields=["clk"]), str(tmp_path), lambda b: b)
    pq.write_table(pa.table({"x": [1.0], "clk": [1], "w": ["heavy"]}), tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"column 'w' has type string, but data_config\.sample_weight_fields"):
        create_dataloader(_config(label_fields=["clk"], sample_weight_fields=["w"]), str(tmp_path), lambda b: b)
    # Numbers of any width, and lists of numbers (jagged labels), are fine.
    pq.write_table(pa.table({"clk": pa.array([[1], [0, 1]], pa.list_(pa.int32()))}), tmp_path / "a.parquet")
    create_dataloader(_config(label_fields=["clk"]), str(tmp_path), lambda b: b)


def test_csv_label_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,clk\n1,yes\n2,no\n")
    config = _config(dataset_type=data_pb2.CsvDataset, with_header=True, label_fields=["clk"])
    with pytest.raises(DataError, match=r"a\.csv: column 'clk' has type string, but data_config\.label_fields"):
        create_dataloader(config, str(tmp_path / "a.csv"), lambda b: b)
    config.input_fields_str = "x:INT64;clk:INT64"
    with pytest.raises(DataError, match=r"a\.csv: line 2: column 'clk': cannot parse 'yes' as int64"):
        list(create_dataloader(config, str(tmp_path / "a.csv"), lambda b: b))


def test_types_that_differ_across_files_are_named_when_planning(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "price": [1.5, 2.5]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [3], "price": ["cheap"]}), tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"b\.parquet: column 'price' has type string, but .*a\.parquet has it as double"):
        ParquetReader(str(tmp_path))
    # Widths of one kind still mix (int32 in one file, int64 in another).
    pq.write_table(pa.table({"id": pa.array([3], pa.int32()), "price": pa.array([1], pa.int16())}), tmp_path / "b.parquet")
    assert [b.num_rows for b in ParquetReader(str(tmp_path))] == [3]


def test_corrupt_parquet_page_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    values = np.random.default_rng(0).integers(0, 1 << 40, 5000)
    pq.write_table(pa.table({"v": values}), path, compression="snappy", row_group_size=5000)
    data = bytearray(path.read_bytes())
    for i in range(4, 40):  # the first page header, right after the magic bytes
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    reader = ParquetReader(str(path))  # the footer is fine: planning works
    with pytest.raises(DataError, match=r"c\.parquet: cannot read row group 0"):
        list(reader)


def test_empty_inputs_name_their_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        pq.write_table(pa.table({"id": pa.array([], pa.int64())}), tmp_path / f"{name}.parquet")
    with pytest.raises(DataError, match=r"is empty: no rows in the file\(s\) it matched: .*a\.parquet, .*b\.parquet"):
        ParquetReader(f"{tmp_path}/*.parquet")
    (tmp_path / "h.csv").write_text("id,clk\n")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"is empty: no rows .*e\.csv, .*h\.csv"):
        CsvReader(f"{tmp_path}/*.csv", options=CsvOptions(with_header=True))


WRITER = textwrap.dedent(
    """
    import sys, time
    import pyarrow as pa
    from rec_data.writers import create_writer

    w = create_writer(sys.argv[1], 0, kind=sys.argv[2], row_group_size=100) if sys.argv[2] == "parquet" else create_writer(sys.argv[1], 0, kind=sys.argv[2])
    for i in range(5):
        w.write({"id": list(range(i * 100, i * 100 + 100)), "score": [0.5] * 100})
    print("written", flush=True)
    time.sleep(60)
    w.close()
    """
)


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_killed_writer_leaves_no_file_that_looks_complete(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "predictions"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out), kind], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    left = sorted(p.name for p in out.iterdir())
    assert left and all(name.startswith(f".part-0.{kind}.tmp-") for name in left)
    assert not (out / f"part-0.{kind}").exists()
    # A reader of the output directory skips the hidden temp file: nothing looks like data.
    with pytest.raises(DataError, match="no data file matches input path"):
        ParquetReader(str(out))
