"""Property tests of sequence parsing: any rows, any truncation, text or list encodings."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from google.protobuf import text_format
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_core.protos import feature_pb2
from rec_features.features import FG_NONE, FG_NORMAL, BaseFeature, create_features
from rec_features.features.sequence import elements
from rec_features.values import SequenceDenseValues, SequenceSparseValues

ELEMENT = st.lists(st.integers(0, 99), min_size=1, max_size=3)
ROW = st.one_of(st.none(), st.lists(ELEMENT, max_size=6))
ROWS = st.lists(ROW, min_size=1, max_size=12)
# element text: any unicode except the sequence and multi-value separators, and surrogates
TOKEN = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=";\x1d"), min_size=1, max_size=6)


def feature(text: str, mode: int) -> BaseFeature:
    return create_features([text_format.Parse(text, feature_pb2.FeatureConfig())], mode)[0]


def encoded_ids(length: int, default: str = "") -> BaseFeature:
    extra = f'fg_encoded_default_value: "{default}"' if default else ""
    return feature(
        f'sequence_feature {{ sequence_name: "s" sequence_length: {length} features {{ id_feature {{ feature_name: "c" '
        f"embedding_dim: 4 num_buckets: 100 value_dim: 0 {extra} }} }} }}",
        FG_NONE,
    )


def expected(rows: list[list[list[int]] | None], length: int, default: list[int] | None) -> list[list[list[int]]]:
    out = []
    for row in rows:
        kept = (row or [])[: length or None]
        out.append(kept or ([default] if default else []))
    return out


def nested(values: SequenceSparseValues) -> list[list[list[int]]]:
    ids = values.values.tolist()
    elems, pos = [], 0
    for n in values.key_lengths.tolist():
        elems.append(ids[pos : pos + n])
        pos += n
    out, pos = [], 0
    for n in values.seq_lengths.tolist():
        out.append(elems[pos : pos + n])
        pos += n
    return out


@settings(max_examples=60, deadline=None)
@given(rows=ROWS, length=st.integers(0, 4), with_default=st.booleans())
def test_encoded_sequences_parse_to_the_truncated_rows(rows: list, length: int, with_default: bool) -> None:
    f = encoded_ids(length, "7" if with_default else "")
    default = [7] if with_default else None
    text = pa.array([None if r is None else ";".join("\x03".join(map(str, e)) for e in r) for r in rows], pa.string())
    lists = pa.array(rows, pa.list_(pa.list_(pa.int64())))
    want = expected(rows, length, default)
    for col in (text, lists):
        out = f.process({"s__c": col})
        assert isinstance(out, SequenceSparseValues)
        assert nested(out) == want
        assert out.lengths.tolist() == [sum(len(e) for e in r) for r in want]


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.one_of(st.none(), st.lists(TOKEN, max_size=5)), min_size=1, max_size=10), length=st.integers(0, 3))
def test_a_sequence_is_its_elements_computed_as_rows(rows: list, length: int) -> None:
    seq = feature(
        f'sequence_id_feature {{ feature_name: "s" expression: "user:s" embedding_dim: 4 hash_bucket_size: 1000 '
        f'sequence_length: {length} default_value: "dflt" }}',
        FG_NORMAL,
    )
    single = feature('id_feature { feature_name: "e" expression: "user:e" embedding_dim: 4 hash_bucket_size: 1000 }', FG_NORMAL)
    kept = [(r or [])[: length or None] or ["dflt"] for r in rows]
    flat = [t for r in kept for t in r]
    want = single.process({"e": pa.array(flat, pa.string())}).values.tolist()
    text = pa.array([None if r is None else ";".join(r) for r in rows], pa.string())
    for col in (text, pa.array(rows, pa.list_(pa.string()))):
        out = seq.process({"s": col})
        assert isinstance(out, SequenceSparseValues)
        assert out.values.tolist() == want
        assert out.seq_lengths.tolist() == [len(r) for r in kept]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.one_of(st.none(), st.lists(st.floats(-1e6, 1e6, width=32), max_size=5)), min_size=1, max_size=10),
    length=st.integers(0, 3),
)
def test_dense_sequences_keep_their_numbers(rows: list, length: int) -> None:
    f = feature(f'sequence_raw_feature {{ feature_name: "p" expression: "user:p" sequence_length: {length} default_value: "-1" }}', FG_NORMAL)
    kept = [(r or [])[: length or None] or [-1.0] for r in rows]
    out = f.process({"p": pa.array(rows, pa.list_(pa.float32()))})
    assert isinstance(out, SequenceDenseValues)
    assert out.seq_lengths.tolist() == [len(r) for r in kept]
    np.testing.assert_array_equal(out.values[:, 0], np.asarray([v for r in kept for v in r], np.float32))


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.one_of(st.none(), st.lists(st.integers(0, 9), max_size=5)), max_size=10), length=st.integers(0, 4), fill=st.booleans())
def test_elements_truncate_and_fill(rows: list, length: int, fill: bool) -> None:
    flat, counts = elements(pa.array(rows, pa.list_(pa.int64())), length, fill)
    kept = [(r or [])[: length or None] for r in rows]
    want = [r if r or not fill else [None] for r in kept]
    assert counts.tolist() == [len(r) for r in want]
    assert flat.to_pylist() == [v for r in want for v in r]
