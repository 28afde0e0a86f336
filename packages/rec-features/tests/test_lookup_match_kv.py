"""lookup_feature, match_feature and kv_dot_product against hand-computed values; kv parsing properties."""

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


def dense(f: BaseFeature, **cols: object) -> list[list[float]]:
    out = f.process({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in cols.items()})
    assert isinstance(out, DenseValues) and out.values.dtype == np.float32
    return out.values.tolist()


def ids(f: BaseFeature, **cols: object) -> list[list[int]]:
    out = f.process({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in cols.items()})
    assert isinstance(out, SparseValues)
    return sparse_rows(out)


def h(*tokens: str) -> list[int]:
    return hash_bucket(pa.array(list(tokens), pa.string()), 1000).tolist()


LOOKUP = 'lookup_feature {{ feature_name: "l" map: "item:m" key: "user:k" {} }}'
MAPS = ["a:1\x1db:2\x1dc:4", "a:1", None, "a:3\x1db", "中:2.5"]


class TestLookup:
    def test_sum_of_hits_default_for_misses(self, feature: Feature) -> None:
        f = feature(LOOKUP.format(""))
        assert f.inputs == ["m", "k"] and not f.is_sparse
        # row 3: key b is listed without a value, so only a hits
        assert dense(f, m=MAPS, k=["a\x1dc", "z", "a", "a\x1db", "中"]) == [[5.0], [0.0], [0.0], [3.0], [2.5]]

    @pytest.mark.parametrize(("combiner", "first"), [("mean", 2.5), ("min", 1.0), ("max", 4.0), ("count", 2.0)])
    def test_combiners(self, feature: Feature, combiner: str, first: float) -> None:
        f = feature(LOOKUP.format(f'combiner: "{combiner}" default_value: "-1"'))
        assert dense(f, m=MAPS[:2], k=["a\x1dc", "zz"]) == [[first], [-1.0]]

    def test_map_column_and_int_keys(self, feature: Feature) -> None:
        f = feature(LOOKUP.format(""))
        m = pa.array([[(1, 0.5), (2, 2.0)], None], pa.map_(pa.int64(), pa.float32()))
        assert dense(f, m=m, k=pa.array([2, 1])) == [[2.0], [0.0]]

    def test_vector_values(self, feature: Feature) -> None:
        f = feature(LOOKUP.format('value_dim: 2 combiner: "sum" default_value: "9"'))
        assert dense(f, m=["a:1,2\x1db:3,4", "a:1,1"], k=["a\x1db", "q"]) == [[4.0, 6.0], [9.0, 9.0]]
        with pytest.raises(InvalidFgInputError, match=r"'l'.*'1,2,3'.*2 numbers"):
            f.process({"m": pa.array(["a:1,2,3"]), "k": pa.array(["a"])})

    def test_discrete_with_key_prefix(self, feature: Feature) -> None:
        f = feature(LOOKUP.format('need_discrete: true need_key: true hash_bucket_size: 1000 default_value: ""'))
        assert ids(f, m=["a:x\x1db:y", "a:1", None], k=["b\x1da", "z", "a"]) == [h("b_y", "a_x"), [], []]

    def test_discrete_vocab_and_default(self, feature: Feature) -> None:
        f = feature(LOOKUP.format('need_discrete: true vocab_list: ["x", "y"] default_value: "x"'))
        assert ids(f, m=["a:x\x1db:y\x1dc:w"], k=["c\x1db\x1dq"]) == [[1, 3]]
        assert ids(f, m=[None], k=["a"]) == [[2]]

    def test_boundaries_bucketize_the_combined_value(self, feature: Feature) -> None:
        f = feature(LOOKUP.format("boundaries: [1, 3] embedding_dim: 4"))
        assert f.is_sparse and f.num_embeddings == 3
        assert ids(f, m=MAPS[:2], k=["a\x1dc", "zz"]) == [[2], [0]]

    def test_non_numeric_value_is_an_error(self, feature: Feature) -> None:
        with pytest.raises(InvalidFgInputError, match=r"'l'.*'x'"):
            feature(LOOKUP.format("")).process({"m": pa.array(["a:x"]), "k": pa.array(["a"])})

    def test_config_errors(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match="need_discrete"):
            feature(LOOKUP.format("need_discrete: true"))
        with pytest.raises(ConfigError, match="combiner"):
            feature(LOOKUP.format('combiner: "gap_min"'))
        with pytest.raises(ConfigError, match="default_value"):
            feature(LOOKUP.format('default_value: "x"'))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.sampled_from(["a", "b", "c", "中", "d e"]), st.integers(-50, 50), max_size=4),
            st.lists(st.sampled_from(["a", "b", "c", "中", "d e", "z"]), max_size=4),
        ),
        min_size=1,
        max_size=15,
    )
)
def test_lookup_property_matches_dict_semantics(rows: list[tuple[dict[str, int], list[str]]]) -> None:
    f = build_feature(LOOKUP.format('separator: "|" default_value: "0"'))
    maps = pa.array(["|".join(f"{k}:{v}" for k, v in m.items()) or None for m, _ in rows])
    keys = pa.array(["|".join(k) or None for _, k in rows])
    expected = [[float(sum(m[k] for k in ks if k in m))] for m, ks in rows]
    assert dense(f, m=maps, k=keys) == expected


