"""Which columns a pipeline config reads, and what kind of values each holds (for `synth`).

rec-data may not import rec-features, so this is a small reading of the feature configs of
its own: enough to name the input columns per FG mode and size the ids a model expects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rec_core.errors import ConfigError
from rec_core.protos import data_pb2

# Distinct raw values an id input takes when only a hash bucket bounds it.
MAX_CARDINALITY = 10000
_SIDES = ("user", "item", "context", "feature", "const")
_SINGLE_INPUT = ("id_feature", "raw_feature", "tokenize_feature", "combine_feature")


@dataclass(frozen=True)
class ColumnSpec:
    """One generated column: its name, value kind and shape."""

    name: str
    # cat: categorical ids; float: numbers; lookup_map / match_map / kv: key-value strings;
    # tokens: words joined by list_sep; flag: 0/1 ints.
    kind: str
    cardinality: int = 0  # cat: distinct values (ids 0..cardinality-1 before rendering)
    vocab: tuple[str, ...] = ()  # cat: render id i as vocab[i]
    as_string: bool = False  # cat without vocab: render id i as "<name>_<i>"
    dim: int = 1  # float: values per row
    seq_len: int = 0  # >0: each row is a sequence of 1..seq_len elements
    seq_delim: str = ";"
    seq_group: str = ""  # columns of one grouped sequence share their per-row lengths
    list_sep: str = "\x1d"  # joins multi-values when written as text
    text_lists: bool = False  # write lists as joined strings even in Parquet
    nullable: bool = False
    weighted: bool = False  # cat: "id:weight" strings
    boundaries: tuple[float, ...] = ()  # float: spread values over these buckets
    positive: bool = False  # float: log-normal raw values (prices, counts) rather than N(0, 1)
    keys: int = 0  # map kinds: size of the key universe
    kv_delim: str = ":"
    key_prefix: str = "k"
    label_effect: bool = True


def _has(msg: Any, field: str) -> bool:
    fd = msg.DESCRIPTOR.fields_by_name.get(field)
    if fd is None:
        return False
    if fd.label == fd.LABEL_REPEATED:
        return len(getattr(msg, field)) > 0
    return msg.HasField(field)


def _val(msg: Any, field: str, default: Any = None) -> Any:
    return getattr(msg, field) if field in msg.DESCRIPTOR.fields_by_name else default


def num_embeddings(kind: str, msg: Any) -> int | None:
    """Embedding rows of a sparse feature (zch | hash | num_buckets | vocab | boundaries); None if dense."""
    if _has(msg, "zch"):
        return int(msg.zch.zch_size)
    if _has(msg, "dynamicemb"):
        return int(msg.dynamicemb.max_capacity)
    if _has(msg, "hash_bucket_size"):
        return int(msg.hash_bucket_size)
    vocab_extra = 0 if _has(msg, "default_bucketize_value") else 2
    vocab_extra -= 1 if kind == "match_feature" and vocab_extra else 0
    vocab = lambda: len(msg.vocab_list) + vocab_extra  # noqa: E731
    vdict = lambda: max(msg.vocab_dict.values()) + 1  # noqa: E731
    if kind in ("id_feature", "bool_mask_feature"):
        order = [("vocab_list", vocab), ("vocab_dict", vdict), ("num_buckets", None)]
    else:
        order = [("num_buckets", None), ("vocab_list", vocab), ("vocab_dict", vdict)]
    for field, size in order:
        if _has(msg, field):
            return int(size() if size else getattr(msg, field))
    if _has(msg, "vocab_file"):
        raise ConfigError(
            f"feature_configs[{msg.feature_name}]",
            "synth cannot size a vocab_file feature; give it hash_bucket_size, num_buckets or vocab_list",
        )
    if _has(msg, "boundaries"):
        return len(msg.boundaries) + 1
    if kind == "lookup_feature" and msg.need_discrete:
        return None  # ids come from the map values; no table size known
    if kind in ("id_feature", "combo_feature", "bool_mask_feature", "tokenize_feature"):
        raise ConfigError(
            f"feature_configs[{msg.feature_name}]",
            "a sparse feature needs hash_bucket_size, num_buckets, vocab_list or vocab_dict",
        )
    return None


def _input_name(expression: str) -> tuple[str, str]:
    side, sep, name = expression.partition(":")
    return (side, name) if sep and side in _SIDES else ("", expression)


def _inputs(kind: str, msg: Any) -> list[tuple[str, str]]:
    """The (role, expression) inputs of a feature."""
    if kind in ("id_feature", "raw_feature", "tokenize_feature", "combine_feature"):
        return [("value", msg.expression)]
    if kind in ("combo_feature", "custom_feature"):
        return [("value", e) for e in msg.expression]
    if kind == "bool_mask_feature":
        return list(zip(("value", "mask"), msg.expression, strict=False))
    if kind == "lookup_feature":
        return [("map", msg.map), ("key", msg.key)]
    if kind == "match_feature":
        return [("nested_map", msg.nested_map), ("pkey", msg.pkey), ("skey", msg.skey)]
    if kind == "expr_feature":
        return [("value", v) for v in msg.variables]
    if kind == "overlap_feature":
        return [("query", msg.query), ("title", msg.title)]
    if kind == "kv_dot_product":
        return [("query", msg.query), ("document", msg.document)]
    raise ConfigError(f"feature_configs[{msg.feature_name}]", f"synth does not support {kind}")


def _cat_from_bucketizer(name: str, kind: str, msg: Any, fg_input: bool) -> ColumnSpec:
    """A categorical raw input shaped so the feature's bucketizer accepts it."""
    if _has(msg, "vocab_list") and not _has(msg, "hash_bucket_size"):
        return ColumnSpec(name, "cat", len(msg.vocab_list), vocab=tuple(msg.vocab_list), nullable=fg_input)
    if _has(msg, "vocab_dict") and not _has(msg, "hash_bucket_size"):
        keys = tuple(sorted(msg.vocab_dict))
        return ColumnSpec(name, "cat", len(keys), vocab=keys, nullable=fg_input)
    if _has(msg, "num_buckets") and not _has(msg, "hash_bucket_size"):
        return ColumnSpec(name, "cat", int(msg.num_buckets), nullable=fg_input)
    size = num_embeddings(kind, msg) or MAX_CARDINALITY
    return ColumnSpec(name, "cat", min(size, MAX_CARDINALITY), nullable=fg_input)


