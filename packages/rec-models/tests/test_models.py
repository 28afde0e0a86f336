"""Every model from a text-format pipeline config: forward/backward, learning, export forms.

The data is synthetic but learnable: the label is a fixed function of the features, so a
model that trains correctly must drive its loss well below the starting value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from rec_core.batch import Batch
from rec_core.errors import ConfigError, PluginError
from rec_models.model import BaseModel
from rec_models.testing import TRACE_FORMS, GraphType, aot_inductor_models, build_from_config, create_test_module, tolerance
from rec_models.wrappers import ScriptWrapper, TrainWrapper

NUM_ROWS = 256
TRAIN_STEPS = 100

# FG_NONE: one column per feature, already ids / floats (the common case for prepared data)
FEATURES = """
data_config {
    batch_size: 256
    fg_mode: FG_NONE
    label_fields: "label"
    sample_weight_fields: "weight"
}
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 } }
feature_configs { id_feature { feature_name: "tags" expression: "item:tags" embedding_dim: 8 num_buckets: 10 weighted: true } }
feature_configs { raw_feature { feature_name: "age" expression: "user:age" boundaries: [20, 30, 40] embedding_dim: 8 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
feature_configs { raw_feature { feature_name: "vec" expression: "item:vec" value_dim: 2 } }
"""

HEAD = """
    metrics { auc { thresholds: 0 } }
    losses { binary_cross_entropy {} }
"""

MODELS = {
    "deepfm_fm_final": """
        feature_groups { group_name: "wide" feature_names: ["user_id", "item_id", "age"] group_type: WIDE }
        feature_groups { group_name: "fm" feature_names: ["user_id", "item_id", "tags", "age"] group_type: DEEP }
        feature_groups { group_name: "deep" feature_names: ["user_id", "item_id", "tags", "price", "vec"] group_type: DEEP }
        deepfm { deep { hidden_units: [32, 16] } final { hidden_units: [8] } wide_embedding_dim: 4 }
    """,
    "deepfm_plain": """
        feature_groups { group_name: "wide" feature_names: ["user_id", "item_id"] group_type: WIDE }
        feature_groups { group_name: "deep" feature_names: ["user_id", "item_id", "tags", "age"] group_type: DEEP }
        deepfm { deep { hidden_units: [16] } wide_init_fn: "nn.init.zeros_" }
    """,
    "wide_and_deep_final": """
        feature_groups { group_name: "wide" feature_names: ["user_id", "item_id", "tags"] group_type: WIDE }
        feature_groups { group_name: "deep" feature_names: ["user_id", "item_id", "price", "vec", "age"] group_type: DEEP }
        wide_and_deep {
            deep { hidden_units: [32, 16] dropout_ratio: [0.1, 0.1] activation: "nn.ReLU" use_bn: true }
            final { hidden_units: [8] }
        }
    """,
    "wide_and_deep_plain": """
        feature_groups { group_name: "wide" feature_names: ["user_id", "item_id"] group_type: WIDE }
        feature_groups { group_name: "deep" feature_names: ["user_id", "item_id", "price"] group_type: DEEP }
        wide_and_deep { deep { hidden_units: [16] use_ln: true activation: "nn.LeakyReLU(0.1)" } }
    """,
    "dlrm_dense": """
        feature_groups { group_name: "dense" feature_names: ["price", "vec"] group_type: DEEP }
        feature_groups { group_name: "sparse" feature_names: ["user_id", "item_id", "tags", "age"] group_type: DEEP }
        dlrm { dense_mlp { hidden_units: [16, 8] } final { hidden_units: [32, 16] } }
    """,
    "dlrm_sparse_only": """
        feature_groups { group_name: "sparse" feature_names: ["user_id", "item_id", "tags"] group_type: DEEP }
        dlrm { arch_with_sparse: false final { hidden_units: [16] } }
    """,
    "multi_tower": """
        feature_groups { group_name: "user" feature_names: ["user_id", "age"] group_type: DEEP }
        feature_groups { group_name: "item" feature_names: ["item_id", "tags", "price", "vec"] group_type: DEEP }
        multi_tower {
            towers { input: "user" mlp { hidden_units: [16] } }
            towers { input: "item" mlp { hidden_units: [16] } }
            final { hidden_units: [8] }
        }
    """,
}


def write_config(tmp_path: Path, model_body: str, head: str = HEAD) -> Path:
    path = tmp_path / "pipeline.config"
    path.write_text(FEATURES + "model_config {\n" + model_body + head + "}\n")
    return path


def synthetic_rows(seed: int = 0, n: int = NUM_ROWS) -> pa.RecordBatch:
    """FG-encoded rows whose label is a deterministic function of user, item, tags and price."""
    rng = np.random.default_rng(seed)
    user_effect = np.random.default_rng(100).normal(size=20)
    item_effect = np.random.default_rng(101).normal(size=30)
    user = rng.integers(0, 20, n)
    item = rng.integers(0, 30, n)
    price = rng.normal(size=n).astype(np.float32)
    ntags = rng.integers(0, 3, n)
    tags = [[int(t) for t in rng.integers(0, 10, k)] for k in ntags]
    tag_text = ["\x03".join(f"{t}:{1 + (t % 3) * 0.5}" for t in ts) or None for ts in tags]
    score = user_effect[user] + item_effect[item] + 1.5 * price + np.array([0.3 * sum(t % 2 for t in ts) for ts in tags])
    return pa.record_batch(
        {
            "user_id": pa.array(user),
            "item_id": pa.array(item),
            "tags": pa.array(tag_text, pa.string()),
            "age": pa.array(rng.integers(0, 4, n)),  # FG-encoded bucket ids
            "price": pa.array(price),
            "vec": pa.array([[float(a), float(b)] for a, b in rng.normal(size=(n, 2))], pa.list_(pa.float32())),
            "label": pa.array((score > np.median(score)).astype(np.int64)),
            "weight": pa.array(np.ones(n, np.float32)),
        }
    )


def eval_loss(model: BaseModel, batch: Batch) -> float:
    model.eval()
    with torch.no_grad():
        total = TrainWrapper(model)(batch)[0]
    model.train()
    return float(total)


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


class TestEveryModel:
    def test_forward_backward(self, tmp_path: Path, model_name: str) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
        batch = parser(synthetic_rows())
        total, (losses, preds) = TrainWrapper(model)(batch)
        assert set(preds) == {"logits", "probs"}
        assert preds["logits"].shape == (NUM_ROWS,)
        assert torch.all((preds["probs"] >= 0) & (preds["probs"] <= 1))
        assert set(losses) == {"binary_cross_entropy"}
        total.backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        # every parameter reachable from the output receives a gradient (the wiring is complete)
        missing = [n for n, g in grads.items() if g is None]
        assert not missing, f"parameters without gradient: {missing}"
        assert any(g.abs().sum() > 0 for g in grads.values() if g is not None)

    @pytest.mark.usefixtures("one_thread")
    def test_loss_falls_with_plain_training(self, tmp_path: Path, model_name: str) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS[model_name]))
        batch = parser(synthetic_rows())
        wrapper = TrainWrapper(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
        before = eval_loss(model, batch)
        for _ in range(TRAIN_STEPS):
            optimizer.zero_grad()
            wrapper(batch)[0].backward()
            optimizer.step()
        after = eval_loss(model, batch)
        assert after < 0.6 * before, f"{model_name}: loss {before:.4f} -> {after:.4f}"
        # the metric wiring sees the same improvement
        model.eval()
        with torch.no_grad():
            model.update_metric(model.predict(batch), batch, {"binary_cross_entropy": torch.tensor(after)})
        metrics = model.compute_metric()
        assert metrics["auc"] > 0.85
        assert metrics["binary_cross_entropy"] == pytest.approx(after, rel=1e-5)

    @pytest.mark.slow
    def test_export_forms_agree(self, tmp_path: Path, model_name: str, aot_inductor_forms: dict[str, Callable]) -> None:
        model, batch = export_case(tmp_path, model_name)
        data = batch.to_dict()
        wrapper = ScriptWrapper(model)
        with torch.no_grad():
            expected = model.predict(batch)
            outputs = {g: create_test_module(wrapper, g)(data) for g in TRACE_FORMS}
            outputs[GraphType.AOT_INDUCTOR] = aot_inductor_forms[model_name](data)
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
        assert isinstance(scripted, torch.jit.ScriptModule)
        scripted.save(str(tmp_path / "m.pt"))
        loaded = torch.jit.load(str(tmp_path / "m.pt"))
        with torch.no_grad():
            torch.testing.assert_close(loaded(batch.to_dict())["probs"], model.predict(batch)["probs"], rtol=0, atol=0)


class TestWeightsMatter:
    def test_weighted_feature_changes_the_prediction(self, tmp_path: Path) -> None:
        # weights of a weighted id feature must reach the embedding pooling, not be dropped
        model, parser = build_from_config(write_config(tmp_path, MODELS["dlrm_sparse_only"]))
        model.eval()
        rows = synthetic_rows(n=32)
        heavier = rows.set_column(
            rows.schema.get_field_index("tags"),
            "tags",
            pa.array([None if t is None else t.replace(":", ":1") for t in rows.column("tags").to_pylist()], pa.string()),
        )
        with torch.no_grad():
            a = model.predict(parser(rows))["logits"]
            b = model.predict(parser(heavier))["logits"]
        has_tags = torch.tensor([t is not None for t in rows.column("tags").to_pylist()])
        assert not torch.allclose(a[has_tags], b[has_tags])
        torch.testing.assert_close(a[~has_tags], b[~has_tags])

    def test_sample_weights_scale_the_loss(self, tmp_path: Path) -> None:
        model, parser = build_from_config(write_config(tmp_path, MODELS["multi_tower"]))
        model.eval()
        rows = synthetic_rows(n=64)
        batch = parser(rows)
        preds = model.predict(batch)
        plain = model.loss(preds, batch)["binary_cross_entropy"]
        # all weight on the first row: the loss becomes that row's loss
        w = torch.zeros(64)
        w[0] = 5.0
        batch.sample_weights["weight"] = w
        one = model.loss(preds, batch)["binary_cross_entropy"]
        per_row = torch.nn.functional.binary_cross_entropy_with_logits(
            preds["logits"], batch.labels["label"].float(), reduction="none"
        )
        torch.testing.assert_close(one, per_row[0])
        torch.testing.assert_close(plain, per_row.mean())


class TestOutputs:
    def test_softmax_two_classes_reports_probs1(self, tmp_path: Path) -> None:
        head = """
            num_class: 2
            metrics { auc { thresholds: 0 } }
            metrics { accuracy {} }
            losses { softmax_cross_entropy {} }
        """
        model, parser = build_from_config(write_config(tmp_path, MODELS["multi_tower"], head))
        batch = parser(synthetic_rows(n=32))
        preds = model.predict(batch)
        assert preds["logits"].shape == (32, 2)
        torch.testing.assert_close(preds["probs"].sum(dim=1), torch.ones(32))
        torch.testing.assert_close(preds["probs1"], preds["probs"][:, 1])
        losses = model.loss(preds, batch)
        assert set(losses) == {"softmax_cross_entropy"}
        model.update_metric(preds, batch)
        assert set(model.compute_metric()) == {"auc", "accuracy"}

    def test_regression_reports_y(self, tmp_path: Path) -> None:
        head = """
            metrics { mean_squared_error {} }
            metrics { mean_absolute_error {} }
            losses { l2_loss {} }
        """
        model, parser = build_from_config(write_config(tmp_path, MODELS["wide_and_deep_plain"], head))
        batch = parser(synthetic_rows(n=32))
        preds = model.predict(batch)
        assert set(preds) == {"y"} and preds["y"].shape == (32,)
        loss = model.loss(preds, batch)["l2_loss"]
        torch.testing.assert_close(loss, (preds["y"] - batch.labels["label"].float()).pow(2).mean())
        model.update_metric(preds, batch)
        metrics = model.compute_metric()
        assert metrics["mean_squared_error"] == pytest.approx(float(loss), rel=1e-5)


class TestConfigErrors:
    def expect(self, tmp_path: Path, body: str, match: str, head: str = HEAD) -> None:
        with pytest.raises(ConfigError, match=match):
            build_from_config(write_config(tmp_path, body, head))

    def test_missing_group(self, tmp_path: Path) -> None:
        body = MODELS["deepfm_plain"].replace('group_name: "wide"', 'group_name: "linear"')
        self.expect(tmp_path, body, "feature group named 'wide'")

    def test_unknown_feature_in_group(self, tmp_path: Path) -> None:
        body = MODELS["multi_tower"].replace('"age"]', '"agee"]')
        self.expect(tmp_path, body, r"model_config.feature_groups\[0\].feature_names\[1\].*'agee'")

    def test_dense_feature_in_wide_group(self, tmp_path: Path) -> None:
        body = MODELS["deepfm_plain"].replace('feature_names: ["user_id", "item_id"] group_type: WIDE', 'feature_names: ["price"] group_type: WIDE')
        self.expect(tmp_path, body, "WIDE groups take sparse features")

    def test_deepfm_fm_needs_equal_widths(self, tmp_path: Path) -> None:
        body = MODELS["deepfm_plain"].replace('"tags", "age"]', '"tags", "price"]')
        self.expect(tmp_path, body, "equal feature widths")

    def test_dlrm_dense_mlp_must_end_at_embedding_dim(self, tmp_path: Path) -> None:
        body = MODELS["dlrm_dense"].replace("[16, 8]", "[16, 4]")
        self.expect(tmp_path, body, r"model_config.dlrm.dense_mlp.hidden_units.*embedding_dim 8")

    def test_bce_needs_one_class(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["multi_tower"], "model_config.num_class", head="num_class: 2" + HEAD)

    def test_auc_needs_binary(self, tmp_path: Path) -> None:
        head = "num_class: 3 metrics { auc {} } losses { softmax_cross_entropy {} }"
        self.expect(tmp_path, MODELS["multi_tower"], "model_config.num_class.*auc", head=head)

    def test_grouped_auc_key_must_be_sparse(self, tmp_path: Path) -> None:
        head = 'metrics { grouped_auc { grouping_key: "price" } } losses { binary_cross_entropy {} }'
        self.expect(tmp_path, MODELS["multi_tower"], r"model_config.metrics\[0\].grouped_auc.grouping_key.*'price'", head=head)

    def test_no_loss(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["multi_tower"], "model_config.losses", head="metrics { auc {} }")

    def test_unregistered_loss_lists_installed(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from rec_core.registry import registry

        # every LossConfig oneof ships with rec: pretend the focal loss's distribution is absent
        losses = registry("rec.losses")
        entries = {k: v for k, v in losses._discover().items() if k != "binary_focal_loss"}
        monkeypatch.setattr(losses, "_discover", lambda: entries)
        monkeypatch.setattr(losses, "_loaded", {})
        with pytest.raises(PluginError, match="binary_focal_loss.*installed: binary_cross_entropy"):
            build_from_config(write_config(tmp_path, MODELS["multi_tower"], "losses { binary_focal_loss { gamma: 2 alpha: 0.5 } }"))

    def test_custom_model_needs_a_class_name(self, tmp_path: Path) -> None:
        body = MODELS["multi_tower"].split("multi_tower {")[0] + "custom_model { }"
        self.expect(tmp_path, body, r"model_config.custom_model.model_class")

    def test_bad_activation(self, tmp_path: Path) -> None:
        body = MODELS["wide_and_deep_plain"].replace("nn.LeakyReLU(0.1)", "nn.Swooosh")
        self.expect(tmp_path, body, "unknown activation 'nn.Swooosh'")


def test_models_are_registered_by_message_name() -> None:
    from rec_core.registry import registry

    assert {"DeepFM", "WideAndDeep", "DLRM", "MultiTower"} <= set(registry("rec.models").names())


def test_grouped_auc_end_to_end(tmp_path: Path) -> None:
    head = 'metrics { grouped_auc { grouping_key: "user_id" } } losses { binary_cross_entropy {} }'
    model, parser = build_from_config(write_config(tmp_path, MODELS["multi_tower"], head))
    batch = parser(synthetic_rows(n=128))
    with torch.no_grad():
        model.update_metric(model.predict(batch), batch)
    value = model.compute_metric()["grouped_auc"]
    assert 0.0 <= value <= 1.0


def pairwise_dots(vectors: torch.Tensor) -> torch.Tensor:
    """[B, N, D] -> [B, N(N-1)/2]: <v_i, v_j> for i < j, written out (independent of the modules)."""
    n = vectors.shape[1]
    return torch.stack([(vectors[:, i] * vectors[:, j]).sum(dim=1) for i in range(n) for j in range(i + 1, n)], dim=1)


class TestComposition:
    """Each model's logits rebuilt by hand from its parts: the architecture is what the paper says."""

    def setup_model(self, tmp_path: Path, name: str):  # type: ignore[no-untyped-def]
        model, parser = build_from_config(write_config(tmp_path, MODELS[name]))
        model.eval()
        batch = parser(synthetic_rows(n=16))
        with torch.no_grad():
            return model, model.embedding_group(batch), model.predict(batch)["logits"]

    def test_deepfm_is_wide_plus_fm_plus_deep(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "deepfm_plain")
        fields = g["deep"].view(16, 4, 8)  # no `fm` group: FM runs on the deep group
        fm = pairwise_dots(fields).sum(dim=1)
        with torch.no_grad():
            deep = model.output(model.deep(g["deep"])).squeeze(1)
        torch.testing.assert_close(logits, g["wide"].sum(dim=1) + fm + deep)

    def test_deepfm_final_joins_wide_fm_vector_and_deep(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "deepfm_fm_final")
        fields = g["fm"].view(16, 4, 8)
        fm_vec = torch.stack(
            [sum(fields[:, i, d] * fields[:, j, d] for i in range(4) for j in range(i + 1, 4)) for d in range(8)], dim=1
        )
        with torch.no_grad():
            joined = torch.cat([g["wide"].sum(dim=1, keepdim=True), fm_vec, model.deep(g["deep"])], dim=1)
            expected = model.output(model.final(joined)).squeeze(1)
        torch.testing.assert_close(logits, expected)

    def test_wide_and_deep(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "wide_and_deep_plain")
        with torch.no_grad():
            expected = g["wide"].sum(dim=1) + model.output(model.deep(g["deep"])).squeeze(1)
        torch.testing.assert_close(logits, expected)

    def test_dlrm_interacts_dense_with_every_sparse_embedding(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "dlrm_dense")
        with torch.no_grad():
            dense = model.dense_mlp(g["dense"])
            vectors = torch.cat([dense.unsqueeze(1), g["sparse"].view(16, 4, 8)], dim=1)
            joined = torch.cat([dense, pairwise_dots(vectors), g["sparse"]], dim=1)  # arch_with_sparse default true
            expected = model.output(model.final(joined)).squeeze(1)
        torch.testing.assert_close(logits, expected)

    def test_multi_tower(self, tmp_path: Path) -> None:
        model, g, logits = self.setup_model(tmp_path, "multi_tower")
        with torch.no_grad():
            joined = torch.cat([model.towers[0](g["user"]), model.towers[1](g["item"])], dim=1)
            expected = model.output(model.final(joined)).squeeze(1)
        torch.testing.assert_close(logits, expected)