MATCH = 'match_feature {{ feature_name: "x" nested_map: "user:nm" pkey: "{}" skey: "{}" {} }}'
NESTED = pa.array(["p1^s1:1,s2:2|p2^s1:3", "p1^s1:5", None, "p3^s9:7", "类^品:0.5"])


class TestMatch:
    def test_hit(self, feature: Feature) -> None:
        f = feature(MATCH.format("item:pk", "item:sk", ""))
        got = dense(f, nm=NESTED, pk=["p2", "p1", "p1", "p3", "类"], sk=["s1", "s2", "s1", "s9", "品"])
        assert got == [[3.0], [0.0], [0.0], [7.0], [0.5]]

    def test_map_column(self, feature: Feature) -> None:
        f = feature(MATCH.format("item:pk", "item:sk", 'default_value: "-1"'))
        nm = pa.array([[("p1", "s1:1,s2:2")], None], pa.map_(pa.string(), pa.string()))
        assert dense(f, nm=nm, pk=["p1", "p1"], sk=["s2", "s2"]) == [[2.0], [-1.0]]

    def test_multihit_discrete_with_prefixes(self, feature: Feature) -> None:
        f = feature(MATCH.format("ALL", "item:sk", "need_discrete: true hash_bucket_size: 1000 show_pkey: true show_skey: true"))
        assert f.inputs == ["nm", "sk"]
        got = ids(f, nm=NESTED[:2], sk=["s1", "s3"])
        assert got == [h("p1_s1_1", "p2_s1_3"), h("0")]

    def test_all_all_keeps_map_order(self, feature: Feature) -> None:
        f = feature(MATCH.format("ALL", "ALL", 'need_discrete: true vocab_list: ["1", "2", "3"] default_value: ""'))
        assert ids(f, nm=NESTED[:3]) == [[2, 3, 4], [1], []]

    def test_fg_json_keys(self, feature: Feature) -> None:
        doc = feature(MATCH.format("user:pk", "ALL", "need_discrete: true hash_bucket_size: 10")).fg_json()
        assert doc["matchType"] == "multihit" and doc["category"] == "user:pk" and doc["item"] == "ALL"
        assert doc["needDiscrete"] is True and doc["feature_type"] == "match_feature"


KV = 'kv_dot_product {{ feature_name: "d" query: "user:q" document: "item:d" {} }}'


class TestKvDotProduct:
    def test_reference_example_and_key_sets(self, feature: Feature) -> None:
        f = feature(KV.format(""))
        q = ["a:0.5|b:0.5", "a|b|c", None, "x:2", "中:2|中:1"]
        d = ["d:0.5|b:0.5", "b|c|e", "a:1", "y:1", "中:4"]
        assert dense(f, q=q, d=d) == [[0.25], [2.0], [0.0], [0.0], [12.0]]

    def test_lists_maps_and_delimiters(self, feature: Feature) -> None:
        f = feature(KV.format('separator: "," kv_delimiter: "=" default_value: "-1"'))
        assert dense(f, q=["a=2,b=3", ""], d=["b=4", "b=1"]) == [[12.0], [-1.0]]
        g = feature(KV.format(""))
        q = pa.array([[("a", 2.0), ("b", 1.0)]], pa.map_(pa.string(), pa.float64()))
        assert dense(g, q=q, d=pa.array([["a:3", "c:1"]])) == [[6.0]]

    def test_bad_weight_is_named(self, feature: Feature) -> None:
        with pytest.raises(InvalidFgInputError, match=r"'d'.*'x'"):
            feature(KV.format("")).process({"q": pa.array(["a:x"]), "d": pa.array(["a:1"])})

    def test_boundaries(self, feature: Feature) -> None:
        f = feature(KV.format("boundaries: [0.5, 1] embedding_dim: 4"))
        assert ids(f, q=["a:1|b:1", "a"], d=["a|b", "c"]) == [[2], [0]]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.sampled_from("abcd"), st.integers(-9, 9)), max_size=5),
            st.lists(st.tuples(st.sampled_from("abcd"), st.integers(-9, 9)), max_size=5),
        ),
        min_size=1,
        max_size=15,
    )
)
def test_kv_dot_property_is_bilinear_sum(rows: list[tuple[list[tuple[str, int]], list[tuple[str, int]]]]) -> None:
    f = build_feature(KV.format('default_value: "0"'))
    q = pa.array(["|".join(f"{k}:{v}" for k, v in a) or None for a, _ in rows])
    d = pa.array(["|".join(f"{k}:{v}" for k, v in b) or None for _, b in rows])
    expected = [[float(sum(v * w for k, v in a for j, w in b if k == j))] for a, b in rows]
    assert dense(f, q=q, d=d) == expected
