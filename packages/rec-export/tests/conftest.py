"""A small DeepFM with a vocab-file feature, its data and checkpoints, shared by rec-export's tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

# paths, optimizers and data settings both test configs share
HEADER = """
train_input_path: "{data}"
eval_input_path: "{data}"
model_dir: "{model_dir}"
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.05 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.002 }} constant_learning_rate {{}} }}
  num_steps: 1
}}
data_config {{ batch_size: 64 dataset_type: ParquetDataset fg_mode: FG_NORMAL label_fields: "clk" num_workers: 1 }}
"""
CONFIG = HEADER + """
feature_configs {{ id_feature {{ feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 hash_bucket_size: 100 }} }}
feature_configs {{ id_feature {{ feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 hash_bucket_size: 100 }} }}
feature_configs {{
  id_feature {{
    feature_name: "tag" expression: "item:tag" embedding_dim: 8
    vocab_file: "tags.txt" asset_dir: "{asset_dir}" default_bucketize_value: 1
  }}
}}
feature_configs {{ id_feature {{ feature_name: "hour" expression: "context:hour" embedding_dim: 8 num_buckets: 24 }} }}
feature_configs {{ raw_feature {{ feature_name: "age" expression: "user:age" boundaries: [18, 30, 50] embedding_dim: 8 }} }}
feature_configs {{ raw_feature {{ feature_name: "price" expression: "item:price" }} }}
model_config {{
  feature_groups {{ group_name: "wide" feature_names: ["user_id", "item_id", "tag", "hour", "age"] group_type: WIDE }}
  feature_groups {{ group_name: "fm" feature_names: ["user_id", "item_id", "tag", "hour", "age"] group_type: DEEP }}
  feature_groups {{ group_name: "deep" feature_names: ["user_id", "item_id", "tag", "hour", "age", "price"] group_type: DEEP }}
  deepfm {{ deep {{ hidden_units: [16] }} final {{ hidden_units: [8] }} }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""
TAGS = ["red", "green", "blue", "black"]


def make_rows(n: int, seed: int = 0) -> pa.Table:
    """Raw rows of the test schema (a few null tags and unknown tags included)."""
    rng = np.random.default_rng(seed)
    tags = [TAGS[i] if i < len(TAGS) else ("pink" if i == len(TAGS) else None) for i in rng.integers(0, len(TAGS) + 2, n)]
    return pa.table({
        "user_id": pa.array(rng.integers(0, 50, n)),
        "item_id": pa.array([f"i{v}" for v in rng.integers(0, 80, n)]),
        "tag": pa.array(tags, pa.string()),
        "hour": pa.array(rng.integers(0, 24, n)),
        "age": pa.array(rng.uniform(10, 70, n)),
        "price": pa.array(rng.uniform(0, 5, n).astype(np.float32)),
        "clk": pa.array(rng.integers(0, 2, n)),
    })


def save_model_checkpoint(config_path: str, step: int, seed: int) -> str:
    """A checkpoint of the config's model with random weights from `seed`."""
    from rec_dist import checkpoint as ckpt
    from rec_dist.setup import build_features, build_model, prepare_config
    from rec_models.wrappers import TrainWrapper

    torch.manual_seed(seed)
    config = prepare_config(config_path)
    features, _ = build_features(config)
    model = build_model(config, features)
    return ckpt.save_checkpoint(config.model_dir, step, TrainWrapper(model), None, {"world_size": 1}, rank=0)


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Config, data, a vocab asset and two checkpoints (steps 10 and 20) with eval results."""
    root = tmp_path_factory.mktemp("project")
    assets = root / "assets"
    assets.mkdir()
    (assets / "tags.txt").write_text("\n".join(["<default>", "<oov>", *TAGS]) + "\n")
    data = root / "rows.parquet"
    pq.write_table(make_rows(300), data)
    config = root / "pipeline.config"
    config.write_text(CONFIG.format(data=data, model_dir=root / "model", asset_dir=assets))
    save_model_checkpoint(str(config), 10, seed=1)
    save_model_checkpoint(str(config), 20, seed=2)
    results = [{"global_step": 10, "auc": 0.8, "loss": 0.4}, {"global_step": 20, "auc": 0.7, "loss": 0.5}]
    (root / "model" / "train_eval_result_v2.txt").write_text("".join(json.dumps(r) + "\n" for r in results))
    return {"root": root, "config": config, "data": data, "model_dir": root / "model", "assets": assets}


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from no export flags."""
    for name in ("QUANT_EMB", "QUANT_EC_EMB", "ENABLE_AOT", "ENABLE_TRT", "INPUT_TILE", "MAX_EXPORT_BATCH_SIZE", "LOCAL_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)


SEQ_CONFIG = HEADER + """
feature_configs {{ id_feature {{ feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 hash_bucket_size: 200 }} }}
feature_configs {{ id_feature {{ feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 hash_bucket_size: 500 embedding_name: "item" }} }}
feature_configs {{
  sequence_feature {{
    sequence_name: "click_seq" sequence_length: 10 sequence_delim: ";"
    features {{ id_feature {{ feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 hash_bucket_size: 500 embedding_name: "item" }} }}
  }}
}}
model_config {{
  feature_groups {{ group_name: "user" feature_names: ["user_id"] group_type: DEEP }}
  feature_groups {{ group_name: "item" feature_names: ["item_id"] group_type: DEEP }}
  feature_groups {{ group_name: "click_seq" feature_names: ["item_id", "click_seq__item_id"] group_type: SEQUENCE }}
  multi_tower_din {{
    towers {{ input: "user" mlp {{ hidden_units: [8] }} }}
    towers {{ input: "item" mlp {{ hidden_units: [8] }} }}
    din_towers {{ input: "click_seq" attn_mlp {{ hidden_units: [8] }} }}
    final {{ hidden_units: [8] }}
  }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""


@pytest.fixture(scope="session")
def seq_project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A MultiTowerDIN over a click sequence (an EmbeddingCollection table), its data and a checkpoint."""
    from rec_core.config import load_pipeline_config
    from rec_data.synth import generate_table

    root = tmp_path_factory.mktemp("seq_project")
    data = root / "rows.parquet"
    config = root / "pipeline.config"
    config.write_text(SEQ_CONFIG.format(data=data, model_dir=root / "model"))
    pq.write_table(generate_table(load_pipeline_config(str(config)), 300, seed=1), data)
    save_model_checkpoint(str(config), 5, seed=3)
    return {"root": root, "config": config, "data": data}


MATCH_CONFIG = HEADER + """
feature_configs {{ id_feature {{ feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 hash_bucket_size: 200 }} }}
feature_configs {{ raw_feature {{ feature_name: "age" expression: "user:age" boundaries: [18, 30, 50] embedding_dim: 8 }} }}
feature_configs {{ id_feature {{ feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 hash_bucket_size: 500 }} }}
feature_configs {{ raw_feature {{ feature_name: "price" expression: "item:price" }} }}
model_config {{
  feature_groups {{ group_name: "user" feature_names: ["user_id", "age"] group_type: DEEP }}
  feature_groups {{ group_name: "item" feature_names: ["item_id", "price"] group_type: DEEP }}
  dssm {{
    user_tower {{ input: "user" mlp {{ hidden_units: [16] }} }}
    item_tower {{ input: "item" mlp {{ hidden_units: [16] }} }}
    output_dim: 8
    in_batch_negative: true
  }}
  losses {{ softmax_cross_entropy {{}} }}
  metrics {{ recall_at_k {{ top_k: 1 }} }}
}}
"""


@pytest.fixture(scope="session")
def match_project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A two-tower DSSM, its data and a checkpoint."""
    from rec_core.config import load_pipeline_config
    from rec_data.synth import generate_table

    root = tmp_path_factory.mktemp("match_project")
    data = root / "rows.parquet"
    config = root / "pipeline.config"
    config.write_text(MATCH_CONFIG.format(data=data, model_dir=root / "model"))
    pq.write_table(generate_table(load_pipeline_config(str(config)), 200, seed=1), data)
    save_model_checkpoint(str(config), 5, seed=4)
    return {"root": root, "config": config, "data": data}
