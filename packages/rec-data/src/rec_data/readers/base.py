"""BaseReader: input files → splits → record batches of exactly batch_size rows."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa

from rec_core.errors import DataError

from rec_data.paths import expand_input_path
from rec_data.readers.batching import rebatch, shuffle_rebatch
from rec_data.readers.splits import Split, assign_splits, check_enough_splits


class BaseReader(ABC):
    """Reads the files named by an input path; plans its splits when built, so errors show early.

    Instances are picklable (paths, splits and schema only) and go to DataLoader workers.
    """

    kind: str = ""
    split_unit: str = "split"

    def __init__(
        self,
        input_path: str,
        *,
        columns: Sequence[str] | None = None,
        batch_size: int = 1024,
        drop_remainder: bool = False,
        shuffle_buffer_size: int = 32,
    ) -> None:
        if batch_size <= 0:
            raise DataError(f"batch_size must be positive, got {batch_size}")
        self.input_path = input_path
        self.batch_size = int(batch_size)
        self.drop_remainder = drop_remainder
        self.shuffle_buffer_size = int(shuffle_buffer_size)
        self.files = expand_input_path(input_path)
        self._schema, self._splits = self._plan(list(columns) if columns is not None else None)
        if not self._splits:
            raise DataError(
                f"input {input_path!r} is empty: {len(self.files)} file(s) matched, no rows in them"
            )

    @abstractmethod
    def _plan(self, columns: list[str] | None) -> tuple[pa.Schema, list[Split]]:
        """Check every file, return the output schema and the splits."""

    @abstractmethod
    def read_split(self, split: Split) -> Iterator[pa.RecordBatch]:
        """The rows of one split as record batches of any size, with the output schema."""

    @property
    def schema(self) -> pa.Schema:
        """The schema of the batches this reader yields (requested columns only)."""
        return self._schema

    @property
    def splits(self) -> list[Split]:
        """Every split of the input, in file order."""
        return list(self._splits)

    def num_files(self) -> int:
        """How many files the input path matched."""
        return len(self.files)

    def num_rows(self) -> int | None:
        """The total row count when known without reading the data (Parquet), else None."""
        counts = [s.num_rows for s in self._splits]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[misc]

    def check_readers(self, world_size: int, num_workers: int) -> None:
        """Raise unless every one of world_size × num_workers readers gets at least one split."""
        check_enough_splits(self._splits, self.split_unit, world_size, num_workers, self.input_path)

    def worker_splits(
        self, reader_id: int, num_readers: int, rng: np.random.Generator | None = None
    ) -> list[Split]:
        """The splits that reader `reader_id` of `num_readers` reads (shuffled when given an rng)."""
        return assign_splits(self._splits, num_readers, rng)[reader_id]

    def to_batches(
        self,
        worker_id: int = 0,
        num_workers: int = 1,
        *,
        shuffle: bool = False,
        seed: int = 0,
        epoch: int = 0,
    ) -> Iterator[pa.RecordBatch]:
        """Batches of exactly batch_size rows from this worker's share of the input.

        With `shuffle`, the split assignment and order change per (seed, epoch) alike on every
        process, and rows are mixed through a buffer of shuffle_buffer_size batches.
        """
        if not 0 <= worker_id < num_workers:
            raise DataError(f"worker_id {worker_id} is outside 0..{num_workers - 1}")
        plan_rng = np.random.default_rng([seed, epoch]) if shuffle else None
        mine = self.worker_splits(worker_id, num_workers, plan_rng)
        raw = itertools.chain.from_iterable(self.read_split(s) for s in mine)
        if not shuffle:
            return rebatch(raw, self.batch_size, self.drop_remainder)
        # Each worker mixes rows with its own stream, still reproducible from (seed, epoch).
        rows_rng = np.random.default_rng([seed, epoch, worker_id, num_workers])
        return shuffle_rebatch(
            raw, self.batch_size, self.shuffle_buffer_size, rows_rng, self.drop_remainder
        )

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self.to_batches()


def select_columns(available: Sequence[str], columns: list[str] | None, path: str) -> list[str]:
    """The columns to read from a file, raising a DataError naming the file when one is missing."""
    if columns is None:
        return list(available)
    have = set(available)
    missing = [c for c in columns if c not in have]
    if missing:
        raise DataError(
            f"{path}: column {missing[0]!r} not found"
            + (f" (nor {', '.join(map(repr, missing[1:]))})" if len(missing) > 1 else "")
            + f"; the file has columns: {', '.join(available)}"
        )
    return columns


def conform(batch: pa.RecordBatch, schema: pa.Schema, path: str) -> pa.RecordBatch:
    """`batch` with the columns and types of `schema` (files may differ, e.g. int32 vs int64)."""
    batch = batch.select(schema.names)
    if batch.schema.equals(schema):
        return batch
    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise DataError(
            f"{path}: schema {batch.schema.to_string(show_schema_metadata=False)!r} "
            f"does not match the first file's: {e}"
        ) from e
