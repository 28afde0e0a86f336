"""fg.json: the feature-generation description that travels with an exported model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format

from rec_core.errors import ConfigError
from rec_core.fs import atomic_write
from rec_features.features import create_features
from rec_features.features.base import FG_NORMAL, BaseFeature

# fg.json keys that describe the entry rather than a config field.
_META_KEYS = {"feature_type", "value_type"}


def create_fg_json(features: Sequence[BaseFeature]) -> dict[str, Any]:
    """The fg.json document for `features`."""
    return {"features": [f.fg_json() for f in features]}


def write_fg_json(features: Sequence[BaseFeature], path: str) -> None:
    """Write fg.json for `features` to `path` atomically."""
    with atomic_write(path) as f:
        json.dump(create_fg_json(features), f, indent=2, ensure_ascii=False)


def features_from_fg_json(fg: dict[str, Any], fg_mode: int = FG_NORMAL) -> list[BaseFeature]:
    """Rebuild the features of an fg.json document (no pipeline config needed)."""
    from rec_core.protos import feature_pb2

    configs = []
    for i, entry in enumerate(fg.get("features", [])):
        kind = entry.get("feature_type")
        if not kind or kind not in feature_pb2.FeatureConfig.DESCRIPTOR.fields_by_name:
            raise ConfigError(f"fg.json features[{i}].feature_type", f"unknown feature type {kind!r}")
        body = {k: v for k, v in entry.items() if k not in _META_KEYS}
        cfg = feature_pb2.FeatureConfig()
        try:
            json_format.ParseDict(body, getattr(cfg, kind), ignore_unknown_fields=True)
        except json_format.ParseError as e:
            raise ConfigError(f"fg.json features[{i}]", str(e)) from e
        configs.append(cfg)
    return create_features(configs, fg_mode=fg_mode)


def load_fg_json(path: str, fg_mode: int = FG_NORMAL) -> list[BaseFeature]:
    """Read fg.json at `path` and build its features."""
    from rec_core.fs import url_to_fs

    fs, p = url_to_fs(path)
    with fs.open(p, "r") as f:
        return features_from_fg_json(json.load(f), fg_mode)
