"""Data groups: where each feature's values go when a negative sampler adds item rows.

With a (non-TDM) sampler, features whose inputs intersect the sampler's `attr_fields` are
"negative" features. Single-input types (id/raw/tokenize/combine) go to the `__NEG__` data
group and cross types (combo, lookup, match, expr, ...) to `__CNEG__`; both have B + N rows:
the B rows read, then the N sampled items. Every other feature stays in `__BASE__` with B
rows. With `force_base_data_group` every feature is in `__BASE__` and has B + N rows
(`SampledBatch.padded()`, columns the sampler does not provide are null there).

The data group is a static property of a feature (`feature.data_group`, set by
`assign_data_groups`), so a parser places a feature the same way whether or not a sampler
ran (predict and export see `__NEG__` features with B rows), and a model can decide at build
time which group to read.

The sampler's output is duck-typed (anything with `batch`, `negatives`, `hard_neg_indices`,
`force_base_data_group` and `padded()`; `masked_neg_indices` when it has them), so this
package does not depend on rec-data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import torch
from torchrec.sparse.jagged_tensor import KeyedJaggedTensor, KeyedTensor

from rec_core.batch import BASE_DATA_GROUP, CROSS_NEG_DATA_GROUP, NEG_DATA_GROUP, Batch
from rec_core.errors import DataError
from rec_features.features.base import FG_BUCKETIZE, FG_NONE, BaseFeature

if TYPE_CHECKING:
    from rec_features.parser import FeatureParser

__all__ = [
    "HARD_NEG_INDICES",
    "MASKED_NEG_INDICES",
    "SINGLE_INPUT_TYPES",
    "assign_data_groups",
    "data_group",
    "data_group_for",
    "is_sampled",
    "needs_grouping",
    "negative_owners",
    "parse_grouped",
    "producers",
    "sampler_attr_fields",
]

HARD_NEG_INDICES = "hard_neg_indices"
# (batch row, sampled row) pairs a match model leaves out of that row's softmax
MASKED_NEG_INDICES = "masked_neg_indices"
# Feature types whose one input a sampled item row supplies on its own (reference §2.5).
SINGLE_INPUT_TYPES = frozenset({"id_feature", "raw_feature", "tokenize_feature", "combine_feature"})
# Samplers whose rows are not item negatives appended to a batch.
_NON_NEGATIVE_SAMPLERS = frozenset({"tdm_sampler"})


def sampler_attr_fields(data_config: Any) -> list[str]:
    """The attr_fields of data_config's negative / hard-negative sampler ([] without one, or for TDM)."""
    which = getattr(data_config, "WhichOneof", None)
    name = which("sampler") if which is not None else None
    if name is None or name in _NON_NEGATIVE_SAMPLERS:
        return []
    return list(getattr(getattr(data_config, name), "attr_fields", []) or [])


def producers(feature: BaseFeature, by_name: dict[str, BaseFeature]) -> list[BaseFeature]:
    """The features `feature` reads through `feature:<name>` inputs (raw-input FG modes only)."""
    if feature.fg_mode in (FG_NONE, FG_BUCKETIZE):
        return []
    return [by_name[n] for side, n in feature.side_inputs if side == "feature" and n in by_name]


def data_group_for(
    feature: BaseFeature, neg_fields: Iterable[str], force_base_data_group: bool = False, reads_sampled: bool = False
) -> str:
    """`__NEG__`, `__CNEG__` or `__BASE__` for a feature, given the sampler's attr_fields.

    `reads_sampled`: the feature reads (through `feature:` inputs) a feature that is sampled.
    """
    if force_base_data_group or not (reads_sampled or set(feature.inputs) & set(neg_fields)):
        return BASE_DATA_GROUP
    kind = (feature.config_name or "").removeprefix("sequence_")
    return NEG_DATA_GROUP if kind in SINGLE_INPUT_TYPES else CROSS_NEG_DATA_GROUP


