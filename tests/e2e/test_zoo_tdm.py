"""examples/zoo/tdm.config run as a user would: synthetic click logs, the tree tables from
examples/zoo/make_tdm_tree.py, `rec-train` for a few steps with the tdm_sampler, then
`rec-eval` of the checkpoint; the node scorer exported predicts as the checkpoint."""

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

pytestmark = pytest.mark.slow

ZOO = ROOT / "examples/zoo"
CONFIG = ZOO / "tdm.config"
STEPS = 6


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
    # leaves hang in category order: parents left to right (by id) cover ascending categories
    by_parent: dict[int, list[str]] = {}
    for leaf in leaves:
        by_parent.setdefault(parent[leaf], []).append(nodes[leaf][2])
    cates = [c for p in sorted(by_parent) for c in sorted(by_parent[p])]
    assert cates == sorted(cates) and len(set(cates)) > 1
    # the clicked rows alone, each with its item a leaf
    for split in ("train", "eval"):
        clicks = pq.read_table(tree[split])
        assert clicks.num_rows > 0 and pc.all(pc.equal(clicks["clk"], 1)).as_py()
        assert set(clicks["item_id"].to_pylist()) <= set(leaves)


@pytest.fixture(scope="module")
def trained(tree: dict[str, object]) -> Path:
    tables = tree["tmp"]
    assert isinstance(tables, Path) and isinstance(tree["levels"], int)
    edits = {
        "train_config.num_steps": STEPS, "data_config.batch_size": 64, "data_config.num_workers": 0,
        "data_config.tdm_sampler.item_input_path": str(tables / "tree/node_table.txt"),
        "data_config.tdm_sampler.edge_input_path": str(tables / "tree/edge_table.txt"),
        "data_config.tdm_sampler.predict_edge_input_path": str(tables / "tree/predict_edge_table.txt"),
        "data_config.tdm_sampler.layer_num_sample": [0] + [1] * (tree["levels"] - 1),
    }
    model_dir = tables / "model"
    trained = rec(
        "rec_dist.cli.train", "--pipeline_config_path", str(CONFIG), "--edit_config_json", json.dumps(edits),
        "--model_dir", str(model_dir), "--train_input_path", str(tree["train"]), "--eval_input_path", str(tree["eval"]),
    )
    assert trained.returncode == 0, trained.stderr[-4000:]
    return model_dir


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


def test_exported_scorer_predicts_as_the_checkpoint(tree: dict[str, object], trained: Path) -> None:
    tmp, config = trained.parent, str(trained / "pipeline.config")
    export_dir = tmp / "export"
    # QUANT_EMB=0: pooled tables stay float32 (INT8 by default), so the two agree to float precision
    exported = run(
        [sys.executable, "-m", "rec_export.cli", "--pipeline_config_path", config, "--export_dir", str(export_dir)],
        env={"QUANT_EMB": "0"},
    )
    assert exported.returncode == 0, exported.stderr[-4000:]
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
