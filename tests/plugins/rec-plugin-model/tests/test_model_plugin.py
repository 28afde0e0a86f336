"""The example model plugin: found through its entry point, built from a pipeline config, trainable, exportable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from rec_core.config import load_pipeline_config
from rec_core.errors import ConfigError
from rec_core.registry import registry
from rec_features.features import create_features
from rec_features.parser import FeatureParser
from rec_models.model import BaseModel, create_model
from rec_models.testing import GraphType, create_test_module, tolerance
from rec_models.wrappers import ScriptWrapper, TrainWrapper
from rec_plugin_model import FMRanker

ROWS = 256
CONFIG = """
data_config { batch_size: 256 fg_mode: FG_NONE label_fields: "label" }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 4 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 4 num_buckets: 30 } }
feature_configs { id_feature { feature_name: "genre" expression: "item:genre" embedding_dim: 8 num_buckets: 5 } }
model_config {
  feature_groups { group_name: "wide" feature_names: ["user_id", "item_id"] group_type: WIDE }
  feature_groups { group_name: "fm" feature_names: ["user_id", "item_id"] group_type: DEEP }
  custom_model { model_class: "FMRanker" }
  metrics { auc {} }
  losses { binary_cross_entropy {} }
}
"""


def _build(tmp_path: Path, config_text: str = CONFIG) -> tuple[BaseModel, FeatureParser]:
    torch.manual_seed(0)
    (tmp_path / "p.config").write_text(config_text)
    config = load_pipeline_config(str(tmp_path / "p.config"))
    data = config.data_config
    features = create_features(config.feature_configs, data.fg_mode, data.fg_encoded_multival_sep)
    parser = FeatureParser(features, list(data.label_fields), [])
    return create_model(config.model_config, features, list(data.label_fields)), parser


def _rows(seed: int = 0) -> pa.RecordBatch:
    """Label = user and item affinity agree in sign: learnable by pairwise user x item terms."""
    rng = np.random.default_rng(seed)
    user, item = rng.integers(0, 20, ROWS), rng.integers(0, 30, ROWS)
    score = np.where(user % 2 == 0, 1.0, -1.0) * np.where(item % 3 == 0, 1.0, -1.0) + 0.5 * (user % 5 == 0)
    return pa.record_batch({"user_id": user, "item_id": item, "genre": rng.integers(0, 5, ROWS), "label": (score > 0).astype(np.int64)})


def test_the_config_slot_picks_the_plugin_from_its_distribution(tmp_path: Path) -> None:
    info = registry("rec.models").describe("FMRanker")
    assert (info.distribution, info.object_path) == ("rec-plugin-model", "rec_plugin_model:FMRanker")
    model, _ = _build(tmp_path)
    assert isinstance(model, FMRanker)


def test_prediction_is_bias_plus_first_order_plus_pairwise(tmp_path: Path) -> None:
    model, parser = _build(tmp_path)
    batch = parser(_rows())
    with torch.no_grad():
        model.bias.fill_(0.25)
        groups = model.embedding_group(batch)
        u, i = groups["fm"][:, :4], groups["fm"][:, 4:]
        expected = 0.25 + groups["wide"].sum(dim=1) + (u * i).sum(dim=1)
        torch.testing.assert_close(model.predict(batch)["logits"], expected)


def test_loss_falls_and_every_parameter_learns(tmp_path: Path) -> None:
    model, parser = _build(tmp_path)
    batch = parser(_rows())
    wrapper = TrainWrapper(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        optimizer.zero_grad()
        loss = wrapper(batch)[0]
        loss.backward()
        first = first if first is not None else float(loss.detach())
        assert all(p.grad is not None for p in model.parameters())
        optimizer.step()
    assert float(wrapper(batch)[0].detach()) < 0.5 * first


@pytest.mark.slow
def test_export_forms_agree_with_eager(tmp_path: Path) -> None:
    model, parser = _build(tmp_path)
    model.eval()
    batch = parser(_rows(seed=1))
    with torch.no_grad():
        expected = model.predict(batch)
        data = batch.to_dict()
        for graph_type in GraphType:
            out = create_test_module(ScriptWrapper(model), graph_type, example_inputs=(data,))(data)
            tol = tolerance(graph_type)
            torch.testing.assert_close(out["probs"], expected["probs"], rtol=tol, atol=tol, msg=str(graph_type))


def test_fm_group_with_mixed_widths_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model_config.feature_groups.*'fm'"):
        _build(tmp_path, CONFIG.replace('feature_names: ["user_id", "item_id"] group_type: DEEP', 'feature_names: ["user_id", "genre"] group_type: DEEP'))
