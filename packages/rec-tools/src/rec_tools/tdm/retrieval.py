"""`rec-tools tdm-retrieval`: the top items of each user row, by beam search down the TDM tree
with an exported TDM model (TorchEasyRec's tdm/retrieval).

The tree is the one the export was trained with: the node table and predict edge table that
the export's pipeline.config names in `data_config.tdm_sampler`. A candidate row is the user
row with the node's attr_fields columns (`item_id`, `cate_id`, ...) in place of the item's; the
model's `probs1` (`probs` with one class) ranks it. Output: the reserved columns and
`recall_ids` (leaf ids, best first). When the input holds the item id column, the share of
rows whose item is recalled is printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from rec_core.batch import Batch
from rec_core.errors import ConfigError, DataError
from rec_core.logging_utils import get_logger
from rec_data.samplers.tables import ItemTable, edge_arrays
from rec_features.parser import FeatureParser
from rec_tools.tdm.beam import Scorer, TreeIndex, beam_search
from rec_tools.tdm.items import split_fields
from rec_tools.tdm.tree import LEVEL_FIELD

logger = get_logger(__name__)

RECALL_COLUMN = "recall_ids"


def load_tree(sampler: Any) -> tuple[TreeIndex, ItemTable]:
    """The retrieval index and node table of a `tdm_sampler` config."""
    node_path, edge_path = sampler.item_input_path, sampler.predict_edge_input_path
    if not node_path or not edge_path:
        raise ConfigError("data_config.tdm_sampler", "needs item_input_path and predict_edge_input_path for retrieval")
    attr_fields = list(sampler.attr_fields)
    if LEVEL_FIELD not in attr_fields:
        raise ConfigError("data_config.tdm_sampler.attr_fields", f"must include {LEVEL_FIELD!r}")
    field_delimiter = sampler.field_delimiter or "\t"
    nodes = ItemTable(node_path, attr_fields, attr_delimiter=sampler.attr_delimiter or ":", field_delimiter=field_delimiter, what="TDM node table")
    try:
        levels = nodes.attrs[LEVEL_FIELD].cast(pa.int64()).fill_null(-1).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise DataError(f"{node_path}: the TDM node table's {LEVEL_FIELD} values are not integers: {e}") from e
    src, dst, _ = edge_arrays(edge_path, field_delimiter, "TDM predict edge table")
    parents, children = nodes.rows(src), nodes.rows(dst)
    # TorchEasyRec's helper node -1 (level -1) and its edge to the root take no part
    helper = (parents < 0) | (levels[parents] < 0)
    missing = np.flatnonzero(~helper & (children < 0))
    if len(missing):
        raise DataError(f"{edge_path}: node {dst[missing[0]]} (child of {src[missing[0]]}) is not in the node table {node_path}")
    keep = ~helper
    return TreeIndex.from_edges(levels, parents[keep], children[keep], where=edge_path), nodes


def node_scorer(
    users: pa.RecordBatch,
    user_columns: list[str],
    nodes: pa.Table,
    parser: FeatureParser,
    score_batch: Callable[[Batch], dict[str, torch.Tensor]],
    output: str,
    max_rows: int,
) -> Scorer:
    """A beam-search scorer of (user row, node row) pairs: the model's `output` on the paired rows."""

    def score(user_idx: np.ndarray, node_rows: np.ndarray) -> np.ndarray:
        parts = []
        for start in range(0, len(user_idx), max_rows):
            u = pa.array(user_idx[start : start + max_rows])
            n = pa.array(node_rows[start : start + max_rows])
            columns = {name: users.column(name).take(u) for name in user_columns}
            columns.update({name: nodes.column(name).take(n) for name in nodes.column_names})
            with torch.no_grad():
                predictions = score_batch(parser(pa.table(columns)))
            parts.append(predictions[output].detach().float().cpu().numpy().reshape(-1))
        return np.concatenate(parts) if parts else np.empty(0)

    return score


def run(args: argparse.Namespace) -> None:
    """`rec-tools tdm-retrieval`."""
    from rec_data.readers import create_reader
    from rec_data.writers import create_writer
    from rec_dist.predict import load_export

    if args.recall_num <= 0:
        raise ConfigError("--recall_num", f"must be positive, got {args.recall_num}")
    reserved = split_fields(args.reserved_columns)
    config, parser, score_batch = load_export(args.scripted_model_path, [])
    sampler = config.data_config.tdm_sampler
    index, nodes = load_tree(sampler)
    degree = index.children.shape[1]
    if degree != args.n_cluster:
        logger.warning("the tree has up to %d children per node; --n_cluster is %d", degree, args.n_cluster)
    output = "probs1" if config.model_config.num_class == 2 else "probs"
    node_columns = [c for c in parser.feature_columns() if c in set(sampler.attr_fields)]
    user_columns = [c for c in parser.feature_columns() if c not in set(node_columns)]
    item_field = sampler.item_id_field
    batch_size = args.batch_size or config.data_config.batch_size
    probe = create_reader(config.data_config, args.predict_input_path, batch_size=batch_size)
    absent = [c for c in user_columns + reserved if c not in probe.schema.names]
    if absent:
        raise DataError(f"{args.predict_input_path}: no column(s) {', '.join(absent)}; the model's user features read them")
    has_item = item_field in probe.schema.names
    wanted = list(dict.fromkeys(user_columns + reserved + ([item_field] if has_item else [])))
    reader = create_reader(config.data_config, args.predict_input_path, columns=wanted, batch_size=batch_size)
    rows = hits = 0
    with create_writer(args.predict_output_path, 0, kind=args.writer_type) as writer:
        for users in reader.to_batches():
            node_table = nodes.typed(users.schema).select(node_columns)
            score = node_scorer(users, user_columns, node_table, parser, score_batch, output, args.max_score_rows)
            recalled = beam_search(index, users.num_rows, score, args.recall_num, args.beam_size)
            found = recalled >= 0
            ids = nodes.ids[recalled[found]]
            offsets = np.concatenate([[0], np.cumsum(found.sum(axis=1))])
            out = {name: users.column(name) for name in reserved}
            out[RECALL_COLUMN] = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(ids, pa.int64()))
            writer.write(pa.table(out))
            rows += users.num_rows
            if has_item:
                truth = users.column(item_field).cast(pa.int64()).fill_null(-1).to_numpy()
                recalled_ids = np.where(found, nodes.ids[np.maximum(recalled, 0)], -1)
                hits += int(((recalled_ids == truth[:, None]) & found).any(axis=1).sum())
    logger.info("wrote the recall of %d rows to %s", rows, args.predict_output_path)
    if has_item and rows:
        print(f"recall@{args.recall_num}: {hits / rows:.4f} ({hits} of {rows} rows' {item_field} recalled)")

