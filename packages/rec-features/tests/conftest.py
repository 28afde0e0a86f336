"""Shared fixtures: features built from TorchEasyRec text-format FeatureConfig snippets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from rec_features.features import FG_NORMAL
from rec_features.features.base import BaseFeature
from rec_features.testing import build_feature, sparse_rows
from rec_features.values import SparseValues


@pytest.fixture
def feature() -> Callable[..., BaseFeature]:
    """Factory fixture: feature('id_feature { ... }', fg_mode=FG_NONE, sep=',') -> BaseFeature."""

    def make(text: str, fg_mode: int = FG_NORMAL, sep: str = "\x03") -> BaseFeature:
        return build_feature(text, fg_mode, sep)

    return make


@pytest.fixture
def ids() -> Callable[..., list[list[int]]]:
    """Factory fixture: ids(feature, column, name='c') -> per-row id lists."""

    def run(f: BaseFeature, col: Any, name: str = "c") -> list[list[int]]:
        out = f.process({name: col if isinstance(col, pa.Array) else pa.array(col)})
        assert isinstance(out, SparseValues)
        assert out.values.dtype == np.int64 and out.lengths.dtype == np.int32
        return sparse_rows(out)

    return run
