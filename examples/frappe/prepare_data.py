"""Convert the Frappe_x1 libsvm files to Parquet for rec.

Reads `train_rebuilt.libsvm`, `valid.libsvm` and `test.libsvm` from --data_dir and writes
`train.parquet`, `valid.parquet` and `test.parquet` to --output_dir. Each line of the input is

    label idx:1 idx:1 ... (10 pairs)

with the ten indices in field order user, item, daytime, weekday, isweekend, homework, cost,
weather, country, city, each an index into one global one-hot space 0..5381 (one block per field).
Every output column is int64: `label` (0/1) and one column per field holding that global index
unchanged, so an id here is the libsvm feature index and every field fits `num_buckets: 5382`.

Checks: every line has exactly 11 space-separated tokens, the label is 0 or 1, every pair is
`index:1`, every index lies in its field's block, and the row/positive counts match the Frappe_x1
split (PROVENANCE.md). A malformed line stops the run with the file name and line number.

    uv run python examples/frappe/prepare_data.py --output_dir /tmp/rec_frappe
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FIELDS = ["user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city"]
# Per-field cardinalities from the dataset README; field blocks are laid out in this order.
CARDINALITIES = [957, 4082, 7, 7, 2, 3, 2, 9, 80, 233]
OFFSETS = np.concatenate([[0], np.cumsum(CARDINALITIES)[:-1]]).astype(np.int64)
NUM_FEATURES = int(sum(CARDINALITIES))  # 5382

# (input file, output file, expected rows, expected positives); counts from PROVENANCE.md / the BARS logs.
SPLITS = [
    ("train_rebuilt.libsvm", "train.parquet", 202_027, 67_604),
    ("valid.libsvm", "valid.parquet", 57_722, 19_063),
    ("test.libsvm", "test.parquet", 28_860, 9_536),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = (REPO_ROOT / ".." / "shared" / "data" / "frappe_x1").resolve()


class MalformedInput(Exception):
    """A line of a libsvm file that does not fit the Frappe_x1 format."""


def _fail(path: Path, line_no: int, line: str, why: str) -> MalformedInput:
    shown = line if len(line) <= 200 else line[:200] + "..."
    return MalformedInput(f"{path}:{line_no}: {why}\n    line: {shown!r}")


def _check_line(path: Path, line_no: int, line: str) -> None:
    """Raise for a malformed line (the slow path, used only to name the first bad line)."""
    tokens = line.split(" ")
    if len(tokens) != 1 + len(FIELDS):
        raise _fail(path, line_no, line, f"expected {1 + len(FIELDS)} space-separated tokens, got {len(tokens)}")
    if tokens[0] not in ("0", "1"):
        raise _fail(path, line_no, line, f"label must be 0 or 1, got {tokens[0]!r}")
    for k, (tok, field) in enumerate(zip(tokens[1:], FIELDS)):
        idx, sep, val = tok.partition(":")
        if not sep or not idx.isdigit() or val != "1":
            raise _fail(path, line_no, line, f"token {k + 1} ({field}) must be `index:1`, got {tok!r}")
        lo, hi = int(OFFSETS[k]), int(OFFSETS[k]) + CARDINALITIES[k]
        if not lo <= int(idx) < hi:
            raise _fail(path, line_no, line, f"{field} index {idx} is outside its block [{lo}, {hi})")


def _find_bad_line(path: Path) -> MalformedInput:
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw[:-1] if raw.endswith("\n") else raw
            try:
                _check_line(path, line_no, line)
            except MalformedInput as e:
                return e
    return MalformedInput(f"{path}: could not be parsed, but the line-by-line check found no bad line")


def read_libsvm(path: Path) -> pa.Table:
    """Parse one Frappe libsvm file into a table of int64 columns (vectorised)."""
    names = ["label"] + FIELDS
    try:
        raw = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(
                delimiter=" ", quote_char=False, double_quote=False, escape_char=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as e:
        raise _find_bad_line(path) from e

    raw = raw.combine_chunks()
    bad = np.zeros(raw.num_rows, dtype=bool)
    label_s = raw.column("label")
    bad |= ~np.asarray(pc.is_in(label_s, value_set=pa.array(["0", "1"])), dtype=bool)
    columns: dict[str, np.ndarray] = {}
    for k, field in enumerate(FIELDS):
        parts = pc.split_pattern(raw.column(field), ":", max_splits=1)
        ok = np.asarray(pc.equal(pc.list_value_length(parts), 2), dtype=bool)
        parts = pc.if_else(pa.array(ok), parts, pa.scalar(["-1", "1"], pa.list_(pa.string())))
        idx_s, val_s = pc.list_element(parts, 0), pc.list_element(parts, 1)
        ok &= np.asarray(pc.equal(val_s, "1"), dtype=bool)
        ok &= np.asarray(pc.match_substring_regex(idx_s, r"^[0-9]{1,9}$"), dtype=bool)
        idx = np.asarray(pc.cast(pc.if_else(pa.array(ok), idx_s, "-1"), pa.int64()), dtype=np.int64)
        ok &= (idx >= OFFSETS[k]) & (idx < OFFSETS[k] + CARDINALITIES[k])
        bad |= ~ok
        columns[field] = idx
    if bad.any():
        # re-read the file line by line to name the first bad line with its exact text
        raise _find_bad_line(path)
    label = np.asarray(pc.cast(label_s, pa.int64()), dtype=np.int64)
    return pa.table({"label": label, **columns})


def write_parquet(table: pa.Table, out: Path) -> None:
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data_dir",
        default=str(DEFAULT_DATA_DIR),
        help="folder holding train_rebuilt.libsvm, valid.libsvm and test.libsvm (default: %(default)s)",
    )
    p.add_argument("--output_dir", default="/tmp/rec_frappe", help="where the Parquet files go (default: %(default)s)")
    p.add_argument(
        "--train_file",
        default="train_rebuilt.libsvm",
        help="training file name inside --data_dir, e.g. the original train.libsvm if you have it (default: %(default)s)",
    )
    p.add_argument(
        "--no_count_check",
        action="store_true",
        help="do not require the Frappe_x1 row and positive counts (for other files in the same format)",
    )
    args = p.parse_args(argv)

    data_dir, out_dir = Path(args.data_dir), Path(args.output_dir)
    splits = [(args.train_file, *SPLITS[0][1:])] + SPLITS[1:]
    missing = [str(data_dir / s[0]) for s in splits if not (data_dir / s[0]).is_file()]
    if missing:
        print(f"error: missing input file(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)

    for in_name, out_name, want_rows, want_pos in splits:
        t0 = time.perf_counter()
        path = data_dir / in_name
        try:
            table = read_libsvm(path)
        except MalformedInput as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        rows = table.num_rows
        pos = int(pc.sum(table.column("label")).as_py() or 0)
        if not args.no_count_check and (rows, pos) != (want_rows, want_pos):
            print(
                f"error: {path}: {rows} rows / {pos} positives, expected {want_rows} / {want_pos} "
                "(Frappe_x1, PROVENANCE.md); pass --no_count_check for other files",
                file=sys.stderr,
            )
            return 1
        write_parquet(table, out_dir / out_name)
        print(
            f"{in_name} -> {out_dir / out_name}: {rows} rows, {pos} positives ({100 * pos / max(rows, 1):.2f} %), "
            f"{time.perf_counter() - t0:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
