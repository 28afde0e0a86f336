"""TDM trees: a complete `n_cluster`-ary tree over ordered items, written as the tables rec's
`tdm_sampler` reads, and read back as a child index for retrieval.

Layout (TorchEasyRec's tree tools write the same tables, tab-separated with a header line):

- node_table.txt          `id  weight  feature`: every node, weight 1; feature joins, by the attr
                          delimiter, `tree_level`, the node id (`item_id` of a leaf), the attr
                          fields (empty on internal nodes) and the raw attr fields (on an internal
                          node the mean over the items below it)
- edge_table.txt          `src_id  dst_id  weight`: each leaf to each of its ancestors below the root
- predict_edge_table.txt  `src_id  dst_id  weight`: each node to its children
- serving_tree            `<levels> <n_cluster>`, then `<tree code> <node id>` per node (root code
                          0; the children of code c are c * n_cluster + 1 .. c * n_cluster + n_cluster)

Every leaf is at the deepest level; leaf p of that level hangs under node p // n_cluster of the
level above (and so on up), so items next to each other in the order share their ancestors.
Internal node ids follow the largest item id, root first, then level by level.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import DataError
from rec_core.fs import atomic_write

LEVEL_FIELD = "tree_level"
NODE_TABLE = "node_table.txt"
EDGE_TABLE = "edge_table.txt"
PREDICT_EDGE_TABLE = "predict_edge_table.txt"
SERVING_TREE = "serving_tree"
NODE_HEADER = "id:int64\tweight:float\tfeature:string"
EDGE_HEADER = "src_id:int64\tdst_id:int64\tweight:float"


def tree_depth(num_leaves: int, n_cluster: int) -> int:
    """Levels below the root of the smallest complete tree holding `num_leaves` leaves (at least 1)."""
    depth = 1
    while n_cluster**depth < num_leaves:
        depth += 1
    return depth


@dataclass
class Tree:
    """The nodes in level order (root first) with their level, parent row and attributes."""

    ids: np.ndarray  # [N] int64 node ids; the leaves are the item ids
    levels: np.ndarray  # [N] 0 (root) .. depth (leaves)
    parents: np.ndarray  # [N] row of the parent; -1 for the root
    n_cluster: int
    attrs: dict[str, np.ndarray] = field(default_factory=dict)  # [N] strings, "" on internal nodes
    raw_attrs: dict[str, np.ndarray] = field(default_factory=dict)  # [N] floats

    @property
    def depth(self) -> int:
        """The leaves' level."""
        return int(self.levels[-1])

    def leaf_rows(self) -> np.ndarray:
        """Rows of the leaves, in leaf order."""
        return np.flatnonzero(self.levels == self.depth)

    def ancestors(self) -> np.ndarray:
        """[leaves, depth + 1] rows: column l is the leaf's ancestor at level l (the leaf itself last)."""
        leaves = self.leaf_rows()
        out = np.empty((len(leaves), self.depth + 1), np.int64)
        out[:, -1] = leaves
        for lv in range(self.depth - 1, -1, -1):
            out[:, lv] = self.parents[out[:, lv + 1]]
        return out

    def codes(self) -> np.ndarray:
        """[N] the serving tree codes: position in the complete n_cluster-ary tree, level by level."""
        n = self.n_cluster
        starts = np.searchsorted(self.levels, self.levels)  # first row of each node's level
        first_code = (n**self.levels.astype(np.int64) - 1) // (n - 1)
        return first_code + np.arange(len(self.ids)) - starts


