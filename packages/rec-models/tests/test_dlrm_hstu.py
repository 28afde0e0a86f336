"""DlrmHSTU from text configs on learnable rows: token assembly, bitmask tasks, learning, graph forms, errors.

A user clicks the candidate when its category is among the categories of the click history,
likes it when it also clicks in the morning (a contextual feature), and watches it for as long
as the history holds items of its category: every task needs the candidate to attend to the history.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_models.models.dlrm_hstu import DlrmHSTU
from rec_models.modules.hstu_inputs import join_tokens, reverse_rows
from rec_models.testing import GraphType, build_from_config, create_test_module, graph_type_params, pipeline_trace
from rec_models.wrappers import ScriptWrapper, TrainWrapper

N_USERS, N_ITEMS, N_CATES, MAX_HISTORY = 20, 30, 5, 8

FEATURES = """
data_config { batch_size: 256 fg_mode: FG_NORMAL label_fields: ["action", "watch"] }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "hour" expression: "context:hour" embedding_dim: 4 num_buckets: 24 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 embedding_name: "item" } }
feature_configs { id_feature { feature_name: "cate_id" expression: "item:cate_id" embedding_dim: 8 num_buckets: 5 embedding_name: "cate" } }
feature_configs { sequence_feature { sequence_name: "clicks" sequence_length: 8 sequence_delim: ";"
    features { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 embedding_name: "item" } }
    features { id_feature { feature_name: "cate_id" expression: "item:cate_id" embedding_dim: 8 num_buckets: 5 embedding_name: "cate" } } } }
"""

GROUPS = """
    feature_groups { group_name: "contextual" feature_names: ["user_id", "hour"] group_type: DEEP }
    feature_groups { group_name: "uih" feature_names: ["clicks__item_id", "clicks__cate_id"] group_type: JAGGED_SEQUENCE }
    feature_groups { group_name: "candidate" feature_names: ["item_id", "cate_id"] group_type: DEEP }
"""

TASKS = """
        task_configs { task_name: "ctr" label_name: "action" task_bitmask: 1 losses { binary_cross_entropy {} } metrics { auc {} } }
        task_configs { task_name: "like" label_name: "action" task_bitmask: 2 losses { binary_cross_entropy {} } metrics { auc {} } }
        task_configs { task_name: "watch" label_name: "watch" losses { l2_loss {} } metrics { mean_squared_error {} } weight: 0.5 }
