"""Test helpers for rec's own tests and feature-plugin authors: features from config text."""

from __future__ import annotations

import numpy as np
from google.protobuf import text_format

from rec_core.protos import feature_pb2
from rec_features.features import FG_NORMAL, create_features
from rec_features.features.base import BaseFeature
from rec_features.values import SparseValues

__all__ = ["build_feature", "sparse_rows"]


def build_feature(text: str, fg_mode: int = FG_NORMAL, fg_encoded_multival_sep: str = "\x03") -> BaseFeature:
    """One feature from the body of a TorchEasyRec `feature_configs { ... }` block.

    Example: `build_feature('id_feature { feature_name: "f" expression: "user:c" hash_bucket_size: 10 }')`.
    It goes through `create_features`, so plugin lookup and config checks run as in a pipeline.
    """
    cfg = text_format.Parse(text, feature_pb2.FeatureConfig())
    return create_features([cfg], fg_mode=fg_mode, fg_encoded_multival_sep=fg_encoded_multival_sep)[0]


def sparse_rows(values: SparseValues) -> list[list[int]]:
    """Flat ids split back into one list per row, for readable assertions."""
    ends = np.cumsum(values.lengths)
    return [values.values[e - n : e].tolist() for e, n in zip(ends, values.lengths)]
