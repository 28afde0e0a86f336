"""overlap_feature: every method against hand-computed values and a plain-Python reference (hypothesis)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_core.errors import ConfigError
from rec_features.features.base import BaseFeature
from rec_features.testing import build_feature, sparse_rows
from rec_features.values import DenseValues

Feature = Callable[..., BaseFeature]
OVERLAP = 'overlap_feature {{ feature_name: "o" query: "user:q" title: "item:t" method: "{}" separator: " " {} }}'
QUERY = pa.array(["a b", "a b", "x", None, "b a c", "a a", "中 文", ""])
TITLE = pa.array(["c a b d", "b x a", "a b", "a", "a z z c z b", "a", "文 中 文", "a"])

EXPECTED = {
    "query_common_ratio": [1, 1, 0, 0, 1, 1, 1, 0],
    "title_common_ratio": [0.5, 2 / 3, 0, 0, 0.5, 1, 1, 0],
    "is_contain": [1, 0, 0, 0, 0, 0, 1, 0],
    "is_equal": [0, 0, 0, 0, 0, 0, 0, 0],
    "index_of": [1, -1, -1, -1, -1, -1, 1, -1],
    "proximity_min_cover": [2, 3, 0, 0, 6, 1, 2, 0],
    "proximity_min_dist": [1, 2, 0, 0, 2, 0, 1, 0],
    "proximity_max_dist": [1, 2, 0, 0, 3, 0, 1, 0],
    "proximity_avg_dist": [1, 2, 0, 0, 2.5, 0, 1, 0],
}


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_methods(feature: Feature, method: str) -> None:
    f = feature(OVERLAP.format(method, ""))
    out = f.process({"q": QUERY, "t": TITLE})
    assert isinstance(out, DenseValues) and out.values.shape == (len(QUERY), 1)
    np.testing.assert_allclose(out.values[:, 0], EXPECTED[method], rtol=1e-6)


def test_is_equal_and_list_columns(feature: Feature) -> None:
    f = feature(OVERLAP.format("is_equal", ""))
    out = f.process({"q": pa.array([["a", "b"], ["a", "b"], ["a"]]), "t": pa.array([["a", "b"], ["b", "a"], None])})
    assert out.values[:, 0].tolist() == [1, 0, 0]


def test_boundaries_and_normalizer(feature: Feature) -> None:
    f = feature(OVERLAP.format("query_common_ratio", 'boundaries: [0.25, 0.75] embedding_dim: 4'))
    assert sparse_rows(f.process({"q": pa.array(["a b", "a b c d"]), "t": pa.array(["a b", "a"])})) == [[2], [1]]


def test_unknown_method(feature: Feature) -> None:
    with pytest.raises(ConfigError, match=r"overlap_feature 'o'.method.*'jaccard'"):
        feature(OVERLAP.format("jaccard", ""))


def _reference(method: str, q: list[str], t: list[str]) -> float:
    """Each method for one row, written plainly from its definition."""
    if method == "query_common_ratio":
        return sum(w in t for w in q) / len(q) if q else 0.0
    if method == "title_common_ratio":
        return sum(w in q for w in t) / len(t) if t else 0.0
    if method == "is_equal":
        return float(bool(q) and q == t)
    starts = [i for i in range(len(t) - len(q) + 1) if q and t[i : i + len(q)] == q]
    if method == "is_contain":
        return float(bool(starts))
    if method == "index_of":
        return float(starts[0]) if starts else -1.0
    if method == "proximity_min_cover":
        need = {w for w in q if w in t}
        spans = [j - i + 1 for i in range(len(t)) for j in range(i, len(t)) if need and need <= set(t[i : j + 1])]
        return float(min(spans)) if spans else 0.0
    hits = [i for i, w in enumerate(t) if w in q]
    gaps = [b - a for a, b in zip(hits, hits[1:])]
    if not gaps:
        return 0.0
    return float({"proximity_min_dist": min, "proximity_max_dist": max, "proximity_avg_dist": lambda g: sum(g) / len(g)}[method](gaps))


words = st.lists(st.sampled_from(["a", "b", "c", "中", "é"]), max_size=6)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(words, words), min_size=1, max_size=12), st.sampled_from(sorted(EXPECTED)))
def test_property_matches_reference(rows: list[tuple[list[str], list[str]]], method: str) -> None:
    f = build_feature(OVERLAP.format(method, ""))
    out = f.process({"q": pa.array([" ".join(q) for q, _ in rows]), "t": pa.array([" ".join(t) for _, t in rows])})
    np.testing.assert_allclose(out.values[:, 0], [_reference(method, q, t) for q, t in rows], rtol=1e-6)
