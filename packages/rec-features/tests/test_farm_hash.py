"""FarmHash Fingerprint64 bucketizing (USE_FARM_HASH_TO_BUCKETIZE), checked against pyfarmhash."""

from __future__ import annotations

import farmhash
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_features.hashing import farm_fingerprint64, hash_bucket
from rec_features.testing import build_feature, sparse_rows

# every length class of Fingerprint64: 0, 1-3, 4-7, 8-16, 17-32, 33-64, and 65+ (one, two and many rounds)
EVERY_LENGTH = ["".join(chr(ord("a") + i % 26) for i in range(k)) for k in range(200)]
UNICODE = ["é", "中文", "日本語テキスト", "emoji 🎉🎉", "\x00", "a\x00b", "\x1d\x03", "Ω" * 40, "中" * 100]


def reference(strings: list[str]) -> list[int]:
    return [farmhash.fingerprint64(s) for s in strings]


def test_golden_buckets() -> None:
    # TensorFlow string_to_hash_bucket_fast values for 100 buckets
    assert hash_bucket(pa.array([1, 2, 3]), 100, farm=True).tolist() == [49, 59, 21]
    assert hash_bucket(pa.array(["1", "2", "3"]), 100, farm=True).tolist() == [49, 59, 21]


def test_every_length_class_and_unicode() -> None:
    strings = EVERY_LENGTH + UNICODE + ["q" * 10_001]
    assert farm_fingerprint64(pa.array(strings)).tolist() == reference(strings)


def test_sliced_and_large_string_arrays() -> None:
    strings = ["skip me", *EVERY_LENGTH[60:80]]
    assert farm_fingerprint64(pa.array(strings, pa.large_string())[1:]).tolist() == reference(strings[1:])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=150), max_size=40))
def test_property_matches_pyfarmhash(strings: list[str]) -> None:
    assert farm_fingerprint64(pa.array(strings, pa.string())).tolist() == reference(strings)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=30), st.integers(1, 10**9))
def test_property_buckets(strings: list[str], buckets: int) -> None:
    got = hash_bucket(pa.array(strings), buckets, farm=True).tolist()
    assert got == [h % buckets for h in reference(strings)]


class TestEnvFlag:
    CFG = 'id_feature { feature_name: "f" expression: "user:c" embedding_dim: 4 hash_bucket_size: 100 }'

    def test_flag_switches_id_feature_hash(self, monkeypatch: pytest.MonkeyPatch) -> None:
        f = build_feature(self.CFG)
        monkeypatch.delenv("USE_FARM_HASH_TO_BUCKETIZE", raising=False)
        assert sparse_rows(f.process({"c": pa.array([1, 2, 3])})) == [[95], [70], [13]]
        monkeypatch.setenv("USE_FARM_HASH_TO_BUCKETIZE", "true")
        assert sparse_rows(f.process({"c": pa.array([1, 2, 3])})) == [[49], [59], [21]]

    @pytest.mark.parametrize("value", ["0", "false", ""])
    def test_off_values(self, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
        monkeypatch.setenv("USE_FARM_HASH_TO_BUCKETIZE", value)
        assert hash_bucket(pa.array(["abc"]), 100).tolist() == [33]
