"""Property tests: what FG guarantees for any input, not just the examples above."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_core.errors import ConfigError
from rec_core.protos import feature_pb2
from rec_features.features import FG_NONE, FG_NORMAL, create_features
from rec_features.hashing import hash_bucket
from rec_features.normalizer import parse_normalizer
from rec_features.testing import build_feature, sparse_rows
from rec_features.values import DenseValues, SparseValues

SETTINGS = settings(max_examples=50, deadline=None)

# tokens never contain a separator and are never empty (empty tokens are dropped by design);
# no quote or backslash either, so they can sit inside a text-format string literal
token = st.text(
    alphabet=st.characters(blacklist_characters='\x1d,|;"\\', blacklist_categories=("Cs",)), min_size=1, max_size=12
)
row = st.one_of(st.none(), st.lists(token, max_size=6))
separators = st.sampled_from(["\x1d", ",", "|", ";"])


def join(rows: list[list[str] | None], sep: str) -> pa.Array:
    return pa.array([None if r is None else sep.join(r) for r in rows], pa.string())


@SETTINGS
@given(st.lists(row, max_size=20), separators, st.integers(1, 1000))
def test_hash_ids_one_per_token_in_range(rows: list[list[str] | None], sep: str, buckets: int) -> None:
    f = build_feature(
        f'id_feature {{ feature_name: "f" expression: "user:c" embedding_dim: 4 hash_bucket_size: {buckets} separator: "{sep}" }}'
    )
    out = f.process({"c": join(rows, sep)})
    assert isinstance(out, SparseValues)
    assert out.lengths.tolist() == [0 if r is None else len(r) for r in rows]
    assert ((out.values >= 0) & (out.values < f.num_embeddings)).all()
    # each token's id is its own hash bucket, in order
    flat = [t for r in rows if r for t in r]
    assert out.values.tolist() == (hash_bucket(pa.array(flat, pa.string()), buckets).tolist() if flat else [])


@SETTINGS
@given(st.lists(row, max_size=20), st.lists(token, min_size=1, max_size=5, unique=True), st.booleans())
def test_vocab_ids_in_range(rows: list[list[str] | None], vocab: list[str], with_dbv: bool) -> None:
    # built as a message, not text: tokens may hold newlines that text format would split on
    cfg = feature_pb2.FeatureConfig()
    cfg.id_feature.MergeFrom(
        feature_pb2.IdFeature(feature_name="f", expression="user:c", embedding_dim=4, vocab_list=vocab)
    )
    if with_dbv:
        cfg.id_feature.default_bucketize_value = 0
    else:
        cfg.id_feature.default_value = "dflt"
    (f,) = create_features([cfg], fg_mode=FG_NORMAL)
    out = f.process({"c": join(rows, "\x1d")})
    assert ((out.values >= 0) & (out.values < f.num_embeddings)).all()
    for r, got in zip(rows, sparse_rows(out)):
        if not r:
            # null (and "", the joined empty list) becomes default_value (id 0) unless the list is used as-is
            assert got == ([] if with_dbv else [0])
            continue
        if with_dbv:
            expected = [vocab.index(t) if t in vocab else 0 for t in r]
        else:
            expected = [vocab.index(t) + 2 if t in vocab else (0 if t == "dflt" else 1) for t in r]
        assert got == expected


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.lists(st.integers(0, 99), max_size=5)), max_size=20), st.sampled_from(["\x03", ","]))
def test_fg_none_string_and_list_forms_agree(rows: list[list[int] | None], sep: str) -> None:
    f = build_feature(
        'id_feature { feature_name: "f" expression: "user:c" embedding_dim: 4 num_buckets: 100 }', FG_NONE, sep
    )
    as_list = f.process({"f": pa.array(rows, pa.list_(pa.int64()))})
    as_text = f.process({"f": pa.array([None if r is None else sep.join(map(str, r)) for r in rows], pa.string())})
    assert sparse_rows(as_list) == sparse_rows(as_text) == [r or [] for r in rows]


@SETTINGS
@given(
    st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=3, max_size=3), min_size=1, max_size=20)
)
def test_raw_vectors_round_trip(rows: list[list[float]]) -> None:
    f = build_feature('raw_feature { feature_name: "r" expression: "user:c" value_dim: 3 separator: "," }')
    out = f.process({"c": pa.array([",".join(repr(v) for v in r) for r in rows])})
    assert isinstance(out, DenseValues)
    np.testing.assert_array_equal(out.values, np.asarray(rows, dtype=np.float32))


@SETTINGS
@given(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=30),
    st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=1, max_size=6, unique=True),
)
def test_boundaries_bucket_is_count_of_boundaries_at_or_below(values: list[float], bounds: list[float]) -> None:
    bounds = sorted(bounds)
    spec = ", ".join(repr(b) for b in bounds)
    f = build_feature(f'raw_feature {{ feature_name: "r" expression: "user:c" boundaries: [{spec}] embedding_dim: 2 }}')
    out = f.process({"c": pa.array(values, pa.float32())})
    b32 = np.asarray(bounds, np.float32)
    assert out.values.tolist() == [int((b32 <= np.float32(v)).sum()) for v in values]
    assert ((out.values >= 0) & (out.values < f.num_embeddings)).all()


@SETTINGS
@given(st.floats(-1e3, 1e3, allow_nan=False), st.floats(0.01, 1e3), st.lists(st.floats(-1e4, 1e4, allow_nan=False), max_size=10))
def test_zscore_spec(mean: float, std: float, xs: list[float]) -> None:
    fn = parse_normalizer(f"method=zscore,mean={mean!r},standard_deviation={std!r}")
    assert fn is not None
    got = fn(np.asarray(xs, np.float64))
    np.testing.assert_allclose(got, [(x - mean) / std for x in xs], rtol=1e-5, atol=1e-4)


@SETTINGS
@given(st.floats(-1e3, 1e3, allow_nan=False), st.floats(0.01, 1e3), st.lists(st.floats(-1e4, 1e4, allow_nan=False), max_size=10))
def test_minmax_spec(lo: float, width: float, xs: list[float]) -> None:
    hi = lo + width
    fn = parse_normalizer(f"method=minmax,min={lo!r},max={hi!r}")
    assert fn is not None
    np.testing.assert_allclose(fn(np.asarray(xs)), [(x - lo) / (hi - lo) for x in xs], rtol=1e-5, atol=1e-3)


@SETTINGS
@given(st.floats(1e-6, 10), st.floats(-20, 0), st.lists(st.floats(-10, 1e6, allow_nan=False), max_size=10))
def test_log10_spec(threshold: float, default: float, xs: list[float]) -> None:
    fn = parse_normalizer(f"method=log10,threshold={threshold!r},default={default!r}")
    assert fn is not None
    expected = [math.log10(x) if x > threshold else default for x in xs]
    np.testing.assert_allclose(fn(np.asarray(xs)), expected, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(st.text(max_size=30))
def test_normalizer_spec_never_crashes_unexpectedly(spec: str) -> None:
    # any string either parses or is a ConfigError naming the field; nothing else escapes
    try:
        parse_normalizer(spec, "r.normalizer")
    except ConfigError as e:
        assert e.path == "r.normalizer"


def test_empty_normalizer_is_identity() -> None:
    assert parse_normalizer("") is None


@pytest.mark.parametrize("value", ["inf", "-inf"])
def test_infinite_values_pass_through(value: str) -> None:
    f = build_feature('raw_feature { feature_name: "r" expression: "user:c" }')
    assert math.isinf(f.process({"c": pa.array([value])}).values[0, 0])
