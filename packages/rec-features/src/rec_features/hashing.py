"""String hashing compatible with TorchEasyRec's feature generation, vectorised over Arrow arrays.

The default is libstdc++'s `std::hash<std::string>` (`_Hash_bytes`, a MurmurHash64A variant
with seed 0xc70f6907), so ids bucketized here match data and models prepared with TorchEasyRec.
Each distinct string is hashed once; the arithmetic runs on uint64 NumPy columns (wrapping
multiplication is exactly the C++ size_t arithmetic).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MUL = np.uint64(0xC6A4A7935BD1E995)
_SEED = np.uint64(0xC70F6907)
_S47 = np.uint64(47)


def _shift_mix(v: np.ndarray) -> np.ndarray:
    return v ^ (v >> _S47)


def _padded_words(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each string as a row of little-endian uint64 words (zero padded), plus the byte lengths."""
    arr = arr.cast(pa.large_binary()) if not pa.types.is_large_binary(arr.type) else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    n = len(arr)
    width = int(((lengths.max() if n else 0) + 7) // 8) * 8
    mat = np.zeros((n, max(width, 8)), dtype=np.uint8)
    total = int(offsets[-1] - offsets[0]) if n else 0
    if total:
        rows = np.repeat(np.arange(n), lengths)
        cols = np.arange(total) - np.repeat(offsets[:-1] - offsets[0], lengths)
        mat[rows, cols] = data[offsets[0] : offsets[-1]]
    return mat.view("<u8"), lengths.astype(np.uint64)


def std_hash(strings: pa.Array) -> np.ndarray:
    """libstdc++ std::hash<std::string> of every (non-null) string, as uint64."""
    words, lengths = _padded_words(strings)
    with np.errstate(over="ignore"):
        h = _SEED ^ (lengths * _MUL)
        full_blocks = lengths // np.uint64(8)
        has_tail = (lengths % np.uint64(8)) != 0
        for j in range(words.shape[1]):
            w = words[:, j]
            full = full_blocks > j
            data = _shift_mix(w * _MUL) * _MUL
            h = np.where(full, (h ^ data) * _MUL, h)
            tail = has_tail & (full_blocks == j)
            h = np.where(tail, (h ^ w) * _MUL, h)
        h = _shift_mix(h) * _MUL
        return _shift_mix(h)


def hash_bucket(values: pa.Array, num_buckets: int) -> np.ndarray:
    """Bucket ids in [0, num_buckets) for string or integer values (integers hash as decimal text)."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    encoded = pc.dictionary_encode(values)
    hashes = std_hash(encoded.dictionary) % np.uint64(num_buckets)
    return hashes.astype(np.int64)[np.asarray(encoded.indices, dtype=np.int64)]
