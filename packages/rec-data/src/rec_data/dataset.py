"""RecordBatchDataset: an IterableDataset that reads this (rank, worker)'s share and parses it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import pyarrow as pa
from torch.utils.data import IterableDataset, get_worker_info

from rec_data.readers.base import BaseReader

T = TypeVar("T")


class RecordBatchDataset(IterableDataset, Generic[T]):
    """Yields parser(batch) for the batches of reader (rank × num_workers + worker id)."""

    def __init__(
        self,
        reader: BaseReader,
        parser: Callable[[pa.RecordBatch], T],
        *,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside 0..{world_size - 1}")
        self.reader = reader
        self.parser = parser
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Shuffle the next pass differently, reproducibly from (seed, epoch)."""
        # Workers are not persistent, so each pass pickles this object afresh with the new epoch.
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[T]:
        info = get_worker_info()
        worker_id, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        batches = self.reader.to_batches(
            self.rank * num_workers + worker_id,
            self.world_size * num_workers,
            shuffle=self.shuffle,
            seed=self.seed,
            epoch=self.epoch,
        )
        for batch in batches:
            yield self.parser(batch)
