"""Convert the Ali-CCP sample (torch-rechub's 200 preprocessed rows) to Parquet for rec.

Reads `ali_ccp_{train,val,test}_sample.csv` from --data_dir: comma-separated with a header of 33
columns, the labels `click` and `purchase` (0/1), 23 label-encoded sparse fields named by their
Ali-CCP field ids (`101`, `121`, ..., `150_14`) and 8 normalised dense features (`D109_14`, ...).

Writes `train.parquet`, `valid.parquet` and `test.parquet` to --output_dir with int64 `click`,
`purchase` and `f<field>` (each sparse field, e.g. `f101`, `f109_14`) and float32 `d<field>` (each
dense feature, e.g. `d109_14`, `d508`): feature names must not start with a digit.

Checks: the header, 0/1 labels, non-negative integer sparse values, numeric dense values and the
row counts of PROVENANCE.md (100 / 50 / 50; --no_count_check for other files in this format). A
bad line stops the run with file:line.

    uv run python examples/aliccp/prepare_data.py --output_dir /tmp/rec_aliccp
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = (REPO_ROOT / ".." / "shared" / "data" / "aliccp_sample").resolve()
LABELS = ["click", "purchase"]
SPARSE = "101 121 122 124 125 126 127 128 129 205 206 207 210 216 508 509 702 853 301 109_14 110_14 127_14 150_14".split()
DENSE = "D109_14 D110_14 D127_14 D150_14 D508 D509 D702 D853".split()
HEADER = LABELS + SPARSE + DENSE
# (input file, output file, expected rows), from PROVENANCE.md
SPLITS = [
    ("ali_ccp_train_sample.csv", "train.parquet", 100),
    ("ali_ccp_val_sample.csv", "valid.parquet", 50),
    ("ali_ccp_test_sample.csv", "test.parquet", 50),
]


class MalformedInput(Exception):
    """A line that does not fit the Ali-CCP sample format."""


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def read_split(path: Path) -> pa.Table:
    """One split as a typed table (labels and sparse fields int64, dense features float32)."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != HEADER:
            raise MalformedInput(f"{path}:1: expected the header {','.join(HEADER)}, got {header}")
        columns: dict[str, list] = {name: [] for name in HEADER}
        for line_no, row in enumerate(reader, 2):
            if len(row) != len(HEADER):
                raise MalformedInput(f"{path}:{line_no}: expected {len(HEADER)} fields, got {len(row)}")
            for name, value in zip(HEADER, row):
                if name in LABELS and value not in ("0", "1"):
                    raise MalformedInput(f"{path}:{line_no}: {name} must be 0 or 1, got {value!r}")
                if name in SPARSE and not value.isdigit():
                    raise MalformedInput(f"{path}:{line_no}: field {name} must be a non-negative integer, got {value!r}")
                if name in DENSE and _float(value) is None:
                    raise MalformedInput(f"{path}:{line_no}: {name} must be a number, got {value!r}")
                columns[name].append(float(value) if name in DENSE else int(value))
    table = {name: pa.array(np.asarray(columns[name], np.int64)) for name in LABELS}
    table.update({f"f{name}": pa.array(np.asarray(columns[name], np.int64)) for name in SPARSE})
    table.update({f"d{name[1:]}": pa.array(np.asarray(columns[name], np.float32)) for name in DENSE})
    return pa.table(table)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--output_dir", required=True)
    p.add_argument("--no_count_check", action="store_true", help="skip the PROVENANCE.md row count check")
    args = p.parse_args(argv)
    src, out = Path(args.data_dir), Path(args.output_dir)
    try:
        tables = {}
        for name, target, rows in SPLITS:
            tables[target] = read_split(src / name)
            if tables[target].num_rows != rows and not args.no_count_check:
                raise MalformedInput(f"{src / name}: {tables[target].num_rows} rows, expected {rows} (--no_count_check)")
    except (MalformedInput, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for target, table in tables.items():
        pq.write_table(table, out / target)
        clicks, buys = (int(np.sum(table.column(c).to_numpy())) for c in LABELS)
        print(f"{target}: {table.num_rows} rows, {clicks} clicks, {buys} purchases -> {out / target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
