"""EasyRec feature configs (and optionally an EasyRec fg.json) to rec FeatureConfig messages.

EasyRec names raw input columns in `input_names`; rec names them in expressions `side:column`.
The side is `item` for the features an item tower or a negative sampler reads and `user`
otherwise (the converter decides; it only matters for INPUT_TILE and readability).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rec_core.errors import ConfigError
from rec_core.protos import feature_pb2
from rec_tools.easyrec.report import Report
from rec_tools.easyrec.textproto import Node

# EasyRec's FeatureConfig defaults that differ from rec's
EASYREC_SEPARATOR = "|"
EASYREC_COMBINER = "mean"
DEFAULT_SEQUENCE_LENGTH = 50
_POOLINGS = {"mean", "sum"}
_LOOKUP_COMBINERS = {"sum", "mean", "min", "max", "count"}
# options with no meaning in rec, and why
_IGNORED = {
    "initializer": "embedding initializers are TF-specific; rec's tables use their default init",
    "max_partitions": "variable partitioning is TF-specific",
    "precision": "FG precision has no equivalent",
    "shared_names": "EasyRec shares configs by shared_names; rec needs one feature config per feature",
    "normalizer_fn": "a TF normalizer function cannot be carried over",
    "num_sub_feature": "not used by rec",
    "need_key_feature": "not used by rec",
    "lookup_max_sel_elem_num": "not used by rec",
    "sequence_combiner": "sequence pooling is configured by the sequence encoders of a feature group in rec",
}
SideOf = Callable[[str], str]


class FeatureConverter:
    """Builds rec feature configs; errors and drops are recorded in the report."""

    def __init__(self, report: Report, side_of: SideOf, fg_json: dict[str, Any] | None = None) -> None:
        self.report = report
        self.side_of = side_of
        self.fg_json = fg_json
        self._fg_names: set[str] = set()

    # -- EasyRec feature configs ---------------------------------------------------------
    def convert(self, features: list[tuple[Node, str]]) -> list[Any]:
        """rec FeatureConfigs for (EasyRec feature node, config path) pairs, in order."""
        if self.fg_json is not None:
            return self._from_fg_json(features)
        return [self._one(node, where) for node, where in features]

    @staticmethod
    def name_of(node: Node, where: str) -> str:
        """feature_name, or the first input name as EasyRec defaults it."""
        name = node.str("feature_name", where) or (node.strs("input_names", where) or [""])[0]
        if not name:
            raise ConfigError(where, f"line {node.line}: a feature needs feature_name or input_names")
        return name

    def _expr(self, name: str, column: str) -> str:
        return f"{self.side_of(name)}:{column}"

    def _ignore(self, node: Node, where: str) -> None:
        for key, reason in _IGNORED.items():
            if node.has(key):
                node.mark_used(key)
                self.report.drop(f"{where}.{key}", node.line, reason)

    def _embedding(self, node: Node, where: str, target: Any, name: str, required: bool) -> None:
        if node.has("embedding_dim"):
            target.embedding_dim = node.int("embedding_dim", where)
        elif required:
            target.embedding_dim = 4
            self.report.note(f"{where}: feature {name!r} has no embedding_dim (EasyRec may use it in WIDE groups only); set to 4")
        if node.has("embedding_name"):
            target.embedding_name = node.str("embedding_name", where)

    def _buckets(self, node: Node, where: str, target: Any) -> None:
        fields = target.DESCRIPTOR.fields_by_name
        for key in ("hash_bucket_size", "num_buckets"):
            if node.has(key) and key in fields:
                setattr(target, key, node.int(key, where))
        if node.has("vocab_list") and "vocab_list" in fields:
            target.vocab_list.extend(node.strs("vocab_list", where))
        if node.has("vocab_file") and "vocab_file" in fields:
            target.vocab_file = node.str("vocab_file", where)
            target.default_bucketize_value = 0
            self.report.note(f"{where}: vocab_file values missing from the file go to bucket 0 (default_bucketize_value)")
        if node.has("boundaries") and "boundaries" in fields:
            target.boundaries.extend(v.as_float(f"{where}.boundaries") for v in node.scalars("boundaries", where))

    def _pooling(self, node: Node, where: str, target: Any) -> None:
        combiner = node.str("combiner", where, EASYREC_COMBINER)
        if combiner in _POOLINGS:
            target.pooling = combiner
        else:
            target.pooling = "mean"
            self.report.drop(f"{where}.combiner", node.line, f"combiner {combiner!r} has no rec pooling (sum, mean); mean is used")

    def _one(self, node: Node, where: str) -> Any:
        self._ignore(node, where)
        name = self.name_of(node, where)
        inputs = node.strs("input_names", where) or [name]
        kind = node.str("feature_type", where, "IdFeature")
        out = feature_pb2.FeatureConfig()
        if kind in ("IdFeature", "TagFeature"):
            f = out.id_feature
            f.feature_name, f.expression = name, self._expr(name, inputs[0])
            self._embedding(node, where, f, name, required=True)
            self._buckets(node, where, f)
            self._pooling(node, where, f)
            f.separator = node.str("separator", where, EASYREC_SEPARATOR)
            if kind == "TagFeature":
                self._tag_weights(node, where, f, inputs)
        elif kind in ("RawFeature", "PassThroughFeature"):
            f = out.raw_feature
            f.feature_name, f.expression = name, self._expr(name, inputs[0])
            self._buckets(node, where, f)
            self._embedding(node, where, f, name, required=False)
            f.value_dim = node.int("raw_input_dim", where, 1)
            if f.value_dim > 1:
                f.separator = node.str("separator", where, EASYREC_SEPARATOR)
            else:
                node.mark_used("separator")
            self._min_max(node, where, f)
        elif kind == "ComboFeature":
            f = out.combo_feature
            f.feature_name = name
            f.expression.extend(self._expr(name, c) for c in inputs)
            self._embedding(node, where, f, name, required=True)
            self._buckets(node, where, f)
            self._pooling(node, where, f)
            node.mark_used("separator")
        elif kind == "LookupFeature":
            if len(inputs) != 2:
                raise ConfigError(f"{where}.input_names", f"line {node.line}: a LookupFeature reads [map, key], got {inputs}")
            f = out.lookup_feature
            f.feature_name, f.map, f.key = name, self._expr(name, inputs[0]), self._expr(name, inputs[1])
            self._embedding(node, where, f, name, required=False)
            self._buckets(node, where, f)
            combiner = node.str("combiner", where, "sum")
            if combiner in _LOOKUP_COMBINERS:
                f.combiner = combiner
            else:
                self.report.drop(f"{where}.combiner", node.line, f"lookup combiner {combiner!r} is not one of {sorted(_LOOKUP_COMBINERS)}")
            node.mark_used("separator")
        elif kind == "ExprFeature":
            f = out.expr_feature
            f.feature_name = name
            f.expression = node.str("expression", where)
            if not f.expression:
                raise ConfigError(f"{where}.expression", f"line {node.line}: an ExprFeature needs an expression")
            f.variables.extend(self._expr(name, c) for c in inputs)
            self._buckets(node, where, f)
            self._embedding(node, where, f, name, required=False)
            node.mark_used("separator")
        elif kind == "SequenceFeature":
            self._sequence(node, where, out, name, inputs)
        else:
            raise ConfigError(f"{where}.feature_type", f"line {node.line}: EasyRec feature type {kind!r} has no rec equivalent")
        return out

    def _tag_weights(self, node: Node, where: str, f: Any, inputs: list[str]) -> None:
        kv = node.str("kv_separator", where)
        if kv == ":":
            f.weighted = True
        elif kv:
            self.report.drop(f"{where}.kv_separator", node.line, f"rec weighted ids are 'id:weight'; kv_separator {kv!r} is not supported")
        if len(inputs) > 1:
            self.report.drop(f"{where}.input_names", node.line, f"tag weights from a second column ({inputs[1]!r}) are not supported; weights must come as 'id:weight' in one column")

    def _min_max(self, node: Node, where: str, f: Any) -> None:
        if node.has("min_val") or node.has("max_val"):
            lo, hi = node.float("min_val", where), node.float("max_val", where)
            if hi > lo:
                f.normalizer = f"method=minmax,min={lo:g},max={hi:g}"
            else:
                self.report.drop(f"{where}.max_val", node.line, f"min_val {lo:g} / max_val {hi:g} do not define a range")

    def _sequence(self, node: Node, where: str, out: Any, name: str, inputs: list[str]) -> None:
        sub = node.str("sub_feature_type", where, "IdFeature")
        if sub == "IdFeature":
            f = out.sequence_id_feature
            self._embedding(node, where, f, name, required=True)
            self._buckets(node, where, f)
        elif sub == "RawFeature":
            f = out.sequence_raw_feature
            self._buckets(node, where, f)
            self._embedding(node, where, f, name, required=False)
        else:
            raise ConfigError(f"{where}.sub_feature_type", f"line {node.line}: sequences of {sub!r} have no rec equivalent")
        f.feature_name, f.expression = name, self._expr(name, inputs[0])
        length = node.int("sequence_length", where, 0) or node.int("max_seq_len", where, 0)
        if not length:
            length = DEFAULT_SEQUENCE_LENGTH
            self.report.note(f"{where}: sequence {name!r} has no sequence_length; {length} is used")
        f.sequence_length = length
        f.sequence_delim = node.str("separator", where, EASYREC_SEPARATOR)
        if node.has("seq_multi_sep"):
            f.separator = node.str("seq_multi_sep", where)

    # -- EasyRec fg.json -------------------------------------------------------------------
    def _from_fg_json(self, features: list[tuple[Node, str]]) -> list[Any]:
        """Features from fg.json entries; an EasyRec feature of the same name gives embedding settings."""
        by_name = {self.name_of(n, w): (n, w) for n, w in features}
        out = []
        for i, entry in enumerate(self.fg_json.get("features", [])):  # type: ignore[union-attr]
            where = f"fg.json features[{i}]"
            if "sequence_name" in entry:
                out.append(self._fg_sequence(entry, where, by_name))
            else:
                fc = feature_pb2.FeatureConfig()
                self._fg_feature(entry, where, by_name, fc, lambda kind: kind)
                out.append(fc)
        for name, (node, where) in by_name.items():
            if name not in self._fg_names:
                self.report.drop(where, node.line, f"feature {name!r} is not in the fg.json")
                node.used.update(node.fields)
        return out

    def _fg_feature(self, entry: dict[str, Any], where: str, by_name: dict[str, tuple[Node, str]], fc: Any, kind_of: Callable[[str], str], qualified: str = "") -> None:
        kind = entry.get("feature_type", "")
        name = entry.get("feature_name", "")
        target_kind = kind_of(kind)
        if not name or target_kind not in fc.DESCRIPTOR.fields_by_name:
            raise ConfigError(where, f"fg.json feature type {kind!r} (feature {name!r}) has no rec equivalent")
        f = getattr(fc, target_kind)
        fields = f.DESCRIPTOR.fields_by_name
        self._fg_names.add(qualified or name)
        for key, value in entry.items():
            if key == "feature_type":
                continue
            if key not in fields:
                self.report.drop(f"{where}.{key}", 0, f"fg.json key {key!r} has no field in rec's {f.DESCRIPTOR.name}")
                continue
            target = getattr(f, key)
            try:
                if isinstance(value, list):
                    target.extend(value)
                elif isinstance(value, dict) and hasattr(target, "update"):
                    target.update(value)
                elif hasattr(target, "CopyFrom"):
                    self.report.drop(f"{where}.{key}", 0, "nested fg.json settings are not converted")
                else:
                    setattr(f, key, type(target)(value))
            except (TypeError, ValueError) as e:
                raise ConfigError(f"{where}.{key}", f"cannot use {value!r} for {f.DESCRIPTOR.name}.{key}: {e}") from e
        easyrec = by_name.get(qualified or name)
        if easyrec is not None:
            node, ewhere = easyrec
            self._ignore(node, ewhere)
            node.mark_used("feature_name", "input_names", "feature_type", "separator", "sub_feature_type", "sequence_length")
            self._embedding(node, ewhere, f, name, required=_required(fields, "embedding_dim"))
            for key in ("hash_bucket_size", "num_buckets", "vocab_list", "vocab_file", "boundaries"):
                if node.has(key) and key in fields:
                    f.ClearField(key)
            self._buckets(node, ewhere, f)
            if "pooling" in fields and node.has("combiner"):
                self._pooling(node, ewhere, f)
        elif _required(fields, "embedding_dim") and not f.embedding_dim:
            f.embedding_dim = 4
            self.report.note(f"{where}: fg.json feature {name!r} has no embedding_dim and no EasyRec feature config; set to 4")

    def _fg_sequence(self, entry: dict[str, Any], where: str, by_name: dict[str, tuple[Node, str]]) -> Any:
        fc = feature_pb2.FeatureConfig()
        seq = fc.sequence_feature
        seq.sequence_name = entry["sequence_name"]
        seq.sequence_length = int(entry.get("sequence_length", DEFAULT_SEQUENCE_LENGTH))
        seq.sequence_delim = entry.get("sequence_delim", ";")
        if entry.get("sequence_pk"):
            seq.sequence_pk = entry["sequence_pk"]
        for key in sorted(set(entry) - {"sequence_name", "sequence_length", "sequence_delim", "sequence_pk", "features"}):
            self.report.drop(f"{where}.{key}", 0, f"fg.json sequence key {key!r} has no rec equivalent")
        for j, sub in enumerate(entry.get("features", [])):
            sfc = seq.features.add()
            qualified = f"{seq.sequence_name}__{sub.get('feature_name', '')}"
            self._fg_feature(sub, f"{where}.features[{j}]", by_name, sfc, lambda k: k.removeprefix("sequence_"), qualified)
        return fc


def _required(fields: Any, name: str) -> bool:
    """Whether a message (by its fields_by_name) has `name` as a required field."""
    return name in fields and fields[name].is_required
