"""Vectorised Arrow helpers shared by the feature types: defaults, splitting, list flattening."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def is_string(t: pa.DataType) -> bool:
    """True for (large) string types."""
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def is_list(t: pa.DataType) -> bool:
    """True for list-like types."""
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def fill_default(col: pa.Array, default: str) -> pa.Array:
    """Replace null (and, for strings, empty) entries by `default`; an empty default keeps them null."""
    if is_string(col.type):
        empty = pc.equal(col, "")
        col = pc.if_else(empty, pa.scalar(None, col.type), col)
        return col if default == "" else pc.fill_null(col, default)
    if is_list(col.type) or default == "":
        return col
    if pa.types.is_integer(col.type):
        return pc.fill_null(col, int(float(default)))
    if pa.types.is_floating(col.type):
        return pc.fill_null(col, float(default))
    return col


def to_token_lists(col: pa.Array, separator: str) -> pa.ListArray:
    """Every row as a list of tokens: strings split on `separator`, scalars as one-element lists."""
    if is_list(col.type):
        return col
    if is_string(col.type):
        return pc.split_pattern(col, separator)
    offsets = np.arange(len(col) + 1, dtype=np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), col)
    if col.null_count:
        # a null scalar is an empty row, not a one-element row holding null
        lists = pc.if_else(pc.is_null(col), pa.scalar(None, lists.type), lists)
    return lists


def flatten_non_empty(lists: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Flat values of a list array without nulls/empty strings, and the per-row counts kept."""
    n = len(lists)
    flat = pc.list_flatten(lists)
    parents = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    keep = pc.is_valid(flat)
    if is_string(flat.type):
        keep = pc.and_(keep, pc.not_equal(flat, ""))
        keep = pc.fill_null(keep, False)
    keep_np = np.asarray(keep, dtype=bool)
    if not keep_np.all():
        flat = pc.filter(flat, keep)
        parents = parents[keep_np]
    lengths = np.bincount(parents, minlength=n).astype(np.int32)
    return flat, lengths


def first_bad_row(lengths_or_mask: np.ndarray) -> int:
    """Index of the first True entry of a mask."""
    return int(np.flatnonzero(lengths_or_mask)[0])
