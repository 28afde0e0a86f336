"""Turn a stream of record batches of any size into batches of exactly batch_size rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

from rec_core.errors import DataError
from rec_core.logging_utils import get_logger

logger = get_logger(__name__)


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


def _costs(batch: pa.RecordBatch, field: str, source: str) -> np.ndarray:
    column = batch.column(field)
    if column.null_count:
        raise DataError(f"{source}: column {field!r} (sample_cost_field) has null values")
    costs = column.to_numpy(zero_copy_only=False)
    if not np.issubdtype(costs.dtype, np.number):
        raise DataError(f"{source}: column {field!r} (sample_cost_field) is {column.type}, not a number")
    if len(costs) and costs.min() < 0:
        raise DataError(f"{source}: column {field!r} (sample_cost_field) has negative values")
    return costs.astype(np.int64 if np.issubdtype(costs.dtype, np.integer) else np.float64)


def cost_rebatch(
    batches: Iterable[pa.RecordBatch],
    cost_field: str,
    batch_cost_size: float,
    drop_remainder: bool = False,
    source: str = "input",
) -> Iterator[pa.RecordBatch]:
    """Cut the stream so each batch's summed `cost_field` stays <= batch_cost_size (order kept).

    Each batch takes rows greedily while they fit; a single row that costs more than
    batch_cost_size on its own becomes a batch of one row (logged once). The last batch
    may cost less unless `drop_remainder`.
    """
    pending: list[pa.RecordBatch] = []
    pending_costs: list[np.ndarray] = []
    total = 0.0
    warned = False
    for b in batches:
        if b.num_rows == 0:
            continue
        costs = _costs(b, cost_field, source)
        pending.append(b)
        pending_costs.append(costs)
        total += float(costs.sum())
        if total <= batch_cost_size:
            continue
        merged = _concat(pending)
        cum = np.cumsum(np.concatenate(pending_costs))
        start, base, n = 0, 0, merged.num_rows
        while True:
            end = int(np.searchsorted(cum, base + batch_cost_size, side="right"))
            if end >= n:
                break  # what is left fits: wait for more rows
            if end == start:
                end = start + 1
                if not warned:
                    logger.warning(
                        "%s: a row costs %s, more than batch_cost_size %s; it forms a batch alone",
                        source, cum[start] - base, batch_cost_size,
                    )
                    warned = True
            yield merged.slice(start, end - start)
            base = cum[end - 1]
            start = end
            if start >= n:
                break
        pending = [merged.slice(start)] if start < n else []
        pending_costs = [np.diff(cum[start:], prepend=base)] if start < n else []
        total = float(cum[-1] - base) if start < n else 0.0
    if pending and not drop_remainder:
        yield _concat(pending)
