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


def is_map(t: pa.DataType) -> bool:
    """True for map types (`key -> item` pairs per row)."""
    return pa.types.is_map(t)


def decode(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous, typed, non-dictionary array (Parquet readers may hand out any of these forms)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if pa.types.is_null(col.type):
        # an all-null column built without a schema (e.g. from JSON rows) has no value type
        col = pa.nulls(len(col), pa.string())
    return col


def fill_default(col: pa.Array, default: str, separator: str = "\x1d") -> pa.Array:
    """Replace null (and, for strings, empty) entries by `default`; an empty default keeps them null.

    A null row of a list column becomes `default` split on `separator`, cast to the list's type.
    """
    if is_string(col.type):
        empty = pc.equal(col, "")
        col = pc.if_else(empty, pa.scalar(None, col.type), col)
        return col if default == "" else pc.fill_null(col, default)
    if default == "" or not col.null_count:
        return col
    if is_list(col.type):
        value_type = col.type.value_type
        tokens = pa.array(default.split(separator), pa.string())
        try:
            fill = pa.scalar(pc.cast(tokens, value_type).to_pylist(), pa.list_(value_type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise ValueError(f"default value {default!r} does not fit a {col.type} column: {e}") from e
        if not pa.types.is_list(col.type):
            col = pc.cast(col, pa.list_(value_type))
        return pc.fill_null(col, fill)
    try:
        if pa.types.is_integer(col.type):
            return pc.fill_null(col, int(float(default)))
        if pa.types.is_floating(col.type):
            return pc.fill_null(col, float(default))
    except ValueError as e:
        raise ValueError(f"default value {default!r} does not fit a {col.type} column") from e
    return col


def map_lists(col: pa.MapArray) -> tuple[pa.ListArray, pa.ListArray]:
    """The keys and the items of a map column as two list arrays (a null row stays null in both)."""
    mask = pc.is_null(col) if col.null_count else None
    keys = pa.ListArray.from_arrays(col.offsets, col.keys, mask=mask)
    items = pa.ListArray.from_arrays(col.offsets, col.items, mask=mask)
    return keys, items


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
