"""create-faiss-index and hitrate through the console script, on Parquet and CSV embedding tables."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

Runner = Callable[..., subprocess.CompletedProcess]
DIM = 16


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2000 items in 20 clusters; 300 held-out queries, each a noisy copy of one item (its ground truth)."""
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("emb")
    centers = rng.normal(size=(20, DIM))
    items = _unit(centers[rng.integers(0, 20, 2000)] + 0.5 * rng.normal(size=(2000, DIM)))
    ids = np.arange(100000, 102000)
    pq.write_table(pa.table({"item_id": ids, "item_tower_emb": list(items)}), out / "items.parquet", row_group_size=500)
    source = rng.choice(2000, 300, replace=False)
    queries = _unit(items[source] + 0.15 * rng.normal(size=(300, DIM)))
    pq.write_table(
        pa.table({"request_id": np.arange(300), "user_tower_emb": list(queries), "gt_items": [[int(ids[s])] for s in source]}),
        out / "queries.parquet",
    )
    csv = ["item_id,item_tower_emb"] + [f'{i},"{",".join(f"{v:.6f}" for v in e)}"' for i, e in zip(ids[:100], items[:100])]
    (out / "items.csv").write_text("\n".join(csv) + "\n")
    return {"items": out / "items.parquet", "queries": out / "queries.parquet", "csv": out / "items.csv", "dir": out}


def _index(tools: Runner, tables: dict[str, Path], out: Path, index_type: str, *extra: str) -> dict:
    result = tools(
        "create-faiss-index", "--embedding_input_path", tables["items"], "--index_output_dir", out,
        "--index_type", index_type, "--batch_size", "256", *extra,
    )
    assert f"{index_type} index of 2000 vectors of width {DIM}" in result.stdout
    assert (out / "id_mapping").read_text().splitlines()[:2] == ["100000", "100001"]
    return json.loads((out / "index_meta.json").read_text())


def _recall(tools: Runner, tables: dict[str, Path], out: Path, *source: str, top_k: int = 10, nprobe: int = 800) -> float:
    total = out / f"total_{top_k}_{nprobe}.json"
    tools(
        "hitrate", "--user_gt_input", tables["queries"], *source, "--total_hitrate_output", total,
        "--hitrate_details_output", out / "details.parquet", "--top_k", str(top_k), "--ivf_nprobe", str(nprobe),
    )
    result = json.loads(total.read_text())
    assert result["requests"] == 300 and result["gt_items"] == 300
    return result["hitrate"]


def test_index_recall_on_held_out_queries(tables: dict[str, Path], tmp_path: Path, tools: Runner) -> None:
    flat = _recall(tools, tables, tmp_path, "--item_embedding_input", tables["items"], "--index_type", "FlatIP")
    ivf_meta = _index(tools, tables, tmp_path / "ivf", "IVFFlatIP", "--ivf_nlist", "32")
    assert ivf_meta == {"index_type": "IVFFlatIP", "dim": DIM, "count": 2000, "metric": "IP", "ivf_nlist": 32}
    ivf_all = _recall(tools, tables, tmp_path, "--index_dir", tmp_path / "ivf", nprobe=32)
    ivf_one = _recall(tools, tables, tmp_path, "--index_dir", tmp_path / "ivf", nprobe=1)
    _index(tools, tables, tmp_path / "hnsw", "HNSWFlatIP", "--hnsw_M", "16")
    hnsw = _recall(tools, tables, tmp_path, "--index_dir", tmp_path / "hnsw")
    print(f"recall@10 over 300 held-out queries: brute force {flat:.4f}, IVFFlat nprobe=nlist {ivf_all:.4f}, nprobe=1 {ivf_one:.4f}, HNSW {hnsw:.4f}")
    assert 0.5 < flat < 1.0  # the task is neither trivial nor hopeless
    assert abs(ivf_all - flat) <= 0.01  # probing every list is exhaustive
    assert ivf_one <= ivf_all
    assert hnsw >= flat - 0.05
    details = pq.read_table(tmp_path / "details.parquet").to_pydict()
    assert len(details["request_id"]) == 300 and all(len(t) == 10 for t in details["topk_ids"])
    assert sum(details["hits"]) == round(hnsw * 300)


def test_l2_index_and_small_table_lowers_nlist(tables: dict[str, Path], tmp_path: Path, tools: Runner) -> None:
    meta = _index(tools, tables, tmp_path / "ivf", "IVFFlatL2", "--ivf_nlist", "5000")
    assert (meta["metric"], meta["ivf_nlist"]) == ("L2", 2000)
    flat_l2 = _recall(tools, tables, tmp_path, "--item_embedding_input", tables["items"], "--index_type", "FlatL2")
    ivf = _recall(tools, tables, tmp_path, "--index_dir", tmp_path / "ivf", nprobe=5000)
    assert abs(ivf - flat_l2) <= 0.01


def test_csv_embeddings_as_text(tables: dict[str, Path], tmp_path: Path, tools: Runner) -> None:
    result = tools("create-faiss-index", "--embedding_input_path", tables["csv"], "--index_output_dir", tmp_path, "--index_type", "FlatIP")
    assert "FlatIP index of 100 vectors of width 16" in result.stdout


def test_wrong_embedding_width_is_a_clear_error(tables: dict[str, Path], tmp_path: Path, tools: Runner) -> None:
    result = tools(
        "create-faiss-index", "--embedding_input_path", tables["items"], "--index_output_dir", tmp_path,
        "--embedding_dim", "32", check=False,
    )
    assert result.returncode == 2
    assert "column 'item_tower_emb' (rows from 0): row 0 has an embedding of width 16, expected 32" in result.stderr
    assert not (tmp_path / "faiss_index").exists()
    narrow = tmp_path / "narrow.parquet"
    pq.write_table(pa.table({"request_id": [1], "user_tower_emb": [[0.1, 0.2]], "gt_items": [[100000]]}), narrow)
    _index(tools, tables, tmp_path / "idx", "FlatIP")
    result = tools("hitrate", "--user_gt_input", narrow, "--index_dir", tmp_path / "idx", "--total_hitrate_output", tmp_path / "t.json", check=False)
    assert result.returncode == 2
    assert "user embeddings have width 2, the item index has width 16" in result.stderr
