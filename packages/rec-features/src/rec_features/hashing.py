"""String hashing compatible with TorchEasyRec's feature generation, vectorised over Arrow arrays.

The default is libstdc++'s `std::hash<std::string>` (`_Hash_bytes`, a MurmurHash64A variant
with seed 0xc70f6907), so ids bucketized here match data and models prepared with TorchEasyRec.
With the env flag `USE_FARM_HASH_TO_BUCKETIZE` set, Google FarmHash `Fingerprint64` is used
instead (the hash of TensorFlow's `string_to_hash_bucket_fast`).
Each distinct string is hashed once; the arithmetic runs on uint64 NumPy columns (wrapping
multiplication is exactly the C++ size_t arithmetic).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.env import use_farm_hash

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


def _u64(data: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Little-endian uint64 at each byte position (the data is padded, so every read stays in bounds)."""
    return _load_words(data, pos, np.full(len(pos), 8, np.int64))


def _u32(data: np.ndarray, pos: np.ndarray) -> np.ndarray:
    return _load_words(data, pos, np.full(len(pos), 4, np.int64))


_K0 = np.uint64(0xC3A5C85C97CB3127)
_K1 = np.uint64(0xB492B66FBE98F273)
_K2 = np.uint64(0x9AE16A3B2F90404F)


def _rot(v: np.ndarray, shift: int) -> np.ndarray:
    return (v >> np.uint64(shift)) | (v << np.uint64(64 - shift))


def _len16(u: np.ndarray, v: np.ndarray, mul: np.ndarray) -> np.ndarray:
    a = _shift_mix((u ^ v) * mul)
    b = _shift_mix((v ^ a) * mul)
    return b * mul