def assign_data_groups(
    features: Sequence[BaseFeature], neg_fields: Iterable[str], force_base_data_group: bool = False
) -> dict[str, str]:
    """Set `feature.data_group` on every feature; returns {feature name: data group}.

    A feature that reads a sampled feature (FG DAG) is sampled too: its sampled rows exist
    only where its input's do.
    """
    fields = list(neg_fields)
    by_name = {f.name: f for f in features}
    groups: dict[str, str] = {}
    changed = True
    while changed:  # a fixpoint over `feature:` edges; the graph is small and acyclic
        changed = False
        for f in features:
            reads = any(groups.get(p.name, BASE_DATA_GROUP) != BASE_DATA_GROUP for p in producers(f, by_name))
            group = data_group_for(f, fields, force_base_data_group, reads)
            if groups.get(f.name) != group:
                groups[f.name], changed = group, True
    for f in features:
        f.data_group = groups[f.name]  # type: ignore[attr-defined]
    return groups


def data_group(feature: BaseFeature) -> str:
    """The data group a feature's values are in (`__BASE__` unless `assign_data_groups` said otherwise)."""
    return getattr(feature, "data_group", BASE_DATA_GROUP)


def is_sampled(data: Any) -> bool:
    """True for a sampler's output (a batch plus sampled negatives), False for a plain record batch."""
    return hasattr(data, "negatives") and hasattr(data, "batch")


def needs_grouping(features: Sequence[BaseFeature], data: Any) -> bool:
    """True when `data` must be parsed by `parse_grouped` rather than as one plain batch."""
    return is_sampled(data) or any(data_group(f) != BASE_DATA_GROUP for f in features)