def _float(name: str, msg: Any) -> ColumnSpec:
    dim = int(_val(msg, "value_dim", 1) or 1)
    return ColumnSpec(name, "float", dim=dim, boundaries=tuple(_val(msg, "boundaries", ())))


def _raw_input_specs(kind: str, msg: Any) -> list[tuple[str, ColumnSpec]]:
    """(expression, spec) for each raw input column of a feature in FG_NORMAL / FG_DAG."""
    specs = []
    sep = _val(msg, "separator", "\x1d")
    for role, expression in _inputs(kind, msg):
        side, name = _input_name(expression)
        if side in ("feature", "const"):
            continue  # computed by another feature, or a literal: not a column
        if kind in ("raw_feature", "expr_feature", "combine_feature"):
            spec = _float(name, msg)
            if kind != "raw_feature":
                spec = dataclasses.replace(spec, dim=1)
            # Raw numbers are mostly positive, so log normalizers (log10, ...) keep their signal.
            spec = dataclasses.replace(spec, positive=spec.dim == 1)
        elif role == "map":
            discrete = bool(msg.need_discrete)
            spec = ColumnSpec(name, "lookup_map", keys=16, list_sep=sep, label_effect=False,
                              as_string=discrete)
        elif role == "key":
            spec = ColumnSpec(name, "cat", 16, vocab=tuple(f"k{i}" for i in range(16)), nullable=True)
        elif role == "nested_map":
            spec = ColumnSpec(name, "match_map", keys=8, label_effect=False)
        elif role in ("pkey", "skey"):
            prefix = "p" if role == "pkey" else "s"
            spec = ColumnSpec(name, "cat", 8, vocab=tuple(f"{prefix}{i}" for i in range(8)), nullable=True)
        elif kind == "kv_dot_product":
            spec = ColumnSpec(name, "kv", keys=32, list_sep=msg.separator, kv_delim=msg.kv_delimiter or ":")
        elif kind in ("overlap_feature", "tokenize_feature"):
            spec = ColumnSpec(name, "tokens", keys=64, list_sep=" " if kind == "tokenize_feature" else sep)
        elif role == "mask":
            spec = ColumnSpec(name, "flag", label_effect=False)
        elif kind == "combo_feature":
            base = num_embeddings(kind, msg) or MAX_CARDINALITY
            card = max(2, int(round(min(base, MAX_CARDINALITY) ** (1 / max(1, len(msg.expression))))))
            spec = ColumnSpec(name, "cat", card, nullable=True)
        elif kind == "custom_feature":
            spec = ColumnSpec(name, "cat", 100, as_string=True, nullable=True)
        else:
            spec = _cat_from_bucketizer(name, kind, msg, fg_input=True)
            if kind == "id_feature" and msg.weighted:
                spec = dataclasses.replace(spec, weighted=True, list_sep=sep)
        specs.append((expression, spec))
    return specs


