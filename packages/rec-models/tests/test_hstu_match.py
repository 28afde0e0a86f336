"""HSTUMatch from text configs on learnable click sequences: towers, learning, tower export, errors.

Each user walks one item category in steps of N_CATES (item i, then i + 5, then i + 10, ...);
the positive is the next step after the history's last item, so only a user tower that reads
the latest position can rank it above the other rows' items (in-batch negatives).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from rec_core.errors import ConfigError
from rec_models.match_model import MatchTowerWrapper
from rec_models.models.hstu_match import HSTUMatch
from rec_models.testing import GraphType, build_from_config, create_test_module, graph_type_params, pipeline_trace
from rec_models.wrappers import TrainWrapper

N_ITEMS, N_CATES, MAX_HISTORY = 40, 5, 8

FEATURES = """
data_config { batch_size: 64 fg_mode: FG_NORMAL label_fields: "clk" }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 16 num_buckets: 40 } }
feature_configs { id_feature { feature_name: "cate_id" expression: "item:cate_id" embedding_dim: 8 num_buckets: 5 } }
feature_configs { sequence_feature { sequence_name: "clicks" sequence_length: 8 sequence_delim: ";"
    features { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 16 num_buckets: 40 } } } }
"""

GROUPS = """
    feature_groups { group_name: "history" feature_names: ["clicks__item_id"] group_type: JAGGED_SEQUENCE }
    feature_groups { group_name: "item" feature_names: ["item_id", "cate_id"] group_type: DEEP }
