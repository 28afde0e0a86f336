"""Layer-wise beam search down a TDM tree, for many users at once.

From the root, each level's candidates are the children of the nodes kept at the level above;
a level whose candidates fit in the beam keeps them all unscored, otherwise the scorer ranks
them and the best `beam_size` stay. At the leaves the best `recall_num` are the result, best
first. All users of a call move down together: one scorer call per level, over every
(user, candidate) pair, and no Python loop over users or candidates.

With a beam at least as wide as every level, this is brute force: the result is exactly the
scorer's top leaves. TDM trains its scorer towards a max-heap (a node scores like the best
leaf below it), under which a beam of `recall_num` finds the top leaves as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rec_core.errors import DataError

# scores of the (user index, node row) pairs: ([M] int64, [M] int64) -> [M] float
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class TreeIndex:
    """Children of every node (rows), padded with -1, and the node levels."""

    children: np.ndarray  # [N, max fan-out]
    levels: np.ndarray  # [N]
    root: int

    @property
    def depth(self) -> int:
        """The leaves' level."""
        return int(self.levels.max())

    @classmethod
    def from_edges(cls, levels: np.ndarray, parent_rows: np.ndarray, child_rows: np.ndarray, where: str = "TDM tree") -> TreeIndex:
        """The index of parent → child edges between node rows; checks the tree is well formed.

        Every leaf must be at the deepest level (as the tdm_sampler needs), so every node above
        it has a child, one level down. Nodes of a negative level (TorchEasyRec's helper row)
        are left out.
        """
        levels = np.asarray(levels, np.int64)
        parent_rows = np.asarray(parent_rows, np.int64)
        child_rows = np.asarray(child_rows, np.int64)
        roots = np.flatnonzero(levels == 0)
        if len(roots) != 1:
            raise DataError(f"{where}: expected one node at tree_level 0 (the root), found {len(roots)}")
        wrong = np.flatnonzero(levels[child_rows] != levels[parent_rows] + 1)
        if len(wrong):
            e = int(wrong[0])
            raise DataError(
                f"{where}: edge from a node at level {levels[parent_rows[e]]} to one at level {levels[child_rows[e]]}; "
                "a child is one level below its parent"
            )
        order = np.argsort(parent_rows, kind="stable")
        parent_rows, child_rows = parent_rows[order], child_rows[order]
        counts = np.bincount(parent_rows, minlength=len(levels))
        depth = int(levels.max())
        childless = np.flatnonzero((counts == 0) & (levels >= 0) & (levels < depth))
        if len(childless):
            raise DataError(
                f"{where}: node row {int(childless[0])} at level {levels[childless[0]]} has no children; "
                f"every leaf must be at the deepest level ({depth})"
            )
        starts = np.cumsum(counts) - counts
        slot = np.arange(len(parent_rows)) - starts[parent_rows]
        children = np.full((len(levels), max(int(counts.max()), 1)), -1, np.int64)
        children[parent_rows, slot] = child_rows
        return cls(children, levels, int(roots[0]))


def _top(candidates: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """[U, k] the k best candidates of each row, best first; -1 where a row has fewer."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(candidates, order, axis=1)
    return np.where(np.take_along_axis(scores, order, axis=1) > -np.inf, best, -1)


def beam_search(index: TreeIndex, num_users: int, score: Scorer, recall_num: int, beam_size: int | None = None) -> np.ndarray:
    """[num_users, min(recall_num, leaves)] leaf rows per user, best first (-1 pads a short row).

    `beam_size` (default 2 × recall_num, as TorchEasyRec) nodes are kept per level above the leaves.
    """
    if recall_num <= 0:
        raise DataError(f"recall_num must be positive, got {recall_num}")
    beam_size = beam_size or 2 * recall_num
    if beam_size < recall_num:
        raise DataError(f"the beam ({beam_size}) must be at least recall_num ({recall_num})")
    beam = np.full((num_users, 1), index.root, np.int64)
    for level in range(1, index.depth + 1):
        candidates = np.where(beam[:, :, None] >= 0, index.children[np.maximum(beam, 0)], -1).reshape(num_users, -1)
        valid = candidates >= 0
        leaves = level == index.depth
        k = recall_num if leaves else beam_size
        if not leaves and int(valid.sum(axis=1).max(initial=0)) <= k:
            # every candidate fits: keep them all, valid ones first
            beam = np.take_along_axis(candidates, np.argsort(~valid, axis=1, kind="stable"), axis=1)
            beam = beam[:, : max(int(valid.sum(axis=1).max(initial=0)), 1)]
            continue
        users, slots = np.nonzero(valid)
        scores = np.full(candidates.shape, -np.inf)
        lowest = np.finfo(np.float64).min  # a NaN or -inf score still ranks, last
        scores[users, slots] = np.nan_to_num(np.asarray(score(users, candidates[users, slots]), np.float64), nan=lowest, neginf=lowest)
        beam = _top(candidates, scores, min(k, candidates.shape[1]))
    return beam[:, : min(recall_num, int((index.levels == index.depth).sum()))]
