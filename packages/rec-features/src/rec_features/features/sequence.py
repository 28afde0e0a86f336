"""Sequence features: each row splits into elements, and each element is computed as one
non-sequence row would be; the results are packed back per row (vectorised, no row loop).

Truncation keeps the first `sequence_length` elements of a row. An empty or null row becomes one
null element, which the feature fills with its default_value (sequences never use an empty
default, see `rec_features.features.create_features`); in FG_NONE an empty row stays empty unless
`fg_encoded_default_value` is set.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_features import arrow_ops
from rec_features.errors import InvalidFgInputError
from rec_features.values import DenseValues, FeatureValues, SequenceDenseValues, SequenceSparseValues, SparseValues

if TYPE_CHECKING:
    from rec_features.features.base import BaseFeature

GROUP_SEPARATOR = "__"


@dataclass(frozen=True)
class SequenceSpec:
    """How a sequence feature splits its rows: shared by the sub-features of a grouped sequence."""

    name: str = ""  # sequence_name of a grouped sequence; "" for a simple sequence_*_feature
    length: int = 0  # elements kept per row (the first ones); 0 keeps all
    delim: str = ";"
    pk: str = ""  # grouped only: the primary key serving looks item sub-features up by

    @property
    def grouped(self) -> bool:
        """True for a sub-feature of a grouped `sequence_feature`."""
        return bool(self.name)


def row_lists(col: pa.Array, delim: str, group: int, feature: str) -> pa.Array:
    """Every row as a list of elements; a null or empty row is null.

    Strings split on `delim`; `list<list<T>>` rows are lists of elements already; `list<T>` rows
    hold one element per value, or per `group` consecutive values when group > 1 (a flat list
    of value_dim-wide vectors); any other column is one element per non-null row.
    """
    if arrow_ops.is_string(col.type):
        return arrow_ops.split_strings(arrow_ops.fill_default(col, ""), delim)
    if not arrow_ops.is_list(col.type):
        return arrow_ops.to_token_lists(col, delim)
    if group > 1 and not arrow_ops.is_list(col.type.value_type):
        return _grouped(col, group, feature)
    if pa.types.is_fixed_size_list(col.type):
        col = pc.cast(col, pa.list_(col.type.value_type))
    return col


def _grouped(col: pa.Array, group: int, feature: str) -> pa.Array:
    lengths = np.asarray(pc.fill_null(pc.list_value_length(col), 0), dtype=np.int64)
    bad = lengths % group != 0
    if bad.any():
        row = arrow_ops.first_bad_row(bad)
        raise InvalidFgInputError(feature, f"a row of {int(lengths[row])} values is not a list of {group}-wide elements", row)
    flat = pc.list_flatten(col)
    inner = pa.ListArray.from_arrays(pa.array(np.arange(0, len(flat) + 1, group, dtype=np.int32)), flat)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths // group, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), inner, mask=pc.is_null(col) if col.null_count else None)


def elements(lists: pa.Array, max_length: int, fill_empty: bool) -> tuple[pa.Array, np.ndarray]:
    """The elements of every row, flat, and the count per row (int32), after keeping the first
    `max_length` of a row (0: all) and, with `fill_empty`, one null element for an empty row."""
    lengths = np.asarray(pc.fill_null(pc.list_value_length(lists), 0), dtype=np.int64)
    flat = pc.list_flatten(lists)
    kept = np.minimum(lengths, max_length) if max_length > 0 else lengths
    empty = (kept == 0) if fill_empty else np.zeros(len(kept), dtype=bool)
    out = np.where(empty, 1, kept)
    if np.array_equal(out, lengths):
        return flat, out.astype(np.int32)
    # one gather does truncation and empty-row filling: row r takes out[r] elements from its
    # start, and an empty row takes the null appended after the real elements
    starts = np.cumsum(lengths) - lengths
    base = np.where(empty, len(flat), starts)
    out_starts = np.cumsum(out) - out
    index = np.repeat(base - out_starts, out) + np.arange(int(out.sum()), dtype=np.int64)
    if empty.any():
        flat = pa.concat_arrays([flat, pa.nulls(1, flat.type)])
    return flat.take(pa.array(index)), out.astype(np.int32)


def _empty_lists_to_null(elems: pa.Array) -> pa.Array:
    """An element that is an empty list counts as missing, so the feature's default fills it."""
    if not arrow_ops.is_list(elems.type):
        return elems
    empty = pc.equal(pc.list_value_length(elems), 0)
    if not pc.any(empty).as_py():
        return elems
    return pc.if_else(empty, pa.scalar(None, elems.type), elems)


