"""fg.json: the feature-generation description that travels with an exported model.

The document is pyfg's: `{"features": [...]}` with one entry per feature (`feature_type` is the
config oneof name, e.g. `id_feature`, `sequence_raw_feature`) and grouped sequences as
`{sequence_name, sequence_length, sequence_delim, sequence_pk, features: [...]}`. Loading is
generic: each entry's `feature_type` names a class in the `rec.features` registry, whose
`config_from_fg_json` turns the entry back into its config message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rec_core.errors import ConfigError, PluginError
from rec_core.fs import atomic_write
from rec_features.features import FeatureEntry, build_features, feature_class, simple_sequence
from rec_features.features.base import FG_NORMAL, BaseFeature
from rec_features.features.sequence import GROUP_SEPARATOR, SequenceSpec

__all__ = ["create_fg_json", "features_from_fg_json", "fg_json_entries", "load_fg_json", "write_fg_json"]


def fg_json_entries(feature: BaseFeature) -> list[dict[str, Any]]:
    """The pyfg entries of one feature: its `fg_json()` plus the keys sequences and stubs need
    (a grouped sub-feature keeps its own, unprefixed name; its group is added by `create_fg_json`)."""
    own = feature.fg_json()
    entries = [dict(e) for e in (own if isinstance(own, list) else [own])]
    for entry in entries:
        if feature.stub_type:
            entry["stub_type"] = True
        if feature.is_grouped_sequence:
            entry["feature_name"] = str(entry["feature_name"]).removeprefix(f"{feature.sequence_name}{GROUP_SEPARATOR}")
            fields = list(getattr(feature.config, "sequence_fields", ()))
            if fields:
                entry["sequence_fields"] = fields
        elif feature.sequence is not None:  # not tokens_as_sequence: its entry stays a tokenize_feature
            if not str(entry["feature_type"]).startswith("sequence_"):
                entry["feature_type"] = f"sequence_{entry['feature_type']}"
            entry["sequence_delim"] = feature.sequence_delim
            entry["sequence_length"] = feature.sequence_length
    return entries


def create_fg_json(features: Sequence[BaseFeature]) -> dict[str, Any]:
    """The fg.json document for `features` (sub-features of one grouped sequence share an entry)."""
    out: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for f in features:
        entries = fg_json_entries(f)
        if not f.is_grouped_sequence:
            out.extend(entries)
            continue
        group = groups.get(f.sequence_name)
        if group is None:
            group = groups[f.sequence_name] = {
                "sequence_name": f.sequence_name,
                "sequence_length": f.sequence_length,
                "sequence_delim": f.sequence_delim,
                "sequence_pk": f.sequence_pk,
                "features": [],
            }
            out.append(group)
        group["features"].extend(entries)
    return {"features": out}


def write_fg_json(features: Sequence[BaseFeature], path: str) -> None:
    """Write fg.json for `features` to `path` atomically."""
    with atomic_write(path) as f:
        json.dump(create_fg_json(features), f, indent=2, ensure_ascii=False)


def _entry(item: Any, where: str, sequence: SequenceSpec | None) -> FeatureEntry:
    if not isinstance(item, dict):
        raise ConfigError(where, f"expected an object, got {type(item).__name__}")
    kind = item.get("feature_type")
    if not isinstance(kind, str) or not kind:
        raise ConfigError(f"{where}.feature_type", f"missing or not a string: {kind!r}")
    try:
        cls = feature_class(kind)
    except PluginError as e:
        raise ConfigError(f"{where}.feature_type", f"unknown feature type {kind!r}: {e}") from e
    config = cls.config_from_fg_json(item, kind, where)
    if sequence is None and kind.startswith("sequence_"):
        sequence = simple_sequence(config)
    return FeatureEntry(where, kind, config, sequence)


def _group(item: dict[str, Any], where: str) -> list[FeatureEntry]:
    try:
        spec = SequenceSpec(
            str(item["sequence_name"]),
            int(item.get("sequence_length", 0)),
            str(item.get("sequence_delim", ";")),
            str(item.get("sequence_pk", "")),
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(where, f"bad grouped sequence header: {e}") from e
    subs = item.get("features", [])
    if not isinstance(subs, list):
        raise ConfigError(f"{where}.features", "expected a list of feature entries")
    return [_entry(sub, f"{where}.features[{j}]", spec) for j, sub in enumerate(subs)]


def features_from_fg_json(
    fg: dict[str, Any], fg_mode: int = FG_NORMAL, fg_encoded_multival_sep: str = "\x03"
) -> list[BaseFeature]:
    """Rebuild the features of an fg.json document (no pipeline config needed)."""
    items = fg.get("features", []) if isinstance(fg, dict) else None
    if not isinstance(items, list):
        raise ConfigError("fg.json features", "expected {\"features\": [...]}")
    entries: list[FeatureEntry] = []
    for i, item in enumerate(items):
        where = f"fg.json features[{i}]"
        if isinstance(item, dict) and "sequence_name" in item:
            entries.extend(_group(item, where))
        else:
            entries.append(_entry(item, where, None))
    return build_features(entries, fg_mode, fg_encoded_multival_sep)


def load_fg_json(path: str, fg_mode: int = FG_NORMAL, fg_encoded_multival_sep: str = "\x03") -> list[BaseFeature]:
    """Read fg.json at `path` and build its features."""
    from rec_core.fs import url_to_fs

    fs, p = url_to_fs(path)
    with fs.open(p, "r") as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            raise ConfigError(path, f"not valid JSON: {e}") from e
    return features_from_fg_json(doc, fg_mode, fg_encoded_multival_sep)
