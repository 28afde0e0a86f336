"""Zero-collision hashed tables shard row-wise with their managed-collision modules, pooled and sequence alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rec_core.config import edit_config, load_pipeline_config
from rec_core.errors import ConfigError
from rec_data.synth import generate_table
from rec_dist.optimizers import build_optimizer
from rec_dist.process_group import init_process_group
from rec_dist.setup import build_features, build_model
from rec_dist.sharding import plan_to_dict, shard_model
from rec_models.optim import sparse_optimizer_spec
from rec_models.wrappers import TrainWrapper

ROOT = Path(__file__).resolve().parents[3]
DIN = ROOT / "examples/zoo/multi_tower_din.config"
EMPTY = torch.iinfo(torch.int64).max


def shard(sparse: str):  # type: ignore[no-untyped-def]
    config = load_pipeline_config(str(DIN))
    edit_config(config, {"train_config.sparse_optimizer": {sparse: {"lr": 0.05}}})
    # user_id: a pooled table; item: the table candidate and click history share (a sequence table)
    for fc in config.feature_configs:
        for sub in [fc.id_feature] if fc.HasField("id_feature") else [f.id_feature for f in fc.sequence_feature.features]:
            if sub.feature_name == "user_id" or sub.embedding_name == "item":
                sub.zch.zch_size, sub.zch.eviction_interval = 300, 1
    device, _, _ = init_process_group()
    features, parser = build_features(config)
    model = build_model(config, features, device=torch.device("meta"))
    wrapped = shard_model(TrainWrapper(model), device, 128, sparse_optimizer_spec(config.train_config.sparse_optimizer))
    batch = parser(generate_table(config, 128, seed=1).combine_chunks().to_batches()[0])
    return wrapped, config, batch


def admitted(wrapped, table: str) -> int:  # type: ignore[no-untyped-def]
    (ids,) = [v for k, v in wrapped.state_dict().items() if k.endswith(f"_managed_collision_modules.{table}._mch_sorted_raw_ids")]
    local = ids.local_shards()[0].tensor if hasattr(ids, "local_shards") else ids
    return int((local != EMPTY).sum())


@pytest.mark.slow
def test_zch_tables_shard_row_wise_and_admit_ids_in_training() -> None:
    wrapped, config, batch = shard("adagrad_optimizer")
    plan = {t: p["sharding_type"] for tables in plan_to_dict(wrapped.plan).values() for t, p in tables.items()}
    assert plan["user_id_emb"] == plan["item"] == "row_wise"
    optimizer, _ = build_optimizer(wrapped, config.train_config)
    assert admitted(wrapped, "user_id_emb") == admitted(wrapped, "item") == 0
    wrapped.train()
    loss, _ = wrapped(batch)
    loss.backward()
    optimizer.step()
    assert admitted(wrapped, "user_id_emb") > 10 and admitted(wrapped, "item") > 10


def test_zch_tables_need_a_fused_sparse_optimizer() -> None:
    with pytest.raises(ConfigError, match=r"feature 'user_id'.zch: zch table 'user_id_emb' .* shards only row-wise"):
        shard("adam_optimizer")
