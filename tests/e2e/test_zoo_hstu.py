"""The HSTU examples under examples/zoo run as a user would: synth data, `rec-train` for a few
steps, `rec-eval` of the checkpoint, `rec-export`, then the exported model (or towers) predicting
as the checkpoint does; for HSTUMatch, `rec-tools hitrate` of the exported towers' embeddings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from tests.conftest import run
from tests.e2e.test_zoo_multitask_match import ZOO, synth, train_and_eval

pytestmark = pytest.mark.slow


def prepare(name: str, tmp: Path) -> dict[str, Path]:
    config = ZOO / f"{name}.config"
    return {"train": synth(config, tmp / "train.parquet", 1500, 1), "eval": synth(config, tmp / "eval.parquet", 500, 2)}


def export(model_dir: Path, out: Path, aot: bool = False) -> None:
    # QUANT_EMB=0: tables stay float32, so the export and the checkpoint agree to float precision
    exported = run(
        [sys.executable, "-m", "rec_export.cli", "--pipeline_config_path", str(model_dir / "pipeline.config"), "--export_dir", str(out)],
        env={"QUANT_EMB": "0", **({"ENABLE_AOT": "1"} if aot else {})},
    )
    assert exported.returncode == 0, exported.stderr[-4000:]


def checkpoint_model(model_dir: Path) -> tuple[torch.nn.Module, object]:
    """The trained model and a label-free parser, as rec-predict builds them."""
    from rec_dist.predict import load_checkpoint_model
    from rec_dist.setup import build_features, prepare_config

    config = prepare_config(str(model_dir / "pipeline.config"))
    return load_checkpoint_model(config, None), build_features(config, with_labels=False)[1]


def test_dlrm_hstu_trains_evaluates_and_exports(tmp_path: Path) -> None:
    data = prepare("dlrm_hstu", tmp_path)
    model_dir = tmp_path / "model"
    result = train_and_eval("dlrm_hstu", data, model_dir, {})
    assert set(result) == {"global_step", "auc_ctr", "auc_cvr", "binary_cross_entropy_ctr", "binary_cross_entropy_cvr"}
    assert all(0.0 <= result[k] <= 1.0 for k in ("auc_ctr", "auc_cvr"))

    from rec_export import Predictor

    export(model_dir, tmp_path / "export")
    # the AOTInductor export compiles the dense part (HSTU included) for any batch and history length
    export(model_dir, tmp_path / "export_aot", aot=True)
    table = pq.read_table(data["eval"])
    model, parser = checkpoint_model(model_dir)
    lengths = np.array([len(h.split(";")) if h else 0 for h in table.column("click_seq__item_id").to_pylist()])
    short = np.flatnonzero(lengths < lengths.max() // 2)[:3].tolist()
    assert len(short) == 3  # a batch whose longest history is shorter than the export sample's
    for rows in (table.slice(0, 200), table.take(short)):
        with torch.no_grad():
            expected = model.predict(parser(rows.combine_chunks().to_batches()[0]))
        for export_dir in ("export", "export_aot"):
            got = Predictor(str(tmp_path / export_dir)).predict(rows.drop(["clk", "buy"]))
            for key in ("probs_ctr", "probs_cvr"):
                np.testing.assert_allclose(got[key], expected[key].numpy(), rtol=0, atol=1e-5, err_msg=f"{export_dir} {key}")


def test_hstu_match_trains_exports_towers_and_retrieves(tmp_path: Path) -> None:
    data = prepare("hstu_match", tmp_path)
    model_dir = tmp_path / "model"
    result = train_and_eval("hstu_match", data, model_dir, {})
    assert set(result) == {"global_step", "recall@1", "recall@5", "softmax_cross_entropy"}
    assert 0.0 <= result["recall@1"] <= result["recall@5"] <= 1.0

    from rec_export import Predictor

    out = tmp_path / "export"
    export(model_dir, out)
    assert sorted(p.name for p in out.iterdir()) == ["item", "user"]
    rows = pq.read_table(data["eval"]).slice(0, 200)
    model, parser = checkpoint_model(model_dir)
    with torch.no_grad():
        batch = parser(rows.to_batches()[0])
        expected = {"user": model.user_tower_emb(batch).numpy(), "item": model.item_tower_emb(batch).numpy()}
    emb = {}
    for tower, columns in (("user", {"click_seq__item_id", "click_seq__cate_id"}), ("item", {"item_id", "cate_id", "brand"})):
        predictor = Predictor(str(out / tower))
        assert set(predictor.input_columns) == columns
        emb[tower] = predictor.predict(rows.select(sorted(columns)))[f"{tower}_tower_emb"]
        np.testing.assert_allclose(emb[tower], expected[tower], rtol=0, atol=1e-5)

    # every row with an item is a request whose ground truth is that item; one index entry per distinct item
    known = [(r, item) for r, item in enumerate(rows.column("item_id").to_pylist()) if item is not None]
    request_rows, item_ids = [r for r, _ in known], [item for _, item in known]
    first = {item: r for r, item in reversed(known)}
    items = sorted(first)
    pq.write_table(
        pa.table({"item_id": [str(i) for i in items], "item_tower_emb": [emb["item"][first[i]].tolist() for i in items]}),
        tmp_path / "items.parquet",
    )
    pq.write_table(
        pa.table(
            {"request_id": request_rows, "user_tower_emb": emb["user"][request_rows].tolist(), "gt_items": [str(i) for i in item_ids]}
        ),
        tmp_path / "requests.parquet",
    )
    searched = run([
        sys.executable, "-m", "rec_tools.cli", "hitrate", "--user_gt_input", str(tmp_path / "requests.parquet"),
        "--item_embedding_input", str(tmp_path / "items.parquet"), "--index_type", "FlatIP", "--top_k", "5",
        "--total_hitrate_output", str(tmp_path / "hitrate.json"),
    ])
    assert searched.returncode == 0, searched.stderr[-4000:]
    # the same recall@5 by brute force over the distinct items (a near tie may order one row differently)
    scores = emb["user"][request_rows] @ np.stack([emb["item"][first[i]] for i in items]).T
    top = np.argsort(-scores, axis=1)[:, :5]
    hits = np.mean([item in {items[j] for j in row} for item, row in zip(item_ids, top)])
    assert json.loads((tmp_path / "hitrate.json").read_text())["hitrate"] == pytest.approx(hits, abs=1.5 / len(item_ids))
