"""examples/ml100k/prepare_data.py on files written here in the ml-100k formats: joins, folds, errors.

The tests build a small data set (3 users, 4 movies, 10 ratings, five folds) instead of reading
../shared/data, so they run wherever the repository is cloned; benchmarks/quality.py runs the
script on the real files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.examples._load import prepare_module

prep = prepare_module("ml100k")

USERS = ["1|24|M|technician|85711", "2|53|F|other|94043", "3|17|M|writer|K2H3B"]
OCCUPATIONS = ["other", "technician", "writer"]
MOVIES = [  # id|title|release date|video release date|url|19 genre flags
    "1|GoldenEye (1995)|01-Jan-1995||http://x|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0",
    "2|Shanghai Triad (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0",
    "3|Unknown date||||0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0",
    "4|Citizen Kane (1941)|01-Jan-1941||http://x|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0",
]
# (user, movie, rating), 1-based as in u.data; fold k tests on ratings 2k-2 and 2k-1
RATINGS = [(1, 2, 5), (1, 1, 3), (2, 1, 4), (2, 4, 2), (3, 3, 1), (3, 2, 4), (1, 4, 5), (2, 3, 3), (3, 1, 2), (1, 3, 4)]


def lines(ratings: list[tuple[int, int, int]]) -> str:
    return "".join(f"{u}\t{i}\t{r}\t87743197{n}\n" for n, (u, i, r) in enumerate(ratings))


def write_source(src: Path) -> Path:
    src.mkdir()
    (src / "u.user").write_text("\n".join(USERS) + "\n")
    (src / "u.occupation").write_text("\n".join(OCCUPATIONS) + "\n")
    (src / "u.item").write_text("\n".join(MOVIES) + "\n")
    (src / "u.data").write_text(lines(RATINGS))
    for k, fold in enumerate(prep.FOLDS):
        test = RATINGS[2 * k : 2 * k + 2]
        (src / f"{fold}.test").write_text(lines(test))
        (src / f"{fold}.base").write_text(lines([r for r in RATINGS if r not in test]))
    return src


@pytest.fixture(autouse=True)
def small_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prep, "NUM_USERS", len(USERS))
    monkeypatch.setattr(prep, "NUM_ITEMS", len(MOVIES))


def convert(tmp_path: Path, src: Path | None = None) -> int:
    src = src or write_source(tmp_path / "src")
    return prep.main(["--data_dir", str(src), "--output_dir", str(tmp_path / "out"), "--no_count_check"])


def test_rows_carry_the_user_and_movie_features(tmp_path: Path) -> None:
    assert convert(tmp_path) == 0
    test = pq.read_table(tmp_path / "out" / "u1" / "test.parquet").to_pylist()
    # u1.test line 1: user 1 rates movie 2 with 5; user 1: 24 (age group 1), M, technician, zip 8...;
    # movie 2: Drama (genre 8), 1995
    assert test[0] == {
        "user_id": 0, "item_id": 1, "rating": 5.0, "label": 1,
        "age": 1, "gender": 0, "occupation": 1, "zip": 8, "genres": [8], "year": 95,
    }  # fmt: skip
    users = pq.read_table(tmp_path / "out" / "users.parquet").to_pylist()
    # 53 is in the 50-55 group (5); 17 is under 18 (0); a zip starting with a letter is 10
    assert [(u["age"], u["gender"], u["occupation"], u["zip"]) for u in users] == [(1, 0, 1, 8), (5, 1, 0, 9), (0, 0, 2, 10)]


def test_folds_partition_the_ratings(tmp_path: Path) -> None:
    assert convert(tmp_path) == 0
    tests = [pq.read_table(tmp_path / "out" / f / "test.parquet", columns=["user_id", "item_id"]) for f in prep.FOLDS]
    keys = np.concatenate([t.column("user_id").to_numpy() * len(MOVIES) + t.column("item_id").to_numpy() for t in tests])
    assert len(keys) == len(np.unique(keys)) == len(RATINGS)
    train = pq.read_table(tmp_path / "out" / "u3" / "train.parquet")
    assert train.num_rows == 8 and sorted(train.column("rating").to_pylist()) == sorted(float(r) for *_, r in RATINGS[:4] + RATINGS[6:])


def test_entity_tables_and_sampler_items(tmp_path: Path) -> None:
    assert convert(tmp_path) == 0
    items = pq.read_table(tmp_path / "out" / "items.parquet")
    assert items.column("year").to_pylist() == [95, 95, 0, 41]  # movie 3 has no release date
    assert (tmp_path / "out" / "items.txt").read_text().splitlines()[:2] == ["id\tweight\tfeature", "0\t1\t0:1\x032\x0316:95"]


def test_fold_that_is_not_u_data_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_source(tmp_path / "src")
    (src / "u4.base").write_text(lines([r for r in RATINGS if r not in RATINGS[6:8]][:-1]))  # one rating lost
    assert convert(tmp_path, src) == 1
    assert "u4: base + test are not the ratings of u.data" in capsys.readouterr().err


def test_bad_line_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_source(tmp_path / "src")
    base = (src / "u2.base").read_text().splitlines(keepends=True)
    base[4] = "1\t3\t7\t875693118\n"  # rating 7
    (src / "u2.base").write_text("".join(base))
    assert convert(tmp_path, src) == 1
    assert f"{src / 'u2.base'}:5: rating must be an integer in 1..5, got '7'" in capsys.readouterr().err


def test_unknown_occupation_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_source(tmp_path / "src")
    (src / "u.user").write_text((src / "u.user").read_text().replace("2|53|F|other|94043", "2|53|F|pilot|94043"))
    assert convert(tmp_path, src) == 1
    assert f"{src / 'u.user'}:2: occupation 'pilot' is not in u.occupation" in capsys.readouterr().err
