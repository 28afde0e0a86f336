"""From a pipeline config to the pieces every run needs: features, parser, model, loaders."""

from __future__ import annotations

import json
from typing import Any

import torch

from rec_core.config import edit_config, load_pipeline_config
from rec_core.config_check import check_pipeline_config
from rec_core.errors import ConfigError
from rec_features.features import create_features
from rec_features.features.base import BaseFeature
from rec_features.parser import FeatureParser
from rec_features.sampled import assign_data_groups, sampler_attr_fields
from rec_models.model import BaseModel, create_model


def prepare_config(
    pipeline_config_path: str,
    edit_config_json: str | None = None,
    for_training: bool = False,
    **overrides: str | None,
) -> Any:
    """Load, edit (`--edit_config_json`), override top-level paths, then validate the config."""
    config = load_pipeline_config(pipeline_config_path)
    if edit_config_json:
        try:
            edits = json.loads(edit_config_json)
        except json.JSONDecodeError as e:
            raise ConfigError("--edit_config_json", f"not valid JSON: {e}") from e
        edit_config(config, edits)
    for field, value in overrides.items():
        if value:
            setattr(config, field, value)
    check_pipeline_config(config, source=pipeline_config_path, for_training=for_training)
    return config


def build_features(
    config: Any, reserved_columns: list[str] | None = None, with_labels: bool = True
) -> tuple[list[BaseFeature], FeatureParser]:
    """Feature objects and the parser that turns record batches into Batches.

    Prediction passes with_labels=False: its input need not have label or weight columns.
    """
    data = config.data_config
    features = create_features(config.feature_configs, data.fg_mode, data.fg_encoded_multival_sep)
    # item-side features of a negative sampler live in the __NEG__ / __CNEG__ data groups
    assign_data_groups(features, sampler_attr_fields(data), data.force_base_data_group)
    labels = list(data.label_fields) if with_labels else []
    weights = list(data.sample_weight_fields) if with_labels else []
    parser = FeatureParser(features, labels, weights, reserved_columns or [])
    return features, parser


def build_model(config: Any, features: list[BaseFeature], device: torch.device | None = None) -> BaseModel:
    """The model of the config (embedding tables on `device`, e.g. meta before sharding)."""
    data = config.data_config
    return create_model(config.model_config, features, list(data.label_fields), list(data.sample_weight_fields), device)
