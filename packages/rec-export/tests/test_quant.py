"""QUANT_EMB / QUANT_EC_EMB: TorchRec's quantized tables, smaller, within the documented tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from rec_export import Predictor
from rec_export.acc import AccConfig
from rec_export.exporter import export

from rec_export.quant import PROBABILITY_TOLERANCE as TOLERANCE


@pytest.fixture(scope="module")
def float_export(project: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quant") / "fp32"
    export(str(project["config"]), str(out), acc=AccConfig(quant_emb=""))
    return out


def _acc(export_dir: Path) -> dict:
    return json.loads((export_dir / "model_acc.json").read_text())


@pytest.mark.parametrize("dtype", ["FP32", "FP16", "INT8", "INT4", "INT2"])
def test_each_dtype_shrinks_tables_and_keeps_predictions_close(
    dtype: str, project: dict[str, Path], float_export: Path, tmp_path: Path
) -> None:
    out = tmp_path / dtype
    export(str(project["config"]), str(out), acc=AccConfig(quant_emb=dtype))
    acc = _acc(out)
    assert acc["QUANT_EMB"] == dtype
    rows = pq.read_table(project["data"])
    expected = Predictor(str(float_export)).predict(rows)["probs"]
    got = Predictor(str(out)).predict(rows)["probs"]
    assert np.abs(got - expected).max() <= TOLERANCE[dtype]
    if dtype != "FP32":
        assert np.abs(got - expected).max() > 0  # the tables really changed
        assert acc["EMBEDDING_BYTES"] < _acc(float_export)["EMBEDDING_BYTES"]


def test_int8_tables_are_torchrec_quantized_modules_in_the_export(project: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "q"
    export(str(project["config"]), str(out), acc=AccConfig())  # QUANT_EMB's default: INT8
    model = torch.jit.load(str(out / "scripted_model.pt"))
    state = model.state_dict().values()
    assert any(v.dtype == torch.uint8 for v in state)
    # no float table is left: the fixture's tables have 100 or 24 rows (+5 for boundaries, 6 for the vocab)
    assert not [v for v in state if v.dtype == torch.float32 and v.dim() == 2 and v.shape[0] in (100, 24, 4, 6)]


def test_quant_ec_emb_quantizes_sequence_tables_only_when_asked(seq_project: dict[str, Path], tmp_path: Path) -> None:
    rows = pq.read_table(seq_project["data"])
    results = {}
    for name, acc in {"float": AccConfig(quant_emb=""), "bags": AccConfig(), "all": AccConfig(quant_ec_emb="INT8")}.items():
        export(str(seq_project["config"]), str(tmp_path / name), acc=acc)
        results[name] = (_acc(tmp_path / name), Predictor(str(tmp_path / name)).predict(rows)["probs"])
    float_bytes = results["float"][0]["EMBEDDING_BYTES"]
    # the item table is read by the click sequence, so it is an EmbeddingCollection: QUANT_EMB leaves it
    assert results["bags"][0]["EMBEDDING_BYTES"] > results["all"][0]["EMBEDDING_BYTES"]
    assert results["all"][0]["QUANT_EC_EMB"] == "INT8"
    assert results["all"][0]["EMBEDDING_BYTES"] < float_bytes / 2
    diff = np.abs(results["all"][1] - results["float"][1]).max()
    assert 0 < diff <= TOLERANCE["INT8"]


def test_tables_too_narrow_for_the_dtype_take_the_next_that_packs() -> None:
    from torchrec.modules.embedding_configs import EmbeddingBagConfig
    from torchrec.modules.embedding_modules import EmbeddingBagCollection
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

    from rec_export.quant import _quantized, _table_dtypes

    torch.manual_seed(0)
    tables = [EmbeddingBagConfig(name=f"t{d}", embedding_dim=d, num_embeddings=10, feature_names=[f"f{d}"]) for d in (1, 2, 16)]
    ebc = EmbeddingBagCollection(tables=tables)
    # a 1-wide table (a WIDE group of width 1) packs neither INT8 nor INT4 rows: FP16
    assert _table_dtypes(ebc, "INT8") == {"t1": torch.float16}
    assert _table_dtypes(ebc, "INT4") == {"t1": torch.float16, "t2": torch.qint8}
    kjt = KeyedJaggedTensor.from_lengths_sync(keys=["f1", "f2", "f16"], values=torch.tensor([1, 2, 3, 4, 5, 6]), lengths=torch.ones(6, dtype=torch.int32))
    expected = ebc(kjt).values()
    got = _quantized(ebc, "INT8", row_alignment=4)(kjt).values()
    torch.testing.assert_close(got.float(), expected, atol=0.02, rtol=0.05)
