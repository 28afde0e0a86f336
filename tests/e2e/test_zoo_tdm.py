"""examples/zoo/tdm.config run as a user would: synthetic click logs, the tree tables from
examples/zoo/make_tdm_tree.py (rec-tools' tdm-init-tree), `rec-train` for a few steps with the
tdm_sampler, then `rec-eval` of the checkpoint; the node scorer exported predicts as the
checkpoint, and `rec-tools tdm-retrieval` recalls clicked items by beam search with it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, rec, run

TOOLS = str(Path(sys.executable).parent / "rec-tools")

pytestmark = pytest.mark.slow

ZOO = ROOT / "examples/zoo"
CONFIG = ZOO / "tdm.config"
STEPS = 6
RETRIEVAL_ROWS = 100
RECALL_NUM = 20


def synth(out: Path, rows: int, seed: int) -> Path:
    result = rec(
        "rec_data.cli", "synth", "--pipeline_config_path", str(CONFIG),
        "--num_rows", str(rows), "--seed", str(seed), "--output", str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def table_rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()[1:]]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("tdm")
    logs = [synth(tmp / "log_train.parquet", 2000, 1), synth(tmp / "log_eval.parquet", 600, 2)]
    made = run([
        sys.executable, str(ZOO / "make_tdm_tree.py"), "--input", ",".join(map(str, logs)),
        "--output_dir", str(tmp / "tree"), "--clicks_output_dir", str(tmp / "clicks"),
    ])
    assert made.returncode == 0, made.stderr[-2000:]
    levels = int(re.search(r"levels: (\d+)", made.stdout).group(1))
    return {"tmp": tmp, "levels": levels, "train": tmp / "clicks/log_train.parquet", "eval": tmp / "clicks/log_eval.parquet"}


def test_tree_tables_agree_and_cover_every_click(tree: dict[str, object]) -> None:
    tmp, levels = tree["tmp"], tree["levels"]
    assert isinstance(tmp, Path) and isinstance(levels, int)
    nodes = {int(r[0]): r[2].split(":") for r in table_rows(tmp / "tree/node_table.txt")}
    level = {n: int(f[0]) for n, f in nodes.items()}
    leaves = [n for n in nodes if level[n] == levels - 1]
    parent = {int(r[1]): int(r[0]) for r in table_rows(tmp / "tree/predict_edge_table.txt")}
    ancestors: dict[int, list[int]] = {}
    for r in table_rows(tmp / "tree/edge_table.txt"):
        ancestors.setdefault(int(r[0]), []).append(int(r[1]))
    # training's leaf → ancestor edges are the retrieval tree's paths from the root, less the root
    for leaf in leaves:
        path, node = [], leaf
        while node in parent:
            node = parent[node]
            path.append(node)
        assert [level[n] for n in path] == list(range(levels - 2, -1, -1))
        assert sorted(ancestors[leaf]) == sorted(path[:-1])
    # leaves hang in category order (items without one first), left to right under parents in id order
    cates = [(nodes[leaf][2] != "", int(nodes[leaf][2] or 0)) for leaf in leaves]
    assert cates == sorted(cates) and len(set(cates)) > 1
    assert [parent[leaf] for leaf in leaves] == sorted(parent[leaf] for leaf in leaves)
    # the clicked rows alone, each with its item a leaf
    for split in ("train", "eval"):
        clicks = pq.read_table(tree[split])
        assert clicks.num_rows > 0 and pc.all(pc.equal(clicks["clk"], 1)).as_py()
        assert set(clicks["item_id"].to_pylist()) <= set(leaves)


def train(tree: dict[str, object], tree_dir: Path, model_dir: Path) -> Path:
    """rec-train of the zoo config for STEPS steps with the tree tables in tree_dir."""
    assert isinstance(tree["levels"], int)
    edits = {
        "train_config.num_steps": STEPS, "data_config.batch_size": 64, "data_config.num_workers": 0,
        "data_config.tdm_sampler.item_input_path": str(tree_dir / "node_table.txt"),
        "data_config.tdm_sampler.edge_input_path": str(tree_dir / "edge_table.txt"),
        "data_config.tdm_sampler.predict_edge_input_path": str(tree_dir / "predict_edge_table.txt"),
        "data_config.tdm_sampler.layer_num_sample": [0] + [1] * (tree["levels"] - 1),
    }
    trained = rec(
        "rec_dist.cli.train", "--pipeline_config_path", str(CONFIG), "--edit_config_json", json.dumps(edits),
        "--model_dir", str(model_dir), "--train_input_path", str(tree["train"]), "--eval_input_path", str(tree["eval"]),
    )
    assert trained.returncode == 0, trained.stderr[-4000:]
    return model_dir


@pytest.fixture(scope="module")
def trained(tree: dict[str, object]) -> Path:
    tables = tree["tmp"]
    assert isinstance(tables, Path)
    return train(tree, tables / "tree", tables / "model")


def test_train_and_eval_with_the_tdm_sampler(tree: dict[str, object], trained: Path) -> None:
    during = [json.loads(line) for line in (trained / "train_eval_result_v2.txt").read_text().splitlines()]
    assert during[-1]["global_step"] == STEPS
    # nodes on the path to the click against nodes drawn off it: well above chance after a few steps
    assert during[-1]["auc"] > 0.6
    evaluated = rec(
        "rec_dist.cli.eval", "--pipeline_config_path", str(trained / "pipeline.config"), "--eval_input_path", str(tree["eval"])
    )
    assert evaluated.returncode == 0, evaluated.stderr[-4000:]
    result = json.loads((trained / "eval_result.txt").read_text().splitlines()[-1])
    assert set(result) == {"global_step", "auc", "softmax_cross_entropy"}
    # the eval sampler keeps every level and is seeded alike in both runs: the same expanded rows
    for key, value in during[-1].items():
        assert result[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


@pytest.fixture(scope="module")
def exported(trained: Path) -> Path:
    export_dir = trained.parent / "export"
    # QUANT_EMB=0: pooled tables stay float32 (INT8 by default), so predictions agree to float precision
    result = run(
        [sys.executable, "-m", "rec_export.cli", "--pipeline_config_path", str(trained / "pipeline.config"), "--export_dir", str(export_dir)],
        env={"QUANT_EMB": "0"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return export_dir


def test_exported_scorer_predicts_as_the_checkpoint(tree: dict[str, object], trained: Path, exported: Path) -> None:
    tmp, config, export_dir = trained.parent, str(trained / "pipeline.config"), exported
    # prediction scores the rows as given (no sampler): here each user against its clicked leaf
    rows = pq.read_table(tree["eval"]).slice(0, 200)
    unlabeled = tmp / "unlabeled.parquet"
    pq.write_table(rows.drop(["clk"]).append_column("row_id", pa.array(range(rows.num_rows))), unlabeled)
    common = ["--predict_input_path", str(unlabeled), "--reserved_columns", "row_id"]
    by_export = rec("rec_dist.cli.predict", "--scripted_model_path", str(export_dir), "--predict_output_path", str(tmp / "p_export"), *common)
    assert by_export.returncode == 0, by_export.stderr[-4000:]
    by_ckpt = rec("rec_dist.cli.predict", "--pipeline_config_path", config, "--predict_output_path", str(tmp / "p_ckpt"), *common)
    assert by_ckpt.returncode == 0, by_ckpt.stderr[-4000:]
    a, b = pq.read_table(tmp / "p_export/part-0.parquet"), pq.read_table(tmp / "p_ckpt/part-0.parquet")
    assert a["row_id"].to_pylist() == b["row_id"].to_pylist() == list(range(rows.num_rows))
    assert np.abs(a["probs1"].to_numpy() - b["probs1"].to_numpy()).max() <= 1e-5


def test_tdm_retrieval_recalls_leaves_above_chance(tree: dict[str, object], exported: Path) -> None:
    tmp, levels = tree["tmp"], tree["levels"]
    assert isinstance(tmp, Path) and isinstance(levels, int)
    users = pq.read_table(tree["eval"]).slice(0, RETRIEVAL_ROWS)
    users = users.drop(["clk"]).append_column("row_id", pa.array(range(users.num_rows)))
    pq.write_table(users, tmp / "users.parquet")
    result = run([
        TOOLS, "tdm-retrieval", "--scripted_model_path", str(exported),
        "--predict_input_path", str(tmp / "users.parquet"), "--predict_output_path", str(tmp / "recall"),
        "--recall_num", str(RECALL_NUM), "--n_cluster", "2", "--reserved_columns", "row_id,item_id",
    ])
    assert result.returncode == 0, result.stderr[-4000:]
    out = pq.read_table(tmp / "recall/part-0.parquet")
    assert out["row_id"].to_pylist() == list(range(RETRIEVAL_ROWS))
    leaves = {int(r[0]) for r in table_rows(tmp / "tree/node_table.txt") if int(r[2].split(":")[0]) == levels - 1}
    recalled = out["recall_ids"].to_pylist()
    assert all(len(r) == len(set(r)) == RECALL_NUM and set(r) <= leaves for r in recalled)
    hit_rate = np.mean([item in r for item, r in zip(out["item_id"].to_pylist(), recalled)])
    # drawing RECALL_NUM leaves at random hits RECALL_NUM / leaves of the clicks
    assert hit_rate > 2 * RECALL_NUM / len(leaves), hit_rate
    assert f"recall@{RECALL_NUM}: {hit_rate:.4f}" in result.stdout


def mean_group_distance(emb: dict[int, np.ndarray], tree_dir: Path, up: int) -> float:
    """Mean L2 distance between the embeddings of leaves sharing their ancestor `up` levels above."""
    parent = {int(r[1]): int(r[0]) for r in table_rows(tree_dir / "predict_edge_table.txt")}
    groups: dict[int, list[np.ndarray]] = {}
    for item, vector in emb.items():
        node = item
        for _ in range(up):
            node = parent[node]
        groups.setdefault(node, []).append(vector)
    pairs = [np.linalg.norm(a - b) for g in groups.values() for i, a in enumerate(g) for b in g[:i]]
    return float(np.mean(pairs))


def test_cluster_tree_from_learned_item_embeddings_then_retrain(tree: dict[str, object], trained: Path) -> None:
    tmp, levels = tree["tmp"], tree["levels"]
    assert isinstance(tmp, Path) and isinstance(levels, int)
    # the item embeddings the model learned (TorchEasyRec: export/embedding + predict), then the learnt tree
    made = run([
        TOOLS, "tdm-item-emb", "--pipeline_config_path", str(trained / "pipeline.config"),
        "--item_input_path", f"{tree['train']},{tree['eval']}", "--attr_fields", "cate_id", "--embedding_output_path", str(tmp / "item_emb"),
    ])
    assert made.returncode == 0, made.stderr[-4000:]
    clustered = run([
        TOOLS, "tdm-cluster-tree", "--item_input_path", str(tmp / "item_emb/part-0.parquet"), "--embedding_field", "item_emb",
        "--attr_fields", "cate_id", "--tree_output_dir", str(tmp / "learnt_tree"), "--n_cluster", "2", "--parallel", "2",
    ])
    assert clustered.returncode == 0, clustered.stderr[-4000:]
    assert f"levels: {levels}" in clustered.stdout
    emb_table = pq.read_table(tmp / "item_emb/part-0.parquet")
    emb = dict(zip(emb_table["item_id"].to_pylist(), np.array(emb_table["item_emb"].to_pylist())))
    init_leaves = {int(r[0]) for r in table_rows(tmp / "tree/node_table.txt") if r[2].startswith(f"{levels - 1}:")}
    learnt_leaves = {int(r[0]) for r in table_rows(tmp / "learnt_tree/node_table.txt") if r[2].startswith(f"{levels - 1}:")}
    assert set(emb) == init_leaves == learnt_leaves
    # leaves under one grandparent are closer in the learnt tree than in the category-ordered one
    learnt, initial = mean_group_distance(emb, tmp / "learnt_tree", 2), mean_group_distance(emb, tmp / "tree", 2)
    everything = float(np.mean([np.linalg.norm(a - b) for a in emb.values() for b in emb.values()]))
    assert learnt < initial and learnt < 0.8 * everything, (learnt, initial, everything)
    # one more round of training on the learnt tree
    retrained = train(tree, tmp / "learnt_tree", tmp / "model_learnt")
    during = [json.loads(line) for line in (retrained / "train_eval_result_v2.txt").read_text().splitlines()]
    assert during[-1]["global_step"] == STEPS and during[-1]["auc"] > 0.55
