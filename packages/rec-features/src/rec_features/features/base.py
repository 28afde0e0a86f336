"""BaseFeature: one configured feature, its inputs, its FG computation and its embedding shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from rec_features import arrow_ops
from rec_features.errors import InvalidFgInputError
from rec_features.values import FeatureValues

FG_NONE = 1
FG_NORMAL = 2
FG_DAG = 3
FG_BUCKETIZE = 4

_SIDES = ("user", "item", "context", "feature", "const")


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
    `_fg_encoded` for FG_NONE inputs (one column per feature, already encoded).
    """

    config_name = ""

    def __init__(self, config: Any, fg_mode: int = FG_NONE, fg_encoded_multival_sep: str = "\x03") -> None:
        self.config = config
        self.fg_mode = fg_mode
        self.fg_encoded_multival_sep = fg_encoded_multival_sep

    @property
    def name(self) -> str:
        """The feature name (the model and the exported signature use it)."""
        return self.config.feature_name

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
    def inputs(self) -> list[str]:
        """Column names this feature reads under its FG mode."""
        if self.fg_mode == FG_NONE:
            return [self.name]
        return [parse_expression(e)[1] for e in self.input_expressions]

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

    def process(self, columns: dict[str, pa.Array]) -> FeatureValues:
        """Compute the feature for a batch of input columns."""
        if self.fg_mode == FG_NONE:
            return self._fg_encoded(self.column(columns, self.name))
        return self._fg(columns)

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        raise NotImplementedError

    def _fg_encoded(self, col: pa.Array) -> FeatureValues:
        raise NotImplementedError

    def fg_json(self) -> dict[str, Any]:
        """This feature's entry in fg.json."""
        raise NotImplementedError

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
