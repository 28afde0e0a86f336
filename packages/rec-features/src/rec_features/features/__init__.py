"""Feature types; each registers under the `rec.features` entry-point group by its config name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rec_core.errors import ConfigError
from rec_core.registry import registry
from rec_features.features.base import FG_BUCKETIZE, FG_DAG, FG_NONE, FG_NORMAL, BaseFeature

__all__ = ["BaseFeature", "FG_NONE", "FG_NORMAL", "FG_DAG", "FG_BUCKETIZE", "create_features"]


def create_features(
    feature_configs: Sequence[Any], fg_mode: int = FG_NONE, fg_encoded_multival_sep: str = "\x03"
) -> list[BaseFeature]:
    """Build one feature object per FeatureConfig, looked up by its oneof name in `rec.features`."""
    features: list[BaseFeature] = []
    seen: set[str] = set()
    for i, cfg in enumerate(feature_configs):
        kind = cfg.WhichOneof("feature")
        if kind is None:
            raise ConfigError(f"feature_configs[{i}]", "no feature type is set")
        cls = registry("rec.features").get(kind)
        feature = cls(getattr(cfg, kind), fg_mode=fg_mode, fg_encoded_multival_sep=fg_encoded_multival_sep)
        if feature.name in seen:
            raise ConfigError(f"feature_configs[{i}].{kind}.feature_name", f"duplicate feature name {feature.name!r}")
        seen.add(feature.name)
        features.append(feature)
    return features
