"""Readers and writers as plugins: the registries, choosing a reader, the Arrow IPC reader/writer."""

from __future__ import annotations

from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from rec_core.errors import ConfigError, DataError
from rec_core.protos import data_pb2
from rec_core.registry import registry
from rec_data import plugins
from rec_data.loader import create_dataloader
from rec_data.readers import ArrowReader, CsvReader, ParquetReader, create_reader
from rec_data.writers import ArrowWriter, CsvWriter, ParquetWriter, create_writer


def _ids(batches) -> list[int]:  # type: ignore[no-untyped-def]
    return [i for b in batches for i in b.column("id").to_pylist()]


def _table(start: int, n: int) -> pa.Table:
    return pa.table({"id": np.arange(start, start + n), "f": np.linspace(0, 1, n), "s": [f"s{i}" for i in range(n)]})


def test_builtins_register_through_entry_points() -> None:
    for group, name, cls in [
        ("rec.readers", "ParquetReader", ParquetReader),
        ("rec.readers", "CsvReader", CsvReader),
        ("rec.readers", "ArrowReader", ArrowReader),
        ("rec.writers", "ParquetWriter", ParquetWriter),
        ("rec.writers", "CsvWriter", CsvWriter),
        ("rec.writers", "ArrowWriter", ArrowWriter),
    ]:
        info = registry(group).describe(name)
        assert info.distribution == "rec-data"
        assert registry(group).get(name) is cls
    samplers = registry("rec.samplers").names()
    assert {"negative_sampler", "negative_sampler_v2", "hard_negative_sampler", "hard_negative_sampler_v2", "tdm_sampler"} <= set(samplers)
    assert plugins.extension_map()[".parquet"] == "ParquetReader"
    assert plugins.extension_map()[".feather"] == "ArrowReader"


def test_arrow_file_splits_per_record_batch(tmp_path: Path) -> None:
    with ipc.new_file(tmp_path / "a.arrow", _table(0, 1).schema) as w:
        for start in range(0, 100, 25):
            w.write_table(_table(start, 25))
    feather.write_feather(_table(100, 30), tmp_path / "b.feather", chunksize=10)
    reader = ArrowReader(str(tmp_path), columns=["id", "s"], batch_size=16)
    assert len(reader.splits) == 4 + 3 and reader.num_rows() == 130
    batches = list(reader)
    assert _ids(batches) == list(range(130))
    assert [b.num_rows for b in batches] == [16] * 8 + [2]
    assert batches[0].schema.names == ["id", "s"]
    # Two readers share the record batches, each row once.
    got = _ids(reader.to_batches(0, 2)) + _ids(reader.to_batches(1, 2))
    assert sorted(got) == list(range(130))


def test_arrow_stream_and_memory_urls() -> None:
    fs = fsspec.filesystem("memory")
    with fs.open("/arrow_t/s.arrows", "wb") as f, ipc.new_stream(f, _table(0, 1).schema) as w:
        w.write_table(_table(0, 12), max_chunksize=5)
    with fs.open("/arrow_t/f.arrow", "wb") as f, ipc.new_file(f, _table(0, 1).schema) as w:
        w.write_table(_table(12, 8))
    reader = ArrowReader("memory://arrow_t/s.arrows,memory://arrow_t/f.arrow", batch_size=7)
    assert reader.splits[0].num_rows is None  # a stream is one split of unknown size
    assert _ids(reader) == list(range(20))


def test_arrow_not_ipc_is_named(tmp_path: Path) -> None:
    (tmp_path / "x.arrow").write_bytes(b"nope, not arrow")
    with pytest.raises(DataError, match=r"x\.arrow: not a readable Arrow IPC file or stream"):
        ArrowReader(str(tmp_path / "x.arrow"))


def test_reader_chosen_by_file_ending_then_dataset_type(tmp_path: Path) -> None:
    pq.write_table(_table(0, 5), tmp_path / "p.parquet")
    feather.write_feather(_table(5, 5), tmp_path / "a.feather")
    (tmp_path / "c.csv").write_text("id,f,s\n10,0.5,x\n")
    (tmp_path / "noext").write_bytes((tmp_path / "p.parquet").read_bytes())
    parquet = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, with_header=True)
    csv = data_pb2.DataConfig(dataset_type=data_pb2.CsvDataset, with_header=True)
    odps = data_pb2.DataConfig(dataset_type=data_pb2.OdpsDataset)
    assert isinstance(create_reader(parquet, str(tmp_path / "a.feather")), ArrowReader)
    assert isinstance(create_reader(odps, str(tmp_path / "*.feather")), ArrowReader)
    assert isinstance(create_reader(parquet, str(tmp_path / "c.csv")), CsvReader)
    csv_reader = create_reader(csv, str(tmp_path / "c.csv"))
    assert isinstance(csv_reader, CsvReader) and _ids(csv_reader) == [10]
    assert isinstance(create_reader(parquet, str(tmp_path / "noext")), ParquetReader)
    assert isinstance(create_reader(csv, str(tmp_path / "p.parquet"), reader="parquet"), ParquetReader)
    with pytest.raises(ConfigError, match=r"OdpsDataset is not supported .* \.feather \(ArrowReader\)"):
        create_reader(odps, str(tmp_path / "noext"))
    with pytest.raises(DataError, match=r"mixes files of different readers \(ArrowReader, ParquetReader\)"):
        create_reader(parquet, f"{tmp_path}/p.parquet,{tmp_path}/a.feather")


def test_dataloader_reads_arrow_once_across_ranks_and_workers(tmp_path: Path) -> None:
    with ipc.new_file(tmp_path / "a.arrow", _table(0, 1).schema) as w:
        for start in range(0, 400, 50):
            w.write_table(_table(start, 50))
    config = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, batch_size=32, num_workers=2, shuffle=True)
    seen = []
    for rank in range(2):
        loader = create_dataloader(config, str(tmp_path / "a.arrow"), _first_column, columns=["id"], rank=rank, world_size=2)
        seen += [i for b in loader for i in b]
    assert sorted(seen) == list(range(400))


def _first_column(batch: pa.RecordBatch) -> list[int]:
    return batch.column(0).to_pylist()


@pytest.mark.parametrize("kind", ["arrow", "ArrowWriter", "parquet", "ParquetWriter", "csv", "CsvWriter"])
def test_create_writer_by_kind_or_name_round_trips(tmp_path: Path, kind: str) -> None:
    with create_writer(str(tmp_path / "out"), 2, kind=kind) as w:
        w.write(_table(0, 10))
        w.write(_table(10, 5))
    (path,) = (tmp_path / "out").iterdir()
    assert path.name == f"part-2.{w.extension}"
    reader = create_reader(data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, with_header=True), str(path))
    assert _ids(reader) == list(range(15))


def test_unknown_writer_lists_what_is_installed() -> None:
    with pytest.raises(DataError, match=r"unknown writer kind 'orc'.*installed: ArrowWriter, CsvWriter.*ParquetWriter"):
        create_writer("/tmp/x", 0, kind="orc")