def compute_sequence(
    feature: BaseFeature, columns: dict[str, pa.Array], sequence_inputs: Collection[str] = ()
) -> FeatureValues:
    """FG of a sequence feature: its sequence inputs split into elements, other inputs repeated
    for each element of their row; `sequence_inputs` adds inputs known to hold sequences (the
    outputs of sequence features a DAG feeds in)."""
    spec = feature.sequence
    assert spec is not None
    fill = feature.fills_empty_sequences
    group = feature.value_dim if feature.value_dim > 1 else 1
    elem_cols: dict[str, pa.Array] = {}
    lengths: np.ndarray | None = None
    first = ""
    plain = []
    for name, is_seq in zip(feature.inputs, feature.sequence_input_flags):
        if not (is_seq or name in sequence_inputs):
            plain.append(name)
            continue
        elems, lens = elements(row_lists(feature.column(columns, name), spec.delim, group, feature.name), spec.length, fill)
        if lengths is None:
            lengths, first = lens, name
        elif not np.array_equal(lens, lengths):
            row = arrow_ops.first_bad_row(lens != lengths)
            raise InvalidFgInputError(
                feature.name, f"inputs {first!r} and {name!r} have {int(lengths[row])} and {int(lens[row])} elements", row
            )
        elem_cols[name] = _empty_lists_to_null(elems)
    if lengths is None:
        raise InvalidFgInputError(feature.name, f"a sequence feature needs a sequence input; inputs: {feature.inputs}")
    rows = np.repeat(np.arange(len(lengths)), lengths)
    for name in plain:
        if name in columns:
            elem_cols[name] = arrow_ops.decode(columns[name]).take(pa.array(rows))
    try:
        values = feature.compute_rows(elem_cols)
    except InvalidFgInputError as e:
        raise _at_row(e, rows) from e
    return _pack(feature, values, lengths, rows)


def _at_row(error: InvalidFgInputError, rows: np.ndarray) -> InvalidFgInputError:
    """An error about an element, restated about the batch row holding it."""
    if error.row is None or not 0 <= error.row < len(rows):
        return error
    message = str(error).removeprefix(f"feature {error.feature!r}: ").removesuffix(f" (row {error.row})")
    row = int(rows[error.row])
    return InvalidFgInputError(error.feature, f"{message} (element {error.row - int(np.searchsorted(rows, row))} of the row)", row)


def _pack(feature: BaseFeature, values: FeatureValues, seq_lengths: np.ndarray, rows: np.ndarray) -> FeatureValues:
    if isinstance(values, DenseValues):
        return SequenceDenseValues(values.values, seq_lengths)
    if not isinstance(values, SparseValues):
        raise TypeError(f"feature {feature.name!r}: element values must be sparse or dense, got {type(values).__name__}")
    key_lengths = values.lengths.astype(np.int32, copy=False)
    multi = feature.is_multi_value_sequence
    if not multi:
        bad = key_lengths != 1
        if bad.any():
            element = int(np.flatnonzero(bad)[0])
            raise InvalidFgInputError(
                feature.name,
                f"a sequence element has {int(key_lengths[element])} ids; elements of a value_dim 1 "
                "sequence hold one id (value_dim: 0 allows several)",
                int(rows[element]),
            )
    if multi:
        ends = np.zeros(len(key_lengths) + 1, dtype=np.int64)
        np.cumsum(key_lengths, out=ends[1:])
        row_ends = np.cumsum(seq_lengths, dtype=np.int64)
        row_lengths = (ends[row_ends] - ends[row_ends - seq_lengths]).astype(np.int32)
    else:
        row_lengths = seq_lengths  # one id per element
    return SequenceSparseValues(
        values.values, row_lengths, values.weights, seq_lengths=seq_lengths, key_lengths=key_lengths, multi_value=multi
    )