def _encoded_spec(column: str, kind: str, msg: Any, bucketize_only: bool) -> ColumnSpec:
    """The one column of a feature in FG_NONE (bucketized ids/floats) or FG_BUCKETIZE (pre-bucketize)."""
    size = num_embeddings(kind, msg)
    if size is None or (bucketize_only and _has(msg, "boundaries")):
        spec = _float(column, msg)
        return dataclasses.replace(spec, positive=bucketize_only and spec.dim == 1)
    if not bucketize_only:
        spec = ColumnSpec(column, "cat", min(size, MAX_CARDINALITY))
        if kind == "id_feature" and msg.weighted:
            spec = dataclasses.replace(spec, weighted=True, list_sep="\x03")
        return spec
    if kind == "combo_feature" or (kind == "lookup_feature" and not _has(msg, "num_buckets")):
        return ColumnSpec(column, "cat", min(size, MAX_CARDINALITY), as_string=True)
    return _cat_from_bucketizer(column, kind, msg, fg_input=False)


def _is_sequence_input(kind: str, msg: Any, side: str, name: str) -> bool:
    """Grouped-sequence rule: explicit sequence_fields; else single-input types: all; else item inputs."""
    fields = list(_val(msg, "sequence_fields", ()))
    if fields:
        return name in fields or f"{side}:{name}" in fields
    if kind in _SINGLE_INPUT:
        return side != "feature"
    return side == "item"


def _as_sequence(
    spec: ColumnSpec, length: int, delim: str, text: bool, group: str = ""
) -> ColumnSpec:
    return dataclasses.replace(
        spec,
        seq_len=max(1, length),
        seq_delim=delim,
        text_lists=text,
        dim=1,
        seq_group=group or spec.name,
        nullable=False,  # an empty sequence is its own case; keep grouped columns aligned
    )


def plan_columns(config: Any) -> list[ColumnSpec]:
    """The columns `synth` writes for a pipeline config: feature inputs, then labels and weights."""
    data = config.data_config
    fg_mode = data_pb2.FgMode.Name(data.fg_mode)
    raw_inputs = fg_mode in ("FG_NORMAL", "FG_DAG")
    bucketize_only = fg_mode == "FG_BUCKETIZE"
    specs: dict[str, ColumnSpec] = {}

    def add(spec: ColumnSpec) -> None:
        if fg_mode == "FG_NONE":
            # FG-encoded multi-values (dense vectors, weighted ids) use the data's own separator.
            spec = dataclasses.replace(spec, list_sep=data.fg_encoded_multival_sep)
        specs.setdefault(spec.name, spec)  # first reader of a column decides its shape

    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        if kind is None:
            raise ConfigError(f"feature_configs[{i}]", "no feature type set")
        msg = getattr(fc, kind)
        if kind == "sequence_feature":
            for sub in msg.features:
                sub_kind = sub.WhichOneof("feature")
                sub_msg = getattr(sub, sub_kind)
                if not raw_inputs:
                    column = f"{msg.sequence_name}__{sub_msg.feature_name}"
                    spec = _encoded_spec(column, sub_kind, sub_msg, bucketize_only)
                    add(_as_sequence(spec, msg.sequence_length, msg.sequence_delim, bucketize_only, msg.sequence_name))
                    continue
                for expression, spec in _raw_input_specs(sub_kind, sub_msg):
                    side, name = _input_name(expression)
                    if _is_sequence_input(sub_kind, sub_msg, side, name):
                        spec = dataclasses.replace(spec, name=f"{msg.sequence_name}__{name}")
                        spec = _as_sequence(spec, msg.sequence_length, msg.sequence_delim, True, msg.sequence_name)
                    add(spec)
            continue
        simple_sequence = kind.startswith("sequence_")
        base_kind = kind[len("sequence_"):] if simple_sequence else kind
        seq = (int(msg.sequence_length or 50), msg.sequence_delim)
        if not raw_inputs:
            spec = _encoded_spec(msg.feature_name, base_kind, msg, bucketize_only)
            add(_as_sequence(spec, *seq, text=bucketize_only) if simple_sequence else spec)
            continue
        for expression, spec in _raw_input_specs(base_kind, msg):
            side, name = _input_name(expression)
            if simple_sequence and _is_sequence_input(base_kind, msg, side, name):
                spec = _as_sequence(spec, *seq, text=True)
            add(spec)
    if not specs:
        raise ConfigError("feature_configs", "no features: nothing to generate")
    for name in data.label_fields:
        if name in specs:
            raise ConfigError("data_config.label_fields", f"{name!r} is also a feature input column")
    return list(specs.values())
