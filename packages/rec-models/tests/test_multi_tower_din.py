"""MultiTowerDIN from a pipeline config: composition, gradients, learning a sequence task, export forms."""

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
from rec_models.models.multi_tower_din import MultiTowerDIN
from rec_models.testing import GraphType, create_test_module, pipeline_trace, tolerance
from rec_models.wrappers import ScriptWrapper, TrainWrapper

NUM_ITEMS, NUM_CATES, SEQ_LEN = 40, 8, 5

CONFIG = """
data_config { batch_size: 256 fg_mode: FG_NONE label_fields: "clk" }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 4 num_buckets: 10 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: %(items)d embedding_name: "item" } }
feature_configs { id_feature { feature_name: "cate_id" expression: "item:cate_id" embedding_dim: 4 num_buckets: %(cates)d embedding_name: "cate" } }
feature_configs {
    sequence_feature {
        sequence_name: "click"
        sequence_length: %(len)d
        features { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: %(items)d embedding_name: "item" } }
        features { id_feature { feature_name: "cate_id" expression: "item:cate_id" embedding_dim: 4 num_buckets: %(cates)d embedding_name: "cate" } }
    }
}
model_config {
    feature_groups { group_name: "user" feature_names: ["user_id", "item_id"] group_type: DEEP }
    feature_groups {
        group_name: "seq"
        feature_names: ["item_id", "cate_id", "click__item_id", "click__cate_id"]
        group_type: SEQUENCE
    }
    multi_tower_din {
        towers { input: "user" mlp { hidden_units: [8] } }
        din_towers { input: "seq" attn_mlp { hidden_units: [16, 8] activation: "nn.ReLU" } }
        final { hidden_units: [16] }
    }
    metrics { auc { thresholds: 0 } }
    losses { binary_cross_entropy {} }
}
""" % {"items": NUM_ITEMS, "cates": NUM_CATES, "len": SEQ_LEN}


def build(tmp_path: Path, config: str = CONFIG) -> tuple[BaseModel, FeatureParser]:
    torch.manual_seed(0)
    path = tmp_path / "din.config"
    path.write_text(config)
    cfg = load_pipeline_config(str(path))
    features = create_features(cfg.feature_configs, cfg.data_config.fg_mode)
    model = create_model(cfg.model_config, features, list(cfg.data_config.label_fields))
    return model, FeatureParser(features, list(cfg.data_config.label_fields))


def rows(n: int, seed: int = 0) -> pa.RecordBatch:
    """A click is the target item appearing in the history: only attention over the history can tell."""
    rng = np.random.default_rng(seed)
    items = rng.integers(0, NUM_ITEMS, n)
    histories = []
    clicks = rng.integers(0, 2, n)
    for item, clicked in zip(items, clicks):
        others = [int(i) for i in rng.choice(np.delete(np.arange(NUM_ITEMS), item), rng.integers(0, SEQ_LEN), replace=False)]
        if clicked:
            others.insert(int(rng.integers(0, len(others) + 1)), int(item))
        histories.append(others[:SEQ_LEN])
    labels = [int(int(i) in h) for i, h in zip(items, histories)]
    return pa.record_batch(
        {
            "user_id": pa.array(rng.integers(0, 10, n)),
            "item_id": pa.array(items),
            "cate_id": pa.array(items % NUM_CATES),
            "click__item_id": pa.array(histories, pa.list_(pa.int64())),
            "click__cate_id": pa.array([[i % NUM_CATES for i in h] for h in histories], pa.list_(pa.int64())),
            "clk": pa.array(labels),
        }
    )


def test_registered_by_message_name() -> None:
    assert registry("rec.models").get("MultiTowerDIN") is MultiTowerDIN


def test_output_is_final_over_tower_and_din(tmp_path: Path) -> None:
    model, parser = build(tmp_path)
    model.eval()
    batch = parser(rows(16))
    with torch.no_grad():
        groups = model.embedding_group(batch)
        query, sequence, lengths = groups["seq.query"], groups["seq.sequence"], groups["seq.sequence_length"]
        din = model.din_towers[0]
        # DIN by hand, row by row, over each row's valid history only
        attended = []
        for b in range(16):
            s = sequence[b, : int(lengths[b])]
            q = query[b].expand_as(s)
            scores = din.linear(din.mlp(torch.cat([q, s, q - s, q * s], dim=1))).squeeze(1)
            attended.append(torch.softmax(scores, 0) @ s if len(s) else torch.zeros(12))
        joined = torch.cat([model.towers[0](groups["user"]), torch.stack(attended)], dim=1)
        expected = model.output(model.final(joined)).squeeze(1)
        torch.testing.assert_close(model.predict(batch)["logits"], expected)


