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
_BYTE_SHIFTS = np.arange(8, dtype=np.uint64) * np.uint64(8)


def _shift_mix(v: np.ndarray) -> np.ndarray:
    return v ^ (v >> _S47)


def _offsets_and_data(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Int64 offsets (len+1, rebased to 0) and the byte buffer of a (large) binary/string array."""
    arr = arr.cast(pa.large_binary()) if not pa.types.is_large_binary(arr.type) else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    buf = arr.buffers()[2]
    data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    # 8 zero bytes of padding let every 8-byte gather stay in bounds, even for a short tail
    return offsets - offsets[0], np.concatenate([data, np.zeros(8, np.uint8)])


def _load_words(data: np.ndarray, starts: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Little-endian uint64 of the `nbytes` (1..8) bytes at each start; bytes past nbytes are zero."""
    idx = starts[:, None] + np.arange(8, dtype=np.int64)
    raw = data[idx].astype(np.uint64)
    raw[np.arange(8)[None, :] >= nbytes[:, None]] = 0
    return (raw << _BYTE_SHIFTS).sum(axis=1, dtype=np.uint64)


_SCALAR_ROWS = 4
_MASK = (1 << 64) - 1


def _scalar_blocks(h: int, data: np.ndarray, start: int, nblocks: int) -> np.uint64:
    """Mix `nblocks` full 8-byte blocks from `start` into `h` with Python ints (the same math)."""
    mul = int(_MUL)
    words = np.frombuffer(data[start : start + 8 * nblocks].tobytes(), dtype="<u8").tolist()
    for w in words:
        k = (w * mul) & _MASK
        k = ((k ^ (k >> 47)) * mul) & _MASK
        h = ((h ^ k) * mul) & _MASK
    return np.uint64(h)


def std_hash(strings: pa.Array) -> np.ndarray:
    """libstdc++ std::hash<std::string> of every string, as uint64 (drop nulls first: a null slot
    hashes whatever bytes it happens to span, usually none).

    Works word by word over only the strings still long enough, so memory stays proportional to
    the batch's bytes however long its longest string is.
    """
    if len(strings) == 0:
        return np.zeros(0, np.uint64)
    offsets, data = _offsets_and_data(strings)
    lengths = np.diff(offsets).astype(np.uint64)
    starts = offsets[:-1]
    n = len(lengths)
    with np.errstate(over="ignore"):
        h = _SEED ^ (lengths * _MUL)
        full_blocks = (lengths // np.uint64(8)).astype(np.int64)
        tails = (lengths % np.uint64(8)).astype(np.int64)
        # rows sorted by block count, longest first: the rows with more than j blocks form a prefix
        order = np.argsort(-full_blocks, kind="stable")
        blocks_sorted = full_blocks[order]
        max_blocks = int(blocks_sorted[0]) if n else 0
        for j in range(max_blocks):
            count = int(np.searchsorted(-blocks_sorted, -j, side="left"))
            if count <= _SCALAR_ROWS:
                # a few long strings left: one NumPy call per block would cost more than plain ints
                for r in order[:count].tolist():
                    h[r] = _scalar_blocks(int(h[r]), data, int(starts[r]) + 8 * j, int(full_blocks[r]) - j)
                break
            active = order[:count]
            w = _load_words(data, starts[active] + 8 * j, np.full(len(active), 8, np.int64))
            h[active] = (h[active] ^ (_shift_mix(w * _MUL) * _MUL)) * _MUL
        has_tail = np.flatnonzero(tails)
        if len(has_tail):
            w = _load_words(data, starts[has_tail] + 8 * full_blocks[has_tail], tails[has_tail])
            h[has_tail] = (h[has_tail] ^ w) * _MUL
        h = _shift_mix(h) * _MUL
        return _shift_mix(h)


def hash_bucket(values: pa.Array | pa.ChunkedArray, num_buckets: int) -> np.ndarray:
    """Bucket ids in [0, num_buckets) for string or integer values (integers hash as decimal text).

    Nulls have no bucket: callers drop them first (a null is a missing value, not a token).
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count:
        raise ValueError(f"hash_bucket got {values.null_count} null value(s); drop nulls before hashing")
    if num_buckets <= 0:
        raise ValueError(f"hash_bucket needs num_buckets > 0, got {num_buckets}")
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    encoded = pc.dictionary_encode(values)
    hashes = std_hash(encoded.dictionary) % np.uint64(num_buckets)
    return hashes.astype(np.int64)[np.asarray(encoded.indices, dtype=np.int64)]
