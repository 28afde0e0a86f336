"""Sampler tables for the match-model examples, from a Parquet click log (e.g. `rec-data synth` output).

Writes, in the text layout rec's samplers read (tab-separated, with a header line):

- items.txt       `id  weight  feature`: one row per item id, weight = how often it occurs,
                  feature = its attr_fields values (first occurrence) joined by ':'
- users.txt       `id  weight`: one row per user id
- pos_edges.txt   `userid  itemid  weight`: the (user, item) pairs with label 1
- hard_edges.txt  `userid  itemid  weight`: the (user, item) pairs with label 0, i.e. items a
                  user saw and did not click, used as hard negatives

Usage (from the repository root):
    python examples/zoo/make_sampler_tables.py --input examples/zoo/data/match_train.parquet \
        --output_dir examples/zoo/data --attr_fields item_id,cate_id,brand,price
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def _text(col: pa.Array) -> list[str]:
    return ["" if v is None else str(v) for v in col.to_pylist()]


def write_tables(
    input_path: str, output_dir: str, attr_fields: list[str], item_id: str, user_id: str, label: str
) -> dict[str, Path]:
    """Write the four tables; returns their paths by name."""
    table = pq.read_table(input_path)
    table = table.filter(pc.and_(pc.is_valid(table[item_id]), pc.is_valid(table[user_id])))
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = table.group_by(item_id, use_threads=False).aggregate(
        [(item_id, "count")] + [(a, "first") for a in attr_fields if a != item_id]
    )
    attrs = [_text(items[item_id] if a == item_id else items[f"{a}_first"]) for a in attr_fields]
    counts = items[f"{item_id}_count"].to_pylist()
    lines = ["id:int64\tweight:float\tfeature:string"]
    lines += [f"{i}\t{c}\t{':'.join(v)}" for i, c, v in zip(items[item_id].to_pylist(), counts, zip(*attrs))]
    paths = {"items": out / "items.txt"}
    paths["items"].write_text("\n".join(lines) + "\n")
    users = sorted(set(table[user_id].to_pylist()))
    paths["users"] = out / "users.txt"
    paths["users"].write_text("id:int64\tweight:float\n" + "".join(f"{u}\t1.0\n" for u in users))
    for name, value in (("pos_edges", 1), ("hard_edges", 0)):
        rows = table.filter(pc.equal(table[label], value))
        pairs = sorted(set(zip(rows[user_id].to_pylist(), rows[item_id].to_pylist())))
        paths[name] = out / f"{name}.txt"
        paths[name].write_text("userid:int64\titemid:int64\tweight:float\n" + "".join(f"{u}\t{i}\t1.0\n" for u, i in pairs))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", required=True, help="Parquet file with the user, item, attr and label columns")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--attr_fields", required=True, help="comma-separated item columns, in the sampler's attr_fields order")
    parser.add_argument("--item_id_field", default="item_id")
    parser.add_argument("--user_id_field", default="user_id")
    parser.add_argument("--label_field", default="clk")
    args = parser.parse_args()
    paths = write_tables(
        args.input, args.output_dir, args.attr_fields.split(","), args.item_id_field, args.user_id_field, args.label_field
    )
    for path in paths.values():
        print(path)


if __name__ == "__main__":
    main()
