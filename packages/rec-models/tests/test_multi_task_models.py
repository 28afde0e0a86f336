"""Multi-task models from text configs: per-task outputs, losses, metrics, weighting, export forms.

Two labels share one concept: `clk` depends on user, item and price; `buy` is a subset of the
clicks that also depends on the tags, so towers that share representations learn both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.multi_task_rank import MultiTaskRank, pareto_weights
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

NUM_ROWS = 256

FEATURES = """
data_config {
    batch_size: 256
    fg_mode: FG_NONE
    label_fields: ["clk", "buy"]
    sample_weight_fields: "weight"
}
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 } }
feature_configs { id_feature { feature_name: "tags" expression: "item:tags" embedding_dim: 8 num_buckets: 10 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
"""

GROUP = 'feature_groups { group_name: "all" feature_names: ["user_id", "item_id", "tags", "price"] group_type: DEEP }'


def towers(kind: str = "task_towers", extra_cvr: str = "") -> str:
    return f"""
        {kind} {{ tower_name: "ctr" label_name: "clk" mlp {{ hidden_units: [8] }}
                  losses {{ binary_cross_entropy {{}} }} metrics {{ auc {{ thresholds: 0 }} }} }}
        {kind} {{ tower_name: "cvr" label_name: "buy" mlp {{ hidden_units: [8] }} {extra_cvr}
                  losses {{ binary_cross_entropy {{}} }} metrics {{ auc {{ thresholds: 0 }} }} }}
    """


MODELS = {
    "simple_multi_task": f"simple_multi_task {{ {towers()} }}",
    "mmoe": f"mmoe {{ expert_mlp {{ hidden_units: [16] }} num_expert: 3 {towers()} }}",
    "mmoe_gate_mlp": f"mmoe {{ expert_mlp {{ hidden_units: [16] }} gate_mlp {{ hidden_units: [8] }} num_expert: 2 {towers()} }}",
    "dbmtl": f"""dbmtl {{ bottom_mlp {{ hidden_units: [32] }} expert_mlp {{ hidden_units: [16] }} num_expert: 2
                 {towers(extra_cvr='relation_tower_names: "ctr" relation_mlp { hidden_units: [8] }')} }}""",
    "dbmtl_mask_net": f"""dbmtl {{ mask_net {{ n_mask_blocks: 2 mask_block {{ reduction_ratio: 2 hidden_dim: 16 }} top_mlp {{ hidden_units: [16] }} }}
                 {towers(extra_cvr='relation_tower_names: "ctr"')} }}""",
    "dbmtl_bottom_only": f"""dbmtl {{ bottom_mlp {{ hidden_units: [16] }}
                 {towers(extra_cvr='relation_tower_names: "ctr"')} }}""",
    "dc2vr": f"""dc2vr {{ bottom_mlp {{ hidden_units: [32] }} expert_mlp {{ hidden_units: [16] }} num_expert: 2
                 {towers(extra_cvr='intervention_tower_names: "ctr" low_rank_dim: 4 dropout_ratio: 0.1')
                  .replace('label_name: "clk"', 'label_name: "clk" low_rank_dim: 4')} }}""",
    "ple": f"""ple {{
        extraction_networks {{ network_name: "l1" expert_num_per_task: 2 share_num: 2
            task_expert_net {{ hidden_units: [16] }} share_expert_net {{ hidden_units: [16] }} }}
        extraction_networks {{ network_name: "l2" expert_num_per_task: 1 share_num: 1
            task_expert_net {{ hidden_units: [8] }} share_expert_net {{ hidden_units: [8] }} }}
        {towers()} }}""",
}


def write_config(tmp_path: Path, body: str, head: str = "") -> Path:
    path = tmp_path / "pipeline.config"
    path.write_text(FEATURES + "model_config {\n" + GROUP + head + body + "}\n")
    return path


def rows(seed: int = 0, n: int = NUM_ROWS) -> pa.RecordBatch:
    rng = np.random.default_rng(seed)
    user_effect = np.random.default_rng(100).normal(size=20)
    item_effect = np.random.default_rng(101).normal(size=30)
    user, item, tag = rng.integers(0, 20, n), rng.integers(0, 30, n), rng.integers(0, 10, n)
    price = rng.normal(size=n).astype(np.float32)
    click = user_effect[user] + item_effect[item] + price
    clk = click > np.median(click)
    buy = clk & ((tag % 2 == 0) | (item_effect[item] > 1.0))
    return pa.record_batch(
        {
            "user_id": pa.array(user),
            "item_id": pa.array(item),
            "tags": pa.array(tag),
            "price": pa.array(price),
            "clk": pa.array(clk.astype(np.int64)),
            "buy": pa.array(buy.astype(np.int64)),
            "weight": pa.array(np.ones(n, np.float32)),
        }
    )


@pytest.fixture(params=sorted(MODELS))
def model_name(request: pytest.FixtureRequest) -> str:
    return request.param


def export_case(tmp_path: Path, model_name: str) -> tuple[BaseModel, Batch]:
    """The model in eval mode and the batch its export forms are compared on."""
    model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
    model.eval()
    return model, parser(rows(seed=3, n=32))


@pytest.fixture(scope="module")
def aot_inductor_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Callable]:
    """Every model compiled by AOTInductor for its export batch."""
    return aot_inductor_models({name: export_case(tmp_path_factory.mktemp(name), name) for name in MODELS})


class TestEveryModel:
    def test_outputs_losses_and_gradients(self, tmp_path: Path, model_name: str) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
        batch = parser(rows())
        total, (losses, preds) = TrainWrapper(model)(batch)
        assert set(preds) == {"logits_ctr", "probs_ctr", "logits_cvr", "probs_cvr"}
        assert all(v.shape == (NUM_ROWS,) for v in preds.values())
        assert set(losses) == {"binary_cross_entropy_ctr", "binary_cross_entropy_cvr"}
        total.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, f"parameters without gradient: {missing}"

    @pytest.mark.usefixtures("one_thread")
    def test_learns_both_tasks(self, tmp_path: Path, model_name: str) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
        batch = parser(rows())
        wrapper = TrainWrapper(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
        model.eval()
        with torch.no_grad():
            before = float(wrapper(batch)[0])
        model.train()
        for _ in range(100):
            optimizer.zero_grad()
            wrapper(batch)[0].backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            after, (losses, preds) = wrapper(batch)
            model.update_metric(preds, batch, losses)
        assert float(after) < 0.6 * before, f"{model_name}: {before:.4f} -> {float(after):.4f}"
        metrics = model.compute_metric()
        assert set(metrics) == {"auc_ctr", "auc_cvr", "binary_cross_entropy_ctr", "binary_cross_entropy_cvr"}
        assert metrics["auc_ctr"] > 0.85 and metrics["auc_cvr"] > 0.85

    @pytest.mark.parametrize("pareto", [False, True])
    def test_traceable_by_the_train_pipeline(self, tmp_path: Path, model_name: str, pareto: bool) -> None:
        model, _ = build_from_config(write_config(tmp_path, MODELS[model_name], "use_pareto_loss_weight: true\n" if pareto else ""))
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
                assert set(out) == set(expected)
                for key, value in expected.items():
                    torch.testing.assert_close(out[key], value, rtol=tol, atol=tol, msg=f"{graph_type} {key}")


class TestComposition:
    def test_mmoe_mixes_shared_experts_per_task(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS["mmoe"]))
        model.eval()
        batch = parser(rows(n=8))
        with torch.no_grad():
            x = model.embedding_group(batch)["all"]
            experts = [e(x) for e in model.mmoe.experts]
            for t, tower in enumerate(model.towers):
                gate = torch.softmax(model.mmoe.gates[t](x), dim=1)
                mixed = sum(gate[:, e : e + 1] * experts[e] for e in range(3))
                name = model.tasks[t].name
                torch.testing.assert_close(model.predict(batch)[f"logits_{name}"], tower(mixed).squeeze(1))

    def test_dbmtl_cvr_tower_sees_ctr_relation_output(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS["dbmtl"]))
        model.eval()
        batch = parser(rows(n=8))
        with torch.no_grad():
            x = model.bottom.bottom(model.embedding_group(batch)["all"])
            ctr_in, cvr_in = model.bottom.mmoe(x)
            ctr_rel = model.relation_mlps[0](model.tower_mlps[0](ctr_in))
            cvr_rel = model.relation_mlps[1](torch.cat([model.tower_mlps[1](cvr_in), ctr_rel], dim=1))
            preds = model.predict(batch)
        torch.testing.assert_close(preds["logits_ctr"], model.outputs[0](ctr_rel).squeeze(1))
        torch.testing.assert_close(preds["logits_cvr"], model.outputs[1](cvr_rel).squeeze(1))

    def test_dc2vr_cvr_tower_takes_ctr_directions(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS["dc2vr"]))
        model.eval()
        batch = parser(rows(n=8))
        with torch.no_grad():
            ctr_in, cvr_in = model.bottom(model.embedding_group(batch)["all"])
            ctr, cvr = model.tower_mlps[0](ctr_in), model.tower_mlps[1](cvr_in)
            intervention = model.interventions[1][0]
            q = intervention.rotation()
            torch.testing.assert_close(q.T @ q, torch.eye(4), atol=1e-5, rtol=0)  # an orthonormal basis
            moved = cvr + (ctr - cvr) @ q @ q.T
            preds = model.predict(batch)
            # inside the subspace the cvr representation now equals the ctr one, outside it is unchanged
            torch.testing.assert_close(moved @ q, ctr @ q, atol=1e-5, rtol=0)
            torch.testing.assert_close(moved - moved @ q @ q.T, cvr - cvr @ q @ q.T, atol=1e-5, rtol=0)
        torch.testing.assert_close(preds["logits_cvr"], model.outputs[1](moved).squeeze(1))

    def test_ple_last_layer_has_no_shared_gate(self, tmp_path: Path) -> None:
        model, _ = build_from_config(write_config(tmp_path, MODELS["ple"]))
        first, last = model.ple.layers
        assert first.shared_gate is not None and last.shared_gate is None
        # task gates mix own + shared experts: 2 + 2 in the first layer, 1 + 1 in the last
        assert first.task_gates[0].out_features == 4 and last.task_gates[0].out_features == 2
        assert first.shared_gate.out_features == 2 * 2 + 2


def per_row_bce(preds: dict[str, torch.Tensor], batch, tower: str, label: str) -> torch.Tensor:  # type: ignore[no-untyped-def]
    return torch.nn.functional.binary_cross_entropy_with_logits(
        preds[f"logits_{tower}"], batch.labels[label].float(), reduction="none"
    )


class TestLossWeighting:
    def test_tower_weight_sample_weight_and_task_space(self, tmp_path: Path) -> None:
        extra = 'weight: 0.5 sample_weight_name: "weight" task_space_indicator_label: "clk" in_task_space_weight: 3 out_task_space_weight: 1'
        model, parser = build_from_config(write_config(tmp_path, f"simple_multi_task {{ {towers(extra_cvr=extra)} }}"))
        batch = parser(rows(n=64))
        batch.sample_weights["weight"] = torch.linspace(0.5, 2.0, 64)
        preds = model.predict(batch)
        losses = model.loss(preds, batch)
        torch.testing.assert_close(losses["binary_cross_entropy_ctr"], per_row_bce(preds, batch, "ctr", "clk").mean())
        w = batch.sample_weights["weight"] * torch.where(batch.labels["clk"] > 0, 3.0, 1.0)
        expected = 0.5 * (per_row_bce(preds, batch, "cvr", "buy") * w / w.mean()).mean()
        torch.testing.assert_close(losses["binary_cross_entropy_cvr"], expected)

    def test_regression_and_two_class_towers(self, tmp_path: Path) -> None:
        body = """simple_multi_task {
            task_towers { tower_name: "ctr" label_name: "clk" num_class: 2
                          losses { softmax_cross_entropy {} } metrics { auc {} } }
            task_towers { tower_name: "spend" label_name: "buy" losses { l2_loss {} } metrics { mean_squared_error {} } }
        }"""
        model, parser = build_from_config(write_config(tmp_path, body))
        batch = parser(rows(n=16))
        preds = model.predict(batch)
        assert set(preds) == {"logits_ctr", "probs_ctr", "probs1_ctr", "y_spend"}
        assert preds["logits_ctr"].shape == (16, 2)
        losses = model.loss(preds, batch)
        torch.testing.assert_close(losses["l2_loss_spend"], (preds["y_spend"] - batch.labels["buy"].float()).pow(2).mean())
        model.update_metric(preds, batch)
        assert set(model.compute_metric()) == {"auc_ctr", "mean_squared_error_spend"}


class TestTowerLossesAndMetrics:
    BODY = """simple_multi_task {
        task_towers { tower_name: "ctr" label_name: "clk"
            losses { binary_focal_loss { gamma: 2.0 alpha: 0.5 } }
            metrics { grouped_auc { grouping_key: "user_id" } }
            train_metrics { auc {} decay_rate: 0.5 decay_step: 1 } }
        task_towers { tower_name: "cvr" label_name: "buy" num_class: 2
            losses { jrc_loss { session_name: "user_id" alpha: 0.5 } }
            metrics { auc {} } }
    }"""

    def test_any_registered_loss_and_metric_per_tower(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, self.BODY))
        assert isinstance(model, MultiTaskRank)
        batch = parser(rows(n=64))
        preds = model.predict(batch)
        losses = model.loss(preds, batch)
        assert set(losses) == {"binary_focal_loss_ctr", "jrc_loss_cvr"}
        assert all(torch.isfinite(v) for v in losses.values())
        model.update_metric(preds, batch, losses)
        model.update_train_metric(preds, batch)
        assert set(model.compute_metric()) == {"grouped_auc_ctr", "auc_cvr", "binary_focal_loss_ctr", "jrc_loss_cvr"}
        assert set(model.compute_train_metric()) == {"auc_ctr"}

    def test_grouping_keys_are_checked_at_build(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match=r"task_towers\[1\].losses\[0\].jrc_loss.session_name.*'price'"):
            build_from_config(write_config(tmp_path, self.BODY.replace('session_name: "user_id"', 'session_name: "price"')))


class TestPareto:
    def test_min_norm_weights_of_orthogonal_gradients(self) -> None:
        # g1 = (1, 0), g2 = (0, 2): ||w1 g1 + w2 g2||^2 = w1^2 + 4 w2^2 is smallest at w = (0.8, 0.2)
        x = torch.zeros(2, requires_grad=True)
        losses = [x[0] * 1.0, x[1] * 2.0]
        torch.testing.assert_close(pareto_weights(losses, x, [0.0, 0.0]), torch.tensor([0.8, 0.2]))
        # a minimum weight binds: w2 >= 0.3
        torch.testing.assert_close(pareto_weights(losses, x, [0.0, 0.3]), torch.tensor([0.7, 0.3]))

    def test_weights_stay_on_the_simplex(self) -> None:
        torch.manual_seed(1)
        x = torch.randn(6, requires_grad=True)
        a, b, c = torch.randn(3, 6)
        w = pareto_weights([(a * x).sum(), (b * x).sum(), (c * x).sum()], x, [0.1, 0.1, 0.1])
        assert float(w.sum()) == pytest.approx(1.0, abs=1e-6)
        assert torch.all(w >= 0.1 - 1e-6)

    def test_training_loss_uses_pareto_weights(self, tmp_path: Path) -> None:
        extra = "pareto_min_loss_weight: 0.2"
        model, parser = build_from_config(write_config(tmp_path, MODELS["mmoe"].replace('tower_name: "cvr"', f'tower_name: "cvr" {extra}'), "use_pareto_loss_weight: true\n"))
        assert isinstance(model, MultiTaskRank)
        batch = parser(rows(n=32))
        model.train()
        model.use_pareto = False
        plain = {k: v.detach() for k, v in model.loss(model.predict(batch), batch).items()}
        model.use_pareto = True
        total, (losses, _) = TrainWrapper(model)(batch)
        ratio_ctr = losses["binary_cross_entropy_ctr"] / plain["binary_cross_entropy_ctr"]
        ratio_cvr = losses["binary_cross_entropy_cvr"] / plain["binary_cross_entropy_cvr"]
        assert float(ratio_ctr + ratio_cvr) == pytest.approx(1.0, abs=1e-5)
        assert float(ratio_cvr) >= 0.2 - 1e-6
        total.backward()  # the weights are constants: backward goes through the losses only
        # evaluation reports the plain losses
        model.eval()
        with torch.no_grad():
            evaluated = model.loss(model.predict(batch), batch)
        torch.testing.assert_close(evaluated["binary_cross_entropy_ctr"], plain["binary_cross_entropy_ctr"])


class TestConfigErrors:
    def expect(self, tmp_path: Path, body: str, match: str, head: str = "") -> None:
        with pytest.raises(ConfigError, match=match):
            build_from_config(write_config(tmp_path, body, head))

    def test_unknown_label(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["mmoe"].replace('label_name: "buy"', 'label_name: "pay"'),
                    r"model_config.mmoe.task_towers\[1\].label_name.*'pay'")

    def test_relation_must_name_an_earlier_tower(self, tmp_path: Path) -> None:
        body = MODELS["dbmtl"].replace('relation_tower_names: "ctr"', 'relation_tower_names: "cvr"')
        self.expect(tmp_path, body, r"task_towers\[1\].relation_tower_names\[0\].*earlier")

    def test_sample_weight_name_must_be_a_weight_field(self, tmp_path: Path) -> None:
        extra = 'sample_weight_name: "w2"'
        body = f"simple_multi_task {{ {towers(extra_cvr=extra)} }}"
        self.expect(tmp_path, body, r"task_towers\[1\].sample_weight_name.*'w2'")

    def test_tower_without_loss(self, tmp_path: Path) -> None:
        body = 'simple_multi_task { task_towers { tower_name: "ctr" label_name: "clk" } }'
        self.expect(tmp_path, body, r"task_towers\[0\].losses")

    def test_no_towers(self, tmp_path: Path) -> None:
        self.expect(tmp_path, "mmoe { expert_mlp { hidden_units: [4] } }", "model_config.mmoe.task_towers")

    def test_pareto_minimums_must_leave_room(self, tmp_path: Path) -> None:
        body = MODELS["mmoe"].replace('tower_name: "ctr"', 'tower_name: "ctr" pareto_min_loss_weight: 0.6').replace(
            'tower_name: "cvr"', 'tower_name: "cvr" pareto_min_loss_weight: 0.5'
        )
        self.expect(tmp_path, body, "pareto_min_loss_weight", head="use_pareto_loss_weight: true\n")

    def test_dc2vr_low_rank_dim_fits_the_towers(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["dc2vr"].replace("low_rank_dim: 4 dropout", "low_rank_dim: 9 dropout"),
                    r"task_towers\[1\].low_rank_dim.*\[1, 8\]")

    def test_sequence_groups_must_be_nested(self, tmp_path: Path) -> None:
        path = write_config(tmp_path, MODELS["mmoe"])
        history = 'feature_configs { sequence_id_feature { feature_name: "hist" expression: "user:hist" embedding_dim: 8 num_buckets: 30 sequence_length: 5 } }\n'
        text = path.read_text().replace("model_config {", history + "model_config {")
        path.write_text(text.replace('"tags", "price"] group_type: DEEP', '"tags", "price", "hist"] group_type: SEQUENCE'))
        with pytest.raises(ConfigError, match="'all' is a sequence group"):
            build_from_config(path)

    def test_ple_shared_experts_must_match_task_experts(self, tmp_path: Path) -> None:
        body = MODELS["ple"].replace("share_expert_net { hidden_units: [8] }", "share_expert_net { hidden_units: [4] }")
        self.expect(tmp_path, body, r"extraction_networks\[1\].share_expert_net.hidden_units")
