"""`rec-tools hitrate`: recall@K of user embeddings against an item index, for a ground-truth table.

Each request row has a user embedding and its ground-truth item ids. The top_k items the
index returns for the embedding are compared with them: the total hit rate is all hits over
all ground-truth items (TorchEasyRec's definition), the per-request rate is written to
--hitrate_details_output when given.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError, DataError
from rec_core.fs import atomic_write
from rec_core.logging_utils import get_logger
from rec_tools.faiss_index import IndexParams, build_index, load_index, read_embeddings, to_matrix
from rec_tools.tables import read_batches

logger = get_logger(__name__)


def _ids(column: pa.Array, where: str) -> list[list[str]]:
    """Ground-truth ids per row as text: a list column, or strings of ids joined by ','."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.split_pattern(pc.fill_null(column, ""), ",")
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise DataError(f"{where}: expected a list of item ids or a ',' joined string per row, got type {column.type}")
    return [[str(i) for i in row if i != ""] if row else [] for row in column.to_pylist()]


def _set_search_params(index: Any, meta: dict[str, Any], nprobe: int, ef_search: int) -> None:
    import faiss

    if meta["index_type"].startswith("IVF"):
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = min(nprobe, ivf.nlist)
    elif meta["index_type"].startswith("HNSW"):
        index.hnsw.efSearch = max(ef_search, 1)


def _index(args: argparse.Namespace) -> tuple[Any, list[str], dict[str, Any]]:
    if bool(args.index_dir) == bool(args.item_embedding_input):
        raise ConfigError("--index_dir", "give either --index_dir (an index made by create-faiss-index) or --item_embedding_input")
    if args.index_dir:
        return load_index(args.index_dir)
    params = IndexParams(args.index_type, args.ivf_nlist)
    batches = read_embeddings(args.item_embedding_input, args.item_id_field, args.item_embedding_field, args.batch_size, args.reader_type)
    index, ids, meta = build_index(batches, params)
    return index, [str(i) for i in ids], meta


def hitrate(args: argparse.Namespace) -> dict[str, Any]:
    """Search every request, write the outputs, return the totals."""
    if args.top_k <= 0:
        raise ConfigError("--top_k", f"must be positive, got {args.top_k}")
    index, item_ids, meta = _index(args)
    _set_search_params(index, meta, args.ivf_nprobe, args.hnsw_efSearch)
    columns = [args.request_id_field, args.user_embedding_field, args.gt_items_field]
    details: dict[str, list[Any]] = {"request_id": [], "topk_ids": [], "hits": [], "gt_count": [], "hitrate": []}
    hits_total = gt_total = requests = 0
    for batch in read_batches(args.user_gt_input, columns, args.reader_type, args.batch_size):
        where = f"{args.user_gt_input}: column {args.user_embedding_field!r} (rows from {requests})"
        queries = to_matrix(batch.column(args.user_embedding_field), where)
        if queries.shape[1] != meta["dim"]:
            raise DataError(f"{where}: user embeddings have width {queries.shape[1]}, the item index has width {meta['dim']}")
        _, found = index.search(queries, args.top_k)
        truth = _ids(batch.column(args.gt_items_field), f"{args.user_gt_input}: column {args.gt_items_field!r}")
        for rid, row, gt in zip(batch.column(args.request_id_field).to_pylist(), found, truth):
            top = [item_ids[i] for i in row if i >= 0]
            hits = len(set(top) & set(gt))
            hits_total += hits
            gt_total += len(gt)
            details["request_id"].append(rid)
            details["topk_ids"].append(top)
            details["hits"].append(hits)
            details["gt_count"].append(len(gt))
            details["hitrate"].append(hits / len(gt) if gt else 0.0)
        requests += batch.num_rows
    total = {"hitrate": hits_total / gt_total if gt_total else 0.0, "top_k": args.top_k, "requests": requests, "hits": hits_total, "gt_items": gt_total, "index": meta}
    with atomic_write(args.total_hitrate_output) as f:
        json.dump(total, f, indent=1)
    if args.hitrate_details_output:
        from rec_data.writers import create_writer

        kind = "csv" if args.hitrate_details_output.endswith(".csv") else "parquet"
        table = pa.table(details)
        if kind == "csv":
            table = table.set_column(1, "topk_ids", pc.binary_join(table["topk_ids"], ","))
        os.makedirs(os.path.dirname(os.path.abspath(args.hitrate_details_output)), exist_ok=True)
        with create_writer(args.hitrate_details_output, kind=kind) as writer:
            writer.write(table)
    return total


def run(args: argparse.Namespace) -> None:
    """`rec-tools hitrate`."""
    total = hitrate(args)
    print(f"hitrate@{total['top_k']}={total['hitrate']:.6f} over {total['requests']} request(s) ({total['hits']}/{total['gt_items']} ground-truth items found)")
