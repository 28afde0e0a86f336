"""TDM on batches the real tdm_sampler expands: composition, gradients, learning which tree
nodes lead to a user's interests, train-pipeline trace and export forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from rec_core.batch import Batch
from rec_core.config import load_pipeline_config
from rec_core.errors import ConfigError
from rec_core.registry import registry
from rec_data.samplers import create_sampler
from rec_features.features import create_features
from rec_features.parser import FeatureParser
from rec_models.model import create_model
from rec_models.models.tdm import TDM
from rec_models.testing import GraphType, create_test_module, pipeline_trace, tolerance
from rec_models.wrappers import ScriptWrapper, TrainWrapper

# A complete binary tree over 16 items (ids 0..15, the leaves at level 4); internal nodes
# 16..30, node 16 the root. Items of one category (i // 4) share their level-2 ancestor.
NUM_ITEMS, DEPTH, SEQ_LEN = 16, 4, 4
NUM_NODES = 2 * NUM_ITEMS - 1


def heap_id(heap: int) -> int:
    """Node id of heap position `heap` (1 is the root; leaves are heap 16..31)."""
    return heap - NUM_ITEMS if heap >= NUM_ITEMS else NUM_ITEMS + heap - 1


def write_tree(tmp_path: Path) -> tuple[Path, Path]:
    nodes = ["id:int64\tweight:float\tfeature:string"]
    edges = ["src_id:int64\tdst_id:int64\tweight:float"]
    for heap in range(1, 2 * NUM_ITEMS):
        level = heap.bit_length() - 1
        nodes.append(f"{heap_id(heap)}\t1.0\t{level}:{heap_id(heap)}")
        if level == DEPTH:
            edges += [f"{heap_id(heap)}\t{heap_id(heap >> up)}\t1.0" for up in range(1, DEPTH)]
    (tmp_path / "nodes.txt").write_text("\n".join(nodes) + "\n")
    (tmp_path / "edges.txt").write_text("\n".join(edges) + "\n")
    return tmp_path / "nodes.txt", tmp_path / "edges.txt"


CONFIG = """
data_config {
    batch_size: 64 fg_mode: FG_NONE label_fields: "clk"
    tdm_sampler {
        item_input_path: "%(nodes)s" edge_input_path: "%(edges)s" predict_edge_input_path: "%(edges)s"
        attr_fields: ["tree_level", "item_id"] item_id_field: "item_id" layer_num_sample: [0, 1, 2, 3, 4]
    }
}
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 4 num_buckets: 10 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: %(nodes_n)d embedding_name: "node" } }
feature_configs {
    sequence_feature {
        sequence_name: "click"
        sequence_length: %(len)d
        features { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: %(nodes_n)d embedding_name: "node" } }
    }
}
model_config {
    feature_groups { group_name: "user" feature_names: ["user_id"] group_type: DEEP }
    feature_groups { group_name: "seq" feature_names: ["item_id", "click__item_id"] group_type: SEQUENCE }
    tdm {
        multiwindow_din { windows_len: [1, 3] attn_mlp { hidden_units: [16] activation: "nn.ReLU" } }
        final { hidden_units: [32, 16] }
    }
    num_class: 2
    metrics { auc {} }
    losses { softmax_cross_entropy {} }
}
"""


class Setup:
    """The model, parser and sampler of a config, built as rec-dist builds them."""

    def __init__(self, tmp_path: Path, edit: tuple[str, str] = ("", ""), mode: str = "train") -> None:
        torch.manual_seed(0)
        nodes, edges = write_tree(tmp_path)
        text = CONFIG % {"nodes": nodes, "edges": edges, "nodes_n": NUM_NODES, "len": SEQ_LEN}
        assert edit[0] in text
        (tmp_path / "tdm.config").write_text(text.replace(*edit))
        cfg = load_pipeline_config(str(tmp_path / "tdm.config"))
        labels = list(cfg.data_config.label_fields)
        features = create_features(cfg.feature_configs, cfg.data_config.fg_mode)
        self.model = create_model(cfg.model_config, features, labels)
        self.parser = FeatureParser(features, labels)
        self.sampler = create_sampler(cfg.data_config, mode)

    def batch(self, n: int, seed: int) -> Batch:
        """n clicks, each the sampler expands into the leaf, its ancestors and negatives."""
        return self.parser(self.sampler.apply(clicks(n, seed), np.random.default_rng(seed)))


def clicks(n: int, seed: int) -> pa.RecordBatch:
    """Each user clicks within one category: the history holds other items of the clicked one's."""
    rng = np.random.default_rng(seed)
    cates = rng.integers(0, NUM_ITEMS // 4, n)
    items, histories = [], []
    for c in cates:
        members = rng.permutation(np.arange(4 * c, 4 * c + 4))
        items.append(int(members[0]))
        histories.append([int(i) for i in members[1 : 1 + rng.integers(1, SEQ_LEN)]])
    return pa.record_batch(
        {
            "user_id": pa.array(rng.integers(0, 10, n)),
            "item_id": pa.array(items, pa.int64()),
            "click__item_id": pa.array(histories, pa.list_(pa.int64())),
            "clk": pa.array(np.ones(n, np.int64)),
        }
    )


def test_registered_by_message_name() -> None:
    assert registry("rec.models").get("TDM") is TDM


def test_scores_every_expanded_row_from_windows_node_and_user(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    s.model.eval()
    batch = s.batch(8, seed=0)
    # per click: the leaf, 3 middle-level ancestors, 1 + 2 + 3 + 4 negatives
    assert batch.batch_size == 8 * (1 + 3 + 10)
    assert batch.labels["clk"].tolist() == [1] * 32 + [0] * 80
    with torch.no_grad():
        groups = s.model.embedding_group(batch)
        query, sequence, lengths = groups["seq.query"], groups["seq.sequence"], groups["seq.sequence_length"]
        din = s.model.multiwindow_din
        rows = []
        for b in range(batch.batch_size):
            # windows [0, 1) and [1, 4): the mean of each window's weighted valid positions, then the node
            n = int(lengths[b])
            seq = sequence[b, :n]
            q = query[b].expand_as(seq)
            w = din.activation(din.linear(din.mlp(torch.cat([seq, q * seq, q], dim=1))))
            first = (w[:1] * seq[:1]).sum(0) / max(1, min(n, 1))
            rest = (w[1:4] * seq[1:4]).sum(0) / max(1, min(n - 1, 3))
            rows.append(torch.cat([first, rest, query[b], groups["user"][b]]))
        expected = s.model.output(s.model.final(torch.stack(rows)))
        predictions = s.model.predict(batch)
    torch.testing.assert_close(predictions["logits"], expected)
    torch.testing.assert_close(predictions["probs1"], torch.softmax(expected, 1)[:, 1])


def test_every_parameter_gets_a_gradient(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    total, _ = TrainWrapper(s.model)(s.batch(32, seed=1))
    total.backward()
    missing = [n for n, p in s.model.named_parameters() if p.grad is None]
    assert not missing, missing
    # the tree nodes and the clicked items index one table
    tables = [n for n, _ in s.model.named_parameters() if ".embedding" in n]
    assert tables == ["embedding_group.ebc.embedding_bags.user_id_emb.weight", "embedding_group.ecs.8.embeddings.node.weight"]


def test_learns_which_nodes_lead_to_the_users_interest(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    train = [s.batch(256, seed=10 + i) for i in range(4)]
    held_out = Setup(tmp_path, mode="eval").batch(256, seed=99)
    wrapper = TrainWrapper(s.model)
    optimizer = torch.optim.Adam(s.model.parameters(), lr=0.01)
    for step in range(120):
        optimizer.zero_grad()
        wrapper(train[step % len(train)])[0].backward()
        optimizer.step()
    s.model.eval()
    with torch.no_grad():
        s.model.update_metric(s.model.predict(held_out), held_out)
    # users carry no signal: telling a node on the path to the click from one off it needs the history
    assert s.model.compute_metric()["auc"] > 0.9


@pytest.mark.slow
def test_export_forms_agree_and_survive_save(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    s.model.eval()
    batch = s.batch(16, seed=3)
    data = batch.to_dict()
    wrapper = ScriptWrapper(s.model)
    with torch.no_grad():
        expected = s.model.predict(batch)
        for graph_type in GraphType:
            out = create_test_module(wrapper, graph_type, example_inputs=(data,))(data)
            tol = tolerance(graph_type)
            torch.testing.assert_close(out["probs1"], expected["probs1"], rtol=tol, atol=tol, msg=str(graph_type))
        create_test_module(wrapper, GraphType.JIT_SCRIPT).save(str(tmp_path / "m.pt"))
        loaded = torch.jit.load(str(tmp_path / "m.pt"))
        torch.testing.assert_close(loaded(data)["logits"], expected["logits"], rtol=0, atol=0)


def test_traceable_by_the_train_pipeline(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    graph = pipeline_trace(TrainWrapper(s.model))
    called = {n.target for n in graph.nodes if n.op == "call_module"}
    assert {"model.embedding_group.ecs.8", "model.embedding_group.ebc"} <= called


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("group_type: SEQUENCE", "group_type: DEEP", r"model_config.feature_groups: TDM reads exactly one SEQUENCE group"),
        ('feature_names: ["user_id"] group_type: DEEP', 'feature_names: ["item_id", "click__item_id"] group_type: SEQUENCE', "got \\['user', 'seq'\\]"),
        ('"item_id", "click__item_id"]', '"user_id", "item_id", "click__item_id"]', r"tdm.multiwindow_din: query width 12 is larger"),
        ("windows_len: [1, 3] ", "", r"tdm.multiwindow_din.windows_len: needs positive window lengths"),
        ("final { hidden_units: [32, 16] }", "final { hidden_units: [] }", r"tdm.final.hidden_units"),
    ],
)
def test_config_errors(tmp_path: Path, old: str, new: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Setup(tmp_path, (old, new))
