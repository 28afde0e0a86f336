"""Turn a stream of record batches of any size into batches of exactly batch_size rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    return batches[0] if len(batches) == 1 else pa.concat_batches(batches)


def _emit(batch: pa.RecordBatch, batch_size: int, keep_tail: bool) -> Iterator[pa.RecordBatch]:
    full = batch.num_rows - batch.num_rows % batch_size
    for start in range(0, full, batch_size):
        yield batch.slice(start, batch_size)
    if keep_tail and full < batch.num_rows:
        yield batch.slice(full)


def rebatch(
    batches: Iterable[pa.RecordBatch], batch_size: int, drop_remainder: bool = False
) -> Iterator[pa.RecordBatch]:
    """Re-cut `batches` into batch_size rows each, carrying remainders; the last may be short."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for b in batches:
        if b.num_rows == 0:
            continue
        pending.append(b)
        rows += b.num_rows
        if rows >= batch_size:
            merged = _concat(pending)
            yield from _emit(merged, batch_size, keep_tail=False)
            tail = rows % batch_size
            pending = [merged.slice(rows - tail)] if tail else []
            rows = tail
    if pending and not drop_remainder:
        yield _concat(pending)


def shuffle_rebatch(
    batches: Iterable[pa.RecordBatch],
    batch_size: int,
    buffer_batches: int,
    rng: np.random.Generator,
    drop_remainder: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Row-level shuffle through a buffer of `buffer_batches` batches, emitting batch_size rows each.

    When the buffer fills it is permuted and about half of it goes out; the rest stays to mix
    with what comes next, so each row is copied about twice rather than once per batch emitted.
    """
    capacity = max(1, buffer_batches) * batch_size
    pending: list[pa.RecordBatch] = []
    rows = 0
    for b in batches:
        if b.num_rows == 0:
            continue
        pending.append(b)
        rows += b.num_rows
        if rows >= capacity:
            mixed = _concat(pending).take(pa.array(rng.permutation(rows)))
            n_out = max(batch_size, (rows // 2) // batch_size * batch_size)
            yield from _emit(mixed.slice(0, n_out), batch_size, keep_tail=False)
            pending = [mixed.slice(n_out)] if n_out < rows else []
            rows -= n_out
    if rows:
        mixed = _concat(pending).take(pa.array(rng.permutation(rows)))
        yield from _emit(mixed, batch_size, keep_tail=not drop_remainder)
