"""Vectorised operations on ragged token columns (flat values + per-row lengths) for the FG types."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_features import arrow_ops

# Joins a row number and a key into one lookup key; a control character that text data does not hold.
_ROW_KEY_SEP = "\x1f"


def offsets(lengths: np.ndarray) -> np.ndarray:
    """Start of every row in the flat values, plus the total at the end."""
    out = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def row_of(lengths: np.ndarray) -> np.ndarray:
    """The row of every flat value."""
    return np.repeat(np.arange(len(lengths), dtype=np.int64), np.asarray(lengths, np.int64))


def position_in_row(lengths: np.ndarray) -> np.ndarray:
    """The index of every flat value within its row."""
    rows = row_of(lengths)
    return np.arange(len(rows), dtype=np.int64) - offsets(lengths)[rows]


def truncate(values: pa.Array | np.ndarray, lengths: np.ndarray, limit: int) -> tuple[pa.Array | np.ndarray, np.ndarray]:
    """Keep the first `limit` values of every row (`limit <= 0` keeps all)."""
    if limit <= 0 or not (lengths > limit).any():
        return values, lengths
    keep = position_in_row(lengths) < limit
    kept = values.filter(pa.array(keep)) if isinstance(values, pa.Array) else values[keep]
    return kept, np.minimum(lengths, limit).astype(np.int32)


def fill_empty(tokens: pa.Array, lengths: np.ndarray, default: str) -> tuple[pa.Array, np.ndarray]:
    """Rows without tokens get the single token `default` (an empty default leaves them empty)."""
    empty = lengths == 0
    if not default or not empty.any():
        return tokens, lengths
    lists = pa.ListArray.from_arrays(pa.array(offsets(lengths).astype(np.int32)), pc.cast(tokens, pa.string()), mask=pa.array(empty))
    filled = pc.fill_null(lists, pa.scalar([default], pa.list_(pa.string())))
    return pc.list_flatten(filled), np.where(empty, 1, lengths).astype(np.int32)


def cartesian(parts: list[tuple[pa.Array, np.ndarray]], joiner: str = "_") -> tuple[pa.Array, np.ndarray]:
    """Per row, every combination of one token from each part joined by `joiner`, first part outermost."""
    tokens, lengths = parts[0]
    tokens = pc.cast(tokens, pa.string())
    for right, right_lengths in parts[1:]:
        right = pc.cast(right, pa.string())
        out_lengths = (lengths.astype(np.int64) * right_lengths).astype(np.int32)
        rows = row_of(out_lengths)
        k = position_in_row(out_lengths)
        n_right = right_lengths.astype(np.int64)[rows]
        left_idx = offsets(lengths)[rows] + k // np.maximum(n_right, 1)
        right_idx = offsets(right_lengths)[rows] + k % np.maximum(n_right, 1)
        tokens = pc.binary_join_element_wise(tokens.take(pa.array(left_idx)), right.take(pa.array(right_idx)), joiner)
        lengths = out_lengths
    return tokens, lengths


def row_keys(rows: np.ndarray, keys: pa.Array) -> pa.Array:
    """`<row><sep><key>` strings: a key that is unique per row, for lookups within rows."""
    return pc.binary_join_element_wise(pc.cast(pa.array(rows), pa.string()), pc.cast(keys, pa.string()), _ROW_KEY_SEP)


def lookup_in_rows(map_rows: np.ndarray, map_keys: pa.Array, query_rows: np.ndarray, query_keys: pa.Array) -> np.ndarray:
    """For every query, the flat index of the first map entry of the same row with the same key, or -1."""
    if len(query_keys) == 0 or len(map_keys) == 0:
        return np.full(len(query_keys), -1, np.int64)
    pos = pc.index_in(row_keys(query_rows, query_keys), value_set=row_keys(map_rows, map_keys))
    return np.asarray(pc.fill_null(pos, -1), dtype=np.int64)


def split_pairs(tokens: pa.Array, delimiter: str) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """`key<delimiter>value` tokens split at the first delimiter: keys, values (null where the
    token has none) and a mask of the tokens that had a value."""
    parts = pc.split_pattern(pc.cast(tokens, pa.string()), delimiter, max_splits=1)
    keys = pc.list_element(parts, 0)
    has_value = pc.fill_null(pc.greater(pc.list_value_length(parts), 1), False)
    # tokens without a delimiter get a two-slot null list, so element 1 exists in every row
    values = pc.list_element(pc.if_else(has_value, parts, pa.scalar([None, None], parts.type)), 1)
    return keys, values, np.asarray(has_value, dtype=bool)


def segment_reduce(values: np.ndarray, lengths: np.ndarray, how: str, empty: float = 0.0) -> np.ndarray:
    """Per-row sum | mean | min | max | count of flat float values (1-D, or 2-D reduced row-wise
    per column); rows without values get `empty`."""
    n = len(lengths)
    out = np.full((n, *values.shape[1:]), empty, np.float64)
    if how == "count":
        out[...] = lengths.reshape(-1, *([1] * (values.ndim - 1)))
        return out
    nonempty = lengths > 0
    if not nonempty.any():
        return out
    starts = offsets(lengths)[:-1][nonempty]
    if how == "sum":
        out[nonempty] = np.add.reduceat(values, starts, axis=0)
    elif how == "mean":
        counts = lengths[nonempty].reshape(-1, *([1] * (values.ndim - 1)))
        out[nonempty] = np.add.reduceat(values, starts, axis=0) / counts
    elif how == "min":
        out[nonempty] = np.minimum.reduceat(values, starts, axis=0)
    elif how == "max":
        out[nonempty] = np.maximum.reduceat(values, starts, axis=0)
    else:
        raise ValueError(f"unknown combiner {how!r}")
    return out


def kv_entries(col: pa.Array, separator: str, kv_delimiter: str) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Every entry of a key-value column as (row, key, value text): `k:v<separator>k:v` strings,
    lists of `k:v` strings, or maps. The value is null for an entry written without one;
    entries with an empty key are dropped."""
    if arrow_ops.is_map(col.type):
        keys, items = arrow_ops.map_lists(col)
        rows = np.asarray(pc.list_parent_indices(keys), np.int64)
        flat_keys = pc.cast(pc.list_flatten(keys), pa.string())
        flat_values = pc.cast(pc.list_flatten(items), pa.string())
    else:
        lists = arrow_ops.to_token_lists(col, separator)
        rows = np.asarray(pc.list_parent_indices(lists), np.int64)
        flat_keys, flat_values, _ = split_pairs(pc.list_flatten(lists), kv_delimiter)
    keep = np.asarray(pc.fill_null(pc.not_equal(flat_keys, ""), False), dtype=bool)
    if keep.all():
        return rows, flat_keys, flat_values
    mask = pa.array(keep)
    return rows[keep], flat_keys.filter(mask), flat_values.filter(mask)