def negative_owners(num_rows: int, num_negatives: int, hard_neg_indices: np.ndarray | None) -> np.ndarray:
    """The batch row each sampled row belongs to.

    Random negatives are drawn ceil(N / B) per batch row (reference §3.4), so negative k
    belongs to row k // ceil(N / B); hard negatives name their row in `hard_neg_indices[:, 0]`
    and come last. Cross features of a sampled row read the user-side inputs of its owner.
    """
    hard = np.empty(0, np.int64) if hard_neg_indices is None else np.asarray(hard_neg_indices)[:, 0].astype(np.int64)
    regular = num_negatives - len(hard)
    if regular < 0:
        raise DataError(f"{len(hard)} hard_neg_indices but only {num_negatives} sampled rows")
    if len(hard) and (hard.min() < 0 or hard.max() >= num_rows):
        raise DataError(f"hard_neg_indices name batch row {int(hard.max())}, but the batch has {num_rows} rows")
    if num_rows == 0 and regular:
        raise DataError(f"{num_negatives} sampled rows for an empty batch")
    per_row = max(1, math.ceil(regular / max(1, num_rows)))
    return np.concatenate([np.arange(regular, dtype=np.int64) // per_row, hard])


def _columns(data: pa.RecordBatch | pa.Table | dict[str, Any]) -> dict[str, pa.Array]:
    items = data.items() if isinstance(data, dict) else zip(data.schema.names, data.columns)
    return {k: v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v for k, v in items}


class _ExtendedColumns:
    """B + N row input columns for negative features, built on first use and cached.

    A column the sampler provides is the batch's followed by the sampled rows' (cast to the
    batch's type); any other column is the batch's followed by each sampled row's owner row.
    """

    def __init__(self, rows: dict[str, pa.Array], negatives: dict[str, pa.Array], owners: np.ndarray) -> None:
        self.rows, self.negatives, self.owners = rows, negatives, owners
        self._cache: dict[str, pa.Array] = {}

    def for_features(self, features: Sequence[BaseFeature]) -> dict[str, pa.Array]:
        """Every input column the features read that exists (a missing one is the feature's error)."""
        out = {}
        for name in dict.fromkeys(c for f in features for c in f.inputs):
            col = self.get(name)
            if col is not None:
                out[name] = col
        return out

    def get(self, name: str) -> pa.Array | None:
        if name not in self._cache:
            top = self.rows.get(name)
            if top is None:
                return None
            if name in self.negatives:
                try:
                    bottom = self.negatives[name].cast(top.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    raise DataError(f"sampled column {name!r} cannot be read as the batch's {top.type}: {e}") from e
            else:
                bottom = top.take(pa.array(self.owners, pa.int64()))
            self._cache[name] = pa.concat_arrays([top, bottom])
        return self._cache[name]


def _index_pairs(indices: np.ndarray | None) -> torch.Tensor:
    if indices is None:
        return torch.zeros((0, 2), dtype=torch.int32)
    return torch.from_numpy(np.ascontiguousarray(np.asarray(indices, np.int32).reshape(-1, 2)))


def parse_grouped(parser: FeatureParser, data: Any) -> Batch:
    """Parse a sampler's output (or a plain batch whose features sit in several data groups).

    Labels, sample weights and reserved columns come from the B rows read; each data group
    gets its own KeyedJaggedTensor / KeyedTensor; `additional_infos["hard_neg_indices"]` and
    `["masked_neg_indices"]` are always set (int32 [H, 2]; H = 0 when the sampler gave none).
    """
    make = type(parser)
    sampled = is_sampled(data)
    rows = data.batch if sampled else data
    out = make([], parser.label_fields, parser.sample_weight_fields, parser.reserved_columns)(rows)
    out.additional_infos[HARD_NEG_INDICES] = _index_pairs(data.hard_neg_indices if sampled else None)
    out.additional_infos[MASKED_NEG_INDICES] = _index_pairs(getattr(data, "masked_neg_indices", None) if sampled else None)
    row_cols = _columns(rows)
    if sampled and data.force_base_data_group:
        padded = data.padded()
        _add_group(out, make, BASE_DATA_GROUP, parser.features, parser.features, _columns(padded), padded.num_rows)
        return out
    by_group: dict[str, list[BaseFeature]] = {}
    for f in parser.features:
        by_group.setdefault(data_group(f), []).append(f)
    by_name = {f.name: f for f in parser.features}
    extended = None
    if sampled:
        negatives = _columns(data.negatives)
        owners = negative_owners(rows.num_rows, data.negatives.num_rows, data.hard_neg_indices)
        extended = _ExtendedColumns(row_cols, negatives, owners)
    for group, features in by_group.items():
        if all(f.stub_type for f in features):
            continue  # only ever computed as inputs of the groups that read them
        closure = _with_producers(features, by_name)
        if group == BASE_DATA_GROUP or extended is None:
            _add_group(out, make, group, features, closure, row_cols, rows.num_rows)
        else:
            columns = extended.for_features(closure)
            _add_group(out, make, group, features, closure, columns, rows.num_rows + data.negatives.num_rows)
    return out


def _with_producers(features: Sequence[BaseFeature], by_name: dict[str, BaseFeature]) -> list[BaseFeature]:
    """`features` and every feature they read, transitively, in the parser's order."""
    needed = {f.name for f in features}
    todo = list(features)
    while todo:
        for p in producers(todo.pop(), by_name):
            if p.name not in needed:
                needed.add(p.name)
                todo.append(p)
    return [f for f in by_name.values() if f.name in needed]


def _add_group(
    out: Batch,
    make: type[FeatureParser],
    group: str,
    features: Sequence[BaseFeature],
    closure: Sequence[BaseFeature],
    columns: dict[str, pa.Array],
    num_rows: int,
) -> None:
    sub = make(closure)
    part = sub.to_batch(sub.compute(columns), num_rows)
    # a producer from another group was computed here only as an input: keep the group's own
    keep = {f.name for f in features}
    for field in ("sparse_features", "dense_features", "sequence_mulval_lengths"):
        value = getattr(part, field).get(BASE_DATA_GROUP)
        if value is not None:
            getattr(out, field)[group] = value if set(value.keys()) <= keep else _select(value, keep)
    # raw sequences are keyed by feature name, not by group
    out.sequence_dense_features.update({k: v for k, v in part.sequence_dense_features.items() if k in keep})


def _select(value: KeyedJaggedTensor | KeyedTensor, keep: set[str]) -> KeyedJaggedTensor | KeyedTensor:
    """The keys of a KJT / KeyedTensor that are in `keep`, in their order."""
    items = {k: v for k, v in value.to_dict().items() if k in keep}
    if isinstance(value, KeyedJaggedTensor):
        return KeyedJaggedTensor.from_jt_dict(items)
    return KeyedTensor.from_tensor_list(list(items), list(items.values()))