def complete_tree(
    item_ids: np.ndarray,
    n_cluster: int,
    attrs: dict[str, np.ndarray] | None = None,
    raw_attrs: dict[str, np.ndarray] | None = None,
) -> Tree:
    """The complete tree with the items, in the given order, as its leaves (see the module docstring)."""
    ids = np.asarray(item_ids, np.int64)
    if n_cluster < 2:
        raise DataError(f"n_cluster must be at least 2, got {n_cluster}")
    if not len(ids):
        raise DataError("no items to build a TDM tree from")
    if len(np.unique(ids)) != len(ids):
        raise DataError("the TDM tree's item ids must be distinct")
    depth = tree_depth(len(ids), n_cluster)
    widths = [-(-len(ids) // n_cluster ** (depth - lv)) for lv in range(depth)] + [len(ids)]
    starts = np.cumsum([0] + widths)
    levels = np.repeat(np.arange(depth + 1), widths)
    positions = np.arange(len(levels)) - starts[levels]
    internal = int(starts[-2])
    node_ids = np.concatenate([ids.max() + 1 + np.arange(internal), ids])
    parents = np.where(levels > 0, starts[np.maximum(levels - 1, 0)] + positions // n_cluster, -1)
    node_attrs = {}
    for name, values in (attrs or {}).items():
        node_attrs[name] = np.concatenate([np.full(internal, "", object), np.asarray(values, object)])
    node_raw = {}
    for name, values in (raw_attrs or {}).items():
        sums = np.zeros(len(levels))
        counts = np.zeros(len(levels))
        sums[internal:] = np.nan_to_num(np.asarray(values, np.float64))
        counts[internal:] = 1
        for lv in range(depth, 0, -1):  # children add into their parents, deepest level first
            rows = np.arange(starts[lv], starts[lv + 1])
            np.add.at(sums, parents[rows], sums[rows])
            np.add.at(counts, parents[rows], counts[rows])
        node_raw[name] = sums / counts
    return Tree(node_ids, levels, parents, n_cluster, node_attrs, node_raw)


def _check_text(values: np.ndarray, forbidden: list[str], what: str, ids: np.ndarray) -> None:
    """A clear error for an attr value that would break the text tables."""
    column = pa.array(values.tolist(), pa.string())
    for sep in forbidden:
        hits = np.flatnonzero(pc.fill_null(pc.match_substring(column, sep), False).to_numpy(zero_copy_only=False))
        if len(hits):
            i = int(hits[0])
            raise DataError(f"{what} of item {ids[i]} is {values[i]!r}, which holds {sep!r}, a separator of the node table")


def _number(x: float) -> str:
    """The shortest text that reads back as x ("2" for 2.0)."""
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def node_features(tree: Tree, attr_delimiter: str) -> list[str]:
    """The node table's feature strings: level, id, attrs, raw attrs joined by attr_delimiter."""
    for name, values in tree.attrs.items():
        _check_text(values, [attr_delimiter, "\t", "\n"], f"attr {name!r}", tree.ids)
    columns = [tree.levels.astype(str), tree.ids.astype(str)]
    columns += [v.astype(str) for v in tree.attrs.values()]
    columns += [np.array([_number(x) for x in v.tolist()], object) for v in tree.raw_attrs.values()]
    return [attr_delimiter.join(parts) for parts in zip(*columns)]


def write_tables(tree: Tree, output_dir: str, attr_delimiter: str = ":") -> dict[str, str]:
    """node_table.txt, edge_table.txt and predict_edge_table.txt in output_dir; returns their paths."""
    features = node_features(tree, attr_delimiter)
    nodes = [NODE_HEADER] + [f"{i}\t1.0\t{f}" for i, f in zip(tree.ids.tolist(), features)]
    ancestors = tree.ancestors()
    ids = tree.ids
    # leaf → ancestor, nearest first, the root left out
    pairs = [(ids[ancestors[:, -1]], ids[ancestors[:, lv]]) for lv in range(tree.depth - 1, 0, -1)]
    edges = [EDGE_HEADER]
    if pairs:
        src = np.stack([p[0] for p in pairs], axis=1).reshape(-1)
        dst = np.stack([p[1] for p in pairs], axis=1).reshape(-1)
        edges += [f"{s}\t{d}\t1.0" for s, d in zip(src.tolist(), dst.tolist())]
    child = np.flatnonzero(tree.parents >= 0)
    children = [EDGE_HEADER] + [f"{s}\t{d}\t1.0" for s, d in zip(ids[tree.parents[child]].tolist(), ids[child].tolist())]
    paths = {}
    for name, lines in ((NODE_TABLE, nodes), (EDGE_TABLE, edges), (PREDICT_EDGE_TABLE, children)):
        paths[name] = os.path.join(output_dir, name)
        with atomic_write(paths[name]) as f:
            f.write("\n".join(lines) + "\n")
    return paths


def write_serving_tree(tree: Tree, output_dir: str) -> str:
    """`<output_dir>/serving_tree`; returns its path."""
    path = os.path.join(output_dir, SERVING_TREE)
    lines = [f"{tree.depth + 1} {tree.n_cluster}"]
    lines += [f"{c} {i}" for c, i in zip(tree.codes().tolist(), tree.ids.tolist())]
    with atomic_write(path) as f:
        f.write("\n".join(lines) + "\n")
    return path
