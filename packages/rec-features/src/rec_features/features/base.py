"""BaseFeature: one configured feature, its inputs, its FG computation and its embedding shape."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pyarrow as pa
from google.protobuf import json_format

from rec_core.errors import ConfigError
from rec_features import arrow_ops
from rec_features.errors import InvalidFgInputError
from rec_features.features.sequence import GROUP_SEPARATOR, SequenceSpec, compute_sequence
from rec_features.values import FeatureValues, to_arrow

FG_NONE = 1
FG_NORMAL = 2
FG_DAG = 3
FG_BUCKETIZE = 4

_SIDES = ("user", "item", "context", "feature", "const")
# Inside a grouped sequence these types read every input as a sequence; the others only `item` inputs.
SINGLE_INPUT_TYPES = frozenset({"id_feature", "raw_feature", "tokenize_feature", "combine_feature"})
# fg.json keys that describe an entry rather than a config field.
_FG_JSON_META_KEYS = frozenset({"feature_type", "value_type"})


def parse_expression(expression: str) -> tuple[str, str]:
    """Split a `side:name` input expression into (side, column); a bare name is a user input."""
    if ":" in expression:
        side, name = expression.split(":", 1)
        if side in _SIDES:
            return side, name
    return "user", expression


class BaseFeature:
    """A feature built from the inner message of a FeatureConfig oneof (e.g. IdFeature).

    Subclasses set `config_name` (the oneof field name) and implement `_fg` for raw inputs and
    `_fg_encoded` for FG_NONE inputs (one column per feature, already encoded). Sequence
    variants need nothing more: with a `sequence`, rows split into elements that `_fg` /
    `_fg_encoded` compute as if each were a row (see `rec_features.features.sequence`).
    """

    config_name = ""

    def __init__(
        self,
        config: Any,
        fg_mode: int = FG_NONE,
        fg_encoded_multival_sep: str = "\x03",
        *,
        sequence: SequenceSpec | None = None,
    ) -> None:
        self.config = config
        self.fg_mode = fg_mode
        self.fg_encoded_multival_sep = fg_encoded_multival_sep
        self.sequence = sequence

    @property
    def name(self) -> str:
        """The feature name (the model and the exported signature use it); a grouped sequence's
        sub-feature is `<sequence_name>__<feature_name>`."""
        if self.sequence is not None and self.sequence.grouped:
            return f"{self.sequence.name}{GROUP_SEPARATOR}{self.config.feature_name}"
        return self.config.feature_name

    @property
    def is_sequence(self) -> bool:
        """True for sequence features (one list of elements per row)."""
        return self.sequence is not None

    @property
    def is_grouped_sequence(self) -> bool:
        """True for a sub-feature of a grouped `sequence_feature`."""
        return self.sequence is not None and self.sequence.grouped

    @property
    def sequence_name(self) -> str:
        """The grouped sequence's name (shared by its sub-features), a simple sequence's own name, or ""."""
        if self.sequence is None:
            return ""
        return self.sequence.name or self.name

    @property
    def sequence_length(self) -> int:
        """Most elements kept per row (0: no limit, or not a sequence)."""
        return self.sequence.length if self.sequence is not None else 0

    @property
    def sequence_delim(self) -> str:
        """Separator of the elements of a string sequence row."""
        return self.sequence.delim if self.sequence is not None else ""

    @property
    def sequence_pk(self) -> str:
        """Grouped sequences: the `side:column` primary key (default `user:<sequence_name>`)."""
        if not self.is_grouped_sequence:
            return ""
        assert self.sequence is not None
        return self.sequence.pk or f"user:{self.sequence.name}"

    @property
    def is_multi_value_sequence(self) -> bool:
        """True for a sparse sequence whose elements may hold several ids (value_dim other than 1);
        its per-element counts go to `Batch.sequence_mulval_lengths`."""
        if self.sequence is None or not self.is_sparse:
            return False
        c = self.config
        if "value_dim" in c.DESCRIPTOR.fields_by_name and c.HasField("value_dim"):
            return int(c.value_dim) != 1
        return False

    @property
    def stub_type(self) -> bool:
        """True for an intermediate FG result: computed for other features, never given to the model."""
        return bool(getattr(self.config, "stub_type", False))

    @property
    def fills_empty_sequences(self) -> bool:
        """Whether an empty sequence row becomes one element holding the default (always, except
        in FG_NONE without `fg_encoded_default_value`)."""
        return self.fg_mode != FG_NONE or bool(getattr(self.config, "fg_encoded_default_value", ""))

    def field_path(self, field: str) -> str:
        """Where a config error sits, e.g. `id_feature 'cat_0'.num_buckets`."""
        return f"{self.config_name or type(self).__name__} {self.name!r}.{field}"

    @property
    def is_sparse(self) -> bool:
        """True when the feature produces ids looked up in an embedding table."""
        raise NotImplementedError

    @property
    def value_dim(self) -> int:
        """Width of a dense feature's value."""
        return 1

    @property
    def embedding_dim(self) -> int:
        """Embedding width of a sparse feature."""
        return int(self.config.embedding_dim)

    @property
    def output_dim(self) -> int:
        """Width this feature contributes to a DEEP group."""
        return self.embedding_dim if self.is_sparse else self.value_dim

    @property
    def num_embeddings(self) -> int:
        """Rows of the feature's embedding table."""
        raise NotImplementedError

    @property
    def embedding_name(self) -> str:
        """Name of the embedding table; features with the same name share one table."""
        return self.config.embedding_name or f"{self.name}_emb"

    @property
    def pooling(self) -> str:
        """Bag pooling of a multi-id feature: sum or mean."""
        return (self.config.pooling or "sum").lower()

    @property
    def trainable(self) -> bool:
        """False when the feature's embedding table is frozen."""
        return bool(getattr(self.config, "trainable", True))

    @property
    def init_fn(self) -> str:
        """Embedding init function spec such as `nn.init.uniform_,a=-0.01,b=0.01` (may be empty)."""
        return getattr(self.config, "init_fn", "")

    @property
    def input_expressions(self) -> list[str]:
        """Raw `side:name` inputs of the feature."""
        expr = self.config.expression
        return [expr] if isinstance(expr, str) else list(expr)

    @property
    def side_inputs(self) -> list[tuple[str, str]]:
        """(side, column) of every raw input; a grouped sequence's sequence inputs are prefixed
        `<sequence_name>__`."""
        out = []
        for expression in self.input_expressions:
            side, name = parse_expression(expression)
            if self.is_grouped_sequence and self._is_sequence_input(side, name):
                name = f"{self.sequence_name}{GROUP_SEPARATOR}{name}"
            out.append((side, name))
        return out

    def _is_sequence_input(self, side: str, name: str) -> bool:
        """TorchEasyRec's rule: explicit sequence_fields; else single-input types read every
        column input as a sequence, multi-input types only their item inputs."""
        fields = list(getattr(self.config, "sequence_fields", ()))
        if fields:
            return name in fields or f"{side}:{name}" in fields
        if self.config_name in SINGLE_INPUT_TYPES:
            return side not in ("feature", "const")
        return side == "item"

    @property
    def inputs(self) -> list[str]:
        """Column names this feature reads under its FG mode (FG_NONE and FG_BUCKETIZE: its own)."""
        if self.fg_mode in (FG_NONE, FG_BUCKETIZE):
            return [self.name]
        return [name for _, name in self.side_inputs]

    @property
    def sequence_input_flags(self) -> list[bool]:
        """For each of `inputs`, whether it holds a sequence (one element list per row)."""
        if self.fg_mode in (FG_NONE, FG_BUCKETIZE):
            return [True]
        return [self._is_sequence_input(side, name) for side, name in self.side_inputs]

    def column(self, columns: dict[str, pa.Array], name: str) -> pa.Array:
        """The input column `name`, or an error naming the feature and the missing input."""
        if name not in columns:
            raise InvalidFgInputError(
                self.name, f"input column {name!r} is missing; available: {sorted(columns)}"
            )
        return arrow_ops.decode(columns[name])

    def fill_default(self, col: pa.Array, default: str, separator: str) -> pa.Array:
        """`arrow_ops.fill_default`, with a default that cannot fit the column named as this feature's error."""
        try:
            return arrow_ops.fill_default(col, default, separator)
        except ValueError as e:
            raise InvalidFgInputError(self.name, str(e)) from e

    def process(self, columns: dict[str, pa.Array], sequence_inputs: Collection[str] = ()) -> FeatureValues:
        """Compute the feature for a batch of input columns (`sequence_inputs`: see `compute_sequence`)."""
        if self.sequence is not None:
            return compute_sequence(self, columns, sequence_inputs)
        return self.compute_rows(columns)

    def compute_rows(self, columns: dict[str, pa.Array]) -> FeatureValues:
        """FG of non-sequence rows under the feature's mode (a sequence runs it on its elements)."""
        if self.fg_mode == FG_NONE:
            return self._fg_encoded(self.column(columns, self.name))
        if self.fg_mode == FG_BUCKETIZE:
            return self._fg_bucketize(columns)
        return self._fg(columns)

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        raise NotImplementedError

    def _fg_encoded(self, col: pa.Array) -> FeatureValues:
        raise NotImplementedError

    def _fg_bucketize(self, columns: dict[str, pa.Array]) -> FeatureValues:
        """FG_BUCKETIZE: bucketize the feature's own column, which holds its FG output before bucketizing."""
        raise NotImplementedError

    def dag_value(self, columns: dict[str, pa.Array], values: FeatureValues | None = None) -> pa.Array:
        """What a `feature:<name>` input of another feature reads: by default this feature's values
        (`values` when already computed) as one Arrow value per row (`rec_features.values.to_arrow`).
        A type with a meaningful value before bucketizing may return that instead."""
        return to_arrow(values if values is not None else self.process(columns))

    def fg_json(self) -> dict[str, Any] | list[dict[str, Any]]:
        """This feature's entry in fg.json (a list when it expands into several pyfg entries)."""
        raise NotImplementedError

    @classmethod
    def config_from_fg_json(cls, entry: dict[str, Any], kind: str, where: str) -> Any:
        """The config message an fg.json entry of type `kind` describes (its keys are config fields
        by default); a type whose fg.json keys differ from its config fields overrides this."""
        from rec_core.protos import feature_pb2

        if kind not in feature_pb2.FeatureConfig.DESCRIPTOR.fields_by_name:
            raise ConfigError(f"{where}.feature_type", f"{cls.__name__} does not read fg.json entries of type {kind!r}")
        message = type(getattr(feature_pb2.FeatureConfig(), kind))()
        body = {k: v for k, v in entry.items() if k not in _FG_JSON_META_KEYS}
        try:
            json_format.ParseDict(body, message, ignore_unknown_fields=True)
        except json_format.ParseError as e:
            raise ConfigError(where, str(e)) from e
        return message

    def assets(self) -> list[str]:
        """Files the feature reads when it computes (vocab files, tokenizer models); exporters copy them."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def check_range(feature: str, ids: np.ndarray, lengths: np.ndarray, upper: int, what: str) -> None:
    """Raise naming the row when an id falls outside [0, upper)."""
    bad = (ids < 0) | (ids >= upper)
    if bad.any():
        value_index = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(np.cumsum(lengths), value_index, side="right"))
        raise InvalidFgInputError(feature, f"id {int(ids[value_index])} is outside [0, {upper}) ({what})", row)
