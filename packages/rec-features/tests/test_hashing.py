"""hashing: libstdc++ std::hash<std::string> compatibility (golden values, g++, a scalar reference)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rec_features.hashing import hash_bucket, std_hash

MASK = (1 << 64) - 1
MUL = 0xC6A4A7935BD1E995
SEED = 0xC70F6907


def py_hash_bytes(data: bytes) -> int:
    """libstdc++ _Hash_bytes written byte for byte from its C++ source: an independent reference."""

    def shift_mix(v: int) -> int:
        return v ^ (v >> 47)

    n = len(data)
    aligned = n & ~7
    h = (SEED ^ (n * MUL)) & MASK
    for p in range(0, aligned, 8):
        block = int.from_bytes(data[p : p + 8], "little")
        h = ((h ^ ((shift_mix((block * MUL) & MASK) * MUL) & MASK)) * MUL) & MASK
    if n & 7:
        h = ((h ^ int.from_bytes(data[aligned:], "little")) * MUL) & MASK
    h = (shift_mix(h) * MUL) & MASK
    return shift_mix(h)


# Strings whose UTF-8 byte length runs 0..40: every tail length 0..7 with 0..5 full blocks.
EVERY_LENGTH = ["".join(chr(ord("a") + i % 26) for i in range(k)) for k in range(41)]
UNICODE = ["é", "中文", "日本語テキスト", "emoji 🎉🎉", "\x00", "a\x00b", "\n\t", "\x1d\x03", "Ω" * 13]


class TestGoldenValues:
    """Bucket ids TorchEasyRec's own tests pin (hash_bucket_size 100)."""

    def test_strings(self) -> None:
        assert hash_bucket(pa.array(["abc", "efg", "hij", "xyz"]), 100).tolist() == [33, 44, 66, 13]

    def test_integers_hash_as_decimal_text(self) -> None:
        assert hash_bucket(pa.array([1, 2, 3, 4]), 100).tolist() == [95, 70, 13, 56]
        assert hash_bucket(pa.array(["1", "2", "3", "4"]), 100).tolist() == [95, 70, 13, 56]

    @pytest.mark.parametrize("int_type", [pa.int8(), pa.int32(), pa.uint64()])
    def test_integer_width_does_not_matter(self, int_type: pa.DataType) -> None:
        assert hash_bucket(pa.array([1, 2, 3, 4], int_type), 100).tolist() == [95, 70, 13, 56]

    def test_string_layouts(self) -> None:
        expected = [33, 44, 66, 13]
        words = ["abc", "efg", "hij", "xyz"]
        assert hash_bucket(pa.array(words, pa.large_string()), 100).tolist() == expected
        assert hash_bucket(pa.array(words).dictionary_encode(), 100).tolist() == expected
        assert hash_bucket(pa.chunked_array([words[:1], words[1:]]), 100).tolist() == expected
        # a slice with a non-zero offset reads the right bytes
        assert hash_bucket(pa.array(["zzz", *words])[1:], 100).tolist() == expected


