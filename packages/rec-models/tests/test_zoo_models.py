"""The ranking zoo (DCN, DCN-v2, xDeepFM, WuKong, MaskNet, RocketLaunching) from text configs:
forward/backward through real TorchRec tables, learning, export forms, composition by hand.

The label is a fixed function of the features, so a correctly wired model must drive its
loss well below the starting value within a few dozen steps.
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
from rec_core.registry import registry
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
TRAIN_STEPS = 80

FEATURES = """
data_config { batch_size: 256 fg_mode: FG_NONE label_fields: "label" sample_weight_fields: "weight" }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 } }
feature_configs { id_feature { feature_name: "tags" expression: "item:tags" embedding_dim: 8 num_buckets: 10 weighted: true } }
feature_configs { raw_feature { feature_name: "age" expression: "user:age" boundaries: [20, 30, 40] embedding_dim: 8 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
feature_configs { raw_feature { feature_name: "vec" expression: "item:vec" value_dim: 2 } }
"""

HEAD = """
    metrics { auc {} }
    losses { binary_cross_entropy {} }
"""

ALL = 'feature_groups { group_name: "all" feature_names: ["user_id", "item_id", "tags", "age", "price", "vec"] group_type: DEEP }'

MODELS = {
    "dcn_v1": ALL + """
        dcn_v1 { cross { cross_num: 2 } deep { hidden_units: [32, 16] } final { hidden_units: [8] } }
    """,
    "dcn_v2_low_rank": ALL + """
        dcn_v2 {
            backbone { hidden_units: [32] }
            cross { cross_num: 2 low_rank: 8 }
            deep { hidden_units: [16] }
            final { hidden_units: [8] }
        }
    """,
    "dcn_v2_full_rank": ALL + """
        dcn_v2 { cross { cross_num: 2 low_rank: 0 } final { hidden_units: [16] use_bn: true } }
    """,
    "xdeepfm": """
        feature_groups { group_name: "wide" feature_names: ["user_id", "item_id", "age"] group_type: WIDE }
        feature_groups { group_name: "deep" feature_names: ["user_id", "item_id", "tags", "age"] group_type: DEEP }
        xdeepfm { cin { cin_layer_size: [6, 4] } deep { hidden_units: [16] } final { hidden_units: [8] } }
    """,
    "wukong": """
        feature_groups { group_name: "dense" feature_names: ["price", "vec"] group_type: DEEP }
        feature_groups { group_name: "sparse" feature_names: ["user_id", "item_id", "tags", "age"] group_type: DEEP }
        wukong {
            dense_mlp { hidden_units: [16, 8] }
            wukong_layers {
                lcb_feature_num: 3 fmb_feature_num: 2 compressed_feature_num: 3
                feature_num_mlp { hidden_units: [16] activation: "Dice" use_bn: true }
            }
            wukong_layers { lcb_feature_num: 2 fmb_feature_num: 3 feature_num_mlp { hidden_units: [16] } }
            final { hidden_units: [16] }
        }
    """,
    "masknet_parallel": ALL + """
        mask_net {
            mask_net_module {
                n_mask_blocks: 2
                mask_block { reduction_ratio: 2 hidden_dim: 16 }
                top_mlp { hidden_units: [8] }
            }
        }
    """,
    "masknet_serial": ALL + """
        mask_net {
            mask_net_module { n_mask_blocks: 3 mask_block { aggregation_dim: 16 hidden_dim: 16 } use_parallel: false }
        }
    """,
    "rocket_launching": ALL + """
        rocket_launching {
            share_mlp { hidden_units: [32] }
            booster_mlp { hidden_units: [32, 16] }
            light_mlp { hidden_units: [16, 8] use_bn: true }
        }
    """,
    "rocket_launching_distill": ALL + """
        rocket_launching {
            booster_mlp { hidden_units: [16, 8, 8] }
            light_mlp { hidden_units: [16, 8] }
            feature_based_distillation: true
            feature_distillation_function: EUCLID
            l2_regularization: 0
        }
    """,
}

# the hint loss chases the booster's logits, which grow as it fits; a smaller step keeps the
# shared bottom steady while both nets learn
LEARNING_RATES = {"rocket_launching": 0.005, "rocket_launching_distill": 0.005}
ROCKET_LOSSES = {"binary_cross_entropy", "binary_cross_entropy_booster", "hint_loss", "l2_regularization"}
EXPECTED_LOSSES = {
    "rocket_launching": ROCKET_LOSSES,
    "rocket_launching_distill": ROCKET_LOSSES - {"l2_regularization"} | {"feature_distill_loss"},
}


def write_config(tmp_path: Path, model_body: str, head: str = HEAD) -> Path:
    path = tmp_path / "pipeline.config"
    path.write_text(FEATURES + "model_config {\n" + model_body + head + "}\n")
    return path


def synthetic_rows(seed: int = 0, n: int = NUM_ROWS) -> pa.RecordBatch:
    """FG-encoded rows whose label is a deterministic function of user, item, tags, price and a cross."""
    rng = np.random.default_rng(seed)
    user_effect = np.random.default_rng(100).normal(size=20)
    item_effect = np.random.default_rng(101).normal(size=30)
    user, item = rng.integers(0, 20, n), rng.integers(0, 30, n)
    price = rng.normal(size=n).astype(np.float32)
    age = rng.integers(0, 4, n)
    tags = [[int(t) for t in rng.integers(0, 10, k)] for k in rng.integers(0, 3, n)]
    tag_text = ["\x03".join(f"{t}:{1 + (t % 3) * 0.5}" for t in ts) or None for ts in tags]
    tag_effect = np.array([0.3 * sum(t % 2 for t in ts) for ts in tags])
    score = user_effect[user] + item_effect[item] + 1.5 * price + tag_effect + 0.8 * (age % 2) * np.sign(price)
    return pa.record_batch(
        {
            "user_id": pa.array(user),
            "item_id": pa.array(item),
            "tags": pa.array(tag_text, pa.string()),
            "age": pa.array(age),
            "price": pa.array(price),
            "vec": pa.array([[float(a), float(b)] for a, b in rng.normal(size=(n, 2))], pa.list_(pa.float32())),
            "label": pa.array((score > np.median(score)).astype(np.int64)),
            "weight": pa.array(np.ones(n, np.float32)),
        }
    )


def served_loss(model: BaseModel, batch: Batch) -> float:
    """The served prediction's loss (eval mode: RocketLaunching's light net alone)."""
    model.eval()
    with torch.no_grad():
        loss = float(model.loss(model.predict(batch), batch)["binary_cross_entropy"])
    model.train()
    return loss


@pytest.fixture(params=sorted(MODELS))
def model_name(request: pytest.FixtureRequest) -> str:
    return request.param


def export_case(tmp_path: Path, model_name: str) -> tuple[BaseModel, Batch]:
    """The model in eval mode and the batch its export forms are compared on."""
    model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
    model.eval()
    return model, parser(synthetic_rows(seed=3, n=64))


@pytest.fixture(scope="module")
def aot_inductor_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Callable]:
    """Every model compiled by AOTInductor for its export batch."""
    return aot_inductor_models({name: export_case(tmp_path_factory.mktemp(name), name) for name in MODELS})


class TestEveryZooModel:
    def test_forward_backward(self, tmp_path: Path, model_name: str) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
        batch = parser(synthetic_rows())
        total, (losses, preds) = TrainWrapper(model)(batch)
        assert preds["logits"].shape == (NUM_ROWS,)
        assert torch.all((preds["probs"] >= 0) & (preds["probs"] <= 1))
        assert set(losses) == EXPECTED_LOSSES.get(model_name, {"binary_cross_entropy"})
        torch.testing.assert_close(total, torch.stack(list(losses.values())).sum())
        total.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, f"parameters without gradient: {missing}"

    @pytest.mark.usefixtures("one_thread")
    def test_loss_falls_with_plain_training(self, tmp_path: Path, model_name: str) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
        batch = parser(synthetic_rows())
        wrapper = TrainWrapper(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATES.get(model_name, 0.02))
        before = served_loss(model, batch)
        for _ in range(TRAIN_STEPS):
            optimizer.zero_grad()
            wrapper(batch)[0].backward()
            optimizer.step()
        after = served_loss(model, batch)
        assert after < 0.6 * before, f"{model_name}: loss {before:.4f} -> {after:.4f}"
        model.eval()
        with torch.no_grad():
            model.update_metric(model.predict(batch), batch)
        assert model.compute_metric()["auc"] > 0.85

    def test_traceable_by_the_train_pipeline(self, tmp_path: Path, model_name: str) -> None:
        model, _ = build_from_config(write_config(tmp_path, MODELS[model_name]))
        graph = pipeline_trace(TrainWrapper(model))
        assert any(n.op == "call_module" and n.target.endswith("ebc") for n in graph.nodes)

    @pytest.mark.slow
    def test_export_forms_agree(self, tmp_path: Path, model_name: str, aot_inductor_forms: dict[str, Callable]) -> None:
        model, batch = export_case(tmp_path, model_name)
        data = batch.to_dict()
        wrapper = ScriptWrapper(model)
        with torch.no_grad():
            expected = model.predict(batch)
            outputs = {g: create_test_module(wrapper, g)(data) for g in TRACE_FORMS}
            outputs[GraphType.AOT_INDUCTOR] = aot_inductor_forms[model_name](data)
        assert set(expected) == {"logits", "probs"}
        for graph_type, out in outputs.items():
            assert set(out) == set(expected), graph_type
            tol = tolerance(graph_type)
            for key, value in expected.items():
                torch.testing.assert_close(out[key], value, rtol=tol, atol=tol, msg=f"{graph_type} {key}")

    def test_scripted_form_survives_save_and_load(self, tmp_path: Path, model_name: str) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
        model.eval()
        batch = parser(synthetic_rows(seed=4, n=16))
        scripted = create_test_module(ScriptWrapper(model), GraphType.JIT_SCRIPT)
        scripted.save(str(tmp_path / "m.pt"))
        loaded = torch.jit.load(str(tmp_path / "m.pt"))
        with torch.no_grad():
            torch.testing.assert_close(loaded(batch.to_dict())["probs"], model.predict(batch)["probs"], rtol=0, atol=0)


def test_zoo_is_registered_by_message_name() -> None:
    names = set(registry("rec.models").names())
    assert {"DCNV1", "DCNV2", "xDeepFM", "WuKong", "MaskNet", "RocketLaunching"} <= names


class TestComposition:
    """Logits rebuilt from the model's parts: the architecture is the one described."""

    def setup_model(self, tmp_path: Path, name: str):  # type: ignore[no-untyped-def]
        model, parser = build_from_config(write_config(tmp_path, MODELS[name]))
        model.eval()
        batch = parser(synthetic_rows(n=16))
        with torch.no_grad():
            return model, model.embedding_group(batch), model.predict(batch)["logits"]

    def test_dcn_v1_cross_formula(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "dcn_v1")
        x0 = g["all"]
        xl = x0
        with torch.no_grad():
            for w, b in zip(model.cross.kernels, model.cross.bias):
                # x_{l+1} = x_0 * <x_l, w_l> + b_l + x_l
                xl = x0 * (xl @ w) + b.squeeze(1) + xl
            expected = model.output(model.final(torch.cat([xl, model.deep(x0)], dim=1))).squeeze(1)
        torch.testing.assert_close(logits, expected)

    def test_dcn_v2_is_stacked(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "dcn_v2_low_rank")
        with torch.no_grad():
            x0 = model.backbone(g["all"])
            xl = x0
            for u, v, b in zip(model.cross.W_kernels, model.cross.V_kernels, model.cross.bias):
                # x_{l+1} = x_0 * (U V x_l + b) + x_l, U: [d, r], V: [r, d]
                xl = x0 * (xl @ v.T @ u.T + b) + xl
            expected = model.output(model.final(model.deep(xl))).squeeze(1)
        torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
        assert tuple(model.cross.W_kernels[0].shape) == (32, 8)

    def test_dcn_v2_full_rank(self, tmp_path: Path) -> None:
        model, _, _ = self.setup_model(tmp_path, "dcn_v2_full_rank")
        width = 8 * 4 + 1 + 2
        assert tuple(model.cross.kernels[0].shape) == (width, width)

    def test_xdeepfm_joins_wide_cin_and_deep(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "xdeepfm")
        with torch.no_grad():
            cin = model.cin(g["deep"].view(16, 4, 8))
            joined = torch.cat([g["wide"].sum(dim=1, keepdim=True), cin, model.deep(g["deep"])], dim=1)
            expected = model.output(model.final(joined)).squeeze(1)
        torch.testing.assert_close(logits, expected)
        assert cin.shape == (16, 10)
        assert model.embedding_group.group_dims("wide") == [16, 16, 16]  # xDeepFM's wide default

    def test_wukong_puts_the_dense_embedding_first(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "wukong")
        with torch.no_grad():
            x = torch.cat([model.dense_mlp(g["dense"]).unsqueeze(1), g["sparse"].view(16, 4, 8)], dim=1)
            for layer in model.layers:
                x = layer(x)
            expected = model.output(model.final(x.flatten(1))).squeeze(1)
        assert x.shape == (16, 5, 8)
        torch.testing.assert_close(logits, expected)

    def test_masknet_serial_feeds_each_block_the_embeddings_as_mask(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "masknet_serial")
        x = g["all"]
        with torch.no_grad():
            out = x
            for block in model.mask_net.blocks:
                out = block.hidden(block.input_norm(out) * block.mask(x))
            expected = model.output(out).squeeze(1)
        torch.testing.assert_close(logits, expected)

    def test_masknet_parallel_concatenates_blocks(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "masknet_parallel")
        x = g["all"]
        with torch.no_grad():
            blocks = torch.cat([b(x, x) for b in model.mask_net.blocks], dim=1)
            expected = model.output(model.mask_net.top_mlp(blocks)).squeeze(1)
        assert model.mask_net.blocks[0].mask[0].out_features == 2 * x.shape[1]  # reduction_ratio 2
        torch.testing.assert_close(logits, expected)


class TestRocketLaunching:
    def test_served_model_is_the_light_net(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS["rocket_launching"]))
        batch = parser(synthetic_rows(n=16))
        model.eval()
        with torch.no_grad():
            served = model.predict(batch)
            shared = model.share(model.embedding_group(batch)["all"])
            torch.testing.assert_close(served["logits"], model.output(model.light(shared)).squeeze(1))
        traced = create_test_module(ScriptWrapper(model), GraphType.FX_TRACE)
        targets = {str(n.target) for n in traced.graph.nodes if n.op == "call_module"}
        assert not any("booster" in t for t in targets), "the booster net is not part of the export"

    def test_training_losses(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS["rocket_launching"]))
        batch = parser(synthetic_rows(n=32))
        preds = model.predict(batch)
        losses = model.loss(preds, batch)
        label = batch.labels["label"].float()
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        torch.testing.assert_close(losses["binary_cross_entropy"], bce(preds["logits"], label))
        torch.testing.assert_close(losses["binary_cross_entropy_booster"], bce(preds["logits_booster"], label))
        torch.testing.assert_close(losses["hint_loss"], (preds["logits"] - preds["logits_booster"]).pow(2).mean())
        squares = sum(m.weight.pow(2).sum() for m in model.modules() if isinstance(m, torch.nn.Linear))
        torch.testing.assert_close(losses["l2_regularization"], 1e-4 * squares / 2)

    def test_hint_loss_does_not_move_the_booster(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS["rocket_launching"]))
        batch = parser(synthetic_rows(n=32))
        model.loss(model.predict(batch), batch)["hint_loss"].backward()
        assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.booster.parameters())
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.light.parameters())

    def test_feature_distillation_pulls_light_layers_to_the_booster(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS["rocket_launching_distill"]))
        batch = parser(synthetic_rows(n=32))
        preds = model.predict(batch)
        x = model.embedding_group(batch)["all"]
        light, booster = model.light.hidden_outputs(x), model.booster.hidden_outputs(x)
        per_row = sum((a - b).pow(2).sum(dim=1) for a, b in zip(light, booster[:2])) / 2
        torch.testing.assert_close(model.loss(preds, batch)["feature_distill_loss"], per_row.mean())


