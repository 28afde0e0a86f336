"""A TDM tree over the items of Parquet click logs (e.g. `rec-data synth` output), category-ordered.

The items (distinct item ids with their category) are sorted by category, then id, and hung as
the leaves of a complete `n_cluster`-ary tree, all at the deepest level, so items of one
category share their ancestors as far up as the tree allows. Internal node ids follow the
largest item id (root first, then level by level). Writes, in the text layout rec's
`tdm_sampler` reads (tab-separated, with a header line):

- node_table.txt          `id  weight  feature`: every node, weight 1, feature = `tree_level:item_id:cate_id`
                          (an internal node's item_id is its own id and its cate_id is empty)
- edge_table.txt          `src_id  dst_id  weight`: each leaf to each of its ancestors below the root
- predict_edge_table.txt  `src_id  dst_id  weight`: each node to its children (for retrieval)

The sampler's `layer_num_sample` needs one entry per level (root first, 0); the script prints
the number of levels. TDM trains on clicks: with --clicks_output_dir the script also writes
each input's rows with label 1 and an item id there (same file name), and builds the tree
from those.

Usage (from the repository root):
    python examples/zoo/make_tdm_tree.py --input examples/zoo/data/tdm_log_train.parquet,examples/zoo/data/tdm_log_eval.parquet \
        --output_dir examples/zoo/data/tdm_tree --clicks_output_dir examples/zoo/data/tdm_clicks
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HEADER = {"nodes": "id:int64\tweight:float\tfeature:string", "edges": "src_id:int64\tdst_id:int64\tweight:float"}


def write_clicks(input_paths: list[str], output_dir: str, item_id: str, label: str) -> list[str]:
    """Copies of the inputs with only their clicked rows (label 1, item id set); returns their paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for path in input_paths:
        table = pq.read_table(path)
        table = table.filter(pc.and_(pc.equal(table[label], 1), pc.is_valid(table[item_id])))
        paths.append(str(out / Path(path).name))
        pq.write_table(table, paths[-1])
    return paths


def read_items(input_paths: list[str], item_id: str, cate_id: str) -> list[tuple[str, int]]:
    """(category, item id) of every distinct item, in category then id order."""
    tables = [pq.read_table(p, columns=[item_id, cate_id]) for p in input_paths]
    table = pa.concat_tables(tables, promote_options="permissive")
    table = table.filter(pc.is_valid(table[item_id]))
    cates: dict[int, str] = {}
    for item, cate in zip(table[item_id].to_pylist(), table[cate_id].to_pylist()):
        cates.setdefault(int(item), "" if cate is None else str(cate))
    if not cates:
        raise SystemExit(f"no item ids in column {item_id!r} of {', '.join(input_paths)}")
    return sorted((c, i) for i, c in cates.items())


def build_tree(items: list[tuple[str, int]], n_cluster: int) -> list[list[tuple[int, str]]]:
    """Levels of (node id, cate) from the root down; node p of level l has parent p // n_cluster of level l - 1."""
    depth = 1
    while n_cluster**depth < len(items):
        depth += 1
    next_id = max(i for _, i in items) + 1
    levels: list[list[tuple[int, str]]] = []
    for level in range(depth):
        width = -(-len(items) // n_cluster ** (depth - level))  # nodes with at least one leaf below
        levels.append([(next_id + p, "") for p in range(width)])
        next_id += width
    levels.append([(i, c) for c, i in items])
    return levels


def write_tree(levels: list[list[tuple[int, str]]], output_dir: str, n_cluster: int) -> dict[str, Path]:
    """Write the three tables; returns their paths by name."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    nodes = [HEADER["nodes"]]
    nodes += [f"{n}\t1.0\t{lv}:{n}:{c}" for lv, level in enumerate(levels) for n, c in level]
    children = [HEADER["edges"]]
    children += [f"{levels[lv - 1][p // n_cluster][0]}\t{n}\t1.0" for lv in range(1, len(levels)) for p, (n, _) in enumerate(levels[lv])]
    ancestors = [HEADER["edges"]]
    for p, (leaf, _) in enumerate(levels[-1]):
        for up in range(1, len(levels) - 1):
            ancestors.append(f"{leaf}\t{levels[-1 - up][p // n_cluster**up][0]}\t1.0")
    paths = {name: out / f"{name}.txt" for name in ("node_table", "edge_table", "predict_edge_table")}
    for name, lines in zip(paths, (nodes, ancestors, children)):
        paths[name].write_text("\n".join(lines) + "\n")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", required=True, help="comma-separated Parquet files holding every item the model will see")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--item_id_field", default="item_id")
    parser.add_argument("--cate_id_field", default="cate_id")
    parser.add_argument("--n_cluster", type=int, default=2, help="children per internal node")
    parser.add_argument("--clicks_output_dir", help="also write the inputs' clicked rows here and build the tree from them")
    parser.add_argument("--label_field", default="clk")
    args = parser.parse_args()
    if args.n_cluster < 2:
        parser.error(f"--n_cluster must be at least 2, got {args.n_cluster}")
    inputs = args.input.split(",")
    if args.clicks_output_dir:
        inputs = write_clicks(inputs, args.clicks_output_dir, args.item_id_field, args.label_field)
        print(*inputs, sep="\n")
    items = read_items(inputs, args.item_id_field, args.cate_id_field)
    levels = build_tree(items, args.n_cluster)
    for path in write_tree(levels, args.output_dir, args.n_cluster).values():
        print(path)
    print(f"levels: {len(levels)} (layer_num_sample needs {len(levels)} entries); leaves: {len(items)}")


if __name__ == "__main__":
    main()