"""


def model_text(groups: str = GROUPS, extra: str = "", tasks: str = TASKS) -> str:
    return groups + f"""
    dlrm_hstu {{
        hstu {{
            stu {{ embedding_dim: 16 num_heads: 2 hidden_dim: 8 attention_dim: 8 output_dropout_ratio: 0 }}
            input_dropout_ratio: 0
            attn_num_layers: 2
            positional_encoder {{ num_position_buckets: 16 }}
            input_preprocessor {{ uih_preprocessor {{}} }}
            output_postprocessor {{ layernorm_postprocessor {{}} }}
        }}
        fusion_mtl_tower {{ mlp {{ hidden_units: [16] }} {tasks} }}
        max_seq_len: 11
        item_embedding_hidden_dim: 16
        {extra}
    }}
    """


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pipeline.config"
    path.write_text(FEATURES + "model_config {\n" + body + "}\n")
    return path


def build(tmp_path: Path, body: str | None = None) -> tuple[DlrmHSTU, object]:
    model, parser = build_from_config(write_config(tmp_path, body or model_text()))
    assert isinstance(model, DlrmHSTU)
    return model, parser


def rows(seed: int, n: int = 256, reverse: bool = False) -> pa.RecordBatch:
    """Rows of the rule in the module docstring; `reverse` writes each history most recent first."""
    rng = np.random.default_rng(seed)
    histories = []
    for _ in range(n):
        cates = rng.choice(N_CATES, size=rng.integers(1, 3), replace=False)
        histories.append([int(rng.choice(cates)) + N_CATES * int(rng.integers(0, N_ITEMS // N_CATES)) for _ in range(rng.integers(1, MAX_HISTORY + 1))])
    items = rng.integers(0, N_ITEMS, n)
    hours = rng.integers(0, 24, n)
    same = np.array([sum(h % N_CATES == i % N_CATES for h in hist) for hist, i in zip(histories, items)])
    click = same > 0
    like = click & (hours < 12)
    return pa.record_batch(
        {
            "user_id": pa.array(rng.integers(0, N_USERS, n)),
            "hour": pa.array(hours),
            "item_id": pa.array(items),
            "cate_id": pa.array(items % N_CATES),
            "clicks__item_id": pa.array([";".join(str(i) for i in (h[::-1] if reverse else h)) for h in histories]),
            "clicks__cate_id": pa.array([";".join(str(i % N_CATES) for i in (h[::-1] if reverse else h)) for h in histories]),
            "action": pa.array(click.astype(np.int64) + 2 * like.astype(np.int64)),
            "watch": pa.array((same / MAX_HISTORY).astype(np.float32)),
        }
    )


class TestTokens:
    def test_reverse_rows(self) -> None:
        values = torch.arange(6.0).unsqueeze(1)
        out = reverse_rows(values, torch.tensor([2, 0, 3, 1]))
        assert out.squeeze(1).tolist() == [1.0, 0.0, 4.0, 3.0, 2.0, 5.0]

    def test_join_tokens_puts_the_candidate_after_each_history(self) -> None:
        prefix = torch.tensor([[[10.0]], [[20.0]], [[30.0]]])  # one contextual token per row
        history, lengths = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([2, 0, 1])
        candidate = torch.tensor([[-1.0], [-2.0], [-3.0]])
        values, joined = join_tokens(prefix, history, lengths, candidate, 2)
        assert joined.tolist() == [4, 2, 3]
        assert values.squeeze(1).tolist() == [10.0, 1.0, 2.0, -1.0, 20.0, -2.0, 30.0, 3.0, -3.0]


class TestModel:
    def test_outputs_losses_and_gradients(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path)
        batch = parser(rows(0, n=32))
        total, (losses, preds) = TrainWrapper(model)(batch)
        assert set(preds) == {"logits_ctr", "probs_ctr", "logits_like", "probs_like", "y_watch"}
        assert all(v.shape == (32,) for v in preds.values())
        assert set(losses) == {"binary_cross_entropy_ctr", "binary_cross_entropy_like", "l2_loss_watch"}
        total.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, f"parameters without gradient: {missing}"

    def test_bitmask_tasks_read_their_bit_of_the_action_label(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path)
        model.eval()
        batch = parser(rows(1, n=64))
        action = batch.labels["action"]
        with torch.no_grad():
            preds = model.predict(batch)
            losses = model.loss(preds, batch)
        for task, bit in (("ctr", 1), ("like", 2)):
            target = ((action & bit) > 0).float()
            expected = F.binary_cross_entropy_with_logits(preds[f"logits_{task}"], target)
            torch.testing.assert_close(losses[f"binary_cross_entropy_{task}"], expected)
        expected_watch = 0.5 * F.mse_loss(preds["y_watch"], batch.labels["watch"])
        torch.testing.assert_close(losses["l2_loss_watch"], expected_watch)

    def test_candidate_reads_its_own_history_only(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path)
        model.eval()
        base = rows(2, n=16)
        changed = base.to_pydict()
        changed["clicks__item_id"][3] = "0;5;11"
        changed["clicks__cate_id"][3] = "0;0;1"
        with torch.no_grad():
            a = model.predict(parser(base))["logits_ctr"]
            b = model.predict(parser(pa.record_batch(changed, schema=base.schema)))["logits_ctr"]
        others = [i for i in range(16) if i != 3]
        torch.testing.assert_close(a[others], b[others])
        assert not torch.allclose(a[3], b[3])

    def test_descending_histories_are_read_oldest_first(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path)
        descending, _ = build(tmp_path, model_text(extra="sequence_timestamp_is_ascending: false"))
        descending.load_state_dict(model.state_dict())
        model.eval(), descending.eval()
        with torch.no_grad():
            expected = model.predict(parser(rows(3, n=16)))
            out = descending.predict(parser(rows(3, n=16, reverse=True)))
        for key, value in expected.items():
            torch.testing.assert_close(out[key], value)

    @pytest.mark.slow
    @pytest.mark.usefixtures("one_thread")
    def test_learns_every_task_on_held_out_rows(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path)
        wrapper = TrainWrapper(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        held_out = parser(rows(1000))
        batches = [parser(rows(seed)) for seed in range(10)]

        def evaluate() -> dict[str, float]:
            model.eval()
            with torch.no_grad():
                _, (losses, preds) = wrapper(held_out)
                model.update_metric(preds, held_out, losses)
            model.train()
            return model.compute_metric()

        before = evaluate()
        for step in range(100):
            optimizer.zero_grad()
            wrapper(batches[step % len(batches)])[0].backward()
            optimizer.step()
        after = evaluate()
        assert after["binary_cross_entropy_ctr"] < 0.7 * before["binary_cross_entropy_ctr"], (before, after)
        assert after["auc_ctr"] > 0.85 and after["auc_like"] > 0.85, after
        assert after["mean_squared_error_watch"] < 0.5 * before["mean_squared_error_watch"], (before, after)

    @pytest.mark.parametrize("pareto", [False, True])
    def test_traceable_by_the_train_pipeline(self, tmp_path: Path, pareto: bool) -> None:
        model, _ = build(tmp_path, "use_pareto_loss_weight: true\n" + model_text() if pareto else None)
        graph = pipeline_trace(TrainWrapper(model))
        assert any(n.op == "call_module" and n.target.endswith("ecs.8") for n in graph.nodes)

    def test_pareto_weights_scale_the_training_losses(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path, "use_pareto_loss_weight: true\n" + model_text())
        batch = parser(rows(6, n=32))
        _, (weighted, preds) = TrainWrapper(model)(batch)
        with torch.no_grad():
            plain = model.loss(preds, batch)  # no anchor outside a training forward: unweighted
        ratios = [float(weighted[k] / plain[k]) for k in plain]
        assert all(0.0 <= r <= 1.0 for r in ratios) and sum(ratios) == pytest.approx(1.0, abs=1e-5), ratios

    @pytest.mark.parametrize("graph_type", graph_type_params())
    def test_export_forms_agree(self, tmp_path: Path, graph_type: GraphType) -> None:
        model, parser = build(tmp_path)
        model.eval()
        batch = parser(rows(4, n=32))
        data = batch.to_dict()
        with torch.no_grad():
            expected = model.predict(batch)
            out = create_test_module(ScriptWrapper(model), graph_type, (data,))(data)
        assert set(out) == set(expected)
        for key, value in expected.items():
            torch.testing.assert_close(out[key], value, rtol=1e-6, atol=1e-6, msg=f"{graph_type} {key}")

    def test_variational_dropout_on_the_contextual_features(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path, "variational_dropout { regularization_lambda: 0.01 }\n" + model_text())
        _, (losses, _) = TrainWrapper(model)(parser(rows(7, n=16)))
        # the DEEP groups of two or more features: contextual [user_id, hour], candidate [item_id, cate_id]
        assert {"contextual_feature_p_loss", "candidate_feature_p_loss"} <= set(losses)

    def test_without_contextual_group(self, tmp_path: Path) -> None:
        groups = GROUPS.split("\n", 2)[2]  # drop the contextual group
        model, parser = build(tmp_path, model_text(groups))
        assert len(model.contextual_projections) == 0
        preds = model.predict(parser(rows(5, n=8)))
        assert preds["probs_ctr"].shape == (8,)


class TestConfigErrors:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (model_text(GROUPS.replace('"uih"', '"history"')), "model_config.feature_groups"),
            (model_text(GROUPS.replace("JAGGED_SEQUENCE", "SEQUENCE")), "model_config.feature_groups['uih']"),
            (model_text(GROUPS.replace('["item_id", "cate_id"] group_type: DEEP', '["item_id", "cate_id"] group_type: WIDE')), "candidate"),
            (model_text(extra="concat_contextual_features: true"), "model_config.dlrm_hstu.concat_contextual_features"),
            (
                model_text().replace("uih_preprocessor {}", "uih_preprocessor { action_encoder { simple_action_encoder { action_embedding_dim: 4 } } }"),
                "model_config.dlrm_hstu.hstu.input_preprocessor.uih_preprocessor.action_encoder",
            ),
            (model_text(tasks='task_configs { task_name: "ctr" label_name: "clk" losses { binary_cross_entropy {} } }'), "task_configs[0].label_name"),
            (model_text(tasks='task_configs { task_name: "ctr" label_name: "action" }'), "task_configs[0].losses"),
            (model_text(tasks=""), "model_config.dlrm_hstu.fusion_mtl_tower.task_configs"),
        ],
    )
    def test_errors_name_the_field(self, tmp_path: Path, body: str, field: str) -> None:
        with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
            build_from_config(write_config(tmp_path, body))
