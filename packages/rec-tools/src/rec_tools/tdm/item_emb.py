"""`rec-tools tdm-item-emb`: the item embeddings a trained TDM model learned, for tdm-cluster-tree.

An item's embedding is the TDM node representation of the item as a leaf: the embeddings of
the query features of the model's SEQUENCE group (`item_id`, `cate_id`, ...) concatenated, as
the model's multi-window DIN attends from them (TorchEasyRec's `item_emb`). They come from a
checkpoint; the user-side inputs the model also reads are left empty, as they do not enter
the query. Output: the item table's distinct items with their attr columns and `item_emb`.
"""

from __future__ import annotations

import argparse

import numpy as np
import pyarrow as pa
import torch

from rec_core.errors import ConfigError
from rec_features.parser import FeatureParser
from rec_tools.tdm.items import read_items, split_fields


def item_embeddings(model: torch.nn.Module, parser: FeatureParser, items: pa.Table, batch_size: int = 4096) -> np.ndarray:
    """[items, dim] the TDM model's node (query) embeddings of the item rows."""
    group = getattr(model, "sequence_group", None)
    if group is None:
        raise ConfigError("model_config", f"tdm-item-emb needs a TDM model, got {type(model).__name__}")
    missing = [c for c in parser.feature_columns() if c not in items.column_names]
    parts = []
    for start in range(0, items.num_rows, batch_size):
        rows = items.slice(start, batch_size)
        for name in missing:  # user-side inputs: empty, the query does not read them
            rows = rows.append_column(name, pa.nulls(rows.num_rows, pa.string()))
        with torch.no_grad():
            groups = model.embedding_group(parser(rows))  # type: ignore[operator]
        parts.append(groups[f"{group}.query"].float().numpy())
    return np.concatenate(parts)


def run(args: argparse.Namespace) -> None:
    """`rec-tools tdm-item-emb`."""
    from rec_data.writers import create_writer
    from rec_dist.predict import load_checkpoint_model
    from rec_dist.setup import build_features, prepare_config

    config = prepare_config(args.pipeline_config_path)
    _, parser = build_features(config, with_labels=False)
    model = load_checkpoint_model(config, args.checkpoint_path)
    feature_inputs = [c for c in parser.feature_columns() if c in set(config.data_config.tdm_sampler.attr_fields)]
    attrs = split_fields(args.attr_fields)
    items = read_items(args.item_input_path, args.item_id_field, feature_inputs, attrs, [], args.reader_type)
    emb = item_embeddings(model, parser, items.table.select(list(dict.fromkeys([args.item_id_field, *feature_inputs]))), args.batch_size)
    out = items.table.select(list(dict.fromkeys([args.item_id_field, *feature_inputs, *attrs])))
    out = out.append_column(args.embedding_field, pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), emb.shape[1]))
    with create_writer(args.embedding_output_path, 0, kind=args.writer_type) as writer:
        writer.write(out)
    print(f"{args.embedding_output_path}: {out.num_rows} item embeddings of width {emb.shape[1]}")