class TestStdHash:
    def test_matches_scalar_reference_for_every_tail_length(self) -> None:
        strings = EVERY_LENGTH + UNICODE
        got = std_hash(pa.array(strings)).tolist()
        assert got == [py_hash_bytes(s.encode()) for s in strings]

    def test_empty_inputs(self) -> None:
        assert std_hash(pa.array([], pa.string())).tolist() == []
        assert hash_bucket(pa.array([], pa.string()), 10).tolist() == []
        assert std_hash(pa.array([""])).tolist() == [py_hash_bytes(b"")]

    def test_one_long_string_does_not_blow_up_memory(self) -> None:
        # the old padded-matrix layout needed rows x longest-string bytes (here ~40 GB)
        long = "x" * 2_000_003
        strings = [long] + [str(i) for i in range(20_000)]
        got = std_hash(pa.array(strings))
        assert int(got[0]) == py_hash_bytes(long.encode())
        assert [int(v) for v in got[1:4]] == [py_hash_bytes(s.encode()) for s in strings[1:4]]

    def test_nulls_are_refused_by_hash_bucket(self) -> None:
        with pytest.raises(ValueError, match="null"):
            hash_bucket(pa.array(["a", None]), 10)

    def test_bucket_count_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="num_buckets"):
            hash_bucket(pa.array(["a"]), 0)

    def test_huge_bucket_count_keeps_63_bits(self) -> None:
        # zch-style raw hashes: mod 2^63-1 must stay non-negative in int64
        ids = hash_bucket(pa.array(EVERY_LENGTH), 2**63 - 1)
        assert (ids >= 0).all()
        assert ids.tolist() == [py_hash_bytes(s.encode()) % (2**63 - 1) for s in EVERY_LENGTH]

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.text(max_size=40), max_size=30))
    def test_property_matches_scalar_reference(self, strings: list[str]) -> None:
        got = std_hash(pa.array(strings, pa.string())).tolist()
        assert got == [py_hash_bytes(s.encode()) for s in strings]

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.text(max_size=12), max_size=30), st.integers(1, 10**6))
    def test_property_buckets_in_range_and_consistent(self, strings: list[str], buckets: int) -> None:
        ids = hash_bucket(pa.array(strings, pa.string()), buckets)
        assert ((ids >= 0) & (ids < buckets)).all()
        # equal strings get equal ids however often they repeat
        first: dict[str, int] = {}
        for s, i in zip(strings, ids.tolist()):
            assert first.setdefault(s, i) == i


CPP_SOURCE = r"""
#include <functional>
#include <iostream>
#include <string>
// Reads records "<byte length>\n<bytes>" and prints std::hash<std::string> of each, one a line.
int main() {
    std::ios::sync_with_stdio(false);
    std::size_t n;
    while (std::cin >> n) {
        std::cin.get();
        std::string s(n, '\0');
        if (n) std::cin.read(&s[0], static_cast<std::streamsize>(n));
        std::cout << std::hash<std::string>{}(s) << '\n';
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def cpp_hasher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compiled C++ program printing libstdc++'s std::hash of its input strings."""
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed; the libstdc++ cross-check needs it")
    d = tmp_path_factory.mktemp("cpp_hash")
    (d / "hash.cc").write_text(CPP_SOURCE)
    subprocess.run([gxx, "-O1", "-o", str(d / "hash"), str(d / "hash.cc")], check=True, capture_output=True)
    return d / "hash"


def cpp_hashes(binary: Path, strings: list[str]) -> list[int]:
    payload = b"".join(f"{len(b)}\n".encode() + b for b in (s.encode() for s in strings))
    out = subprocess.run([str(binary)], input=payload, check=True, capture_output=True).stdout
    return [int(line) for line in out.split()]


class TestAgainstLibstdcxx:
    def test_every_tail_length_and_unicode(self, cpp_hasher: Path) -> None:
        strings = EVERY_LENGTH + UNICODE + ["abc", "efg", "hij", "xyz", "1", "2", "3", "4"]
        assert std_hash(pa.array(strings)).tolist() == cpp_hashes(cpp_hasher, strings)

    def test_golden_buckets_come_from_std_hash(self, cpp_hasher: Path) -> None:
        assert [h % 100 for h in cpp_hashes(cpp_hasher, ["abc", "efg", "hij", "xyz"])] == [33, 44, 66, 13]

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.text(max_size=40), min_size=1, max_size=40))
    def test_property(self, cpp_hasher: Path, strings: list[str]) -> None:
        assert std_hash(pa.array(strings, pa.string())).tolist() == cpp_hashes(cpp_hasher, strings)

    def test_long_string(self, cpp_hasher: Path) -> None:
        strings = ["q" * 100_001, "ü" * 333]
        assert std_hash(pa.array(strings)).tolist() == cpp_hashes(cpp_hasher, strings)


def test_hashes_are_uint64() -> None:
    assert std_hash(pa.array(["a"])).dtype == np.uint64
