"""`rec-tools create-faiss-index`: a FAISS index over an item-embedding table, built in batches.

Writes `<index_output_dir>/faiss_index` (faiss.write_index), `id_mapping` (one item id per
line, in index order: the i-th vector is the item on line i) and `index_meta.json`.
Index types are TorchEasyRec's: IVFFlatIP, IVFFlatL2, HNSWFlatIP, HNSWFlatL2; FlatIP and
FlatL2 search exhaustively (brute force, the reference the others are measured against).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError, DataError
from rec_core.fs import atomic_write
from rec_core.logging_utils import get_logger
from rec_tools.tables import read_batches

logger = get_logger(__name__)

INDEX_FILE = "faiss_index"
ID_MAPPING_FILE = "id_mapping"
META_FILE = "index_meta.json"
INDEX_TYPES = ("IVFFlatIP", "IVFFlatL2", "HNSWFlatIP", "HNSWFlatL2", "FlatIP", "FlatL2")
# faiss warns below ~39 training points per IVF list
TRAIN_POINTS_PER_LIST = 39


@dataclass
class IndexParams:
    """How to build an index: type and its IVF / HNSW settings."""

    index_type: str = "IVFFlatIP"
    ivf_nlist: int = 1000
    hnsw_M: int = 32  # noqa: N815 (TorchEasyRec's argument name)
    hnsw_efConstruction: int = 200  # noqa: N815

    def __post_init__(self) -> None:
        if self.index_type not in INDEX_TYPES:
            raise ConfigError("--index_type", f"{self.index_type!r} is not one of {', '.join(INDEX_TYPES)}")
        for name in ("ivf_nlist", "hnsw_M", "hnsw_efConstruction"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name}", f"must be positive, got {getattr(self, name)}")

    @property
    def inner_product(self) -> bool:
        """True for the IP (inner product) metric, False for L2."""
        return self.index_type.endswith("IP")


def to_matrix(column: pa.Array | pa.ChunkedArray, where: str, expected_dim: int | None = None) -> np.ndarray:
    """[rows, dim] float32 from a list<float> column or strings of numbers joined by ','.

    A null row, a row of another width than the first (or than `expected_dim`) or a bad
    number is a DataError naming the row of `where`.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.split_pattern(column, ",")
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type) or pa.types.is_fixed_size_list(column.type)):
        raise DataError(f"{where}: expected a list of numbers or a ',' joined string per row, got type {column.type}")
    if column.null_count:
        row = int(np.flatnonzero(np.asarray(column.is_null()))[0])
        raise DataError(f"{where}: row {row} has no embedding")
    lengths = np.asarray(pc.list_value_length(column), np.int64)
    dim = expected_dim or (int(lengths[0]) if len(lengths) else 0)
    bad = np.flatnonzero(lengths != dim)
    if len(bad):
        raise DataError(f"{where}: row {int(bad[0])} has an embedding of width {int(lengths[bad[0]])}, expected {dim}")
    values = pc.list_flatten(column)
    try:
        flat = np.asarray(values.cast(pa.float32()), np.float32)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise DataError(f"{where}: embedding values are not numbers: {e}") from e
    return flat.reshape(len(lengths), dim)


def read_embeddings(path: str, id_field: str, embedding_field: str, batch_size: int, reader_type: str | None = None, dim: int | None = None) -> Iterator[tuple[list[Any], np.ndarray]]:
    """(ids, [rows, dim] float32) per batch; every batch has the width of the first (or `dim`)."""
    seen = 0
    for batch in read_batches(path, [id_field, embedding_field], reader_type, batch_size):
        where = f"{path}: column {embedding_field!r} (rows from {seen})"
        matrix = to_matrix(batch.column(embedding_field), where, dim)
        dim = dim or matrix.shape[1]
        seen += batch.num_rows
        yield batch.column(id_field).to_pylist(), matrix


def _new_index(params: IndexParams, dim: int, nlist: int) -> Any:
    import faiss

    metric = faiss.METRIC_INNER_PRODUCT if params.inner_product else faiss.METRIC_L2
    # the factory's index owns its parts (the IVF quantizer), so nothing dangles when it is freed
    if params.index_type.startswith("IVF"):
        return faiss.index_factory(dim, f"IVF{nlist},Flat", metric)
    if params.index_type.startswith("HNSW"):
        index = faiss.index_factory(dim, f"HNSW{params.hnsw_M},Flat", metric)
        index.hnsw.efConstruction = params.hnsw_efConstruction
        return index
    return faiss.index_factory(dim, "Flat", metric)