class TestConfigErrors:
    def expect(self, tmp_path: Path, body: str, match: str, head: str = HEAD) -> None:
        with pytest.raises(ConfigError, match=match):
            build_from_config(write_config(tmp_path, body, head))

    def test_single_group_models_refuse_two_groups(self, tmp_path: Path) -> None:
        extra = 'feature_groups { group_name: "more" feature_names: ["user_id"] group_type: DEEP }'
        self.expect(tmp_path, extra + MODELS["dcn_v1"], r"DCNV1 reads exactly one feature group.*'more', 'all'")

    def test_cross_num_must_be_positive(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["dcn_v1"].replace("cross_num: 2", "cross_num: 0"), r"model_config.dcn_v1.cross.cross_num")

    def test_cin_needs_equal_widths(self, tmp_path: Path) -> None:
        body = MODELS["xdeepfm"].replace('"tags", "age"] group_type: DEEP', '"tags", "price"] group_type: DEEP')
        self.expect(tmp_path, body, r"xDeepFM's CIN needs one embedding width.*'deep'")

    def test_cin_needs_layers(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["xdeepfm"].replace("cin_layer_size: [6, 4]", ""), r"model_config.xdeepfm.cin.cin_layer_size")

    def test_wukong_dense_mlp_must_end_at_embedding_width(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["wukong"].replace("[16, 8] }", "[16, 4] }"), r"model_config.wukong.dense_mlp.hidden_units.*width 8")

    def test_wukong_layer_counts(self, tmp_path: Path) -> None:
        body = MODELS["wukong"].replace("lcb_feature_num: 2", "lcb_feature_num: 0")
        self.expect(tmp_path, body, r"model_config.wukong.wukong_layers\[1\].lcb_feature_num")

    def test_masknet_aggregation_width(self, tmp_path: Path) -> None:
        body = MODELS["masknet_parallel"].replace("reduction_ratio: 2", "reduction_ratio: 0.001")
        self.expect(tmp_path, body, r"model_config.mask_net.mask_net_module.mask_block.reduction_ratio")

    def test_rocket_distillation_needs_matching_widths(self, tmp_path: Path) -> None:
        body = MODELS["rocket_launching_distill"].replace("light_mlp { hidden_units: [16, 8] }", "light_mlp { hidden_units: [16, 4] }")
        self.expect(tmp_path, body, r"model_config.rocket_launching.light_mlp.hidden_units\[1\].*8")

    def test_rocket_inner_product_distance_refused(self, tmp_path: Path) -> None:
        body = MODELS["rocket_launching_distill"].replace("EUCLID", "INNER_PRODUCT")
        self.expect(tmp_path, body, r"feature_distillation_function.*COSINE or EUCLID")

    def test_bad_dropout_ratio_names_the_mlp(self, tmp_path: Path) -> None:
        body = MODELS["dcn_v1"].replace("deep { hidden_units: [32, 16] }", "deep { hidden_units: [32, 16] dropout_ratio: [1.5] }")
        self.expect(tmp_path, body, r"model_config.dcn_v1.deep.dropout_ratio\[0\]")


