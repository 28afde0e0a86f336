"""Variational dropout of a feature group: the module alone (hand-computed cases, learning)."""

from __future__ import annotations

import pytest
import torch

from rec_core.errors import ConfigError
from rec_models.modules.variational_dropout import VariationalDropout


def _vd(embedding_wise: bool = False, lam: float = 0.01) -> VariationalDropout:
    torch.manual_seed(0)
    vd = VariationalDropout({"a": 1, "b": 2, "c": 3}, "g", lam, embedding_wise)
    with torch.no_grad():
        vd.feature_p.copy_(torch.logit(torch.linspace(0.1, 0.9, vd.feature_p.numel())))
    return vd


def test_eval_scales_each_feature_by_its_keep_probability() -> None:
    vd = _vd().eval()
    x = torch.arange(12, dtype=torch.float32).reshape(2, 6)
    out, penalty = vd(x)
    keep = torch.tensor([0.9, 0.5, 0.5, 0.1, 0.1, 0.1])  # p = 0.1, 0.5, 0.9 spread over widths 1, 2, 3
    torch.testing.assert_close(out, x * keep)
    torch.testing.assert_close(penalty, torch.tensor(0.01 / 2 * (0.9 + 0.5 + 0.1)))


def test_training_drops_features_with_their_probability() -> None:
    vd = _vd().train()
    torch.manual_seed(1)
    out, _ = vd(torch.ones(20000, 6))
    kept = out.mean(dim=0)
    # a feature is dropped or kept as a whole: its columns move together
    assert torch.equal(out[:, 1], out[:, 2]) and torch.equal(out[:, 3], out[:, 5])
    torch.testing.assert_close(kept, torch.tensor([0.9, 0.5, 0.5, 0.1, 0.1, 0.1]), atol=0.03, rtol=0)


def test_embedding_wise_learns_one_probability_per_dimension() -> None:
    vd = _vd(embedding_wise=True).eval()
    assert vd.feature_p.shape == (6,)
    p = torch.linspace(0.1, 0.9, 6)
    x = torch.ones(3, 6)
    torch.testing.assert_close(vd(x)[0], (1 - p).expand(3, 6))
    drop = vd.feature_drop_p()
    assert list(drop) == ["a", "b", "c"]
    assert drop == pytest.approx({"a": p[0].item(), "b": p[1:3].mean().item(), "c": p[3:].mean().item()})


def test_penalty_pushes_probabilities_up() -> None:
    vd = _vd(lam=1.0)
    _, penalty = vd(torch.zeros(4, 6))
    penalty.backward()
    assert (vd.feature_p.grad < 0).all()  # descending the penalty raises every p


def test_learns_which_feature_carries_the_label() -> None:
    torch.manual_seed(0)
    vd = VariationalDropout({"signal": 2, "noise_a": 2, "noise_b": 2}, "g", regularization_lambda=1.0)
    head = torch.nn.Linear(6, 1)
    opt = torch.optim.Adam([*vd.parameters(), *head.parameters()], lr=0.05)
    for _ in range(300):
        x = torch.randn(256, 6)
        y = (x[:, 0] + x[:, 1] > 0).float()
        noisy, penalty = vd(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(noisy).squeeze(1), y) + penalty
        opt.zero_grad()
        loss.backward()
        opt.step()
    drop = vd.feature_drop_p()
    assert drop["signal"] < 0.1 < 0.8 < min(drop["noise_a"], drop["noise_b"])


def test_a_group_without_features_is_an_error() -> None:
    with pytest.raises(ConfigError, match="model_config.variational_dropout: group 'g' has no features to drop"):
        VariationalDropout({}, "g")


# ---- inside models ------------------------------------------------------------------------

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from rec_core.config import load_pipeline_config  # noqa: E402
from rec_features.features import create_features  # noqa: E402
from rec_features.parser import FeatureParser  # noqa: E402
from rec_models.model import create_model  # noqa: E402
from rec_models.testing import GraphType, create_test_module, pipeline_trace  # noqa: E402
from rec_models.wrappers import ScriptWrapper, TrainWrapper  # noqa: E402

CONFIG = """
data_config { fg_mode: FG_NONE label_fields: ["clk", "buy"] }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 4 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 4 num_buckets: 30 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
model_config {
  variational_dropout { regularization_lambda: 0.5 }
  %s
}
"""
DEEPFM = """
  feature_groups { group_name: "wide" feature_names: ["user_id", "item_id"] group_type: WIDE }
  feature_groups { group_name: "fm" feature_names: ["user_id", "item_id"] group_type: DEEP }
  feature_groups { group_name: "deep" feature_names: ["user_id", "item_id", "price"] group_type: DEEP }
  feature_groups { group_name: "one" feature_names: ["user_id"] group_type: DEEP }
  deepfm { deep { hidden_units: [8] } }
  losses { binary_cross_entropy {} }
"""
MMOE = """
  feature_groups { group_name: "all" feature_names: ["user_id", "item_id", "price"] group_type: DEEP }
  mmoe { expert_mlp { hidden_units: [8] } num_expert: 2
    task_towers { tower_name: "ctr" label_name: "clk" losses { binary_cross_entropy {} } }
    task_towers { tower_name: "cvr" label_name: "buy" losses { binary_cross_entropy {} } } }
"""


