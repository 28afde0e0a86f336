"""raw_feature: dense values, defaults, normalizers, boundaries bucketization, FG_NONE forms."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest

from rec_core.errors import ConfigError
from rec_features.errors import InvalidFgInputError
from rec_features.features import FG_NONE
from rec_features.features.base import BaseFeature
from rec_features.values import DenseValues, SparseValues

Feature = Callable[..., BaseFeature]


def raw(extra: str = "") -> str:
    return f'raw_feature {{ feature_name: "r" expression: "user:c" {extra} }}'


def dense(f: BaseFeature, col: pa.Array | list, name: str = "c") -> list[list[float]]:
    out = f.process({name: col if isinstance(col, pa.Array) else pa.array(col)})
    assert isinstance(out, DenseValues)
    assert out.values.dtype == np.float32 and out.values.shape[1] == f.value_dim
    return out.values.tolist()


def sparse(f: BaseFeature, col: pa.Array | list, name: str = "c") -> tuple[list[int], list[int]]:
    out = f.process({name: col if isinstance(col, pa.Array) else pa.array(col)})
    assert isinstance(out, SparseValues)
    return out.values.tolist(), out.lengths.tolist()


class TestDense:
    def test_value_dim_1_numeric_and_string(self, feature: Feature) -> None:
        f = feature(raw())
        assert not f.is_sparse and f.value_dim == 1 and f.output_dim == 1
        assert dense(f, [1.5, 2.0]) == [[1.5], [2.0]]
        assert dense(f, pa.array([1, 2], pa.int32())) == [[1.0], [2.0]]
        assert dense(f, ["1.5", "-2"]) == [[1.5], [-2.0]]
        assert dense(f, pa.array(["1.5"]).dictionary_encode()) == [[1.5]]

    def test_null_and_empty_take_default_value(self, feature: Feature) -> None:
        # the proto default of default_value is "0"
        assert dense(feature(raw()), [1.5, None]) == [[1.5], [0.0]]
        f = feature(raw('default_value: "3"'))
        assert dense(f, [1.5, None]) == [[1.5], [3.0]]
        assert dense(f, ["", None, "2"]) == [[3.0], [3.0], [2.0]]
        assert dense(f, pa.array([[1.0], None])) == [[1.0], [3.0]]
        assert dense(f, pa.chunked_array([[1.0], [None]])) == [[1.0], [3.0]]

    def test_value_dim_above_1_splits_on_separator(self, feature: Feature) -> None:
        f = feature(raw('value_dim: 3 separator: ","'))
        assert f.value_dim == 3 and f.output_dim == 3
        assert dense(f, ["1,2,3", "4,5,6"]) == [[1, 2, 3], [4, 5, 6]]
        assert dense(f, pa.array([[1.0, 2.0, 3.0]])) == [[1, 2, 3]]

    def test_default_separator_is_x1d(self, feature: Feature) -> None:
        assert dense(feature(raw("value_dim: 2")), ["1\x1d2"]) == [[1, 2]]

    def test_wide_default_fills_every_slot(self, feature: Feature) -> None:
        assert dense(feature(raw('value_dim: 2 separator: "," default_value: "7,8"')), [None, "1,2"]) == [[7, 8], [1, 2]]
        # a single number fills the whole vector (the proto default "0" is a zero vector)
        assert dense(feature(raw('value_dim: 2 separator: ","')), [None]) == [[0, 0]]

    def test_wrong_count_names_feature_and_row(self, feature: Feature) -> None:
        f = feature(raw('value_dim: 3 separator: ","'))
        with pytest.raises(InvalidFgInputError, match=r"'r'.*expected 3 value\(s\), got 2.*row 1") as e:
            f.process({"c": pa.array(["1,2,3", "4,5", "7,8,9"])})
        assert e.value.row == 1
        with pytest.raises(InvalidFgInputError, match="got 2.*row 0"):
            feature(raw()).process({"c": pa.array(["1\x1d2"])})

    def test_not_a_number(self, feature: Feature) -> None:
        with pytest.raises(InvalidFgInputError, match="'r'.*not a number"):
            feature(raw()).process({"c": pa.array(["x"])})

    def test_integer_column_with_unusable_default(self, feature: Feature) -> None:
        with pytest.raises(InvalidFgInputError, match="'r'"):
            feature(raw('default_value: "abc"')).process({"c": pa.array([1, None])})


class TestNormalizers:
    def test_log10(self, feature: Feature) -> None:
        f = feature(raw('normalizer: "method=log10,threshold=1e-10,default=-10"'))
        # x > threshold -> log10(x), else default
        assert dense(f, [100.0, 1000.0, 0.0, -5.0, 1e-11]) == [[2.0], [3.0], [-10.0], [-10.0], [-10.0]]

    def test_log10_threshold_is_exclusive(self, feature: Feature) -> None:
        f = feature(raw('normalizer: "method=log10,threshold=10,default=-1"'))
        assert dense(f, [10.0, 100.0]) == [[-1.0], [2.0]]

    def test_zscore(self, feature: Feature) -> None:
        f = feature(raw('normalizer: "method=zscore,mean=2,standard_deviation=4"'))
        assert dense(f, [10.0, 2.0, 0.0]) == [[2.0], [0.0], [-0.5]]

    def test_minmax(self, feature: Feature) -> None:
        f = feature(raw('normalizer: "method=minmax,min=2,max=12"'))
        assert dense(f, [7.0, 2.0, 12.0, 4.5]) == [[0.5], [0.0], [1.0], [0.25]]

    def test_normalizer_applies_to_default(self, feature: Feature) -> None:
        f = feature(raw('default_value: "10" normalizer: "method=zscore,mean=2,standard_deviation=4"'))
        assert dense(f, [None]) == [[2.0]]

    def test_normalizer_applies_per_element(self, feature: Feature) -> None:
        f = feature(raw('value_dim: 2 separator: "," normalizer: "method=log10"'))
        assert dense(f, ["10,1000"]) == [[1.0, 3.0]]

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("method=foo", "unknown normalizer method 'foo'"),
            ("method=minmax,min=1", "needs max"),
            ("method=minmax,min=3,max=3", "max > min"),
            ("method=zscore,mean=x", "mean='x' is not a number"),
            ("method=zscore,standard_deviation=0", "standard_deviation != 0"),
            ("junk", "'junk' is not key=value"),
        ],
    )
    def test_bad_specs_are_config_errors_naming_the_feature(self, feature: Feature, spec: str, message: str) -> None:
        with pytest.raises(ConfigError, match=rf"raw_feature 'r'.normalizer.*{message}"):
            feature(raw(f'normalizer: "{spec}"'))


class TestBoundaries:
    def test_bucket_ids(self, feature: Feature) -> None:
        f = feature(raw("boundaries: [0.05, 0.15, 0.25] embedding_dim: 4"))
        assert f.is_sparse and f.num_embeddings == 4 and f.output_dim == 4
        ids, lengths = sparse(f, [0.2, 0.0, 1.0, -3.0])
        assert ids == [2, 0, 3, 0] and lengths == [1, 1, 1, 1]

    def test_value_on_a_boundary_goes_to_the_upper_bucket(self, feature: Feature) -> None:
        # TF Bucketize: boundaries[i-1] <= x < boundaries[i] -> bucket i
        f = feature(raw("boundaries: [0.05, 0.15, 0.25] embedding_dim: 4"))
        assert sparse(f, [0.05, 0.15, 0.25])[0] == [1, 2, 3]

    def test_null_takes_default_before_bucketizing(self, feature: Feature) -> None:
        f = feature(raw('boundaries: [1, 2] embedding_dim: 4 default_value: "1.5"'))
        assert sparse(f, [None, 5.0]) == ([1, 2], [1, 1])

    def test_normalizer_runs_before_bucketizing(self, feature: Feature) -> None:
        f = feature(raw('boundaries: [1, 2] normalizer: "method=log10" embedding_dim: 4'))
        assert sparse(f, [5.0, 100.0, 1000.0])[0] == [0, 2, 2]

    def test_multi_value_gives_one_id_per_value(self, feature: Feature) -> None:
        f = feature(raw('boundaries: [1, 2] value_dim: 2 separator: "," embedding_dim: 4'))
        assert sparse(f, ["0.5,1.5", "3,0"]) == ([0, 1, 2, 0], [2, 2])

    def test_boundaries_must_increase(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match="raw_feature 'r'.boundaries.*strictly increasing"):
            feature(raw("boundaries: [3, 1]"))
        with pytest.raises(ConfigError, match="boundaries"):
            feature(raw("boundaries: [1, 1]"))


class TestFgNone:
    def test_numeric_and_joined_strings(self, feature: Feature) -> None:
        f = feature(raw(), fg_mode=FG_NONE)
        assert dense(f, [1.5, None], name="r") == [[1.5], [0.0]]
        assert dense(f, ["1.5", None, ""], name="r") == [[1.5], [0.0], [0.0]]

    def test_vector_forms(self, feature: Feature) -> None:
        f = feature(raw("value_dim: 2"), fg_mode=FG_NONE)
        assert dense(f, ["1.5\x032", "3\x034"], name="r") == [[1.5, 2], [3, 4]]
        assert dense(f, pa.array([[1.5, 2.0], [3.0, 4.0]]), name="r") == [[1.5, 2], [3, 4]]
        # without fg_encoded_default_value a null row is a zero vector
        assert dense(f, [None], name="r") == [[0, 0]]

    def test_fg_encoded_default_value(self, feature: Feature) -> None:
        f = feature(raw('value_dim: 2 fg_encoded_default_value: "7\x038"'), fg_mode=FG_NONE)
        assert dense(f, ["1\x032", None], name="r") == [[1, 2], [7, 8]]
        assert dense(f, pa.array([[1.0, 2.0], None]), name="r") == [[1, 2], [7, 8]]

    def test_wrong_width_names_row(self, feature: Feature) -> None:
        f = feature(raw("value_dim: 2"), fg_mode=FG_NONE)
        with pytest.raises(InvalidFgInputError, match="'r'.*expected 2.*got 1.*row 1"):
            f.process({"r": pa.array([[1.0, 2.0], [3.0]])})

    def test_bucketized_ids(self, feature: Feature) -> None:
        f = feature(raw("boundaries: [1, 2, 3] embedding_dim: 4"), fg_mode=FG_NONE)
        assert sparse(f, [0, 3, None], name="r") == ([0, 3], [1, 1, 0])
        assert sparse(f, ["0", "3"], name="r") == ([0, 3], [1, 1])
        with pytest.raises(InvalidFgInputError, match=r"'r'.*id 4.*\[0, 4\).*row 1"):
            f.process({"r": pa.array([0, 4])})


def test_normalizer_values_are_float32_exact(feature: Feature) -> None:
    f = feature(raw('normalizer: "method=log10"'))
    got = dense(f, [123.0])[0][0]
    assert got == pytest.approx(math.log10(123.0), rel=1e-6)
