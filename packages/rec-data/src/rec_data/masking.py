"""Train-time feature masking (data_config.sample_mask_prob / negative_sample_mask_prob).

For every feature with `use_mask: true`, each row's first non-map input column is set to
null with the given probability, so the feature falls back to its default value. The
column is found from the feature configs, without rec-features: the feature's own name in
FG_NONE / FG_BUCKETIZE data (`{sequence}__{feature}` inside a grouped sequence), the first
input expression without its `user:` / `item:` / ... side in FG_NORMAL / FG_DAG data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_core.protos import data_pb2

from rec_data.synth_plan import _input_name, _inputs, _is_sequence_input

_MAP_ROLES = ("map", "nested_map")


def _first_input(kind: str, msg: Any) -> tuple[str, str] | None:
    """(side, column) of a feature's first non-map input that is a column, or None."""
    for role, expression in _inputs(kind, msg):
        if role in _MAP_ROLES:
            continue
        side, name = _input_name(expression)
        if side in ("feature", "const"):
            continue
        return side, name
    return None


def masked_columns(feature_configs: Iterable[Any], fg_mode: int | str = "FG_NONE") -> list[str]:
    """The input column each `use_mask` feature's masking nulls, in config order, each once."""
    mode = fg_mode if isinstance(fg_mode, str) else data_pb2.FgMode.Name(fg_mode)
    raw = mode in ("FG_NORMAL", "FG_DAG")
    out: list[str] = []

    def add(column: str) -> None:
        if column not in out:
            out.append(column)

    for i, fc in enumerate(feature_configs):
        kind = fc.WhichOneof("feature")
        if kind is None:
            raise ConfigError(f"feature_configs[{i}]", "no feature type set")
        msg = getattr(fc, kind)
        if kind == "sequence_feature":
            for sub in msg.features:
                sub_kind = sub.WhichOneof("feature")
                sub_msg = getattr(sub, sub_kind)
                if not getattr(sub_msg, "use_mask", False):
                    continue
                if not raw:
                    add(f"{msg.sequence_name}__{sub_msg.feature_name}")
                    continue
                first = _first_input(sub_kind, sub_msg)
                if first is not None:
                    side, name = first
                    seq = _is_sequence_input(sub_kind, sub_msg, side, name)
                    add(f"{msg.sequence_name}__{name}" if seq else name)
            continue
        if not getattr(msg, "use_mask", False):
            continue
        if not raw:
            add(msg.feature_name)
            continue
        base_kind = kind[len("sequence_") :] if kind.startswith("sequence_") else kind
        first = _first_input(base_kind, msg)
        if first is not None:
            add(first[1])
    return out


def mask_probabilities(
    feature_configs: Iterable[Any], data_config: Any
) -> tuple[dict[str, float], dict[str, float]]:
    """({column: sample_mask_prob}, {column: negative_sample_mask_prob}) for the use_mask features.

    Either dict is empty when its probability is 0.
    """
    columns = masked_columns(feature_configs, getattr(data_config, "fg_mode", "FG_NONE"))
    pos = float(getattr(data_config, "sample_mask_prob", 0.0) or 0.0)
    neg = float(getattr(data_config, "negative_sample_mask_prob", 0.0) or 0.0)
    for name, p in (("sample_mask_prob", pos), ("negative_sample_mask_prob", neg)):
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"data_config.{name}", f"must be within [0, 1], got {p}")
    return ({c: pos for c in columns} if pos > 0 else {}), ({c: neg for c in columns} if neg > 0 else {})


def apply_mask(batch: pa.RecordBatch, probabilities: Mapping[str, float], rng: np.random.Generator) -> pa.RecordBatch:
    """`batch` with each listed column nulled per row with its probability (absent columns skipped)."""
    if not probabilities or batch.num_rows == 0:
        return batch
    names = batch.schema.names
    columns = list(batch.columns)
    changed = False
    for column, p in probabilities.items():
        if p <= 0 or column not in names:
            continue
        i = names.index(column)
        mask = pa.array(rng.random(batch.num_rows) < p)
        columns[i] = pc.if_else(mask, pa.scalar(None, columns[i].type), columns[i])
        changed = True
    return pa.record_batch(columns, names=names) if changed else batch
