"""combo_feature, bool_mask_feature and combine_feature against hand-computed values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_core.errors import ConfigError
from rec_features.errors import InvalidFgInputError
from rec_features.features.base import BaseFeature
from rec_features.hashing import hash_bucket
from rec_features.testing import build_feature, sparse_rows
from rec_features.values import DenseValues, SparseValues

Feature = Callable[..., BaseFeature]


def rows(f: BaseFeature, **cols: object) -> list[list[int]]:
    out = f.process({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in cols.items()})
    assert isinstance(out, SparseValues)
    return sparse_rows(out)


def h(*tokens: str) -> list[int]:
    return hash_bucket(pa.array(list(tokens), pa.string()), 1000).tolist()


COMBO = 'combo_feature {{ feature_name: "c" expression: ["user:a", "item:b"] embedding_dim: 4 {} }}'


class TestCombo:
    def test_cross_product_first_input_outermost(self, feature: Feature) -> None:
        f = feature(COMBO.format("hash_bucket_size: 1000"))
        assert f.inputs == ["a", "b"] and f.num_embeddings == 1000
        got = rows(f, a=["x\x1dy", "z"], b=["1\x1d2", "3"])
        assert got == [h("x_1", "x_2", "y_1", "y_2"), h("z_3")]

    def test_integer_and_unicode_inputs(self, feature: Feature) -> None:
        f = feature(COMBO.format("hash_bucket_size: 1000"))
        assert rows(f, a=pa.array([7, 8]), b=["中文", "é\x1d"]) == [h("7_中文"), h("8_é")]

    def test_any_empty_side_gives_no_value(self, feature: Feature) -> None:
        f = feature(COMBO.format("hash_bucket_size: 1000"))
        assert rows(f, a=["x", None, "", "y"], b=[None, "1", "2", "\x1d"]) == [[], [], [], []]

    def test_default_value_alone_not_combined(self, feature: Feature) -> None:
        f = feature(COMBO.format('hash_bucket_size: 1000 default_value: "dflt"'))
        assert rows(f, a=["x", None], b=[None, "1"]) == [h("dflt"), h("dflt")]

    def test_three_inputs_and_list_columns(self, feature: Feature) -> None:
        f = feature('combo_feature { feature_name: "c" expression: ["user:a", "item:b", "context:d"] embedding_dim: 4 hash_bucket_size: 1000 }')
        got = rows(f, a=pa.array([["p", "q"]]), b=pa.array([["1"]]), d=pa.array([["u", "v"]]))
        assert got == [h("p_1_u", "p_1_v", "q_1_u", "q_1_v")]

    def test_vocab_list_with_oov(self, feature: Feature) -> None:
        f = feature(COMBO.format('vocab_list: ["x_1", "y_1"]'))
        assert f.num_embeddings == 4
        assert rows(f, a=["x\x1dy\x1dz"], b=["1"]) == [[2, 3, 1]]

    def test_needs_two_inputs_and_no_num_buckets(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match="at least 2 inputs"):
            feature('combo_feature { feature_name: "c" expression: ["user:a"] hash_bucket_size: 9 }')
        with pytest.raises(ConfigError, match="combo_feature 'c'.hash_bucket_size"):
            feature('combo_feature { feature_name: "c" expression: ["user:a", "user:b"] }')


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from("abc"), max_size=3), st.lists(st.sampled_from("xy"), max_size=3)), min_size=1, max_size=10
    )
)
def test_combo_property_counts_and_order(pairs: list[tuple[list[str], list[str]]]) -> None:
    f = build_feature(COMBO.format('vocab_list: ["a_x", "a_y", "b_x", "b_y", "c_x", "c_y"] default_bucketize_value: 0'))
    got = rows(f, a=pa.array([p[0] for p in pairs]), b=pa.array([p[1] for p in pairs]))
    vocab = ["a_x", "a_y", "b_x", "b_y", "c_x", "c_y"]
    assert got == [[vocab.index(f"{u}_{v}") for u in a for v in b] for a, b in pairs]


BOOL_MASK = 'bool_mask_feature {{ feature_name: "m" expression: ["item:v", "item:m"] embedding_dim: 4 {} }}'


class TestBoolMask:
    def test_string_masks(self, feature: Feature) -> None:
        f = feature(BOOL_MASK.format('vocab_list: ["a", "b", "c"]'))
        got = rows(f, v=["a\x1db\x1dc", "c", None, "a", None, "b"], m=["true\x1dFALSE\x1d1", "0", None, "false", "1", None])
        assert got == [[2, 4], [], [], [], [], []]

    def test_bool_and_int_list_masks(self, feature: Feature) -> None:
        f = feature(BOOL_MASK.format("num_buckets: 10"))
        assert rows(f, v=pa.array([[1, 2, 3]]), m=pa.array([[True, False, True]])) == [[1, 3]]
        assert rows(f, v=pa.array([[4, 5]]), m=pa.array([[0, 1]])) == [[5]]

    def test_default_value_when_nothing_is_kept(self, feature: Feature) -> None:
        f = feature(BOOL_MASK.format('hash_bucket_size: 1000 default_value: "none"'))
        assert rows(f, v=["a", "中"], m=["0", "1"]) == [h("none"), h("中")]

    def test_length_mismatch_names_row(self, feature: Feature) -> None:
        f = feature(BOOL_MASK.format("hash_bucket_size: 10"))
        with pytest.raises(InvalidFgInputError, match=r"'m'.*2 value\(s\) but 1 mask.*row 1"):
            f.process({"v": pa.array(["a", "a\x1db"]), "m": pa.array(["1", "1"])})

    def test_bad_mask_value_is_named(self, feature: Feature) -> None:
        f = feature(BOOL_MASK.format("hash_bucket_size: 10"))
        with pytest.raises(InvalidFgInputError, match=r"'m'.*'yes'.*row 0"):
            f.process({"v": pa.array(["a"]), "m": pa.array(["yes"])})


COMBINE = 'combine_feature {{ feature_name: "s" expression: "user:v" {} }}'


class TestCombine:
    @pytest.mark.parametrize(
        ("combiner", "expected"), [("sum", [6.0, 5.0, 0.0]), ("mean", [2.0, 5.0, 0.0]), ("min", [1.0, 5.0, 0.0]),
                                   ("max", [3.0, 5.0, 0.0]), ("count", [3.0, 1.0, 0.0]), ("avg", [2.0, 5.0, 0.0])]
    )
    def test_combiners(self, feature: Feature, combiner: str, expected: list[float]) -> None:
        f = feature(COMBINE.format(f'combiner: "{combiner}"'))
        out = f.process({"v": pa.array(["1\x1d2\x1d3", "5", None])})
        assert isinstance(out, DenseValues) and out.values.shape == (3, 1)
        assert out.values[:, 0].tolist() == expected

    def test_value_map_then_numbers(self, feature: Feature) -> None:
        f = feature(COMBINE.format('value_map { key: "good" value: 2 } value_map { key: "中" value: 0.5 } default_value: "good"'))
        out = f.process({"v": pa.array(["good\x1d中\x1d4", None, ""])})
        assert out.values[:, 0].tolist() == [6.5, 2.0, 2.0]

    def test_num_buckets_and_boundaries(self, feature: Feature) -> None:
        f = feature(COMBINE.format('num_buckets: 10 combiner: "mean" embedding_dim: 4'))
        assert rows(f, v=["3\x1d4", "9"]) == [[3], [9]]
        f = feature(COMBINE.format("boundaries: [1, 5] embedding_dim: 4"))
        assert rows(f, v=["0.5", "2\x1d3", "10"]) == [[0], [2], [2]]
        with pytest.raises(InvalidFgInputError, match=r"'s'.*id 12 is outside \[0, 10\)"):
            feature(COMBINE.format("num_buckets: 10 embedding_dim: 4")).process({"v": pa.array(["12"])})

    def test_unmapped_text_is_an_error_naming_it(self, feature: Feature) -> None:
        f = feature(COMBINE.format('value_map { key: "a" value: 1 }'))
        with pytest.raises(InvalidFgInputError, match=r"'s'.*bad"):
            f.process({"v": pa.array(["a\x1dbad"])})

    def test_unknown_combiner(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match=r"combine_feature 's'.combiner.*'median'"):
            feature(COMBINE.format('combiner: "median"'))

    def test_normalizer(self, feature: Feature) -> None:
        f = feature(COMBINE.format('normalizer: "method=minmax,min=0,max=10"'))
        np.testing.assert_allclose(f.process({"v": pa.array(["2\x1d3"])}).values, [[0.5]])