class TestOtherHeads:
    def test_focal_loss_and_sample_weights(self, tmp_path: Path) -> None:
        head = "metrics { auc {} } losses { binary_focal_loss { gamma: 2 alpha: 0.25 } }"
        model, parser = build_from_config(write_config(tmp_path, MODELS["dcn_v1"], head))
        batch = parser(synthetic_rows(n=32))
        preds = model.predict(batch)
        w = torch.zeros(32)
        w[3] = 2.0
        batch.sample_weights["weight"] = w
        loss = model.loss(preds, batch)["binary_focal_loss"]
        p, y = torch.sigmoid(preds["logits"][3]), batch.labels["label"][3].float()
        p_t = p if y == 1 else 1 - p
        alpha_t = 0.25 if y == 1 else 0.75
        torch.testing.assert_close(loss, -alpha_t * (1 - p_t) ** 2 * torch.log(p_t))

    def test_jrc_loss_reads_sessions_from_a_sparse_feature(self, tmp_path: Path) -> None:
        head = """
            num_class: 2
            metrics { auc {} }
            metrics { multiclass_auc {} }
            losses { jrc_loss { session_name: "user_id" alpha: 0.5 } }
        """
        model, parser = build_from_config(write_config(tmp_path, MODELS["masknet_parallel"], head))
        pipeline_trace(TrainWrapper(model))  # the session ids are read inside the traced loss
        batch = parser(synthetic_rows(n=64))
        preds = model.predict(batch)
        assert preds["logits"].shape == (64, 2) and "probs1" in preds
        loss = model.loss(preds, batch)["jrc_loss"]
        assert torch.isfinite(loss) and loss > 0
        model.update_metric(preds, batch)
        metrics = model.compute_metric()
        # with two classes the one-vs-rest AUCs of both classes equal the binary AUC
        assert metrics["multiclass_auc"] == pytest.approx(metrics["auc"], abs=1e-6)

    def test_jrc_session_must_be_a_sparse_feature(self, tmp_path: Path) -> None:
        head = 'num_class: 2 losses { jrc_loss { session_name: "price" } }'
        with pytest.raises(ConfigError, match=r"model_config.losses\[0\].jrc_loss.session_name.*'price'"):
            build_from_config(write_config(tmp_path, MODELS["dcn_v1"], head))

    def test_regression_with_xauc(self, tmp_path: Path) -> None:
        head = "metrics { xauc { sample_ratio: 1 } } metrics { mean_squared_error {} } losses { l2_loss {} }"
        model, parser = build_from_config(write_config(tmp_path, MODELS["wukong"], head))
        batch = parser(synthetic_rows(n=32))
        preds = model.predict(batch)
        assert set(preds) == {"y"}
        model.update_metric(preds, batch)
        assert 0.0 <= model.compute_metric()["xauc"] <= 1.0

    def test_train_metrics_decay(self, tmp_path: Path) -> None:
        head = HEAD + "train_metrics { auc {} decay_rate: 0.5 decay_step: 2 }"
        model, parser = build_from_config(write_config(tmp_path, MODELS["dcn_v1"], head))
        batches = [parser(synthetic_rows(seed=s, n=64)) for s in range(4)]
        model.eval()
        windows = []
        with torch.no_grad():
            preds = [model.predict(b) for b in batches]
            for i, (p, b) in enumerate(zip(preds, batches)):
                model.update_train_metric(p, b)
                model.update_metric(p, b)
                if i % 2 == 1:
                    windows.append(model.compute_metric()["auc"])
        got = model.compute_train_metric()["auc"]
        assert got == pytest.approx(0.5 * windows[0] + 0.5 * windows[1], abs=1e-6)
