"""ENABLE_AOT: scripted sparse part + AOTInductor dense part, equal to the checkpoint, any batch size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from rec_export import Predictor
from rec_export.acc import AccConfig
from rec_export.exporter import export

pytestmark = pytest.mark.slow  # AOTInductor compiles C++ (about 20 s per export here)


def test_aot_export_matches_torchscript_in_chunks_and_at_batch_one(project: dict[str, Path], tmp_path: Path) -> None:
    export(str(project["config"]), str(tmp_path / "ts"), acc=AccConfig(quant_emb=""))
    export(str(project["config"]), str(tmp_path / "aot"), acc=AccConfig(quant_emb="", enable_aot=True, max_export_batch_size=64))
    aot_dir = tmp_path / "aot"
    assert (aot_dir / "scripted_sparse_model.pt").is_file() and (aot_dir / "aoti" / "aoti_model.pt2").is_file()
    assert not (aot_dir / "scripted_model.pt").exists()
    acc = json.loads((aot_dir / "model_acc.json").read_text())
    assert (acc["EXPORTER"], acc["ENABLE_AOT"], acc["MAX_EXPORT_BATCH_SIZE"]) == ("aot", "1", "64")
    rows = pq.read_table(project["data"])  # 300 rows: five chunks of at most 64
    expected = Predictor(str(tmp_path / "ts")).predict(rows)
    aot = Predictor(str(aot_dir))
    got = aot.predict(rows)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=1e-5)
    np.testing.assert_allclose(aot.predict(rows.slice(7, 1))["probs"], expected["probs"][7:8], rtol=0, atol=1e-5)


def test_aot_with_quantized_tables_and_tiling(project: dict[str, Path], tmp_path: Path) -> None:
    acc = AccConfig(quant_emb="INT8", input_tile=2, max_export_batch_size=32)
    export(str(project["config"]), str(tmp_path / "ts"), acc=acc)
    export(str(project["config"]), str(tmp_path / "aot"), acc=AccConfig(quant_emb="INT8", input_tile=2, enable_aot=True, max_export_batch_size=32))
    items = pq.read_table(project["data"]).slice(0, 20).drop(["user_id", "age", "clk"]).to_pylist()
    user = {"user_id": 11, "age": 52.0}
    expected = Predictor(str(tmp_path / "ts")).predict(items, user=user)["probs"]
    np.testing.assert_allclose(Predictor(str(tmp_path / "aot")).predict(items, user=user)["probs"], expected, rtol=0, atol=1e-5)
