"""The multi-task and match examples under examples/zoo, run as a user would: synth data,
sampler tables, `rec-train` for a few steps, then `rec-eval` of the checkpoint."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, rec, run

pytestmark = pytest.mark.slow

ZOO = ROOT / "examples/zoo"
MULTI_TASK = ["simple_multi_task", "mmoe", "dbmtl", "dc2vr", "ple"]
MATCH = ["dssm", "dssm_v2", "dat", "mind"]
# sampler oneof of each match example and its table paths (relative to the tables' directory)
SAMPLER_TABLES = {
    "dssm": ("negative_sampler", {"input_path": "items.txt"}),
    "dssm_v2": (
        "hard_negative_sampler",
        {"user_input_path": "users.txt", "item_input_path": "items.txt", "hard_neg_edge_input_path": "hard_edges.txt"},
    ),
    "mind": ("negative_sampler", {"input_path": "items.txt"}),
    "dat": (
        "negative_sampler_v2",
        {"user_input_path": "users.txt", "item_input_path": "items.txt", "pos_edge_input_path": "pos_edges.txt"},
    ),
}


def synth(config: Path, out: Path, rows: int, seed: int) -> Path:
    result = rec(
        "rec_data.cli", "synth", "--pipeline_config_path", str(config),
        "--num_rows", str(rows), "--seed", str(seed), "--output", str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def multi_task_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("mt_data")
    config = ZOO / "mmoe.config"
    return {"train": synth(config, tmp / "train.parquet", 1500, 1), "eval": synth(config, tmp / "eval.parquet", 500, 2)}


@pytest.fixture(scope="module")
def match_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("match_data")
    # dat and mind together read every column the match examples read
    paths = {}
    for split, rows, seed in (("train", 1500, 1), ("eval", 500, 2)):
        parts = [synth(ZOO / f"{m}.config", tmp / f"{split}_{m}.parquet", rows, seed) for m in ("dat", "mind")]
        tables = [pq.read_table(p) for p in parts]
        joined = tables[0]
        for name in tables[1].column_names:
            if name not in joined.column_names:
                joined = joined.append_column(name, tables[1][name])
        paths[split] = tmp / f"{split}.parquet"
        pq.write_table(joined, paths[split])
    made = run([
        sys.executable, str(ZOO / "make_sampler_tables.py"), "--input", str(paths["train"]),
        "--output_dir", str(tmp), "--attr_fields", "item_id,cate_id,brand,price",
    ])
    assert made.returncode == 0, made.stderr[-2000:]
    assert {p.name for p in tmp.glob("*.txt")} == {"items.txt", "users.txt", "pos_edges.txt", "hard_edges.txt"}
    paths["tables"] = tmp
    return paths


def train_and_eval(name: str, data: dict[str, Path], model_dir: Path, edits: dict[str, object]) -> dict[str, float]:
    edits = {"train_config.num_steps": 4, "data_config.batch_size": 128, "data_config.num_workers": 0, **edits}
    common = ["--pipeline_config_path", str(ZOO / f"{name}.config"), "--edit_config_json", json.dumps(edits)]
    trained = rec(
        "rec_dist.cli.train", *common, "--model_dir", str(model_dir),
        "--train_input_path", str(data["train"]), "--eval_input_path", str(data["eval"]),
    )
    assert trained.returncode == 0, trained.stderr[-4000:]
    during = [json.loads(line) for line in (model_dir / "train_eval_result_v2.txt").read_text().splitlines()]
    assert during[-1]["global_step"] == 4
    evaluated = rec(
        "rec_dist.cli.eval", "--pipeline_config_path", str(model_dir / "pipeline.config"),
        "--eval_input_path", str(data["eval"]),
    )
    assert evaluated.returncode == 0, evaluated.stderr[-4000:]
    result = json.loads((model_dir / "eval_result.txt").read_text().splitlines()[-1])
    assert result["global_step"] == 4
    # the standalone eval of the saved checkpoint agrees with the eval at the end of training
    for key, value in during[-1].items():
        assert result[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    return result


@pytest.mark.parametrize("name", MULTI_TASK)
def test_multi_task_example(name: str, multi_task_data: dict[str, Path], tmp_path: Path) -> None:
    result = train_and_eval(name, multi_task_data, tmp_path / "model", {})
    assert set(result) == {
        "global_step", "auc_ctr", "auc_cvr", "binary_cross_entropy_ctr", "binary_cross_entropy_cvr",
    }
    assert all(0.0 <= result[k] <= 1.0 for k in ("auc_ctr", "auc_cvr"))


@pytest.mark.parametrize("name", MATCH)
def test_match_example(name: str, match_data: dict[str, Path], tmp_path: Path) -> None:
    sampler, tables = SAMPLER_TABLES[name]
    edits: dict[str, object] = {f"data_config.{sampler}.{k}": str(match_data["tables"] / v) for k, v in tables.items()}
    edits[f"data_config.{sampler}.num_sample"] = 64
    result = train_and_eval(name, match_data, tmp_path / "model", edits)
    expected = {"global_step", "recall@1", "recall@5", "softmax_cross_entropy"}
    if name == "dat":
        expected |= {"amm_loss_u", "amm_loss_i"}
    assert set(result) == expected
    assert 0.0 <= result["recall@1"] <= result["recall@5"] <= 1.0
    assert all(math.isfinite(v) for v in result.values())
