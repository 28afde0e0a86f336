"""Embedding tables are updated by the sparse optimizer only, fused into backward or not."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from rec_core.config import edit_config, load_pipeline_config
from rec_dist.optimizers import build_optimizer
from rec_dist.process_group import init_process_group
from rec_dist.setup import build_features, build_model
from rec_dist.sharding import shard_model
from rec_models.optim import sparse_optimizer_spec
from rec_models.wrappers import TrainWrapper

ROOT = Path(__file__).resolve().parents[3]


def _table_change(sparse: str, sparse_lr: float, dense_lr: float) -> float:
    config = load_pipeline_config(str(ROOT / "examples/quickstart/deepfm.config"))
    edit_config(
        config,
        {
            "train_config.sparse_optimizer": {sparse: {"lr": sparse_lr}},
            "train_config.dense_optimizer": {"adam_optimizer": {"lr": dense_lr}},
        },
    )
    device, _, _ = init_process_group()
    features, parser = build_features(config)
    model = build_model(config, features, device=torch.device("meta"))
    wrapped = shard_model(TrainWrapper(model), device, 256, sparse_optimizer_spec(config.train_config.sparse_optimizer))
    optimizer, _ = build_optimizer(wrapped, config.train_config)
    table = pq.read_table(ROOT / "examples/quickstart/data/train.parquet").slice(0, 256).combine_chunks()
    batch = parser(table.to_batches()[0])

    def weights() -> torch.Tensor:
        key = next(k for k in wrapped.state_dict() if k.endswith("ebc.embedding_bags.user_id_emb.weight"))
        w = wrapped.state_dict()[key]
        return (w.local_shards()[0].tensor if hasattr(w, "local_shards") else w).detach().clone()

    before = weights()
    loss, _ = wrapped(batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float((weights() - before).abs().sum())


@pytest.mark.parametrize("sparse", ["adagrad_optimizer", "adam_optimizer"], ids=["fused", "dense-kernel"])
def test_tables_follow_the_sparse_optimizer(sparse: str) -> None:
    assert _table_change(sparse, sparse_lr=0.05, dense_lr=0.0) > 0
    assert _table_change(sparse, sparse_lr=0.0, dense_lr=0.05) == 0
