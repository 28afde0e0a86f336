"""Synthetic data for a pipeline config, with labels a model can learn.

Every column is drawn from its own generator seeded by (seed, column, chunk), so values are
reproducible. The label concept comes from `label_seed` alone: each categorical value gets
a fixed random effect and each numeric column a fixed weight, both derived by hashing, and
label = Bernoulli(sigmoid(sum of effects)). Files written with different seeds but one
label_seed therefore share a concept, e.g. a training set and a held-out evaluation set.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError, DataError
from rec_core.logging_utils import get_logger

from rec_data.fields import arrow_type, input_fields
from rec_data.synth_plan import MAX_CARDINALITY, ColumnSpec, plan_columns
from rec_data.writers import ArrowWriter, CsvWriter, ParquetWriter

logger = get_logger(__name__)

CHUNK_ROWS = 65536
NULL_RATE = 0.02
# Scale of the summed, variance-normalised effects: strong enough that a plain model
# (logistic regression, DeepFM) separates classes well on a few thousand rows.
SIGNAL = 3.5
ZIPF_EXPONENT = 1.1

Effect = Callable[[str], np.ndarray]


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def hash_uniform(label_seed: int, key: str, ids: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random number in [-1, 1) per (label_seed, key, id), by SplitMix64."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) ^ np.uint64(_stable_hash(f"{label_seed}/{key}"))
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 52) - 1.0


@functools.lru_cache(maxsize=64)
def _zipf_cdf(cardinality: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, cardinality + 1, dtype=np.float64) ** ZIPF_EXPONENT
    return np.cumsum(weights) / weights.sum()


def _zipf(rng: np.random.Generator, cardinality: int, n: int) -> np.ndarray:
    # A few values are common, so their effects can be learned from modest data.
    c = max(1, min(cardinality, MAX_CARDINALITY))
    return np.minimum(np.searchsorted(_zipf_cdf(c), rng.random(n), side="right"), c - 1)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)


def _row_mean(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    sums = np.add.reduceat(values, _offsets(lengths)[:-1]) if len(values) else np.zeros(len(lengths))
    return sums / np.maximum(lengths, 1)


def _join(strings: pa.Array, lengths: np.ndarray, sep: str) -> pa.Array:
    lists = pa.ListArray.from_arrays(pa.array(_offsets(lengths)), strings)
    return pc.binary_join(lists, sep)


@dataclass
class _Column:
    array: pa.Array
    effect: Effect | None  # label_key -> per-row effect with about unit variance


def _seq_lengths(spec: ColumnSpec, seed: int, chunk: int, n: int) -> np.ndarray:
    """Per-row sequence lengths, shared by the columns of one sequence group."""
    rng = np.random.default_rng([seed, _stable_hash(f"seq:{spec.seq_group}"), chunk])
    return rng.integers(1, spec.seq_len + 1, n)


def _cat_column(
    spec: ColumnSpec, rng: np.random.Generator, lengths: np.ndarray, text: bool, label_seed: int
) -> _Column:
    n = len(lengths)
    ids = _zipf(rng, spec.cardinality, int(lengths.sum()))
    nulls = rng.random(n) < NULL_RATE if spec.nullable else np.zeros(n, bool)
    if spec.vocab:
        values: pa.Array = pa.array(np.asarray(spec.vocab, dtype=object)[ids], pa.string())
    elif spec.as_string:
        values = pc.binary_join_element_wise(f"{spec.name}_", pc.cast(pa.array(ids), pa.string()), "")
    else:
        values = pa.array(ids, pa.int64())
    if spec.weighted:
        weights = np.round(rng.uniform(0.1, 2.0, len(ids)), 3).astype(str)
        values = pc.binary_join_element_wise(pc.cast(values, pa.string()), pa.array(weights), ":")
    mask = pa.array(nulls)
    if spec.seq_len:
        if text:
            array = _join(pc.cast(values, pa.string()), lengths, spec.seq_delim)
        else:
            array = pa.ListArray.from_arrays(pa.array(_offsets(lengths)), values)
        array = pc.if_else(mask, pa.scalar(None, array.type), array)
    else:
        array = pc.if_else(mask, pa.scalar(None, values.type), values)

    def effect(key: str) -> np.ndarray:
        per_value = math.sqrt(3.0) * hash_uniform(label_seed, f"{key}/{spec.name}", ids)
        return np.where(nulls, 0.0, _row_mean(per_value, lengths) * np.sqrt(np.minimum(lengths, 4)))

    return _Column(array, effect if spec.label_effect else None)


def _float_values(spec: ColumnSpec, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` values and their unit-variance signal (the bucket index when boundaries exist)."""
    if not spec.boundaries:
        z = rng.standard_normal(count)
        return (np.exp(z) if spec.positive else z), z
    edges = np.asarray(spec.boundaries, np.float64)
    span = (edges[-1] - edges[0]) / max(1, len(edges) - 1) or 1.0
    lo = np.concatenate([[edges[0] - span], edges])
    hi = np.concatenate([edges, [edges[-1] + span]])
    bucket = rng.integers(0, len(lo), count)
    v = lo[bucket] + (hi[bucket] - lo[bucket]) * rng.random(count)
    signal = (bucket - (len(lo) - 1) / 2) / (np.std(np.arange(len(lo))) or 1.0)
    return v, signal


