"""RecordBatchDataset: an IterableDataset that reads this (rank, worker)'s share and parses it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import numpy as np
import pyarrow as pa
from torch.utils.data import IterableDataset, get_worker_info

from rec_data.masking import apply_mask
from rec_data.readers.base import BaseReader
from rec_data.samplers.base import BaseSampler, SampledBatch

T = TypeVar("T")


class RecordBatchDataset(IterableDataset, Generic[T]):
    """Yields parser(batch) for the batches of reader (rank × num_workers + worker id).

    With a `sampler`, yields parser(sampler.apply(batch)) instead: a `SampledBatch` (batch
    plus sampled negatives) or, for TDM, the expanded RecordBatch; see rec_data.samplers.
    `mask` / `negative_mask` ({column: probability}) null columns per row before that (the
    negatives' columns with `negative_mask`). Randomness is reproducible from
    (seed, epoch, rank, worker).
    """

    def __init__(
        self,
        reader: BaseReader,
        parser: Callable[[Any], T],
        *,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = False,
        seed: int = 0,
        sampler: BaseSampler | None = None,
        mask: Mapping[str, float] | None = None,
        negative_mask: Mapping[str, float] | None = None,
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
        self.sampler = sampler
        self.mask = dict(mask or {})
        self.negative_mask = dict(negative_mask or {})

    def set_epoch(self, epoch: int) -> None:
        """Shuffle the next pass differently, reproducibly from (seed, epoch)."""
        # Workers are not persistent, so each pass pickles this object afresh with the new epoch.
        self.epoch = int(epoch)

    def prepare(self, batch: pa.RecordBatch, rng: np.random.Generator) -> pa.RecordBatch | SampledBatch:
        """What the parser gets for one batch read: masked, and sampled for when a sampler is set."""
        if self.mask:
            batch = apply_mask(batch, self.mask, rng)
        if self.sampler is None:
            return batch
        out = self.sampler.apply(batch, rng)
        if isinstance(out, SampledBatch) and self.negative_mask:
            out.negatives = apply_mask(out.negatives, self.negative_mask, rng)
        return out

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
        if self.sampler is None and not self.mask:
            for batch in batches:
                yield self.parser(batch)
            return
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker_id, num_workers, 0x5A4D])
        for batch in batches:
            yield self.parser(self.prepare(batch, rng))
