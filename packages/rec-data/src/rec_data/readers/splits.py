"""Split the input into work units and deal them out so each row is read once per epoch."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rec_core.errors import DataError
from rec_core.logging_utils import get_logger

logger = get_logger(__name__)


@dataclass(frozen=True)
class Split:
    """One unit of work: a whole file (CSV) or one row group of a file (Parquet)."""

    path: str
    row_group: int | None
    num_rows: int | None  # None when unknown without reading the file (CSV)
    weight: int  # what balancing evens out: rows for Parquet, bytes for CSV


def assign_splits(
    splits: Sequence[Split], num_readers: int, rng: np.random.Generator | None = None
) -> list[list[Split]]:
    """Deal `splits` to `num_readers` readers, heaviest first to the least loaded one.

    Without `rng` the result is fixed and each reader keeps input order; with it, equal-weight
    splits land on random readers and each reader's order is shuffled. Either way every split
    goes to exactly one reader, and every process computing this gets the same answer.
    """
    order = list(range(len(splits)))
    if rng is not None:
        rng.shuffle(order)
    # Stable sort: ties keep the (possibly shuffled) order, so shuffling moves them between readers.
    order.sort(key=lambda i: -splits[i].weight)
    loads = [(0, r) for r in range(num_readers)]
    heapq.heapify(loads)
    picked: list[list[int]] = [[] for _ in range(num_readers)]
    for i in order:
        load, reader = heapq.heappop(loads)
        picked[reader].append(i)
        heapq.heappush(loads, (load + splits[i].weight, reader))
    for ids in picked:
        if rng is None:
            ids.sort()
        else:
            rng.shuffle(ids)
    return [[splits[i] for i in ids] for ids in picked]


def check_enough_splits(
    splits: Sequence[Split],
    unit: str,
    world_size: int,
    num_workers: int,
    input_path: str,
    *,
    allow_idle: bool = False,
) -> None:
    """Raise when some of the world_size × num_workers readers would get no split.

    With `allow_idle` only warn: the readers left without a split yield no rows.
    """
    readers = world_size * max(1, num_workers)
    if len(splits) >= readers:
        return
    workers_fit = max(1, len(splits) // world_size)
    counts = (
        f"input {input_path!r} has {len(splits)} {unit}(s) but {world_size} rank(s) x "
        f"{max(1, num_workers)} worker(s) = {readers} readers"
    )
    if allow_idle:
        logger.warning("%s: %d reader(s) will read nothing", counts, readers - len(splits))
        return
    raise DataError(
        f"{counts} each need at least one; "
        f"set data_config.num_workers to at most {workers_fit}, use fewer ranks, "
        f"write the data as more {unit}s, or allow idle readers "
        "(create_dataloader(allow_idle_readers=True) or REC_ALLOW_IDLE_READERS=1)"
    )
