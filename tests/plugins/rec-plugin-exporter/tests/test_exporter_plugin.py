"""The example exporter plugin passes rec's exporter conformance check and refuses a changed model file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from rec_core.errors import RecError
from rec_core.registry import registry
from rec_export.predictor import Predictor
from rec_export.testing import check_exporter
from rec_plugin_exporter import CHECKSUM_KEY, MODEL_FILE, ChecksummedExporter

CONFIG = """
train_input_path: "{data}"
eval_input_path: "{data}"
model_dir: "{model_dir}"
data_config {{ batch_size: 64 fg_mode: FG_NORMAL label_fields: "clk" }}
feature_configs {{ id_feature {{ feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 hash_bucket_size: 100 }} }}
feature_configs {{ raw_feature {{ feature_name: "age" expression: "user:age" boundaries: [18, 30, 50] embedding_dim: 8 }} }}
feature_configs {{ raw_feature {{ feature_name: "price" expression: "item:price" }} }}
model_config {{
  feature_groups {{ group_name: "wide" feature_names: ["user_id", "age"] group_type: WIDE }}
  feature_groups {{ group_name: "fm" feature_names: ["user_id", "age"] group_type: DEEP }}
  feature_groups {{ group_name: "deep" feature_names: ["user_id", "age", "price"] group_type: DEEP }}
  deepfm {{ deep {{ hidden_units: [8] }} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pa.Table]:
    """A pipeline config with its data (the export traces on it) and a checkpoint of random weights."""
    from rec_dist import checkpoint as ckpt
    from rec_dist.setup import build_features, build_model, prepare_config
    from rec_models.wrappers import TrainWrapper

    root = tmp_path_factory.mktemp("project")
    rng = np.random.default_rng(0)
    rows = pa.table({"user_id": rng.integers(0, 50, 40), "age": rng.uniform(10, 70, 40), "price": rng.uniform(0, 5, 40)})
    pq.write_table(rows.append_column("clk", pa.array(rng.integers(0, 2, 40))), root / "data.parquet")
    path = root / "pipeline.config"
    path.write_text(CONFIG.format(data=root / "data.parquet", model_dir=root / "model"))
    torch.manual_seed(0)
    config = prepare_config(str(path))
    features, _ = build_features(config)
    ckpt.save_checkpoint(config.model_dir, 1, TrainWrapper(build_model(config, features)), None, {"world_size": 1}, rank=0)
    return str(path), rows


def test_registered_by_its_own_distribution() -> None:
    info = registry("rec.exporters").describe("checksummed")
    assert (info.distribution, info.object_path) == ("rec-plugin-exporter", "rec_plugin_exporter:ChecksummedExporter")
    assert registry("rec.exporters").get("checksummed") is ChecksummedExporter


def test_conforms_and_records_the_checksum(checkpointed: tuple[str, pa.Table], tmp_path: Path) -> None:
    config, rows = checkpointed
    predictor = check_exporter("checksummed", config, str(tmp_path / "export"), rows)
    assert len(predictor.acc[CHECKSUM_KEY]) == 64
    assert (tmp_path / "export" / MODEL_FILE).is_file()


def test_a_changed_model_file_is_refused(checkpointed: tuple[str, pa.Table], tmp_path: Path) -> None:
    config, rows = checkpointed
    export_dir = tmp_path / "export"
    check_exporter("checksummed", config, str(export_dir), rows)
    with (export_dir / MODEL_FILE).open("ab") as f:
        f.write(b"\0")
    with pytest.raises(RecError, match=rf"{MODEL_FILE}: SHA-256 .* differs from model_acc.json {CHECKSUM_KEY}"):
        Predictor(str(export_dir))
