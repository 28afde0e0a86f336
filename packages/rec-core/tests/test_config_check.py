"""Semantic checks: required fields, model choice, feature references, training settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format

from rec_core.config import load_pipeline_config
from rec_core.config_check import check_pipeline_config, feature_names
from rec_core.errors import ConfigError
from rec_core.protos import pipeline_pb2

DATA = Path(__file__).resolve().parent / "data"
CONFIGS = sorted(p.name for p in DATA.iterdir() if p.suffix in (".config", ".json"))


def _config(name: str = "deepfm_criteo.config") -> pipeline_pb2.EasyRecConfig:
    return load_pipeline_config(str(DATA / name))


def _errors(config: pipeline_pb2.EasyRecConfig, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        check_pipeline_config(config, **kwargs)
    return e.value


@pytest.mark.parametrize("name", CONFIGS)
def test_fixture_configs_pass(name: str) -> None:
    check_pipeline_config(_config(name), source=name, for_training=True)


def test_missing_required_field_reported_with_full_path() -> None:
    config = _config()
    config.feature_configs[2].id_feature.ClearField("expression")
    err = _errors(config, source="p.config")
    assert str(err).splitlines()[0] == "p.config: feature_configs[2].id_feature.expression: required field is not set"
    assert err.path == "feature_configs[2].id_feature.expression"


def test_required_fields_with_declared_defaults_are_not_errors() -> None:
    config = _config()
    config.model_config.feature_groups[0].ClearField("group_type")  # required, default DEEP
    config.data_config.ClearField("dataset_type")  # required, default OdpsDataset
    check_pipeline_config(config)


def test_no_model_set() -> None:
    config = _config()
    config.model_config.ClearField("deepfm")
    err = _errors(config)
    assert err.path == "model_config" and "no model set; expected one of: dlrm, deepfm" in str(err)
    config.ClearField("model_config")
    assert _errors(config).path == "model_config"


def test_unknown_feature_in_group_names_path_and_known_features() -> None:
    config = _config()
    config.model_config.feature_groups[2].feature_names[3] = "cat_7"
    err = _errors(config)
    assert err.path == "model_config.feature_groups[2].feature_names[3]"
    first = str(err).splitlines()[0]
    assert 'unknown feature "cat_7"' in first and "known features: cat_0, cat_1, int_0, int_1" in first


def test_every_error_is_reported_one_per_line() -> None:
    config = _config()
    config.model_config.feature_groups[0].feature_names[0] = "nope_a"
    config.model_config.feature_groups[1].feature_names[2] = "nope_b"
    config.train_config.num_steps = 10
    lines = str(_errors(config)).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "model_config.feature_groups[0].feature_names[0]",
        "model_config.feature_groups[1].feature_names[2]",
        "train_config.num_steps",
    ]


def test_grouped_sequence_sub_features_use_double_underscore_names() -> None:
    config = _config("multi_tower_din.config")
    names = feature_names(config)
    assert {"click_50_seq__cate_id", "click_50_seq__brand", "click_items", "cate_id"} <= set(names)
    assert names["click_50_seq__brand"] == "feature_configs[4].sequence_feature.features[1].id_feature.feature_name"
    config.model_config.feature_groups[1].feature_names.append("click_50_seq__price")
    err = _errors(config)
    assert err.path == "model_config.feature_groups[1].feature_names[4]"


def test_plain_sub_feature_name_suggests_the_grouped_name() -> None:
    config = _config("multi_tower_din.config")
    text_format.Merge(
        'feature_configs { sequence_feature { sequence_name: "buy_seq" sequence_length: 5 sequence_delim: ";"'
        ' features { id_feature { feature_name: "shop" expression: "item:shop" embedding_dim: 4 } } } }',
        config,
    )
    config.model_config.feature_groups[1].feature_names.append("shop")
    assert "did you mean buy_seq__shop?" in str(_errors(config))


def test_sequence_group_and_encoder_references() -> None:
    config = _config("multi_tower_din.config")
    text_format.Merge(
        """model_config { feature_groups {
             group_name: "all" feature_names: "user_id" group_type: DEEP
             sequence_groups { group_name: "s" feature_names: "cate_id" feature_names: "click_50_seq__cate_idd" }
             sequence_encoders { din_encoder { input: "s" attn_mlp { hidden_units: [8] } } }
             sequence_encoders { pooling_encoder { input: "t" } }
        } }""",
        config,
    )
    err = _errors(config)
    lines = str(err).splitlines()
    assert err.path == "model_config.feature_groups[2].sequence_groups[0].feature_names[1]"
    assert any(
        line.startswith("model_config.feature_groups[2].sequence_encoders[1].pooling_encoder.input:")
        and 'expected one of: s' in line
        for line in lines
    )


def test_duplicate_feature_and_group_names() -> None:
    config = _config()
    config.feature_configs[3].id_feature.feature_name = "cat_0"
    config.model_config.feature_groups[1].group_name = "wide"
    lines = str(_errors(config)).splitlines()
    assert lines[0] == 'feature_configs[3].id_feature.feature_name: duplicate feature name "cat_0", first defined at feature_configs[2].id_feature.feature_name'
    assert any(line.startswith("model_config.feature_groups[1].group_name: duplicate group name") for line in lines)


def test_feature_config_without_type() -> None:
    config = _config()
    config.feature_configs.add()
    assert _errors(config).path == "feature_configs[4]"


def test_num_steps_and_num_epochs() -> None:
    config = _config()
    config.train_config.num_steps = 100
    err = _errors(config)
    assert err.path == "train_config.num_steps" and "not both" in str(err)
    config.train_config.ClearField("num_steps")
    config.train_config.ClearField("num_epochs")
    check_pipeline_config(config)  # fine unless training
    assert _errors(config, for_training=True).path == "train_config.num_epochs"


def test_training_needs_train_config_and_labels() -> None:
    config = _config()
    config.ClearField("train_config")
    check_pipeline_config(config)
    assert _errors(config, for_training=True).path == "train_config"
    config = _config()
    config.data_config.ClearField("label_fields")
    check_pipeline_config(config)
    err = _errors(config, for_training=True)
    assert err.path == "data_config.label_fields" and "label" in str(err)


def test_label_free_sid_models_train_without_labels() -> None:
    config = _config()
    config.data_config.ClearField("label_fields")
    config.model_config.sid_rqkmeans.codebook.extend([16, 16])
    check_pipeline_config(config, for_training=True)
