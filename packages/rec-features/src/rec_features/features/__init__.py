"""Feature types; each registers under the `rec.features` entry-point group by its config name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rec_core.errors import ConfigError, PluginError
from rec_core.registry import registry
from rec_features.features.base import FG_BUCKETIZE, FG_DAG, FG_NONE, FG_NORMAL, BaseFeature
from rec_features.features.sequence import SequenceSpec

__all__ = [
    "BaseFeature",
    "FG_NONE",
    "FG_NORMAL",
    "FG_DAG",
    "FG_BUCKETIZE",
    "FeatureEntry",
    "SequenceSpec",
    "build_features",
    "create_features",
    "feature_class",
]

_SEQUENCE_PREFIX = "sequence_"


@dataclass(frozen=True)
class FeatureEntry:
    """One feature to build: where it was configured, its type, its config message, its sequence."""

    where: str  # e.g. "feature_configs[3].id_feature", for errors
    kind: str  # config oneof name / pyfg feature_type, e.g. "id_feature", "sequence_raw_feature"
    config: Any
    sequence: SequenceSpec | None = None


def feature_class(kind: str) -> type[BaseFeature]:
    """The class registered under `kind` in `rec.features`; a `sequence_<type>` without its own
    registration uses `<type>`'s class (sequence variants reuse the same config message)."""
    features = registry("rec.features")
    try:
        return features.get(kind)
    except PluginError:
        if kind.startswith(_SEQUENCE_PREFIX) and kind[len(_SEQUENCE_PREFIX) :] in features.names():
            return features.get(kind[len(_SEQUENCE_PREFIX) :])
        raise


def _sequence_config(config: Any) -> Any:
    """A sequence's config as pyfg reads it: an empty default_value is "0" (a sequence element is
    never left without a value) and an unset value_dim is 1 (one value per element)."""
    fields = config.DESCRIPTOR.fields_by_name
    empty_default = "default_value" in fields and config.default_value == ""
    unset_dim = "value_dim" in fields and not config.HasField("value_dim")
    if not (empty_default or unset_dim):
        return config
    copy = type(config)()
    copy.CopyFrom(config)
    if empty_default:
        copy.default_value = "0"
    if unset_dim:
        copy.value_dim = 1
    return copy


def build_features(entries: Sequence[FeatureEntry], fg_mode: int, fg_encoded_multival_sep: str = "\x03") -> list[BaseFeature]:
    """Instantiate every entry, check names are unique and `feature:` inputs form no cycle."""
    from rec_features.dag import FeatureGraph

    features: list[BaseFeature] = []
    seen: set[str] = set()
    for e in entries:
        cls = feature_class(e.kind)
        kwargs: dict[str, Any] = {"fg_mode": fg_mode, "fg_encoded_multival_sep": fg_encoded_multival_sep}
        config = e.config
        if e.sequence is not None:
            kwargs["sequence"] = e.sequence
            config = _sequence_config(config)
        feature = cls(config, **kwargs)
        if feature.name in seen:
            raise ConfigError(f"{e.where}.feature_name", f"duplicate feature name {feature.name!r}")
        seen.add(feature.name)
        features.append(feature)
    FeatureGraph(features, fg_mode)  # raises on a cycle or, in FG_DAG, an input naming no feature
    return features


def config_entries(feature_configs: Sequence[Any]) -> list[FeatureEntry]:
    """One entry per feature of TorchEasyRec `feature_configs`, grouped sequences expanded."""
    entries = []
    for i, cfg in enumerate(feature_configs):
        where = f"feature_configs[{i}]"
        kind = cfg.WhichOneof("feature")
        if kind is None:
            raise ConfigError(where, "no feature type is set")
        msg = getattr(cfg, kind)
        if kind == "sequence_feature":
            if not msg.sequence_name:
                raise ConfigError(f"{where}.sequence_feature.sequence_name", "a grouped sequence needs a name")
            spec = SequenceSpec(msg.sequence_name, int(msg.sequence_length), msg.sequence_delim, msg.sequence_pk)
            for j, sub in enumerate(msg.features):
                sub_where = f"{where}.sequence_feature.features[{j}]"
                sub_kind = sub.WhichOneof("feature")
                if sub_kind is None:
                    raise ConfigError(sub_where, "no feature type is set")
                entries.append(FeatureEntry(f"{sub_where}.{sub_kind}", sub_kind, getattr(sub, sub_kind), spec))
        elif kind.startswith(_SEQUENCE_PREFIX):
            entries.append(FeatureEntry(f"{where}.{kind}", kind, msg, simple_sequence(msg)))
        else:
            entries.append(FeatureEntry(f"{where}.{kind}", kind, msg))
    return entries


def simple_sequence(config: Any) -> SequenceSpec:
    """The sequence spec a `sequence_<type>` config carries in its own fields."""
    return SequenceSpec(length=int(config.sequence_length), delim=config.sequence_delim)


def create_features(
    feature_configs: Sequence[Any], fg_mode: int = FG_NONE, fg_encoded_multival_sep: str = "\x03"
) -> list[BaseFeature]:
    """Build one feature object per FeatureConfig (a grouped `sequence_feature` gives one per
    sub-feature), looked up by its oneof name in `rec.features`."""
    return build_features(config_entries(feature_configs), fg_mode, fg_encoded_multival_sep)
