"""`rec-tools tdm-init-tree`: the initial TDM tree, items ordered by category then id."""

from __future__ import annotations

import argparse

import numpy as np
import pyarrow.compute as pc

from rec_tools.tdm.items import Items, check_n_cluster, read_items, report, save_tree, split_fields
from rec_tools.tdm.tree import Tree, complete_tree


def category_order(items: Items, cate_id_field: str | None) -> np.ndarray:
    """Item positions sorted by category (nulls first), then id."""
    keys = [(cate_id_field, "ascending")] if cate_id_field else []
    return pc.sort_indices(items.table, sort_keys=keys + [(items.item_id_field, "ascending")], null_placement="at_start").to_numpy()


def init_tree(items: Items, cate_id_field: str | None, n_cluster: int) -> Tree:
    """The complete tree over the items in category order."""
    order = category_order(items, cate_id_field)
    return complete_tree(items.ids[order], n_cluster, items.attrs(order), items.raw_attrs(order))


def run(args: argparse.Namespace) -> None:
    """`rec-tools tdm-init-tree`."""
    check_n_cluster(args.n_cluster)
    cate = [args.cate_id_field] if args.cate_id_field else []
    items = read_items(
        args.item_input_path, args.item_id_field, cate, split_fields(args.attr_fields), split_fields(args.raw_attr_fields), args.reader_type
    )
    tree = init_tree(items, args.cate_id_field, args.n_cluster)
    report(tree, save_tree(tree, args))