def _farm_0_to_16(data: np.ndarray, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    out = np.full(len(s), _K2, np.uint64)
    mul = _K2 + n * np.uint64(2)
    big = n >= 8
    if big.any():
        sb, nb, mb = s[big], n[big], mul[big]
        a = _u64(data, sb) + _K2
        b = _u64(data, sb + nb.astype(np.int64) - 8)
        out[big] = _len16(_rot(b, 37) * mb + a, (_rot(a, 25) + b) * mb, mb)
    mid = (n >= 4) & ~big
    if mid.any():
        sm, nm = s[mid], n[mid]
        a = _u32(data, sm)
        out[mid] = _len16(nm + (a << np.uint64(3)), _u32(data, sm + nm.astype(np.int64) - 4), mul[mid])
    small = (n > 0) & (n < 4)
    if small.any():
        ss, ns = s[small], n[small].astype(np.int64)
        a = data[ss].astype(np.uint64)
        b = data[ss + (ns >> 1)].astype(np.uint64)
        c = data[ss + ns - 1].astype(np.uint64)
        y = a + (b << np.uint64(8))
        z = n[small] + (c << np.uint64(2))
        out[small] = _shift_mix((y * _K2) ^ (z * _K0)) * _K2
    return out


def _farm_17_to_32(data: np.ndarray, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    mul = _K2 + n * np.uint64(2)
    end = s + n.astype(np.int64)
    a = _u64(data, s) * _K1
    b = _u64(data, s + 8)
    c = _u64(data, end - 8) * mul
    d = _u64(data, end - 16) * _K2
    return _len16(_rot(a + b, 43) + _rot(c, 30) + d, a + _rot(b + _K2, 18) + c, mul)


def _farm_33_to_64(data: np.ndarray, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    mul = _K2 + n * np.uint64(2)
    end = s + n.astype(np.int64)
    a = _u64(data, s) * _K2
    b = _u64(data, s + 8)
    c = _u64(data, end - 8) * mul
    d = _u64(data, end - 16) * _K2
    y = _rot(a + b, 43) + _rot(c, 30) + d
    z = _len16(y, a + _rot(b + _K2, 18) + c, mul)
    e = _u64(data, s + 16) * mul
    f = _u64(data, s + 24)
    g = (y + _u64(data, end - 32)) * mul
    h = (z + _u64(data, end - 24)) * mul
    return _len16(_rot(e + f, 43) + _rot(g, 30) + h, e + _rot(f + a, 18) + g, mul)


def _weak32(data: np.ndarray, p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FarmHash's WeakHashLen32WithSeeds over the 32 bytes at each position."""
    w, x, y, z = (_u64(data, p + k) for k in (0, 8, 16, 24))
    a = a + w
    b = _rot(b + a + z, 21)
    c = a
    a = a + x + y
    b = b + _rot(a, 44)
    return a + z, b + c


def _farm_over_64(data: np.ndarray, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Strings of 65+ bytes: 64-byte rounds over all rows still that long, then the last 64 bytes."""
    rounds = ((n - np.uint64(1)) // np.uint64(64)).astype(np.int64)
    order = np.argsort(-rounds, kind="stable")
    s, n, rounds = s[order], n[order], rounds[order]
    count = len(s)
    seed = np.uint64(81)
    x = np.full(count, seed * _K2, np.uint64) + _u64(data, s)
    y = np.full(count, seed * _K1 + np.uint64(113), np.uint64)
    z = _shift_mix(y * _K2 + np.uint64(113)) * _K2
    v0, v1, w0, w1 = (np.zeros(count, np.uint64) for _ in range(4))
    for j in range(int(rounds[0])):
        k = int(np.searchsorted(-rounds, -j, side="left"))  # rows with more than j rounds: a prefix
        p = s[:k] + 64 * j
        xk = _rot(x[:k] + y[:k] + v0[:k] + _u64(data, p + 8), 37) * _K1
        yk = _rot(y[:k] + v1[:k] + _u64(data, p + 48), 42) * _K1
        xk = xk ^ w1[:k]
        yk = yk + v0[:k] + _u64(data, p + 40)
        zk = _rot(z[:k] + w0[:k], 33) * _K1
        nv0, nv1 = _weak32(data, p, v1[:k] * _K1, xk + w0[:k])
        nw0, nw1 = _weak32(data, p + 32, zk + w1[:k], yk + _u64(data, p + 16))
        x[:k], y[:k], z[:k] = zk, yk, xk  # FarmHash swaps z and x at the end of a round
        v0[:k], v1[:k], w0[:k], w1[:k] = nv0, nv1, nw0, nw1
    mul = _K1 + ((z & np.uint64(0xFF)) << np.uint64(1))
    p = s + n.astype(np.int64) - 64
    w0 = w0 + ((n - np.uint64(1)) & np.uint64(63))
    v0 = v0 + w0
    w0 = w0 + v0
    x = _rot(x + y + v0 + _u64(data, p + 8), 37) * mul
    y = _rot(y + v1 + _u64(data, p + 48), 42) * mul
    x = x ^ (w1 * np.uint64(9))
    y = y + v0 * np.uint64(9) + _u64(data, p + 40)
    z = _rot(z + w0, 33) * mul
    v0, v1 = _weak32(data, p, v1 * mul, x + w0)
    w0, w1 = _weak32(data, p + 32, z + w1, y + _u64(data, p + 16))
    x, z = z, x
    out = _len16(_len16(v0, w0, mul) + _shift_mix(y) * _K0 + z, _len16(v1, w1, mul) + x, mul)
    unsorted = np.empty_like(out)
    unsorted[order] = out
    return unsorted


def farm_fingerprint64(strings: pa.Array) -> np.ndarray:
    """FarmHash Fingerprint64 of every string's UTF-8 bytes, as uint64 (drop nulls first)."""
    if len(strings) == 0:
        return np.zeros(0, np.uint64)
    offsets, data = _offsets_and_data(strings)
    lengths = np.diff(offsets).astype(np.uint64)
    starts = offsets[:-1]
    out = np.empty(len(lengths), np.uint64)
    with np.errstate(over="ignore"):
        for lo, hi, fn in ((0, 16, _farm_0_to_16), (17, 32, _farm_17_to_32), (33, 64, _farm_33_to_64), (65, None, _farm_over_64)):
            rows = np.flatnonzero((lengths >= lo) & (lengths <= hi) if hi is not None else lengths >= lo)
            if len(rows):
                out[rows] = fn(data, starts[rows], lengths[rows])
    return out


def hash_bucket(values: pa.Array | pa.ChunkedArray, num_buckets: int, farm: bool | None = None) -> np.ndarray:
    """Bucket ids in [0, num_buckets) for string or integer values (integers hash as decimal text).

    The hash is libstdc++ `std::hash`, or FarmHash Fingerprint64 when `farm` is true; `farm=None`
    follows the env flag `USE_FARM_HASH_TO_BUCKETIZE`, read at each call.
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
    hash_fn = farm_fingerprint64 if (use_farm_hash() if farm is None else farm) else std_hash
    hashes = hash_fn(encoded.dictionary) % np.uint64(num_buckets)
    return hashes.astype(np.int64)[np.asarray(encoded.indices, dtype=np.int64)]
