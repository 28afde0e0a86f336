"""A TDM tree over the items of Parquet click logs (e.g. `rec-data synth` output), category-ordered.

The tree is `rec-tools tdm-init-tree`'s (rec_tools.tdm): the distinct items (the first row of
each item id) are sorted by category, then id, and hung as the leaves of a complete
`n_cluster`-ary tree, all at the deepest level, so items of one category share their
ancestors as far up as the tree allows. Writes node_table.txt (feature
`tree_level:item_id:cate_id`), edge_table.txt, predict_edge_table.txt and serving_tree to
--output_dir, the layout rec's `tdm_sampler` reads (see rec_tools.tdm.tree).

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

import pyarrow.compute as pc
import pyarrow.parquet as pq

from rec_tools.tdm.init_tree import init_tree
from rec_tools.tdm.items import read_items, report
from rec_tools.tdm.tree import write_serving_tree, write_tables


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
    items = read_items(",".join(inputs), args.item_id_field, [], [args.cate_id_field], [])
    tree = init_tree(items, args.cate_id_field, args.n_cluster)
    paths = [*write_tables(tree, args.output_dir).values(), write_serving_tree(tree, args.output_dir)]
    report(tree, paths)


if __name__ == "__main__":
    main()