def build_index(batches: Iterator[tuple[list[Any], np.ndarray]], params: IndexParams) -> tuple[Any, list[Any], dict[str, Any]]:
    """(index, ids in index order, meta) from embedding batches.

    IVF indexes train on the first `39 * nlist` vectors (held back until then), then take
    every batch; nlist is lowered to the number of training vectors when the table is smaller.
    """
    index: Any = None
    ids: list[Any] = []
    pending: list[np.ndarray] = []
    nlist = params.ivf_nlist
    need = TRAIN_POINTS_PER_LIST * nlist if params.index_type.startswith("IVF") else 0

    def start(first: np.ndarray) -> Any:
        nonlocal nlist
        if params.index_type.startswith("IVF") and len(first) < nlist:
            logger.warning("only %d vectors to train %d IVF lists: using nlist=%d", len(first), nlist, len(first))
            nlist = len(first)
        made = _new_index(params, first.shape[1], nlist)
        if not made.is_trained:
            made.train(first)
        made.add(first)
        return made

    for batch_ids, matrix in batches:
        ids.extend(batch_ids)
        if index is None:
            pending.append(matrix)
            if sum(len(m) for m in pending) < need:
                continue
            index = start(np.concatenate(pending))
            pending = []
        else:
            index.add(matrix)
        logger.info("indexed %d vectors", index.ntotal)
    if index is None:
        if not pending:
            raise DataError("the embedding table has no rows")
        index = start(np.concatenate(pending))
    meta = {"index_type": params.index_type, "dim": int(index.d), "count": int(index.ntotal), "metric": "IP" if params.inner_product else "L2"}
    if params.index_type.startswith("IVF"):
        meta["ivf_nlist"] = nlist
    if params.index_type.startswith("HNSW"):
        meta.update(hnsw_M=params.hnsw_M, hnsw_efConstruction=params.hnsw_efConstruction)
    return index, ids, meta


def write_index(index: Any, ids: list[Any], meta: dict[str, Any], out_dir: str) -> None:
    """faiss_index, id_mapping and index_meta.json in out_dir."""
    import faiss

    os.makedirs(out_dir, exist_ok=True)
    tmp = os.path.join(out_dir, f".{INDEX_FILE}.tmp")
    faiss.write_index(index, tmp)
    os.replace(tmp, os.path.join(out_dir, INDEX_FILE))
    with atomic_write(os.path.join(out_dir, ID_MAPPING_FILE)) as f:
        f.writelines(f"{i}\n" for i in ids)
    with atomic_write(os.path.join(out_dir, META_FILE)) as f:
        json.dump(meta, f, indent=1)


def load_index(index_dir: str) -> tuple[Any, list[str], dict[str, Any]]:
    """(index, ids as text, meta) written by write_index."""
    import faiss

    path = os.path.join(index_dir, INDEX_FILE)
    if not os.path.isfile(path):
        raise DataError(f"{index_dir!r} holds no {INDEX_FILE} (made by rec-tools create-faiss-index)")
    index = faiss.read_index(path)
    with open(os.path.join(index_dir, ID_MAPPING_FILE)) as f:
        ids = [line.rstrip("\n") for line in f]
    with open(os.path.join(index_dir, META_FILE)) as f:
        meta = json.load(f)
    if len(ids) != index.ntotal:
        raise DataError(f"{index_dir}: id_mapping has {len(ids)} ids for {index.ntotal} vectors")
    return index, ids, meta


def run(args: argparse.Namespace) -> None:
    """`rec-tools create-faiss-index`."""
    if args.batch_size <= 0:
        raise ConfigError("--batch_size", f"must be positive, got {args.batch_size}")
    params = IndexParams(args.index_type, args.ivf_nlist, args.hnsw_M, args.hnsw_efConstruction)
    batches = read_embeddings(args.embedding_input_path, args.id_field, args.embedding_field, args.batch_size, args.reader_type, args.embedding_dim)
    index, ids, meta = build_index(batches, params)
    write_index(index, ids, meta, args.index_output_dir)
    print(f"{args.index_output_dir}: {meta['index_type']} index of {meta['count']} vectors of width {meta['dim']}")
