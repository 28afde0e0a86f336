"""Match models export the user tower and the item tower as two complete exports, ready for an index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from rec_dist.predict import load_checkpoint_model
from rec_dist.setup import build_features, prepare_config
from rec_export import Predictor
from rec_export.acc import AccConfig
from rec_export.exporter import export


def test_each_tower_is_its_own_export_with_its_own_features(match_project: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "towers"
    export(str(match_project["config"]), str(out), acc=AccConfig(quant_emb=""))
    assert sorted(p.name for p in out.iterdir()) == ["item", "user"]
    rows = pq.read_table(match_project["data"]).slice(0, 50)
    config = prepare_config(str(match_project["config"]))
    model = load_checkpoint_model(config, None)
    _, parser = build_features(config, with_labels=False)
    with torch.no_grad():
        batch = parser(rows.to_batches()[0])
        expected = {"user": model.user_tower_emb(batch).numpy(), "item": model.item_tower_emb(batch).numpy()}
    for tower, columns in (("user", {"user_id", "age"}), ("item", {"item_id", "price"})):
        acc = json.loads((out / tower / "model_acc.json").read_text())
        assert acc["EXPORTER"] == "torchscript"
        fg = json.loads((out / tower / "fg.json").read_text())
        predictor = Predictor(str(out / tower))
        assert set(predictor.input_columns) == columns
        assert {e["feature_name"] for e in fg["features"]} == columns
        got = predictor.predict(rows.select(sorted(columns)))[f"{tower}_tower_emb"]
        assert got.shape == (50, 8)
        np.testing.assert_allclose(got, expected[tower], rtol=0, atol=1e-5)
