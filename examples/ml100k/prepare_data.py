"""Convert MovieLens-100K (GroupLens `ml-100k`) to Parquet for rec's rating and two-tower models.

Reads from --data_dir `u.user`, `u.item`, `u.occupation`, `u.data` and the five official folds
`u1.base`/`u1.test` ... `u5.base`/`u5.test`, and writes to --output_dir:

- `u1/train.parquet`, `u1/test.parquet`, ... `u5/...`: one row per rating, the user's and the
  movie's features joined on. int64 columns `user_id` (0..942) and `item_id` (0..1681), the
  source ids minus one; float32 `rating` (1..5, the regression label); int64 `label` (always 1:
  every rating is an interaction, for the two-tower model); the user features `age` (bucket 0..6,
  MovieLens-1M's age groups <18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+), `gender` (0 M, 1 F),
  `occupation` (line of `u.occupation`, 0..20) and `zip` (first digit of the zip code 0..9, 10
  when it is not a digit: Canadian and other codes); the item features `genres` (list<int64>,
  the set flags among the 19 of `u.genre`, 0..18) and `year` (release year - 1900, 1..99; 0 when
  the date is missing). Train rows are shuffled with --seed (the files list them user by user).
- `users.parquet` / `items.parquet`: one row per user / movie, in id order, with the id and the
  features above (what the towers read when every user and item is embedded for retrieval).
- `items.txt`: the item table of rec's negative samplers, `id weight feature`, tab-separated,
  every weight 1 (uniform negatives), feature = `item_id:genres:year` with the genre ids joined
  by "\\x03" (rec's multi-value separator).

Checks: field counts, integer ids in range and consecutive from 1, ratings 1..5, gender M/F, known
occupations, genre flags 0/1, dates `dd-Mon-yyyy`; per fold, base and test are disjoint and
together hold exactly the ratings of `u.data`; the counts match PROVENANCE.md (943 users, 1,682
movies, 100,000 ratings, 80,000 / 20,000 per fold). A bad line stops the run with file:line.

    uv run python examples/ml100k/prepare_data.py --output_dir /tmp/rec_ml100k
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = (REPO_ROOT / ".." / "shared" / "data" / "ml100k").resolve()
NUM_USERS, NUM_ITEMS, NUM_RATINGS, NUM_GENRES = 943, 1682, 100_000, 19
FOLDS = ["u1", "u2", "u3", "u4", "u5"]
FOLD_SIZES = (80_000, 20_000)
AGE_BOUNDARIES = [18, 25, 35, 45, 50, 56]  # MovieLens-1M's age groups
USER_FEATURES = ["age", "gender", "occupation", "zip"]
ITEM_FEATURES = ["genres", "year"]


class MalformedInput(Exception):
    """A line that does not fit the ml-100k format."""


def _lines(path: Path, sep: str, width: int) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-empty line, each with exactly `width` fields."""
    rows = []
    # u.item holds Latin-1 titles; every field read here is ASCII
    with open(path, encoding="latin-1", newline="") as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line:
                continue
            fields = line.split(sep)
            if len(fields) != width:
                raise MalformedInput(f"{path}:{line_no}: expected {width} {sep!r}-separated fields, got {len(fields)}: {line[:200]!r}")
            rows.append((line_no, fields))
    return rows


