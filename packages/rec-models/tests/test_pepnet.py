"""PEPNet from text configs: gates by hand, per-domain outputs, learning, train-pipeline and
export forms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.modules.pepnet import EPNet, GateNU, PPNet
from rec_models.model import BaseModel
from rec_models.testing import (
    TRACE_FORMS,
    GraphType,
    aot_inductor_models,
    build_from_config,
    create_test_module,
    pipeline_trace,
    tolerance,
)
from rec_models.wrappers import ScriptWrapper, TrainWrapper

FEATURES = """
data_config { batch_size: 256 fg_mode: FG_NONE label_fields: ["clk", "buy"] }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 } }
feature_configs { id_feature { feature_name: "scene" expression: "context:scene" embedding_dim: 4 num_buckets: 3 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
"""

GROUPS = """
feature_groups { group_name: "all" feature_names: ["user_id", "item_id", "price"] group_type: DEEP }
feature_groups { group_name: "domain" feature_names: ["scene"] group_type: DEEP }
feature_groups { group_name: "uia" feature_names: ["user_id", "item_id"] group_type: DEEP }
"""

TOWERS = """
task_towers { tower_name: "ctr" label_name: "clk" losses { binary_cross_entropy {} } metrics { auc {} } }
task_towers { tower_name: "cvr" label_name: "buy" mlp { hidden_units: [8] } losses { binary_cross_entropy {} } metrics { auc {} } }
"""

MODELS = {
    "pepnet": f"pepnet {{ epnet_hidden_unit: 16 ppnet_hidden_units: [32, 16] ppnet_dropout_ratio: [0.1] {TOWERS} }}",
    "pepnet_domains": f"""pepnet {{ ppnet_hidden_units: [16] ppnet_activation: "Dice"
        task_domain_num: 3 domain_input_name: "scene" {TOWERS} }}""",
}


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pipeline.config"
    path.write_text(FEATURES + "model_config {\n" + GROUPS + body + "}\n")
    return path


def rows(seed: int = 0, n: int = 256) -> pa.RecordBatch:
    """Clicks depend on user, item and price, with a scene-specific price sign; buys are a subset."""
    rng = np.random.default_rng(seed)
    user_effect = np.random.default_rng(100).normal(size=20)
    item_effect = np.random.default_rng(101).normal(size=30)
    user, item, scene = rng.integers(0, 20, n), rng.integers(0, 30, n), rng.integers(0, 3, n)
    price = rng.normal(size=n).astype(np.float32)
    score = user_effect[user] + item_effect[item] + np.array([1.5, -1.5, 0.0])[scene] * price
    clk = score > np.median(score)
    buy = clk & (item_effect[item] > 0)
    return pa.record_batch(
        {
            "user_id": pa.array(user),
            "item_id": pa.array(item),
            "scene": pa.array(scene),
            "price": pa.array(price),
            "clk": pa.array(clk.astype(np.int64)),
            "buy": pa.array(buy.astype(np.int64)),
        }
    )


@pytest.fixture(params=sorted(MODELS))
def model_name(request: pytest.FixtureRequest) -> str:
    return request.param


def export_case(tmp_path: Path, model_name: str) -> tuple[BaseModel, Batch]:
    """The model in eval mode and the batch its export forms are compared on."""
    model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
    model.eval()
    return model, parser(rows(seed=3, n=64))


@pytest.fixture(scope="module")
def aot_inductor_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Callable]:
    """Every model compiled by AOTInductor for its export batch."""
    return aot_inductor_models({name: export_case(tmp_path_factory.mktemp(name), name) for name in MODELS})


class TestPEPNet:
    def test_outputs_losses_and_gradients(self, tmp_path: Path, model_name: str) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
        total, (losses, preds) = TrainWrapper(model)(parser(rows()))
        assert {"probs_ctr", "probs_cvr", "logits_ctr", "logits_cvr"} <= set(preds) and preds["probs_ctr"].shape == (256,)
        assert set(losses) == {"binary_cross_entropy_ctr", "binary_cross_entropy_cvr"}
        total.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, f"parameters without gradient: {missing}"

    def test_learns_both_tasks(self, tmp_path: Path, model_name: str) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
        batch = parser(rows())
        wrapper = TrainWrapper(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(120):
            optimizer.zero_grad()
            wrapper(batch)[0].backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            model.update_metric(model.predict(batch), batch)
        metrics = model.compute_metric()
        assert metrics["auc_ctr"] > 0.9 and metrics["auc_cvr"] > 0.9, metrics

    def test_traceable_by_the_train_pipeline(self, tmp_path: Path, model_name: str) -> None:
        model, _ = build_from_config(write_config(tmp_path, MODELS[model_name]))
        graph = pipeline_trace(TrainWrapper(model))
        assert any(n.op == "call_module" and n.target.endswith("ebc") for n in graph.nodes)

    @pytest.mark.slow
    def test_export_forms_agree(self, tmp_path: Path, model_name: str, aot_inductor_forms: dict[str, Callable]) -> None:
        model, batch = export_case(tmp_path, model_name)
        wrapper = ScriptWrapper(model)
        forms = {g: create_test_module(wrapper, g) for g in TRACE_FORMS} | {GraphType.AOT_INDUCTOR: aot_inductor_forms[model_name]}
        with torch.no_grad():
            expected = model.predict(batch)
            for graph_type, form in forms.items():
                out = form(batch.to_dict())
                tol = tolerance(graph_type)
                for key, value in expected.items():
                    torch.testing.assert_close(out[key], value, rtol=tol, atol=tol, msg=f"{graph_type} {key}")

    def test_each_row_reads_its_domain_output(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS["pepnet_domains"]))
        model.eval()
        batch = parser(rows(n=16))
        with torch.no_grad():
            groups = model.embedding_group(batch)
            task_inputs = model.ppnet(model.epnet(groups["all"], groups["domain"]), groups["uia"])
            per_domain = model.towers[1](task_inputs[1]).view(16, 3)  # cvr: 3 domains x 1 class
            scene = batch.sparse_features["__BASE__"]["scene"].values()
            expected = per_domain[torch.arange(16), scene]
            torch.testing.assert_close(model.predict(batch)["logits_cvr"], expected)


class TestGates:
    def test_gate_nu_range_and_value(self) -> None:
        gate = GateNU(3, 4, 2, gamma=2.0)
        x = torch.randn(5, 3)
        expected = 2.0 * torch.sigmoid(gate.net[2](torch.relu(gate.net[0](x))))
        torch.testing.assert_close(gate(x), expected)
        assert torch.all((gate(x * 100) > 0) & (gate(x * 100) < 2))

    def test_epnet_scales_main_and_stops_its_gradient_into_the_gate(self) -> None:
        ep = EPNet(4, 2, 8, 2.0)
        main = torch.randn(3, 4, requires_grad=True)
        domain = torch.randn(3, 2)
        gate = ep.gate(torch.cat([domain, main.detach()], dim=1)).detach()
        out = ep(main, domain)
        torch.testing.assert_close(out, main * gate)
        out.sum().backward()
        # d out / d main is the gate alone: the gate's own input from main is detached
        torch.testing.assert_close(main.grad, gate)

    def test_ppnet_gates_every_layer_input_per_task(self) -> None:
        pp = PPNet(4, 3, [5, 2], num_tasks=2)
        x, prior = torch.randn(6, 4), torch.randn(6, 3)
        gate_in = torch.cat([prior, x], dim=1)
        outs = pp(x, prior)
        for t in range(2):
            h = x
            for i, layer in enumerate(pp.layers[t]):
                h = layer(h * pp.gates[i](gate_in).chunk(2, dim=1)[t])
            torch.testing.assert_close(outs[t], h)
        assert [o.shape for o in outs] == [(6, 2), (6, 2)]

    def test_ppnet_config_checks(self) -> None:
        with pytest.raises(ConfigError, match="m.ppnet_hidden_units"):
            PPNet(4, 3, [], 2, where="m")
        with pytest.raises(ConfigError, match="m.ppnet_dropout_ratio"):
            PPNet(4, 3, [4, 4, 4], 2, dropout_ratio=[0.1, 0.2], where="m")


class TestConfigErrors:
    def test_groups_are_required(self, tmp_path: Path) -> None:
        body = MODELS["pepnet"]
        path = tmp_path / "pipeline.config"
        path.write_text(FEATURES + "model_config {\n" + GROUPS.replace('"uia"', '"user"') + body + "}\n")
        with pytest.raises(ConfigError, match="feature group named 'uia'"):
            build_from_config(path)

    def test_domain_outputs_need_a_sparse_domain_feature(self, tmp_path: Path) -> None:
        body = MODELS["pepnet_domains"].replace('domain_input_name: "scene"', 'domain_input_name: "price"')
        with pytest.raises(ConfigError, match=r"model_config.pepnet.domain_input_name.*'price'"):
            build_from_config(write_config(tmp_path, body))
