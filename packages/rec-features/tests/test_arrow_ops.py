"""The vectorised Arrow helpers agree with Arrow's own kernels / plain Python on any input."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_features.arrow_ops import fill_default, flatten_non_empty, split_strings

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
# pieces that often hold the separators, so both the fast and the splitting paths run
PIECE = st.one_of(TEXT, st.sampled_from([";", "\x1d", "a;b", "", "中", ";;"]))
ROWS = st.lists(st.one_of(st.none(), st.lists(PIECE, max_size=4).map("".join)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(rows=ROWS, sep=st.sampled_from([";", "\x1d", "|", "ab"]), large=st.booleans(), start=st.integers(0, 2))
def test_split_strings_is_split_pattern(rows: list, sep: str, large: bool, start: int) -> None:
    col = pa.array(rows, pa.large_string() if large else pa.string()).slice(min(start, len(rows)))
    assert split_strings(col, sep).to_pylist() == pc.split_pattern(col, sep).to_pylist()


def test_split_strings_without_the_separator_shares_the_strings() -> None:
    col = pa.array(["ab", "c", "", "héllo"])
    out = split_strings(col, ";")
    assert out.to_pylist() == [["ab"], ["c"], [""], ["héllo"]]
    assert out.values.buffers()[2].address == col.buffers()[2].address  # no copy


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.one_of(st.none(), st.lists(st.one_of(st.none(), PIECE), max_size=4)), max_size=10))
def test_flatten_non_empty_drops_nulls_and_empty_strings(rows: list) -> None:
    flat, counts = flatten_non_empty(pa.array(rows, pa.list_(pa.string())))
    kept = [[v for v in (r or []) if v] for r in rows]
    assert flat.to_pylist() == [v for r in kept for v in r]
    assert counts.tolist() == [len(r) for r in kept]


def test_fill_default_leaves_a_full_column_alone() -> None:
    col = pa.array(["a", "b"])
    assert fill_default(col, "x") is col
    assert fill_default(pa.array(["a", "", None]), "x").to_pylist() == ["a", "x", "x"]
    assert fill_default(pa.array(["a", "", None]), "").to_pylist() == ["a", None, None]