"""


def model_text(groups: str = GROUPS, extra: str = "output_dim: 16", post: str = "l2norm_postprocessor") -> str:
    return groups + f"""
    hstu_match {{
        user_tower {{
            input: "history"
            hstu {{
                stu {{ embedding_dim: 16 num_heads: 2 hidden_dim: 8 attention_dim: 8 output_dropout_ratio: 0 }}
                input_dropout_ratio: 0
                attn_num_layers: 2
                positional_encoder {{ num_position_buckets: 8 }}
                input_preprocessor {{ uih_preprocessor {{}} }}
                output_postprocessor {{ {post} {{}} }}
            }}
            max_seq_len: 8
        }}
        item_tower {{ input: "item" mlp {{ hidden_units: [32] }} }}
        temperature: 0.1
        in_batch_negative: true
        {extra}
    }}
    losses {{ softmax_cross_entropy {{}} }}
    metrics {{ recall_at_k {{ top_k: 1 }} }}
    metrics {{ recall_at_k {{ top_k: 5 }} }}
    """


def build(tmp_path: Path, body: str | None = None) -> tuple[HSTUMatch, object]:
    path = tmp_path / "pipeline.config"
    path.write_text(FEATURES + "model_config {\n" + (body or model_text()) + "}\n")
    model, parser = build_from_config(path)
    assert isinstance(model, HSTUMatch)
    return model, parser


def rows(seed: int, n: int = 64, reverse: bool = False) -> pa.RecordBatch:
    """Histories of the walk in the module docstring and their next items; `reverse`: most recent first."""
    rng = np.random.default_rng(seed)
    histories, targets = [], []
    for _ in range(n):
        length = int(rng.integers(1, MAX_HISTORY + 1))
        start = int(rng.integers(0, N_ITEMS))
        walk = [(start + N_CATES * k) % N_ITEMS for k in range(length + 1)]
        histories.append(walk[:-1])
        targets.append(walk[-1])
    items = np.array(targets)
    return pa.record_batch(
        {
            "user_id": pa.array(rng.integers(0, 20, n)),
            "item_id": pa.array(items),
            "cate_id": pa.array(items % N_CATES),
            "clicks__item_id": pa.array([";".join(str(i) for i in (h[::-1] if reverse else h)) for h in histories]),
            "clk": pa.array(np.ones(n, np.int64)),
        }
    )


class TestModel:
    def test_outputs_losses_and_gradients(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path)
        total, (losses, preds) = TrainWrapper(model)(parser(rows(0, n=32)))
        assert preds["similarity"].shape == (32, 32)
        assert preds["user_tower_emb"].shape == preds["item_tower_emb"].shape == (32, 16)
        assert set(losses) == {"softmax_cross_entropy"}
        total.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, f"parameters without gradient: {missing}"

    def test_without_output_dim_the_towers_keep_the_hstu_width(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path, model_text(extra="similarity: COSINE"))
        preds = model.predict(parser(rows(0, n=8)))
        assert preds["user_tower_emb"].shape == preds["item_tower_emb"].shape == (8, 16)
        torch.testing.assert_close(preds["user_tower_emb"].norm(dim=1), torch.ones(8))
        torch.testing.assert_close(preds["item_tower_emb"].norm(dim=1), torch.ones(8))

    def test_user_embedding_reads_its_own_history_only(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path)
        model.eval()
        base = rows(1, n=16)
        changed = base.to_pydict()
        changed["clicks__item_id"][5] = "1;6;11"
        with torch.no_grad():
            a = model.predict(parser(base))
            b = model.predict(parser(pa.record_batch(changed, schema=base.schema)))
        others = [i for i in range(16) if i != 5]
        torch.testing.assert_close(a["user_tower_emb"][others], b["user_tower_emb"][others])
        assert not torch.allclose(a["user_tower_emb"][5], b["user_tower_emb"][5])
        torch.testing.assert_close(a["item_tower_emb"], b["item_tower_emb"])

    def test_descending_histories_are_read_oldest_first(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path)
        descending, _ = build(tmp_path, model_text(extra="output_dim: 16 sequence_timestamp_is_ascending: false"))
        descending.load_state_dict(model.state_dict())
        model.eval(), descending.eval()
        with torch.no_grad():
            expected = model.predict(parser(rows(2, n=16)))["user_tower_emb"]
            out = descending.predict(parser(rows(2, n=16, reverse=True)))["user_tower_emb"]
        torch.testing.assert_close(out, expected)

    @pytest.mark.slow
    @pytest.mark.usefixtures("one_thread")
    def test_learns_the_next_item_on_held_out_users(self, tmp_path: Path) -> None:
        model, parser = build(tmp_path)
        wrapper = TrainWrapper(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        batches = [parser(rows(seed)) for seed in range(10)]
        held_out = [parser(rows(seed)) for seed in (100, 101)]

        def evaluate() -> dict[str, float]:
            model.eval()
            with torch.no_grad():
                for batch in held_out:
                    _, (losses, preds) = wrapper(batch)
                    model.update_metric(preds, batch, losses)
            model.train()
            return model.compute_metric()

        before = evaluate()
        for step in range(100):
            optimizer.zero_grad()
            wrapper(batches[step % len(batches)])[0].backward()
            optimizer.step()
        after = evaluate()
        assert after["softmax_cross_entropy"] < 0.5 * before["softmax_cross_entropy"], (before, after)
        # 64 candidates per row, the positive among them: chance recall@5 is about 0.08
        assert after["recall@5"] > 0.8 and after["recall@1"] > before["recall@1"], (before, after)

    def test_traceable_by_the_train_pipeline(self, tmp_path: Path) -> None:
        model, _ = build(tmp_path)
        graph = pipeline_trace(TrainWrapper(model))
        assert any(n.op == "call_module" and ".ecs." in n.target for n in graph.nodes)

    @pytest.mark.parametrize(
        ("tower", "graph_type"),
        [pytest.param("user", *p.values, id=f"user-{p.id}", marks=p.marks) for p in graph_type_params()]
        + [pytest.param("item", *p.values, id=f"item-{p.id}", marks=p.marks) for p in graph_type_params()],
    )
    def test_towers_export_in_every_graph_form(self, tmp_path: Path, tower: str, graph_type: GraphType) -> None:
        model, parser = build(tmp_path)
        model.eval()
        batch = parser(rows(3, n=16))
        wrapper = MatchTowerWrapper(model, tower)
        data = {k: v for k, v in batch.to_dict().items() if k.split(".")[0] in wrapper.input_keys}
        with torch.no_grad():
            expected = model.predict(batch)[f"{tower}_tower_emb"]
            out = create_test_module(wrapper, graph_type, (data,))(data)
        torch.testing.assert_close(out[f"{tower}_tower_emb"], expected, rtol=1e-6, atol=1e-6, msg=str(graph_type))


class TestConfigErrors:
    @pytest.mark.parametrize(
        ("body", "match"),
        [
            (model_text(GROUPS.replace("JAGGED_SEQUENCE", "SEQUENCE")), r"user_tower\.input.*JAGGED_SEQUENCE"),
            (model_text(GROUPS.replace('["clicks__item_id"]', '["user_id", "clicks__item_id"]')), "sequence features only"),
            (model_text(extra="output_dim: -1"), r"hstu_match\.output_dim"),
            (model_text(post="timestamp_layernorm_postprocessor"), r"user_tower\.hstu\.output_postprocessor"),
            (model_text(extra="output_dim: 16 in_batch_negative: false"), r"hstu_match\.in_batch_negative"),
        ],
    )
    def test_errors_name_the_field(self, tmp_path: Path, body: str, match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            build(tmp_path, body)
