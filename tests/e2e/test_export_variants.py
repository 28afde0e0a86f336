"""Every export variant that runs on CPU, through the CLIs: rec-train on synthetic data, rec-export
with TorchEasyRec's env flags, then predictions from rec-predict, Predictor and rec-serve that match
the checkpoint's (float32 variants to 1e-5, quantized ones within the documented tolerance)."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from rec_export.quant import PROBABILITY_TOLERANCE  # rec-export README, "Quantization"
from tests.conftest import rec, run, write_config

pytestmark = pytest.mark.slow

INT8_TOLERANCE = PROBABILITY_TOLERANCE["INT8"]  # the other dtypes: packages/rec-export/tests/test_quant.py
AUC_DROP = 1e-3  # quantized exports may lose at most this much AUC

VARIANTS: dict[str, tuple[dict[str, str], float]] = {
    "torchscript": ({"QUANT_EMB": "0"}, 1e-5),
    "aot": ({"QUANT_EMB": "0", "ENABLE_AOT": "1", "MAX_EXPORT_BATCH_SIZE": "256"}, 1e-5),
    "tiled": ({"QUANT_EMB": "0", "INPUT_TILE": "2"}, 1e-5),
    "int8": ({}, INT8_TOLERANCE),  # QUANT_EMB's default
    "aot_int8": ({"ENABLE_AOT": "1", "INPUT_TILE": "2"}, INT8_TOLERANCE),
}


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from torchmetrics.functional.classification import binary_auroc

    return float(binary_auroc(torch.from_numpy(scores), torch.from_numpy(labels).long()))


def _predict(tmp: Path, name: str, *args: str) -> pa.Table:
    out = tmp / f"pred_{name}"
    result = rec("rec_dist.cli.predict", *args, "--predict_output_path", str(out), "--predict_input_path",
                 str(tmp / "unlabeled.parquet"), "--reserved_columns", "row_id")
    assert result.returncode == 0, result.stderr[-3000:]
    return pq.read_table(out / "part-0.parquet")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, synth_data: dict[str, Path]) -> dict:
    tmp = tmp_path_factory.mktemp("variants")
    config = write_config(
        tmp / "pipeline.config",
        {
            "train_input_path": str(synth_data["train"]),
            "eval_input_path": str(synth_data["eval"]),
            "model_dir": str(tmp / "model"),
            "data_config.batch_size": 256,
            "train_config.num_epochs": 1,
        },
    )
    result = rec("rec_dist.cli.train", "--pipeline_config_path", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = pq.read_table(synth_data["eval"])
    pq.write_table(rows.drop(["clk"]).append_column("row_id", pa.array(range(rows.num_rows))), tmp / "unlabeled.parquet")
    by_ckpt = _predict(tmp, "ckpt", "--pipeline_config_path", str(config))
    return {"tmp": tmp, "config": config, "rows": rows, "ckpt": by_ckpt["probs"].to_numpy()}


def _export(trained: dict, name: str, env: dict[str, str]) -> Path:
    export_dir = trained["tmp"] / f"export_{name}"
    if not export_dir.exists():
        result = run([sys.executable, "-m", "rec_export.cli", "--pipeline_config_path", str(trained["config"]),
                      "--export_dir", str(export_dir)], env=env, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
    return export_dir


def _serve(export_dir: Path, rows: list[dict]) -> np.ndarray:
    proc = subprocess.Popen([sys.executable, "-m", "rec_export.serve", "--export_dir", str(export_dir), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        match = re.match(r"serving on http://([\d.]+):(\d+)", line)
        assert match, line + proc.stderr.read()  # type: ignore[union-attr]
        conn = http.client.HTTPConnection(match.group(1), int(match.group(2)), timeout=120)
        conn.request("POST", "/predict", body=json.dumps({"rows": rows}))
        response = conn.getresponse()
        doc = json.loads(response.read())
        assert response.status == 200, doc
        return np.asarray(doc["predictions"]["probs"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_predicts_as_the_checkpoint(trained: dict, name: str) -> None:
    env, tolerance = VARIANTS[name]
    export_dir = _export(trained, name, env)
    acc = json.loads((export_dir / "model_acc.json").read_text())
    assert acc["ENABLE_AOT"] == env.get("ENABLE_AOT", "0") and acc["INPUT_TILE"] == env.get("INPUT_TILE", "0")
    assert acc["QUANT_EMB"] == env.get("QUANT_EMB", "INT8")

    by_export = _predict(trained["tmp"], name, "--scripted_model_path", str(export_dir))
    assert by_export["row_id"].to_pylist() == list(range(trained["rows"].num_rows))
    probs = by_export["probs"].to_numpy()
    diff = float(np.abs(probs - trained["ckpt"]).max())
    labels = trained["rows"]["clk"].to_numpy()
    auc_drop = _auc(labels, trained["ckpt"]) - _auc(labels, probs)
    print(f"{name}: max |export - checkpoint| = {diff:.3g}, AUC drop = {auc_drop:.2g}")
    assert diff <= tolerance
    assert auc_drop <= (AUC_DROP if tolerance > 1e-5 else 1e-6)

    from rec_export import Predictor

    raw = trained["rows"].drop(["clk"]).slice(0, 300).to_pylist()
    predictor = Predictor(str(export_dir))
    np.testing.assert_allclose(predictor.predict(raw)["probs"], probs[:300], rtol=0, atol=1e-5)
    np.testing.assert_allclose(_serve(export_dir, raw[:100]), probs[:100], rtol=0, atol=1e-5)
    if env.get("INPUT_TILE"):
        user = {c: raw[0][c] for c in predictor.user_columns}
        items = [{k: v for k, v in r.items() if k not in user} for r in raw[:50]]
        expected = predictor.predict([{**r, **user} for r in items])["probs"]
        np.testing.assert_allclose(predictor.predict(items, user=user)["probs"], expected, rtol=0, atol=1e-5)


def test_export_errors_are_one_line_and_write_nothing(trained: dict) -> None:
    tmp, config = trained["tmp"], str(trained["config"])
    cases = [
        ({"ENABLE_TRT": "1"}, ["--export_dir", str(tmp / "trt")], "ENABLE_TRT: TensorRT export needs a CUDA GPU"),
        ({}, ["--export_dir", str(tmp / "nockpt"), "--checkpoint_path", str(tmp / "nowhere")], "no checkpoint found"),
        ({}, ["--export_dir", str(_export(trained, "torchscript", VARIANTS["torchscript"][0]))], "already exists"),
    ]
    before = sorted(p.name for p in tmp.iterdir())
    for env, args, message in cases:
        result = run([sys.executable, "-m", "rec_export.cli", "--pipeline_config_path", config, *args], env=env)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.returncode == 2 and len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert sorted(p.name for p in tmp.iterdir()) == before
