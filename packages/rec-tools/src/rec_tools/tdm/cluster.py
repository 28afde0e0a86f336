"""Item order for a TDM tree from item embeddings: balanced k-means, applied top down.

The items are split into `n_cluster` parts sized as the complete tree's subtrees (every part
full but the last), each part again, down to the level above the leaves. The leaves then lie
in that order, so items whose embeddings are close share ancestors as far up as the sizes let
them (TorchEasyRec rebuilds its tree the same way from the embeddings TDM learned).

A split is k-means (L2) with a capacity per cluster: each round every unplaced item asks for
its nearest open cluster; a cluster asked by more items than it has room for keeps those that
prefer it most (the largest distance margin to their next open cluster) and closes.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from rec_tools.tdm.tree import tree_depth

ITERATIONS = 10


def part_sizes(count: int, capacity: int) -> np.ndarray:
    """Sizes of the parts of `count` items under subtrees of `capacity` leaves: full ones, then the rest."""
    full, rest = divmod(count, capacity)
    return np.array([capacity] * full + ([rest] if rest else []), np.int64)


def capacity_assign(distances: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """[K] cluster of each row of the [K, m] distances, cluster j taking exactly sizes[j] rows."""
    labels = np.full(len(distances), -1, np.int64)
    room = sizes.astype(np.int64).copy()
    while True:
        free = np.flatnonzero(labels < 0)
        if not len(free):
            return labels
        d = np.where(room[None, :] > 0, distances[free], np.inf)
        best = np.argmin(d, axis=1)
        if np.count_nonzero(room) == 1:
            labels[free] = best
            return labels
        best_d = d[np.arange(len(free)), best]
        d[np.arange(len(free)), best] = np.inf
        margin = best_d - d.min(axis=1)  # <= 0; the most negative prefer their cluster most
        for j in np.flatnonzero(room > 0):
            asking = np.flatnonzero(best == j)
            if len(asking) > room[j]:
                asking = asking[np.argsort(margin[asking], kind="stable")[: room[j]]]
            labels[free[asking]] = j
            room[j] -= len(asking)


def _squared_distances(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    return (x * x).sum(1)[:, None] - 2.0 * x @ centroids.T + (centroids * centroids).sum(1)[None, :]


def balanced_kmeans(x: np.ndarray, sizes: np.ndarray, seed: int = 0) -> np.ndarray:
    """[K] cluster of each row of x, with cluster j of exactly sizes[j] rows."""
    m = len(sizes)
    if m == 1:
        return np.zeros(len(x), np.int64)
    rng = np.random.default_rng(seed)
    # k-means++ seeding
    centroids = [x[rng.integers(len(x))]]
    for _ in range(1, m):
        d = _squared_distances(x, np.stack(centroids)).min(axis=1).clip(min=0)
        p = d / d.sum() if d.sum() > 0 else None
        centroids.append(x[rng.choice(len(x), p=p)])
    c = np.stack(centroids)
    labels = np.full(len(x), -1)
    for _ in range(ITERATIONS):
        new = capacity_assign(_squared_distances(x, c), sizes)
        if np.array_equal(new, labels):
            break
        labels = new
        c = np.stack([x[labels == j].mean(axis=0) for j in range(m)])
    return labels


def _split(x: np.ndarray, rows: np.ndarray, capacity: int, seed: int) -> list[np.ndarray]:
    """The parts of `rows` (positions into x), in subtree order."""
    sizes = part_sizes(len(rows), capacity)
    labels = balanced_kmeans(x[rows], sizes, seed)
    return [rows[labels == j] for j in range(len(sizes))]


_SHARED: dict[str, np.ndarray] = {}


def _init_worker(x: np.ndarray) -> None:
    _SHARED["x"] = x


def _split_shared(task: tuple[np.ndarray, int, int]) -> list[np.ndarray]:
    return _split(_SHARED["x"], *task)


def cluster_order(x: np.ndarray, n_cluster: int, parallel: int = 1, seed: int = 0) -> np.ndarray:
    """[K] the rows of the [K, dim] embeddings in leaf order (see the module docstring).

    `parallel` > 1 splits the parts of a level in that many processes.
    """
    x = np.ascontiguousarray(x, np.float32)
    depth = tree_depth(len(x), n_cluster)
    segments = [np.arange(len(x))]
    pool = ProcessPoolExecutor(parallel, initializer=_init_worker, initargs=(x,)) if parallel > 1 else None
    try:
        for level in range(depth - 1):  # the last split (into single leaves) needs no clustering
            capacity = n_cluster ** (depth - level - 1)
            tasks = [(rows, capacity, seed + i) for i, rows in enumerate(segments)]
            if pool is not None and len(tasks) > 1:
                parts = pool.map(_split_shared, tasks, chunksize=max(1, len(tasks) // (4 * parallel)))
            else:
                parts = (_split(x, *task) for task in tasks)
            segments = [part for split in parts for part in split]
    finally:
        if pool is not None:
            pool.shutdown()
    return np.concatenate(segments)