def test_every_parameter_gets_a_gradient(tmp_path: Path) -> None:
    model, parser = build(tmp_path)
    total, _ = TrainWrapper(model)(parser(rows(64)))
    total.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    # the history and the query read one shared item table
    tables = [n for n, _ in model.named_parameters() if ".embeddings." in n]
    assert tables == ["embedding_group.ecs.4.embeddings.cate.weight", "embedding_group.ecs.8.embeddings.item.weight"]


def test_learns_whether_the_target_is_in_the_history(tmp_path: Path) -> None:
    model, parser = build(tmp_path)
    train, held_out = parser(rows(2048, seed=1)), parser(rows(512, seed=2))
    wrapper = TrainWrapper(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(150):
        optimizer.zero_grad()
        wrapper(train)[0].backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        model.update_metric(model.predict(held_out), held_out)
    # users and target items carry no signal; a held-out AUC this high needs the attention
    assert model.compute_metric()["auc"] > 0.95


@pytest.mark.slow
def test_export_forms_agree_and_survive_save(tmp_path: Path) -> None:
    model, parser = build(tmp_path)
    model.eval()
    batch = parser(rows(32, seed=3))
    data = batch.to_dict()
    wrapper = ScriptWrapper(model)
    with torch.no_grad():
        expected = model.predict(batch)
        for graph_type in GraphType:
            out = create_test_module(wrapper, graph_type, example_inputs=(data,))(data)
            tol = tolerance(graph_type)
            torch.testing.assert_close(out["probs"], expected["probs"], rtol=tol, atol=tol, msg=str(graph_type))
        scripted = create_test_module(wrapper, GraphType.JIT_SCRIPT)
        scripted.save(str(tmp_path / "m.pt"))
        loaded = torch.jit.load(str(tmp_path / "m.pt"))
        torch.testing.assert_close(loaded(data)["logits"], expected["logits"], rtol=0, atol=0)


def test_traceable_by_the_train_pipeline(tmp_path: Path) -> None:
    model, _ = build(tmp_path)
    graph = pipeline_trace(TrainWrapper(model))
    called = {n.target for n in graph.nodes if n.op == "call_module"}
    # the history's collections are found as modules fed from the batch, as the bag collection is
    assert {"model.embedding_group.ecs.4", "model.embedding_group.ecs.8", "model.embedding_group.ebc"} <= called


@pytest.mark.slow
def test_raw_sequence_features_export(tmp_path: Path) -> None:
    # a price per click: a raw sequence (Batch.sequence_dense_features) beside the id sequences
    config = CONFIG.replace(
        'embedding_name: "cate" } }\n    }',
        'embedding_name: "cate" } }\n        features { raw_feature { feature_name: "price" expression: "item:price" } }\n    }',
    ).replace('"click__cate_id"]', '"click__cate_id", "click__price"]')
    model, parser = build(tmp_path, config)
    assert model.embedding_group.group_dims("seq.sequence") == [8, 4, 1]
    model.eval()
    data = rows(16, seed=4)
    prices = [[float(i) / 10 for i in h] for h in data.column("click__item_id").to_pylist()]
    batch = parser(data.append_column("click__price", pa.array(prices, pa.list_(pa.float32()))))
    with torch.no_grad():
        expected = model.predict(batch)["probs"]
        for graph_type in GraphType:
            data = batch.to_dict()
            out = create_test_module(ScriptWrapper(model), graph_type, example_inputs=(data,))(data)
            tol = tolerance(graph_type)
            torch.testing.assert_close(out["probs"], expected, rtol=tol, atol=tol, msg=str(graph_type))


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ('din_towers { input: "seq"', 'din_towers { input: "user"', r"multi_tower_din.din_towers\[0\].input: 'user' is not a SEQUENCE group"),
        ('feature_names: ["item_id", "cate_id", "click', 'feature_names: ["user_id", "item_id", "cate_id", "click', r"din_towers\[0\]: query width 16 is larger"),
        ('attn_mlp { hidden_units: [16, 8]', "attn_mlp { hidden_units: []", r"din_towers\[0\].attn_mlp.hidden_units"),
    ],
)
def test_config_errors(tmp_path: Path, old: str, new: str, match: str) -> None:
    assert old in CONFIG
    with pytest.raises(ConfigError, match=match):
        build(tmp_path, CONFIG.replace(old, new))
