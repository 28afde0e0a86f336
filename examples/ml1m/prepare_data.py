"""Convert the MovieLens-1M LCFN split (ml1m_lcfn) to Parquet for rec's two-tower models.

Reads from --data_dir:

- `train.txt`, `test.txt`: one line per user, `user_id item_id item_id ...` (space-separated,
  0-based ids, CRLF or LF line endings);
- `validation_data.json`: a JSON list whose element u lists user u's validation items.

Writes to --output_dir `train.parquet`, `valid.parquet` and `test.parquet`, one row per
(user, item) interaction with int64 columns `user_id`, `item_id` and `label` (always 1: every row
is a positive); `items.txt`, the item table of rec's negative samplers (`id weight feature`,
tab-separated with a header, every weight 1: uniform negatives); and for negative_sampler_v2
`users.txt` (`id weight`) and `train_edges.txt` (`userid itemid weight`, one edge per train
interaction: each user's known positives). The train rows are shuffled with
--seed (the source lists them user by user, which in-batch negatives must not see); valid and
test keep the source order.

Checks: every token is a non-negative integer, the ids are contiguous, no user lists an item twice
in a split, the splits are disjoint per user, and the counts match PROVENANCE.md (6,022 users,
3,043 items, 796,244 / 99,455 / 99,455 interactions; --no_count_check for other files in the same
format). A bad line stops the run with file:line.

    uv run python examples/ml1m/prepare_data.py --output_dir /tmp/rec_ml1m
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = (REPO_ROOT / ".." / "shared" / "data" / "ml1m_lcfn").resolve()
# (users, items, train, valid, test) interactions, from PROVENANCE.md
EXPECTED = (6_022, 3_043, 796_244, 99_455, 99_455)


class MalformedInput(Exception):
    """Input that does not fit the LCFN split format."""


def read_user_lines(path: Path) -> list[list[int]]:
    """Items per user from a `user item item ...` file; line u must be user u."""
    lists: list[list[int]] = []
    with open(path, newline="") as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            tokens = line.split()
            if not all(t.isdigit() for t in tokens):
                raise MalformedInput(f"{path}:{line_no}: ids must be non-negative integers: {line[:200]!r}")
            user, items = int(tokens[0]), [int(t) for t in tokens[1:]]
            if user != len(lists):
                raise MalformedInput(f"{path}:{line_no}: expected user {len(lists)}, got {user}")
            lists.append(items)
    return lists


def read_json_lists(path: Path) -> list[list[int]]:
    """Items per user from a JSON list of lists."""
    data = json.loads(path.read_text())
    if not isinstance(data, list) or not all(isinstance(x, list) for x in data):
        raise MalformedInput(f"{path}: expected a JSON list of item-id lists")
    for u, items in enumerate(data):
        if not all(isinstance(i, int) and i >= 0 for i in items):
            raise MalformedInput(f"{path}: element {u}: item ids must be non-negative integers")
    return data


def check(splits: dict[str, list[list[int]]], count_check: bool) -> tuple[int, int]:
    """Validate the splits; returns (users, items)."""
    num_users = max(len(v) for v in splits.values())
    num_items = max((max(i) for v in splits.values() for i in v if i), default=-1) + 1
    seen = [set() for _ in range(num_users)]
    for name, lists in splits.items():
        for u, items in enumerate(lists):
            if len(set(items)) != len(items):
                raise MalformedInput(f"{name}: user {u} lists an item twice")
            if seen[u] & set(items):
                raise MalformedInput(f"{name}: user {u} has items {sorted(seen[u] & set(items))[:5]} in another split too")
            seen[u] |= set(items)
    used = set().union(*seen)
    if len(used) != num_items:
        raise MalformedInput(f"item ids are not contiguous: {len(used)} distinct ids in 0..{num_items - 1}")
    counts = (num_users, num_items, *(sum(map(len, splits[s])) for s in ("train", "valid", "test")))
    if count_check and counts != EXPECTED:
        raise MalformedInput(f"(users, items, train, valid, test) = {counts}, expected {EXPECTED} (--no_count_check)")
    return num_users, num_items


def to_table(lists: list[list[int]]) -> pa.Table:
    """One (user_id, item_id, label=1) row per interaction."""
    users = np.repeat(np.arange(len(lists), dtype=np.int64), [len(x) for x in lists])
    items = np.fromiter((i for x in lists for i in x), dtype=np.int64, count=len(users))
    return pa.table({"user_id": users, "item_id": items, "label": np.ones(len(users), np.int64)})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--output_dir", required=True)
    p.add_argument("--seed", type=int, default=2021, help="seed of the train row shuffle")
    p.add_argument("--no_count_check", action="store_true", help="skip the PROVENANCE.md count check")
    args = p.parse_args(argv)
    src, out = Path(args.data_dir), Path(args.output_dir)
    try:
        splits = {
            "train": read_user_lines(src / "train.txt"),
            "valid": read_json_lists(src / "validation_data.json"),
            "test": read_user_lines(src / "test.txt"),
        }
        num_users, num_items = check(splits, not args.no_count_check)
    except (MalformedInput, OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for name, lists in splits.items():
        table = to_table(lists)
        if name == "train":
            table = table.take(np.random.default_rng(args.seed).permutation(table.num_rows))
        pq.write_table(table, out / f"{name}.parquet")
        print(f"{name}: {table.num_rows} interactions -> {out / f'{name}.parquet'}")
    with open(out / "items.txt", "w") as f:
        f.write("id\tweight\tfeature\n")
        f.writelines(f"{i}\t1\t{i}\n" for i in range(num_items))
    with open(out / "users.txt", "w") as f:
        f.write("id\tweight\n")
        f.writelines(f"{u}\t1\n" for u in range(num_users))
    with open(out / "train_edges.txt", "w") as f:
        f.write("userid\titemid\tweight\n")
        f.writelines(f"{u}\t{i}\t1\n" for u, items in enumerate(splits["train"]) for i in items)
    print(f"{num_users} users, {num_items} items; sampler tables -> {out}/items.txt, users.txt, train_edges.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