def _int(path: Path, line_no: int, value: str, name: str, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise MalformedInput(f"{path}:{line_no}: {name} must be an integer in {low}..{high}, got {value!r}")
    return int(value)


def _consecutive(path: Path, rows: list[tuple[int, list[str]]], count: int) -> None:
    if len(rows) != count:
        raise MalformedInput(f"{path}: {len(rows)} lines, expected {count}")
    for expected, (line_no, fields) in enumerate(rows, 1):
        if fields[0] != str(expected):
            raise MalformedInput(f"{path}:{line_no}: expected id {expected}, got {fields[0]!r}")


def read_users(data_dir: Path) -> pa.Table:
    """`u.user` as user_id (0-based) and the encoded user features."""
    occupations = [line.strip() for line in (data_dir / "u.occupation").read_text().splitlines() if line.strip()]
    path = data_dir / "u.user"
    rows = _lines(path, "|", 5)
    _consecutive(path, rows, NUM_USERS)
    age, gender, occupation, zip_digit = [], [], [], []
    for line_no, (_, a, g, occ, zip_code) in rows:
        age.append(int(np.searchsorted(AGE_BOUNDARIES, _int(path, line_no, a, "age", 1, 120), side="right")))
        if g not in ("M", "F"):
            raise MalformedInput(f"{path}:{line_no}: gender must be M or F, got {g!r}")
        gender.append(0 if g == "M" else 1)
        if occ not in occupations:
            raise MalformedInput(f"{path}:{line_no}: occupation {occ!r} is not in u.occupation")
        occupation.append(occupations.index(occ))
        zip_digit.append(int(zip_code[0]) if zip_code[:1].isdigit() else 10)
    columns = {"user_id": np.arange(NUM_USERS), "age": age, "gender": gender, "occupation": occupation, "zip": zip_digit}
    return pa.table({k: pa.array(v, pa.int64()) for k, v in columns.items()})


def read_items(data_dir: Path) -> pa.Table:
    """`u.item` as item_id (0-based), genres (list of genre ids) and year."""
    path = data_dir / "u.item"
    rows = _lines(path, "|", 5 + NUM_GENRES)
    _consecutive(path, rows, NUM_ITEMS)
    genres, year = [], []
    for line_no, fields in rows:
        flags = fields[5:]
        if any(flag not in ("0", "1") for flag in flags):
            raise MalformedInput(f"{path}:{line_no}: genre flags must be 0 or 1, got {'|'.join(flags)!r}")
        genres.append([g for g, flag in enumerate(flags) if flag == "1"])
        date = fields[2]
        try:
            year.append(datetime.strptime(date, "%d-%b-%Y").year - 1900 if date else 0)
        except ValueError:
            raise MalformedInput(f"{path}:{line_no}: release date must be dd-Mon-yyyy, got {date!r}") from None
        if not 0 <= year[-1] <= 99:
            raise MalformedInput(f"{path}:{line_no}: release year {date!r} is outside 1900..1999")
    return pa.table(
        {
            "item_id": pa.array(np.arange(NUM_ITEMS), pa.int64()),
            "genres": pa.array(genres, pa.list_(pa.int64())),
            "year": pa.array(year, pa.int64()),
        }
    )


def read_ratings(path: Path) -> np.ndarray:
    """[n, 3] int64 (user_id, item_id, rating) of a `user item rating timestamp` file, ids 0-based."""
    rows = _lines(path, "\t", 4)
    out = np.empty((len(rows), 3), np.int64)
    for r, (line_no, (user, item, rating, ts)) in enumerate(rows):
        out[r] = (
            _int(path, line_no, user, "user id", 1, NUM_USERS) - 1,
            _int(path, line_no, item, "item id", 1, NUM_ITEMS) - 1,
            _int(path, line_no, rating, "rating", 1, 5),
        )
        _int(path, line_no, ts, "timestamp", 0, 2**62)
    return out


def _keys(ratings: np.ndarray) -> np.ndarray:
    return ratings[:, 0] * NUM_ITEMS + ratings[:, 1]


def check_fold(name: str, base: np.ndarray, test: np.ndarray, everything: np.ndarray, count_check: bool) -> None:
    """base and test are disjoint and together are u.data (same pairs and ratings)."""
    if count_check and (len(base), len(test)) != FOLD_SIZES:
        raise MalformedInput(f"{name}: (base, test) = ({len(base)}, {len(test)}) ratings, expected {FOLD_SIZES} (--no_count_check)")
    if np.intersect1d(_keys(base), _keys(test)).size:
        raise MalformedInput(f"{name}: base and test share (user, item) pairs")
    both = np.concatenate([base, test])
    if not np.array_equal(both[np.argsort(_keys(both))], everything[np.argsort(_keys(everything))]):
        raise MalformedInput(f"{name}: base + test are not the ratings of u.data")


def joined(ratings: np.ndarray, users: pa.Table, items: pa.Table) -> pa.Table:
    """One row per rating with the user's and the item's features."""
    u, i = pa.array(ratings[:, 0]), pa.array(ratings[:, 1])
    table = pa.table(
        {
            "user_id": u,
            "item_id": i,
            "rating": pa.array(ratings[:, 2].astype(np.float32)),
            "label": pa.array(np.ones(len(ratings), np.int64)),
        }
    )
    for name in USER_FEATURES:
        table = table.append_column(name, users.column(name).take(u))
    for name in ITEM_FEATURES:
        table = table.append_column(name, items.column(name).take(i))
    return table


def write_item_table(items: pa.Table, path: Path) -> None:
    """The negative sampler's item table: id, weight 1, `item_id:genres:year`."""
    with open(path, "w") as f:
        f.write("id\tweight\tfeature\n")
        for item, genres, year in zip(*(items.column(c).to_pylist() for c in ("item_id", "genres", "year"))):
            f.write(f"{item}\t1\t{item}:{chr(3).join(map(str, genres))}:{year}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--output_dir", required=True)
    p.add_argument("--seed", type=int, default=2021, help="seed of the train row shuffle")
    p.add_argument("--no_count_check", action="store_true", help="skip the PROVENANCE.md fold size check")
    args = p.parse_args(argv)
    src, out = Path(args.data_dir), Path(args.output_dir)
    try:
        users, items = read_users(src), read_items(src)
        everything = read_ratings(src / "u.data")
        if len(everything) != NUM_RATINGS and not args.no_count_check:
            raise MalformedInput(f"{src / 'u.data'}: {len(everything)} ratings, expected {NUM_RATINGS} (--no_count_check)")
        folds = {}
        for fold in FOLDS:
            base, test = read_ratings(src / f"{fold}.base"), read_ratings(src / f"{fold}.test")
            check_fold(fold, base, test, everything, not args.no_count_check)
            folds[fold] = base, test
    except (MalformedInput, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    for fold, (base, test) in folds.items():
        (out / fold).mkdir(parents=True, exist_ok=True)
        pq.write_table(joined(base[rng.permutation(len(base))], users, items), out / fold / "train.parquet")
        pq.write_table(joined(test, users, items), out / fold / "test.parquet")
        print(f"{fold}: {len(base)} train / {len(test)} test ratings -> {out / fold}")
    pq.write_table(users, out / "users.parquet")
    pq.write_table(items, out / "items.parquet")
    write_item_table(items, out / "items.txt")
    print(f"{users.num_rows} users, {items.num_rows} items -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
