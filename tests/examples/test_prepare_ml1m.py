"""examples/ml1m/prepare_data.py on files written here in the LCFN split's formats.

A small split (3 users, 5 items) instead of ../shared/data, so the tests run wherever the
repository is cloned; benchmarks/quality.py runs the script on the real files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rec_core.protos import sampler_pb2
from rec_data.samplers.negative import NegativeSamplerV2
from tests.examples._load import prepare_module

prep = prepare_module("ml1m")

TRAIN = [[0, 1, 2], [3, 4], [1, 4]]
VALID = [[3], [0], [2]]
TEST = [[4], [1, 2], [0, 3]]


def write_split(src: Path, train: list[list[int]] = TRAIN) -> Path:
    src.mkdir()
    # the source files end lines with CRLF
    (src / "train.txt").write_text("".join(" ".join(map(str, [u, *x])) + "\r\n" for u, x in enumerate(train)))
    (src / "test.txt").write_text("".join(" ".join(map(str, [u, *x])) + "\r\n" for u, x in enumerate(TEST)))
    (src / "validation_data.json").write_text(json.dumps(VALID))
    return src


def convert(tmp_path: Path, src: Path) -> int:
    return prep.main(["--data_dir", str(src), "--output_dir", str(tmp_path / "out"), "--no_count_check"])


def test_splits_become_one_row_per_interaction(tmp_path: Path) -> None:
    assert convert(tmp_path, write_split(tmp_path / "src")) == 0
    out = tmp_path / "out"
    train = pq.read_table(out / "train.parquet")
    pairs = sorted(zip(train.column("user_id").to_pylist(), train.column("item_id").to_pylist()))
    assert pairs == sorted((u, i) for u, items in enumerate(TRAIN) for i in items)
    assert set(train.column("label").to_pylist()) == {1}
    test = pq.read_table(out / "test.parquet")
    assert list(zip(test.column("user_id").to_pylist(), test.column("item_id").to_pylist())) == [(0, 4), (1, 1), (1, 2), (2, 0), (2, 3)]


def test_sampler_tables_hold_the_train_positives(tmp_path: Path) -> None:
    assert convert(tmp_path, write_split(tmp_path / "src")) == 0
    out = tmp_path / "out"
    config = sampler_pb2.NegativeSamplerV2(
        user_input_path=str(out / "users.txt"), item_input_path=str(out / "items.txt"),
        pos_edge_input_path=str(out / "train_edges.txt"), num_sample=4, attr_fields=["item_id"],
        item_id_field="item_id", user_id_field="user_id", mask_user_positives=True,
    )
    batch = pa.record_batch({"user_id": pa.array([0, 1, 2], pa.int64()), "item_id": pa.array([0, 3, 1], pa.int64())})
    sampled = NegativeSamplerV2(config).apply(batch, np.random.default_rng(0))
    drawn = sampled.negatives.column("item_id").to_pylist()
    # every masked pair, and only those, is a train positive of the row's user
    expected = [[r, k] for r in range(3) for k, item in enumerate(drawn) if item in TRAIN[r]]
    assert expected and sorted(sampled.masked_neg_indices.tolist()) == expected
    # one edge per train interaction; validation and test items are not known positives
    assert (tmp_path / "out" / "train_edges.txt").read_text().count("\n") == 1 + sum(map(len, TRAIN))


def test_an_item_in_two_splits_is_an_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = write_split(tmp_path / "src", train=[[0, 1, 2, 3], [3, 4], [1, 4]])
    assert convert(tmp_path, src) == 1
    assert "user 0 has items [3] in another split" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
