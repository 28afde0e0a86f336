"""Predictor: the same inputs as the training-side parser, raw rows and Parquet in, light to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from rec_core.config import load_pipeline_config
from rec_core.errors import DataError
from rec_dist.predict import PredictArgs, predict
from rec_dist.setup import build_features
from rec_export import Predictor
from rec_export.acc import AccConfig
from rec_export.exporter import export
from rec_export.packing import pack

WEIGHTED_CONFIG = """
data_config { batch_size: 8 fg_mode: FG_NORMAL label_fields: "clk" }
feature_configs { id_feature { feature_name: "tags" expression: "user:tags" embedding_dim: 4 hash_bucket_size: 50 weighted: true } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 4 hash_bucket_size: 50 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
feature_configs { raw_feature { feature_name: "emb" expression: "item:emb" value_dim: 3 } }
"""

# elements of several ids each: the flat input carries .lengths (elements) and .key_lengths
MULVAL_CONFIG = """
data_config { batch_size: 8 fg_mode: FG_NORMAL label_fields: "clk" }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 4 hash_bucket_size: 50 } }
feature_configs {
  sequence_id_feature { feature_name: "tags" expression: "user:tags" sequence_length: 4 value_dim: 0 embedding_dim: 4 hash_bucket_size: 50 }
}
"""
GENERATED = {"weighted": WEIGHTED_CONFIG, "mulval": MULVAL_CONFIG}


def _parser_and_rows(config_path: Path, rows: pa.Table) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    config = load_pipeline_config(str(config_path))
    _, parser = build_features(config, with_labels=False)
    values = parser.compute(rows)
    return parser.to_batch(values, rows.num_rows).to_dict(), pack(parser.graph.emitted, values)


@pytest.mark.parametrize("which", ["project", "seq_project", "weighted", "mulval"])
def test_packed_inputs_equal_the_parsers(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if which in GENERATED:
        from rec_data.synth import generate_table

        config_path = tmp_path / f"{which}.config"
        config_path.write_text(GENERATED[which])
        if which == "mulval":  # elements of 2, 1 and 3 ids
            rows = pa.table({"item_id": ["x", "y", "z"], "tags": ["a\x1db;c", "e", "d\x1de\x1df"], "clk": [0, 1, 0]})
        else:
            rows = generate_table(load_pipeline_config(str(config_path)), 40, seed=3)
    else:
        project = request.getfixturevalue(which)
        config_path, rows = project["config"], pq.read_table(project["data"]).slice(0, 40)
    expected, got = _parser_and_rows(config_path, rows)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key].dtype == expected[key].dtype, key
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0)
    if which == "weighted":
        assert "tags.weights" in got and "item_id.weights" in got
    if which == "mulval":
        assert got["tags.lengths"].tolist() == [2, 1, 1] and got["tags.key_lengths"].tolist() == [2, 1, 1, 3]


@pytest.fixture(scope="module")
def exported(project: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("predictor") / "e"
    export(str(project["config"]), str(out), acc=AccConfig(quant_emb=""))
    return out


def test_rows_tables_and_parquet_score_alike(exported: Path, project: dict[str, Path]) -> None:
    predictor = Predictor(str(exported))
    table = pq.read_table(project["data"])
    by_table = predictor.predict(table)
    assert set(by_table) == {"logits", "probs"} and by_table["probs"].shape == (table.num_rows,)
    np.testing.assert_array_equal(predictor.predict(table.slice(0, 10).to_pylist())["probs"], by_table["probs"][:10])
    np.testing.assert_allclose(predictor.predict_parquet(str(project["data"]), batch_size=70)["probs"], by_table["probs"], atol=1e-6)
    assert set(predictor.input_columns) == {"user_id", "item_id", "tag", "hour", "age", "price"}


def test_bad_rows_are_data_errors(exported: Path) -> None:
    predictor = Predictor(str(exported))
    with pytest.raises(DataError, match="no rows"):
        predictor.predict([])
    with pytest.raises(DataError, match="row 1"):
        predictor.predict([{"user_id": 1}, "not a row"])  # type: ignore[list-item]
    with pytest.raises(DataError, match="cannot be read"):
        predictor.predict([{"user_id": 1}, {"user_id": "a"}, {"user_id": [1]}])
    with pytest.raises(DataError, match="price"):
        predictor.predict([{"user_id": 1, "item_id": "i1", "tag": "red", "hour": 1, "age": 3.0}])
    assert predictor.unknown_columns(["user_id", "colour"]) == ["colour"]


def test_rec_predict_scores_a_table_with_the_export(exported: Path, project: dict[str, Path], tmp_path: Path) -> None:
    args = PredictArgs(str(project["data"]), str(tmp_path / "out"), scripted_model_path=str(exported), reserved_columns="clk")
    assert predict(args) == 300
    out = pq.read_table(tmp_path / "out" / "part-0.parquet")
    expected = Predictor(str(exported)).predict(pq.read_table(project["data"]))["probs"]
    np.testing.assert_allclose(out["probs"].to_numpy(), expected, atol=1e-6)
    assert out.column_names == ["clk", "logits", "probs"]


def test_import_and_predict_without_the_training_stack(exported: Path, project: dict[str, Path]) -> None:
    code = f"""
import sys
import pyarrow.parquet as pq
import rec_export
from rec_export import Predictor
probs = Predictor({str(exported)!r}).predict(pq.read_table({str(project['data'])!r}).slice(0, 5))["probs"]
assert probs.shape == (5,), probs
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("rec_dist", "rec_models", "rec_data", "torchrec"))
print("HEAVY", heavy)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY []" in result.stdout, result.stdout
