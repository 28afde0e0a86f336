"""create_features and the `rec.features` entry points."""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from rec_core.errors import ConfigError, PluginError
from rec_core.protos import feature_pb2
from rec_core.registry import registry
from rec_features.features import FG_NONE, create_features
from rec_features.features.id_feature import IdFeature
from rec_features.features.raw_feature import RawFeature


def configs(*texts: str) -> list[feature_pb2.FeatureConfig]:
    return [text_format.Parse(t, feature_pb2.FeatureConfig()) for t in texts]


def test_builtins_are_registered_as_entry_points() -> None:
    reg = registry("rec.features")
    assert {"id_feature", "raw_feature"} <= set(reg.names())
    assert reg.get("id_feature") is IdFeature
    assert reg.get("raw_feature") is RawFeature


def test_builds_by_oneof_name_and_passes_mode() -> None:
    fs = create_features(
        configs(
            'id_feature { feature_name: "a" expression: "user:a" embedding_dim: 4 hash_bucket_size: 10 }',
            'raw_feature { feature_name: "b" expression: "item:b" }',
        ),
        fg_mode=FG_NONE,
        fg_encoded_multival_sep=",",
    )
    assert [type(f) for f in fs] == [IdFeature, RawFeature]
    assert all(f.fg_mode == FG_NONE and f.fg_encoded_multival_sep == "," for f in fs)
    assert repr(fs[0]) == "IdFeature('a')"


def test_duplicate_names_are_a_config_error() -> None:
    cfgs = configs(
        'raw_feature { feature_name: "a" expression: "user:a" }',
        'raw_feature { feature_name: "a" expression: "user:b" }',
    )
    with pytest.raises(ConfigError, match=r"feature_configs\[1\].raw_feature.feature_name.*'a'"):
        create_features(cfgs)


def test_empty_feature_config() -> None:
    with pytest.raises(ConfigError, match=r"feature_configs\[0\]"):
        create_features([feature_pb2.FeatureConfig()])


def test_unregistered_type_lists_what_is_installed() -> None:
    with pytest.raises(PluginError, match=r"'no_such_feature'.*combo_feature.*id_feature"):
        registry("rec.features").get("no_such_feature")
