"""The example plugin, installed as a separate distribution, is found and passes the conformance checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rec_core.errors import DataError
from rec_core.protos import data_pb2
from rec_core.registry import registry
from rec_data.readers import create_reader
from rec_data.testing import check_reader, check_writer
from rec_data.writers import create_writer
from rec_plugin_jsonl import JsonLinesReader, JsonLinesWriter


def _write(path: Path, start: int, n: int) -> None:
    path.write_text("".join(json.dumps({"id": i, "name": f"n{i}", "score": i / 10}) + "\n" for i in range(start, start + n)))


def test_registered_by_its_own_distribution() -> None:
    reader = registry("rec.readers").describe("JsonLinesReader")
    assert reader.distribution == "rec-plugin-jsonl" and reader.object_path == "rec_plugin_jsonl:JsonLinesReader"
    assert registry("rec.readers").get("JsonLinesReader") is JsonLinesReader
    assert registry("rec.writers").get("JsonLinesWriter") is JsonLinesWriter


def test_reader_contract(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", 0, 25)
    _write(tmp_path / "b.jsonl", 25, 9)
    _write(tmp_path / "c.jsonl", 34, 4)
    check_reader(JsonLinesReader, str(tmp_path), range(38))


def test_writer_contract(tmp_path: Path) -> None:
    check_writer(JsonLinesWriter, tmp_path)


def test_chosen_by_file_ending_whatever_the_dataset_type(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", 0, 5)
    config = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset)
    reader = create_reader(config, f"{tmp_path}/*.jsonl", columns=["score", "id"])
    assert isinstance(reader, JsonLinesReader)
    assert next(iter(reader)).to_pydict() == {"score": [0.0, 0.1, 0.2, 0.3, 0.4], "id": [0, 1, 2, 3, 4]}
    with create_writer(str(tmp_path / "out"), 1, kind="jsonl") as w:
        w.write({"id": [7]})
    assert (tmp_path / "out" / "part-1.jsonl").read_text() == '{"id":7}\n'


def test_malformed_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\n{"id": \n')
    with pytest.raises(DataError, match=r"bad\.jsonl"):
        list(JsonLinesReader(str(tmp_path / "bad.jsonl")))
