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
        if _has_empty_string(col):
            col = pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)
        return col if default == "" or not col.null_count else pc.fill_null(col, default)
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


def _string_buffers(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets (len + 1, absolute, int32 or int64 as stored) and the whole byte buffer of a
    (large) string array."""
    dtype = np.int64 if pa.types.is_large_string(col.type) else np.int32
    offsets = np.frombuffer(col.buffers()[1], dtype=dtype)[col.offset : col.offset + len(col) + 1]
    data = col.buffers()[2]
    return offsets, (np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8))


def _has_empty_string(col: pa.Array) -> bool:
    """True when a non-null string is "" (read from the offsets: no string comparison)."""
    if len(col) == 0:
        return False
    offsets, _ = _string_buffers(col)
    empty = offsets[1:] == offsets[:-1]
    if col.null_count:
        empty &= np.asarray(col.is_valid(), dtype=bool)
    return bool(empty.any())


def split_strings(col: pa.Array, separator: str) -> pa.Array:
    """`pc.split_pattern(col, separator)`: every string as a list of its parts (a null row stays
    null, "" is [""]). When no string holds the separator, each row is a one-element list over
    the same string buffers (no copy), which is the common case of single-valued columns."""
    if not is_string(col.type) or len(col) == 0 or not separator:
        return pc.split_pattern(col, separator)
    offsets, data = _string_buffers(col)
    if data[offsets[0] : offsets[-1]].tobytes().find(separator.encode()) >= 0:
        return pc.split_pattern(col, separator)
    if not col.null_count:
        return pa.ListArray.from_arrays(pa.array(np.arange(len(col) + 1, dtype=np.int32)), col)
    valid = np.asarray(col.is_valid(), dtype=bool)
    return pa.ListArray.from_arrays(_list_offsets(valid.astype(np.int64)), pc.drop_null(col), mask=pa.array(~valid))


def _list_offsets(counts: np.ndarray) -> pa.Array:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return pa.array(out.astype(np.int32)) if out[-1] < 2**31 else pa.array(out)


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
        return split_strings(col, separator)
    offsets = pa.array(np.arange(len(col) + 1, dtype=np.int32))
    # a null scalar is a null row, not a one-element row holding null
    return pa.ListArray.from_arrays(offsets, col, mask=pc.is_null(col) if col.null_count else None)


def flatten_non_empty(lists: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Flat values of a list array without nulls/empty strings, and the per-row counts kept."""
    flat = pc.list_flatten(lists)
    counts = pc.list_value_length(lists)
    lengths = np.asarray(pc.fill_null(counts, 0) if counts.null_count else counts)
    keep = np.asarray(pc.is_valid(flat), dtype=bool) if flat.null_count else None
    if is_string(flat.type) and len(flat):
        offsets, _ = _string_buffers(flat)
        non_empty = offsets[1:] != offsets[:-1]
        keep = non_empty if keep is None else keep & non_empty
    if keep is None or keep.all():
        return flat, lengths.astype(np.int32, copy=False)
    lengths = lengths.astype(np.int64)
    kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    row_ends = np.cumsum(lengths)
    kept = kept_before[row_ends] - kept_before[row_ends - lengths]
    return flat.filter(pa.array(keep)), kept.astype(np.int32)


def first_bad_row(lengths_or_mask: np.ndarray) -> int:
    """Index of the first True entry of a mask."""
    return int(np.flatnonzero(lengths_or_mask)[0])
