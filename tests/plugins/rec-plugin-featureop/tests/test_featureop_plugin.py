"""The example custom_feature operator: found through its entry point and run by custom_feature."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rec_core.errors import ConfigError
from rec_core.registry import registry
from rec_features.testing import build_feature, sparse_rows
from rec_plugin_featureop import Clip

FEATURE = 'custom_feature {{ feature_name: "p" operator_name: "Clip" operator_lib_file: "" expression: "item:price" {} }}'


def _params(**values: object) -> str:
    fields = " ".join(f'fields {{ key: "{k}" value {{ {"string_value" if isinstance(v, str) else "number_value"}: {v!r} }} }}'
                      .replace("'", '"') for k, v in values.items())
    return f"operator_params {{ {fields} }}"


def test_registered_by_its_own_distribution() -> None:
    info = registry("rec.features").describe("custom_feature.Clip")
    assert (info.distribution, info.object_path) == ("rec-plugin-featureop", "rec_plugin_featureop:Clip")


def test_dense_feature_is_clipped_and_null_takes_the_default() -> None:
    f = build_feature(FEATURE.format(_params(lower=0, upper=10) + ' default_value: "3"'))
    out = f.process({"price": pa.array([-2.5, 4.0, None, 99.0])})
    np.testing.assert_allclose(out.values, [[0.0], [4.0], [3.0], [10.0]])


def test_sparse_feature_bucketizes_the_clipped_value() -> None:
    f = build_feature(FEATURE.format(_params(upper=50) + " boundaries: [1, 10, 50] embedding_dim: 4"))
    assert sparse_rows(f.process({"price": pa.array([0.5, 5.0, 1000.0])})) == [[0], [1], [3]]


@pytest.mark.parametrize(
    ("params", "message"),
    [(_params(lower=5, upper=1), "lower 5.0 is above upper 1.0"), (_params(lower="a"), "lower must be a number"),
     (_params(top=1), r"lower and upper, not \['top'\]")],
)
def test_bad_params_are_config_errors_on_operator_params(params: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"operator_params.*{message}"):
        build_feature(FEATURE.format(params))


@given(
    st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), max_size=30),
    st.floats(-1e3, 1e3), st.floats(0, 1e3),
)
def test_clip_matches_min_of_max(values: list[float | None], lower: float, width: float) -> None:
    upper = lower + width
    out = Clip({"lower": lower, "upper": upper})([pa.array(values, pa.float64())]).to_pylist()
    for got, x in zip(out, values, strict=True):
        assert got is None if x is None else math.isclose(got, min(max(x, lower), upper))