def _float_column(
    spec: ColumnSpec, rng: np.random.Generator, lengths: np.ndarray, text: bool, label_seed: int
) -> _Column:
    values, signal = _float_values(spec, rng, int(lengths.sum()))
    flat = pa.array(values.astype(np.float32))
    if spec.seq_len or spec.dim > 1:
        sep = spec.seq_delim if spec.seq_len else spec.list_sep
        if text:
            array = _join(pc.cast(flat, pa.string()), lengths, sep)
        else:
            array = pa.ListArray.from_arrays(pa.array(_offsets(lengths)), flat)
    else:
        array = flat

    def effect(key: str) -> np.ndarray:
        u = hash_uniform(label_seed, f"{key}/{spec.name}", np.zeros(1, np.int64))[0]
        weight = math.copysign(0.5 + abs(u), u)
        return weight * _row_mean(signal, lengths) * np.sqrt(np.minimum(lengths, 4))

    return _Column(array, effect if spec.label_effect else None)


def _text_column(spec: ColumnSpec, rng: np.random.Generator, n: int, label_seed: int) -> _Column:
    """Key-value and token strings: lookup maps, match maps, kv vectors, token lists."""
    rows = []
    for _ in range(n):
        if spec.kind == "match_map":
            parts = []
            for p in rng.choice(spec.keys, 2, replace=False):
                pairs = ",".join(f"s{s}:{rng.random():.3f}" for s in rng.choice(spec.keys, 2, replace=False))
                parts.append(f"p{p}^{pairs}")
            rows.append("|".join(parts))
        elif spec.kind == "tokens":
            rows.append(spec.list_sep.join(f"w{t}" for t in _zipf(rng, spec.keys, int(rng.integers(1, 7)))))
        else:
            keys = rng.choice(spec.keys, int(rng.integers(1, 5)), replace=False)
            if spec.kind == "lookup_map" and spec.as_string:
                vals = [f"v{int(rng.integers(0, 100))}" for _ in keys]
            else:
                vals = [f"{rng.random() * 2:.3f}" for _ in keys]
            rows.append(spec.list_sep.join(f"{spec.key_prefix}{k}{spec.kv_delim}{v}" for k, v in zip(keys, vals, strict=True)))
    return _Column(pa.array(rows, pa.string()), None)


def _column(spec: ColumnSpec, seed: int, chunk: int, n: int, text: bool, label_seed: int) -> _Column:
    rng = np.random.default_rng([seed, _stable_hash(spec.name), chunk])
    if spec.seq_len:
        lengths = _seq_lengths(spec, seed, chunk, n)
    else:
        lengths = np.full(n, spec.dim if spec.kind == "float" else 1, np.int64)
    if spec.kind == "cat":
        return _cat_column(spec, rng, lengths, text or spec.text_lists, label_seed)
    if spec.kind == "float":
        return _float_column(spec, rng, lengths, text or spec.text_lists, label_seed)
    if spec.kind == "flag":
        return _Column(pa.array(rng.integers(0, 2, n)), None)
    return _text_column(spec, rng, n, label_seed)


def _labels(columns: list[_Column], label_fields: list[str], seed: int, chunk: int, n: int) -> dict[str, pa.Array]:
    effects = [c.effect for c in columns if c.effect is not None]
    out = {}
    for name in label_fields:
        total = np.zeros(n)
        for effect in effects:
            total += effect(name)
        logit = SIGNAL * total / math.sqrt(max(1, len(effects)))
        rng = np.random.default_rng([seed, _stable_hash(f"label:{name}"), chunk])
        p = 1.0 / (1.0 + np.exp(-logit))
        out[name] = pa.array((rng.random(n) < p).astype(np.int64))
    return out


def _conform_to_declared(chunk: dict[str, pa.Array], declared: dict[str, str]) -> dict[str, pa.Array]:
    """Cast columns to the types the DataConfig declares for them (CSV schemas)."""
    for name, type_name in declared.items():
        if name in chunk and not chunk[name].type.equals(arrow_type(type_name)):
            try:
                chunk[name] = pc.cast(chunk[name], arrow_type(type_name))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise ConfigError(
                    "data_config.input_fields",
                    f"column {name!r} is declared {type_name} but synth makes {chunk[name].type}: {e}",
                ) from e
    return chunk


