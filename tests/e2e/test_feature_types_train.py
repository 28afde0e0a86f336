"""Every non-sequence feature type end to end: `rec-data synth` makes raw inputs for them (FG_NORMAL)
or their values before bucketizing (FG_BUCKETIZE), `rec-train` computes the features in its data
loader and trains a MultiTower model."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import rec

pytestmark = pytest.mark.slow

FEATURES = """
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 hash_bucket_size: 1000 } }
feature_configs { combo_feature { feature_name: "user_x_cat" expression: ["user:user_id", "item:cat"] embedding_dim: 8 hash_bucket_size: 5000 } }
feature_configs { lookup_feature { feature_name: "kw_score" map: "item:kw_map" key: "user:kw" combiner: "sum" } }
feature_configs { match_feature { feature_name: "pref" nested_map: "user:prefs" pkey: "item:pk" skey: "ALL" need_discrete: true hash_bucket_size: 100 embedding_dim: 8 } }
feature_configs { expr_feature { feature_name: "value" expression: "log(1 + price * ctr)" variables: ["item:price", "item:ctr"] } }
feature_configs { overlap_feature { feature_name: "q_ratio" query: "user:query" title: "item:title" method: "query_common_ratio" } }
feature_configs { kv_dot_product { feature_name: "interest" query: "user:interests" document: "item:topics" boundaries: [0.5, 1, 2] embedding_dim: 8 } }
feature_configs { bool_mask_feature { feature_name: "shown_tag" expression: ["item:tag", "item:tag_shown"] embedding_dim: 8 hash_bucket_size: 100 } }
feature_configs { combine_feature { feature_name: "score_mean" expression: "item:score" combiner: "mean" normalizer: "method=log10,threshold=1e-8,default=-8" } }
feature_configs {
  custom_feature {
    feature_name: "brand_id" operator_name: "RegexReplace" operator_lib_file: "pyfg/lib/libregex_replace.so"
    expression: ["item:brand"] hash_bucket_size: 200 embedding_dim: 8
    operator_params { fields { key: "regex_pattern" value { string_value: "_" } } fields { key: "replacement" value { string_value: "-" } } }
  }
}
feature_configs { tokenize_feature { feature_name: "desc_tokens" expression: "item:desc" embedding_dim: 8 vocab_file: "tokenizer.json" asset_dir: "ASSET_DIR" } }
"""

SPARSE = ["user_id", "user_x_cat", "pref", "interest", "shown_tag", "brand_id", "desc_tokens"]
DENSE = ["kw_score", "value", "q_ratio", "score_mean"]


def _sparse(fg_mode: str) -> list[str]:
    # synth cannot size a tokenizer's vocabulary for data holding ids already, so FG_BUCKETIZE leaves
    # the tokenizer out (its bucketize-only step is unit-tested in rec-features)
    return SPARSE if fg_mode == "FG_NORMAL" else [f for f in SPARSE if f != "desc_tokens"]


def _pipeline(tmp: Path, fg_mode: str = "FG_NORMAL") -> str:
    features = FEATURES.replace("ASSET_DIR", str(tmp))
    if fg_mode != "FG_NORMAL":
        features = "\n".join(line for line in features.splitlines() if "desc_tokens" not in line)
    groups = f"""
  feature_groups {{ group_name: "ids" feature_names: {json.dumps(_sparse(fg_mode))} group_type: DEEP }}
  feature_groups {{ group_name: "numbers" feature_names: {json.dumps(DENSE)} group_type: DEEP }}
"""
    return f"""
train_input_path: "{tmp}/train.parquet"
eval_input_path: "{tmp}/eval.parquet"
model_dir: "{tmp}/model"
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.05 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.002 }} constant_learning_rate {{}} }}
  num_steps: 6
  log_step_count_steps: 2
  save_checkpoints_steps: 100
}}
eval_config {{}}
data_config {{ batch_size: 64 dataset_type: ParquetDataset fg_mode: {fg_mode} label_fields: "clk" num_workers: 1 }}
{features}
model_config {{
{groups}
  multi_tower {{
    towers {{ input: "ids" mlp {{ hidden_units: [16] }} }}
    towers {{ input: "numbers" mlp {{ hidden_units: [8] }} }}
    final {{ hidden_units: [8] }}
  }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""


def _tokenizer(path: Path) -> None:
    """A word-level BPE tokenizer.json over the words `rec-data synth` writes for text (w0, w1, ...)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = [" ".join(f"w{i}" for i in range(j, j + 8)) for j in range(0, 64, 4)]
    tok.train_from_iterator(corpus * 4, trainers.BpeTrainer(vocab_size=200, special_tokens=["[UNK]"], show_progress=False))
    tok.save(str(path))


@pytest.mark.parametrize("fg_mode", ["FG_NORMAL", "FG_BUCKETIZE"])
def test_every_feature_type_trains_from_synthetic_data(tmp_path: Path, fg_mode: str) -> None:
    _tokenizer(tmp_path / "tokenizer.json")
    config = tmp_path / "pipeline.config"
    config.write_text(_pipeline(tmp_path, fg_mode))
    for split, rows, seed in (("train", 600, 1), ("eval", 200, 2)):
        out = rec("rec_data.cli", "synth", "--pipeline_config_path", str(config), "--num_rows", str(rows),
                  "--seed", str(seed), "--output", str(tmp_path / f"{split}.parquet"))
        assert out.returncode == 0, out.stderr[-3000:]
    columns = set(pq.read_schema(tmp_path / "train.parquet").names)
    raw = {"kw_map", "prefs", "interests", "topics", "tag_shown", "desc", "brand", "price", "ctr"}
    if fg_mode == "FG_NORMAL":
        # raw inputs, not feature outputs: FG runs inside the training data loader
        assert raw <= columns and not set(SPARSE + DENSE) - {"user_id"} & columns
    else:
        # one column per feature, bucketized in the data loader
        assert set(_sparse(fg_mode) + DENSE) <= columns and not raw & columns

    result = rec("rec_dist.cli.train", "--pipeline_config_path", str(config), timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "final eval" in result.stdout, result.stdout[-2000:]
    assert list((tmp_path / "model").glob("model.ckpt-*")), "a checkpoint is written"
