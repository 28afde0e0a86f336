"""Convert EasyRec's Taobao display-ad sample (`taobao_test_data`) to Parquet for rec.

Reads `taobao_test_data` from --data_dir: 10,000 comma-separated lines without a header, 20
columns (see PROVENANCE.md): `clk`, `buy` (0/1 labels), the ad features `pid, adgroup_id, cate_id,
campaign_id, customer, brand`, the user features `user_id, cms_segid, cms_group_id,
final_gender_code, age_level, pvalue_level, shopping_level, occupation, new_user_class_level`, the
`|`-separated behaviour tags `tag_category_list`, `tag_brand_list`, and the int `price` bucket.

Only this file of the source is available, so the split is ours: a user goes to `test.parquet`
when crc32(user_id) % 5 == 0 (about a fifth of the rows), else to `train.parquet`; a user's rows
stay together. Columns: int64 `clk`, `buy`, `price`; the other fields as strings (null when empty
or the literal `NULL`); the two tag lists as list<string> (empty when the field is empty).

Checks: 20 fields per line, 0/1 labels, an integer price, and 10,000 rows (--no_count_check for
other files in this format). A bad line stops the run with file:line.

    uv run python examples/taobao/prepare_data.py --output_dir /tmp/rec_taobao
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = (REPO_ROOT / ".." / "shared" / "data" / "taobao_easyrec").resolve()
LABELS = ["clk", "buy"]
STRINGS = [
    "pid", "adgroup_id", "cate_id", "campaign_id", "customer", "brand", "user_id", "cms_segid", "cms_group_id",
    "final_gender_code", "age_level", "pvalue_level", "shopping_level", "occupation", "new_user_class_level",
]  # fmt: skip
LISTS = ["tag_category_list", "tag_brand_list"]
COLUMNS = LABELS + STRINGS + LISTS + ["price"]
NUM_ROWS = 10_000
TEST_SHARE = 5  # crc32(user_id) % TEST_SHARE == 0 -> test


class MalformedInput(Exception):
    """A line that does not fit the Taobao sample format."""


def read_rows(path: Path) -> dict[str, list]:
    """Every line of the file as typed column lists."""
    columns: dict[str, list] = {name: [] for name in COLUMNS}
    with open(path, newline="") as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line:
                continue
            fields = line.split(",")
            if len(fields) != len(COLUMNS):
                raise MalformedInput(f"{path}:{line_no}: expected {len(COLUMNS)} fields, got {len(fields)}: {line[:200]!r}")
            row = dict(zip(COLUMNS, fields))
            for name in LABELS:
                if row[name] not in ("0", "1"):
                    raise MalformedInput(f"{path}:{line_no}: {name} must be 0 or 1, got {row[name]!r}")
                columns[name].append(int(row[name]))
            if not row["price"].isdigit():
                raise MalformedInput(f"{path}:{line_no}: price must be a non-negative integer, got {row['price']!r}")
            columns["price"].append(int(row["price"]))
            for name in STRINGS:
                columns[name].append(row[name] if row[name] not in ("", "NULL") else None)
            for name in LISTS:
                columns[name].append(row[name].split("|") if row[name] else [])
    return columns


def split(columns: dict[str, list]) -> dict[str, pa.Table]:
    """train / test tables, split by a hash of user_id."""
    types = {**dict.fromkeys(LABELS + ["price"], pa.int64()), **dict.fromkeys(LISTS, pa.list_(pa.string()))}
    table = pa.table({name: pa.array(values, types.get(name, pa.string())) for name, values in columns.items()})
    test = np.array([zlib.crc32((u or "").encode()) % TEST_SHARE == 0 for u in columns["user_id"]])
    return {"train": table.filter(pa.array(~test)), "test": table.filter(pa.array(test))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--output_dir", required=True)
    p.add_argument("--no_count_check", action="store_true", help="skip the PROVENANCE.md row count check")
    args = p.parse_args(argv)
    src, out = Path(args.data_dir) / "taobao_test_data", Path(args.output_dir)
    try:
        columns = read_rows(src)
        if len(columns["clk"]) != NUM_ROWS and not args.no_count_check:
            raise MalformedInput(f"{src}: {len(columns['clk'])} rows, expected {NUM_ROWS} (--no_count_check)")
    except (MalformedInput, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for name, table in split(columns).items():
        pq.write_table(table, out / f"{name}.parquet")
        clicks, buys = (int(np.sum(table.column(c).to_numpy())) for c in LABELS)
        print(f"{name}: {table.num_rows} rows, {clicks} clicks, {buys} purchases -> {out / f'{name}.parquet'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