def generate_chunk(config: Any, specs: list[ColumnSpec], seed: int, label_seed: int, chunk: int, n: int, text: bool) -> pa.Table:
    """Rows chunk*CHUNK_ROWS.. of the synthetic table (n rows), deterministic in its arguments."""
    data = config.data_config
    columns = [_column(s, seed, chunk, n, text, label_seed) for s in specs]
    arrays = {s.name: c.array for s, c in zip(specs, columns, strict=True)}
    arrays.update(_labels(columns, list(data.label_fields), seed, chunk, n))
    for name in data.sample_weight_fields:
        arrays.setdefault(name, pa.array(np.ones(n, np.float32)))
    if text:
        arrays = _conform_to_declared(arrays, dict(input_fields(data) or ()))
    return pa.table(arrays)


def generate_table(config: Any, num_rows: int, seed: int = 0, label_seed: int = 0, fmt: str = "parquet") -> pa.Table:
    """The whole synthetic table in memory (for tests and small data)."""
    specs = plan_columns(config)
    chunks = [
        generate_chunk(config, specs, seed, label_seed, c, min(CHUNK_ROWS, num_rows - c * CHUNK_ROWS), fmt == "csv")
        for c in range(math.ceil(num_rows / CHUNK_ROWS))
    ]
    return pa.concat_tables(chunks)


_FIELD_TYPES = {"int64": "INT64", "int32": "INT32", "string": "STRING", "float": "FLOAT", "double": "DOUBLE"}


def _fields_str(schema: pa.Schema) -> str:
    return "".join(f"{f.name}:{_FIELD_TYPES.get(str(f.type), 'STRING')};" for f in schema)


def _row_group_size(num_rows: int) -> int:
    # About 64 row groups in all, so many ranks x workers can share the data.
    return int(min(65536, max(256, math.ceil(num_rows / 64))))


def write_synth(
    config: Any,
    num_rows: int,
    output: str,
    *,
    seed: int = 0,
    label_seed: int = 0,
    fmt: str = "parquet",
    num_files: int = 1,
) -> list[str]:
    """Write `num_rows` synthetic rows for `config` to `output` in `num_files` files; return their paths."""
    if fmt not in ("parquet", "csv", "arrow"):
        raise DataError(f"unknown format {fmt!r}; expected parquet, csv or arrow")
    if num_rows <= 0 or num_files <= 0:
        raise DataError(f"num_rows and num_files must be positive, got {num_rows} and {num_files}")
    if num_files > num_rows:
        raise DataError(f"num_files ({num_files}) is more than num_rows ({num_rows})")
    single = output.endswith(f".{fmt}") or (fmt == "arrow" and output.endswith(".feather"))
    if single and num_files > 1:
        raise DataError(f"--output {output!r} names one file but --num_files is {num_files}; give a directory")
    specs = plan_columns(config)
    data = config.data_config
    bounds = [num_rows * i // num_files for i in range(num_files + 1)]
    writers = []
    for i in range(num_files):
        if fmt == "csv":
            writers.append(CsvWriter(output, i, delimiter=data.delimiter or ",", include_header=data.with_header))
        elif fmt == "arrow":
            # Record batches of about the Parquet row-group size, so readers can share a file.
            writers.append(ArrowWriter(output, i, max_chunksize=_row_group_size(num_rows)))
        else:
            writers.append(ParquetWriter(output, i, row_group_size=_row_group_size(num_rows)))
    try:
        for c in range(math.ceil(num_rows / CHUNK_ROWS)):
            start = c * CHUNK_ROWS
            n = min(CHUNK_ROWS, num_rows - start)
            table = generate_chunk(config, specs, seed, label_seed, c, n, fmt == "csv")
            for i, w in enumerate(writers):
                lo, hi = max(bounds[i], start), min(bounds[i + 1], start + n)
                if lo < hi:
                    w.write(table.slice(lo - start, hi - lo))
    except BaseException:
        for w in writers:
            w.abort()
        raise
    for w in writers:
        w.close()
    if fmt == "csv" and not data.with_header and input_fields(data) is None:
        logger.warning(
            "the CSV has no header and data_config declares no columns; to read it add "
            'input_fields_str: "%s"',
            _fields_str(table.schema),
        )
    paths = [w.path for w in writers]
    logger.info("wrote %d rows, %d columns to %s", num_rows, len(specs) + len(data.label_fields), ", ".join(paths))
    return paths