def _rows(n: int = 32) -> pa.RecordBatch:
    rng = np.random.default_rng(0)
    return pa.record_batch({
        "user_id": pa.array(rng.integers(0, 20, n)), "item_id": pa.array(rng.integers(0, 30, n)),
        "price": pa.array(rng.normal(size=n).astype(np.float32)),
        "clk": pa.array(rng.integers(0, 2, n)), "buy": pa.array(rng.integers(0, 2, n)),
    })


def _model(tmp_path: Path, body: str):  # noqa: ANN202
    path = tmp_path / "pipeline.config"
    path.write_text(CONFIG % body)
    config = load_pipeline_config(str(path))
    features = create_features(config.feature_configs, config.data_config.fg_mode)
    torch.manual_seed(0)
    model = create_model(config.model_config, features, list(config.data_config.label_fields))
    batch = FeatureParser(features, list(config.data_config.label_fields))(_rows())
    return model, batch


def test_rank_model_drops_its_multi_feature_groups(tmp_path: Path) -> None:
    model, batch = _model(tmp_path, DEEPFM)
    # one dropout per DEEP/WIDE group with two or more features, named as TorchEasyRec names them
    assert sorted(model.group_variational_dropouts) == ["deep", "fm", "wide"]
    assert model.group_variational_dropouts["deep"].features_dimension == {"user_id": 4, "item_id": 4, "price": 1}
    assert {"group_variational_dropouts.deep.feature_p", "group_variational_dropouts.wide.feature_p"} <= set(model.state_dict())
    losses = TrainWrapper(model)(batch)[1][0]
    p = torch.sigmoid(model.group_variational_dropouts["deep"].feature_p.detach())
    torch.testing.assert_close(losses["deep_feature_p_loss"], 0.5 / 32 * (1 - p).sum())
    assert set(losses) == {"binary_cross_entropy", "deep_feature_p_loss", "fm_feature_p_loss", "wide_feature_p_loss"}


def test_eval_predictions_scale_groups_by_keep_probability(tmp_path: Path) -> None:
    model, batch = _model(tmp_path, DEEPFM)
    model.eval()
    with torch.no_grad():
        for vd in model.group_variational_dropouts.values():
            vd.feature_p.fill_(-30.0)  # p = 0: nothing dropped
        kept = model.predict(batch)["logits"]
        groups = model.embedding_group.variational_dropout_groups
        model.embedding_group.variational_dropout_groups = []
        plain = model.predict(batch)["logits"]
        torch.testing.assert_close(kept, plain)
        model.embedding_group.variational_dropout_groups = groups
        model.group_variational_dropouts["deep"].feature_p.fill_(30.0)  # p = 1: the deep group is all zeros
        assert not torch.allclose(model.predict(batch)["logits"], plain)


@pytest.mark.parametrize("graph_type", [GraphType.FX_TRACE, GraphType.JIT_SCRIPT, pytest.param(GraphType.AOT_INDUCTOR, marks=pytest.mark.slow)])
def test_export_forms_match_eager(tmp_path: Path, graph_type: GraphType) -> None:
    model, batch = _model(tmp_path, DEEPFM)
    model.eval()
    wrapper = ScriptWrapper(model)
    inputs = batch.to_dict()
    with torch.no_grad():
        expected = wrapper(inputs)
        got = create_test_module(wrapper, graph_type, example_inputs=(inputs,))(inputs)
    torch.testing.assert_close(got["probs"], expected["probs"])


def test_multi_task_model_and_train_pipeline_trace(tmp_path: Path) -> None:
    model, batch = _model(tmp_path, MMOE)
    assert list(model.group_variational_dropouts) == ["all"]
    pipeline_trace(TrainWrapper(model))  # the hook survives TorchRec's pipeline trace
    losses = TrainWrapper(model)(batch)[1][0]
    assert set(losses) == {"binary_cross_entropy_ctr", "binary_cross_entropy_cvr", "all_feature_p_loss"}


def test_no_config_no_dropout(tmp_path: Path) -> None:
    model, _ = _model(tmp_path, DEEPFM)
    path = tmp_path / "plain.config"
    path.write_text((CONFIG % DEEPFM).replace("variational_dropout { regularization_lambda: 0.5 }", ""))
    config = load_pipeline_config(str(path))
    plain = create_model(config.model_config, create_features(config.feature_configs, 1), ["clk", "buy"])
    assert not hasattr(plain, "group_variational_dropouts")
    assert not any("variational" in k for k in plain.state_dict())


def test_match_model_towers_get_their_own_dropouts(tmp_path: Path) -> None:
    dssm = """
      feature_groups { group_name: "user" feature_names: ["user_id", "price"] group_type: DEEP }
      feature_groups { group_name: "item" feature_names: ["item_id", "price"] group_type: DEEP }
      dssm { user_tower { input: "user" mlp { hidden_units: [8] } } item_tower { input: "item" mlp { hidden_units: [8] } }
             output_dim: 4 in_batch_negative: true }
      losses { softmax_cross_entropy {} }
    """
    model, batch = _model(tmp_path, dssm)
    assert sorted(model.group_variational_dropouts) == ["item", "user"]
    losses = TrainWrapper(model)(batch)[1][0]
    assert set(losses) == {"softmax_cross_entropy", "user_feature_p_loss", "item_feature_p_loss"}
    model.eval()
    with torch.no_grad():
        model.group_variational_dropouts["item"].feature_p.fill_(30.0)  # every item feature dropped
        item = model.item_tower_emb(batch)
    assert torch.allclose(item, item[:1].expand_as(item))  # all items look alike
