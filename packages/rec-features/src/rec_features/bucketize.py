"""Bucketizers: FG output values (tokens or numbers) to embedding-table ids, shared by the feature types.

A feature type names the config fields it accepts in TorchEasyRec's priority order; the first
one set wins (`hash_bucket_size`, `vocab_list`, `vocab_dict`, `vocab_file`, `num_buckets`,
`boundaries`). Tokens are strings or integers (integers are looked up and hashed as their
decimal text); numbers are float arrays.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import json_format

from rec_core.errors import ConfigError
from rec_core.fs import url_to_fs
from rec_features.errors import InvalidFgInputError
from rec_features.features.base import check_range
from rec_features.hashing import hash_bucket

# Priority orders of the feature types (reference §2.3).
ID_ORDER = ("hash_bucket_size", "vocab_list", "vocab_dict", "vocab_file", "num_buckets")
COMBO_ORDER = ("hash_bucket_size", "vocab_list", "vocab_dict", "vocab_file")
LOOKUP_ORDER = ("hash_bucket_size", "num_buckets", "vocab_list", "vocab_dict", "vocab_file", "boundaries")
COMBINE_ORDER = ("num_buckets", "boundaries")
BOUNDARIES_ORDER = ("boundaries",)

_TOKEN_KINDS = ("zch", "hash_bucket_size", "vocab_list", "vocab_dict", "vocab_file")
# the raw hash range of zero-collision-hashed features (TorchEasyRec's hash_bucket_size for them)
ZCH_HASH_SIZE = 2**63 - 1


def resolve_asset(path: str, asset_dir: str) -> str:
    """A config file path, relative to `asset_dir` when one is given and the path is relative."""
    if asset_dir and not os.path.isabs(path) and "://" not in path:
        return os.path.join(asset_dir, path)
    return path


def read_vocab_file(path: str, where: str) -> tuple[list[str], np.ndarray]:
    """Tokens and ids of a vocab file: one token a line (id = line number) or `token id` lines."""
    fs, p = url_to_fs(path)
    if not fs.exists(p):
        raise ConfigError(where, f"vocab file {path!r} does not exist")
    with fs.open(p, "r", encoding="utf-8") as f:
        lines = f.read().splitlines()
    pairs = [line.rsplit(None, 1) for line in lines]
    if lines and all(len(pr) == 2 and pr[1].isdigit() for pr in pairs):
        return [pr[0] for pr in pairs], np.asarray([int(pr[1]) for pr in pairs], np.int64)
    return lines, np.arange(len(lines), dtype=np.int64)


def _has(config: Any, field: str) -> bool:
    value = getattr(config, field)
    if field in ("vocab_list", "vocab_dict", "boundaries"):
        return len(value) > 0
    return bool(value)


class Bucketizer:
    """The bucketizing step of one feature, built from its config message.

    `order` lists the bucketizer fields the feature type has, in priority order; `where(field)`
    names a config field in errors; `kind` is the field in use ("" when the feature stays dense).
    """

    def __init__(self, config: Any, order: tuple[str, ...], where: Callable[[str], str], feature: str) -> None:
        self.config = config
        self.feature = feature
        self.where = where
        fields = config.DESCRIPTOR.fields_by_name
        if "dynamicemb" in fields and config.HasField("dynamicemb"):
            raise ConfigError(where("dynamicemb"), "dynamicemb is not supported by rec yet")
        if "zch" in fields and config.HasField("zch"):
            # zero-collision hashing: raw 63-bit hashes; a managed-collision module maps them to rows
            self.kind = "zch"
            if config.zch.threshold_filtering_func:
                raise ConfigError(where("zch.threshold_filtering_func"), "threshold filtering functions are not supported (rec evaluates no Python from configs)")
            if config.zch.zch_size <= 0:
                raise ConfigError(where("zch.zch_size"), "must be > 0")
        else:
            self.kind = next((f for f in order if f in fields and _has(config, f)), "")
        self.has_default_bucket = "default_bucketize_value" in fields and config.HasField("default_bucketize_value")
        self.default_value = getattr(config, "default_value", "")
        self._keys = pa.array([], pa.string())
        self._ids = np.zeros(0, np.int64)
        if self.kind == "vocab_list":
            self._keys = pa.array(list(config.vocab_list), pa.string())
            self._ids = np.arange(len(config.vocab_list), dtype=np.int64) + (0 if self.has_default_bucket else 2)
        elif self.kind == "vocab_dict":
            self._keys = pa.array(list(config.vocab_dict.keys()), pa.string())
            self._ids = np.asarray(list(config.vocab_dict.values()), np.int64)
        elif self.kind == "vocab_file":
            if not self.has_default_bucket:
                raise ConfigError(where("default_bucketize_value"), "vocab_file needs default_bucketize_value (the id of unlisted values)")
            keys, self._ids = read_vocab_file(self.vocab_path, where("vocab_file"))
            self._keys = pa.array(keys, pa.string())
        elif self.kind == "boundaries":
            # float32 like the proto field: a value equal to a configured boundary lands in the upper bucket
            self._boundaries = np.asarray(list(config.boundaries), np.float32)
            if np.any(np.diff(self._boundaries) <= 0):
                raise ConfigError(where("boundaries"), f"must be strictly increasing, got {[float(b) for b in self._boundaries]}")
        if self.has_default_bucket and self.kind not in ("", "zch", "hash_bucket_size", "boundaries"):
            dbv = int(config.default_bucketize_value)
            if not 0 <= dbv < self.num_embeddings:
                raise ConfigError(
                    where("default_bucketize_value"), f"{dbv} is outside the table [0, {self.num_embeddings}) set by {self.kind}"
                )

    @property
    def vocab_path(self) -> str:
        """The vocab file, resolved against asset_dir."""
        return resolve_asset(self.config.vocab_file, getattr(self.config, "asset_dir", ""))

    @property
    def takes_tokens(self) -> bool:
        """True when values are looked up or hashed as text (not compared as numbers)."""
        return self.kind in _TOKEN_KINDS

    @property
    def num_embeddings(self) -> int:
        """Rows of the embedding table this bucketizer addresses."""
        c = self.config
        if self.kind == "zch":
            return int(c.zch.zch_size)
        if self.kind == "hash_bucket_size":
            return int(c.hash_bucket_size)
        if self.kind == "num_buckets":
            return int(c.num_buckets)
        if self.kind == "boundaries":
            return len(c.boundaries) + 1
        if self.kind == "vocab_list":
            # without default_bucketize_value the table is [default_value, <OOV>, *vocab_list]
            return len(c.vocab_list) + (0 if self.has_default_bucket else 2)
        if self.kind in ("vocab_dict", "vocab_file"):
            top = int(self._ids.max()) + 1 if len(self._ids) else 1
            # ids 0 (default_value) and 1 (OOV) exist even when the dict does not use them
            return top if self.has_default_bucket else max(top, 2)
        raise ConfigError(self.where("hash_bucket_size"), "no bucketizer is set")

    @property
    def id_limit(self) -> int:
        """Ids FG gives lie in [0, id_limit): the table size, or the raw hash range under zch."""
        return ZCH_HASH_SIZE if self.kind == "zch" else self.num_embeddings

    def tokens_to_ids(self, tokens: pa.Array, lengths: np.ndarray) -> np.ndarray:
        """Ids of non-null tokens (strings or integers); `lengths` (per row) name the row of a bad value."""
        if self.kind == "zch":
            return hash_bucket(tokens, ZCH_HASH_SIZE)
        if self.kind == "hash_bucket_size":
            return hash_bucket(tokens, int(self.config.hash_bucket_size))
        if self.kind in ("vocab_list", "vocab_dict", "vocab_file"):
            return self._lookup(pc.cast(tokens, pa.string()))
        if self.kind == "num_buckets":
            return self._bucket_ints(self._as_ints(tokens), lengths)
        if self.kind == "boundaries":
            try:
                numbers = np.asarray(pc.cast(tokens, pa.float64()), np.float64)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise InvalidFgInputError(self.feature, f"value is not a number: {e}") from e
            return self.numbers_to_ids(numbers)
        raise ConfigError(self.where("hash_bucket_size"), "no bucketizer is set")

    def numbers_to_ids(self, x: np.ndarray) -> np.ndarray:
        """Ids of numbers: boundaries bucket them; num_buckets truncates them to integers; hash and
        vocab bucketizers use their shortest decimal text (1.0 -> "1", 0.5 -> "0.5")."""
        flat = np.asarray(x).reshape(-1)
        if self.kind == "boundaries":
            # TF rule: boundaries[i-1] <= x < boundaries[i] -> bucket i
            return np.searchsorted(self._boundaries, flat.astype(np.float32), side="right").astype(np.int64)
        if self.kind == "num_buckets":
            return self._bucket_ints(flat.astype(np.int64), np.ones(len(flat), np.int32))
        text = pc.cast(pa.array(flat, pa.float64()), pa.string())
        return self.tokens_to_ids(text, np.ones(len(flat), np.int32))

    def _as_ints(self, tokens: pa.Array) -> np.ndarray:
        try:
            return np.asarray(pc.cast(tokens, pa.int64()), dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise InvalidFgInputError(self.feature, f"expected integer ids under num_buckets: {e}") from e

    def _bucket_ints(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        upper = int(self.config.num_buckets)
        if self.has_default_bucket:
            ids = np.where((ids < 0) | (ids >= upper), int(self.config.default_bucketize_value), ids)
        check_range(self.feature, ids, lengths, upper, "num_buckets")
        return ids

    def _lookup(self, tokens: pa.Array) -> np.ndarray:
        pos = pc.index_in(tokens, value_set=self._keys)
        found = np.asarray(pc.is_valid(pos), dtype=bool)
        ids = np.empty(len(tokens), dtype=np.int64)
        ids[found] = self._ids[np.asarray(pc.drop_null(pos), dtype=np.int64)]
        if self.has_default_bucket:
            ids[~found] = int(self.config.default_bucketize_value)
            return ids
        # unlisted tokens are OOV (1); default_value maps to 0 unless a vocab_list lists it
        is_default = np.asarray(pc.fill_null(pc.equal(tokens, self.default_value), False), dtype=bool)
        ids[~found] = 1
        ids[is_default & (~found if self.kind == "vocab_list" else True)] = 0
        return ids

    def fg_json(self) -> dict[str, Any]:
        """The fg.json keys of the bucketizer in use."""
        c = self.config
        out: dict[str, Any] = {}
        if self.kind == "zch":
            out["hash_bucket_size"] = ZCH_HASH_SIZE
            # not a pyfg key: the table size and eviction settings, to rebuild the feature from fg.json
            out["zch"] = json_format.MessageToDict(c.zch, preserving_proto_field_name=True)
        elif self.kind == "hash_bucket_size":
            out["hash_bucket_size"] = int(c.hash_bucket_size)
        elif self.kind == "vocab_list":
            out["vocab_list"] = list(c.vocab_list)
        elif self.kind == "vocab_dict":
            out["vocab_dict"] = {k: int(v) for k, v in c.vocab_dict.items()}
        elif self.kind == "vocab_file":
            out["vocab_file"] = c.vocab_file
            if getattr(c, "asset_dir", ""):
                out["asset_dir"] = c.asset_dir
        elif self.kind == "num_buckets":
            out["num_buckets"] = int(c.num_buckets)
        elif self.kind == "boundaries":
            out["boundaries"] = [float(b) for b in c.boundaries]
        if self.has_default_bucket:
            out["default_bucketize_value"] = int(c.default_bucketize_value)
        return out

    def assets(self) -> list[str]:
        """The vocab file this bucketizer reads, if any."""
        return [self.vocab_path] if self.kind == "vocab_file" else []
