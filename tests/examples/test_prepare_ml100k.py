"""examples/ml100k/prepare_data.py on the real MovieLens-100K files: joins, folds, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.examples._load import data_dir, prepare_module

prep = prepare_module("ml100k")


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ml100k")
    assert prep.main(["--data_dir", str(data_dir("ml100k")), "--output_dir", str(out)]) == 0
    return out


def test_rows_carry_the_user_and_movie_features(converted: Path) -> None:
    test = pq.read_table(converted / "u1" / "test.parquet").to_pylist()
    # u1.test line 1: "1\t6\t5\t887431973"; u.user 1: "1|24|M|technician|85711";
    # u.item 6: "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)|01-Jan-1995|...", genre Drama (8)
    assert test[0] == {
        "user_id": 0, "item_id": 5, "rating": 5.0, "label": 1,
        "age": 1, "gender": 0, "occupation": 19, "zip": 8, "genres": [8], "year": 95,
    }  # fmt: skip


def test_folds_partition_the_ratings(converted: Path) -> None:
    tests = [pq.read_table(converted / f / "test.parquet", columns=["user_id", "item_id"]) for f in prep.FOLDS]
    keys = np.concatenate([t.column("user_id").to_numpy() * prep.NUM_ITEMS + t.column("item_id").to_numpy() for t in tests])
    assert len(keys) == len(np.unique(keys)) == prep.NUM_RATINGS
    train = pq.read_table(converted / "u3" / "train.parquet")
    assert train.num_rows == 80_000 and train.column("rating").to_numpy().min() == 1.0


def test_entity_tables_and_sampler_items(converted: Path) -> None:
    items = pq.read_table(converted / "items.parquet")
    assert items.num_rows == 1682 and items.column("year").to_pylist()[266] == 0  # movie 267: no release date
    lines = (converted / "items.txt").read_text().splitlines()
    assert lines[0] == "id\tweight\tfeature" and lines[2] == "1\t1\t1:1\x032\x0316:95"  # GoldenEye
    assert pq.read_table(converted / "users.parquet").column("user_id").to_pylist() == list(range(943))


def test_bad_line_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    shutil.copytree(data_dir("ml100k"), src)
    lines = (src / "u2.base").read_text().splitlines(keepends=True)
    lines[9] = "1\t10\t7\t875693118\n"  # rating 7
    (src / "u2.base").chmod(0o644)
    (src / "u2.base").write_text("".join(lines))
    assert prep.main(["--data_dir", str(src), "--output_dir", str(tmp_path / "out")]) == 1
    assert f"{src / 'u2.base'}:10: rating must be an integer in 1..5, got '7'" in capsys.readouterr().err


def test_unknown_occupation_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    shutil.copytree(data_dir("ml100k"), src)
    (src / "u.user").chmod(0o644)
    (src / "u.user").write_text((src / "u.user").read_text().replace("2|53|F|other|94043", "2|53|F|pilot|94043"))
    assert prep.main(["--data_dir", str(src), "--output_dir", str(tmp_path / "out")]) == 1
    assert f"{src / 'u.user'}:2: occupation 'pilot' is not in u.occupation" in capsys.readouterr().err
