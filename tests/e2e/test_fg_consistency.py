"""One FG, three places: `rec-fg run`, the training data loader and an exported model's Predictor
compute identical feature values for the same raw rows, for a config holding every feature type
(the non-sequence types of test_feature_types_train plus a grouped and a simple sequence)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from tests.conftest import rec
from tests.e2e.test_feature_types_train import _pipeline, _tokenizer

pytestmark = pytest.mark.slow

SEQUENCES = """
feature_configs {
  sequence_feature {
    sequence_name: "hist" sequence_length: 5 sequence_delim: ";"
    features { id_feature { feature_name: "item" expression: "item:item" embedding_dim: 8 hash_bucket_size: 500 } }
    features { raw_feature { feature_name: "price" expression: "item:price" } }
  }
}
feature_configs { sequence_id_feature { feature_name: "tags" expression: "user:tags" sequence_length: 4 sequence_delim: ";" embedding_dim: 8 num_buckets: 50 } }
feature_configs { tokenize_feature { feature_name: "desc_seq" expression: "item:desc" embedding_dim: 8 vocab_file: "tokenizer.json" asset_dir: "ASSET_DIR" tokens_as_sequence: true } }
"""
HISTORY_GROUP = """  feature_groups {
    group_name: "history"
    sequence_groups { group_name: "hist" feature_names: ["hist__item", "hist__price", "tags"] }
    sequence_encoders { pooling_encoder { input: "hist" pooling_type: "mean" } }
    sequence_groups { group_name: "desc" feature_names: ["desc_seq"] }
    sequence_encoders { pooling_encoder { input: "desc" pooling_type: "sum" } }
  }
"""
ROWS = 300


def _config(tmp: Path) -> Path:
    text = _pipeline(tmp).replace("\nmodel_config {", SEQUENCES.replace("ASSET_DIR", str(tmp)) + "\nmodel_config {")
    text = text.replace('  feature_groups { group_name: "numbers"', HISTORY_GROUP + '  feature_groups { group_name: "numbers"')
    text = text.replace('    towers { input: "numbers"', '    towers { input: "history" mlp { hidden_units: [8] } }\n    towers { input: "numbers"')
    text = text.replace("num_steps: 6", "num_steps: 2").replace(f'"{tmp}/eval.parquet"', f'"{tmp}/train.parquet"')
    path = tmp / "pipeline.config"
    path.write_text(text)
    return path


def _loader_inputs(config: Path, data: Path) -> dict[str, torch.Tensor]:
    """The flat model inputs of the training data loader's one batch of every row."""
    from rec_core.config import load_pipeline_config
    from rec_data.loader import create_dataloader
    from rec_dist.setup import build_features

    cfg = load_pipeline_config(str(config))
    _, parser = build_features(cfg)
    cfg.data_config.num_workers = 0
    batches = list(create_dataloader(cfg.data_config, str(data), parser, mode="eval", batch_size=ROWS))
    assert len(batches) == 1 and batches[0].batch_size == ROWS
    return batches[0].to_dict()


def test_fg_run_loader_and_predictor_agree_on_every_feature_type(tmp_path: Path) -> None:
    _tokenizer(tmp_path / "tokenizer.json")
    config = _config(tmp_path)
    data = tmp_path / "train.parquet"
    out = rec("rec_data.cli", "synth", "--pipeline_config_path", str(config), "--num_rows", str(ROWS), "--seed", "3", "--output", str(data))
    assert out.returncode == 0, out.stderr[-3000:]
    for cmd in (
        ("rec_dist.cli.train", "--pipeline_config_path", str(config)),
        ("rec_export.cli", "--pipeline_config_path", str(config), "--export_dir", str(tmp_path / "export")),
        ("rec_features.cli", "run", "--pipeline_config_path", str(config), "--input", str(data), "--output", str(tmp_path / "fg.parquet")),
    ):
        result = rec(*cmd, timeout=600)
        assert result.returncode == 0, f"{cmd[0]}: {result.stderr[-3000:]}"

    from rec_export import Predictor

    loader = _loader_inputs(config, data)
    served = Predictor(str(tmp_path / "export")).model_inputs(pq.read_table(data))
    features = set(served)
    assert features == set(loader) - {"clk"}
    for key in sorted(features):
        torch.testing.assert_close(served[key], loader[key], rtol=0, atol=0, msg=key)

    # rec-fg writes one column per feature: ids as lists, numbers as floats, raw sequences as lists
    fg = pq.read_table(tmp_path / "fg.parquet")
    names = {k.split(".")[0] for k in features}
    assert names <= set(fg.column_names)
    for name in sorted(names):
        column = fg.column(name).combine_chunks()
        if f"{name}.values" in loader:  # ids, or a raw sequence
            lengths = np.diff(column.offsets.to_numpy())
            np.testing.assert_array_equal(lengths, loader[f"{name}.lengths"].numpy(), err_msg=name)
            values = column.values.to_numpy()
            np.testing.assert_array_equal(values, loader[f"{name}.values"].numpy().reshape(len(values)), err_msg=name)
        else:
            np.testing.assert_array_equal(column.to_numpy(), loader[name].numpy().reshape(-1), err_msg=name)
