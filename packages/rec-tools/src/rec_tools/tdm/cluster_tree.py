"""`rec-tools tdm-cluster-tree`: a TDM tree whose leaves follow the clusters of learned item embeddings."""

from __future__ import annotations

import argparse

from rec_core.errors import ConfigError
from rec_tools.faiss_index import to_matrix
from rec_tools.tdm.cluster import cluster_order
from rec_tools.tdm.items import Items, check_n_cluster, read_items, report, save_tree, split_fields
from rec_tools.tdm.tree import Tree, complete_tree


def cluster_tree(items: Items, embedding_field: str, n_cluster: int, parallel: int = 1) -> Tree:
    """The complete tree over the items in the order balanced k-means of their embeddings gives."""
    embeddings = to_matrix(items.table.column(embedding_field), f"column {embedding_field!r}")
    order = cluster_order(embeddings, n_cluster, parallel)
    return complete_tree(items.ids[order], n_cluster, items.attrs(order), items.raw_attrs(order))


def run(args: argparse.Namespace) -> None:
    """`rec-tools tdm-cluster-tree`."""
    check_n_cluster(args.n_cluster)
    if args.parallel < 1:
        raise ConfigError("--parallel", f"must be at least 1, got {args.parallel}")
    items = read_items(
        args.item_input_path, args.item_id_field, [args.embedding_field],
        split_fields(args.attr_fields), split_fields(args.raw_attr_fields), args.reader_type,
    )
    tree = cluster_tree(items, args.embedding_field, args.n_cluster, args.parallel)
    report(tree, save_tree(tree, args))
