"""The sparse/dense cut that compiled exports use, and INPUT_TILE=2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from torchrec.fx import symbolic_trace

from rec_core.errors import ConfigError
from rec_dist.predict import load_checkpoint_model
from rec_dist.setup import build_features, prepare_config
from rec_export import Predictor
from rec_export.acc import AccConfig
from rec_export.exporter import export
from rec_models.split import split_sparse_dense
from rec_models.wrappers import ScriptWrapper


def _model_and_inputs(config_path: Path, data: Path) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    config = prepare_config(str(config_path))
    _, parser = build_features(config, with_labels=False)
    model = load_checkpoint_model(config, None)
    return ScriptWrapper(model), parser(pq.read_table(data).slice(0, 40).to_batches()[0]).to_dict()


@pytest.mark.parametrize("which", ["project", "seq_project"])
def test_dense_after_sparse_is_the_whole_model(which: str, request: pytest.FixtureRequest) -> None:
    project = request.getfixturevalue(which)
    wrapper, inputs = _model_and_inputs(project["config"], project["data"])
    parts = split_sparse_dense(symbolic_trace(wrapper))
    with torch.no_grad():
        expected = wrapper(inputs)
        cut = parts.sparse(inputs)
        got = parts.dense(*[cut[n] for n in parts.names])
    assert set(cut) == set(parts.names) and all(isinstance(v, torch.Tensor) for v in cut.values())
    # the lookups are on the sparse side only; the MLPs (and their parameters) on the dense side
    assert not [n for n, _ in parts.dense.named_modules() if "embedding" in n]
    assert [n for n, _ in parts.sparse.named_modules() if "embedding" in n]
    assert not [n for n, _ in parts.sparse.named_parameters() if "mlp" in n or "deep" in n]
    for k in expected:
        torch.testing.assert_close(got[k], expected[k], rtol=0, atol=0)


@pytest.fixture(scope="module")
def exports(project: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tile")
    out = {"plain": root / "plain", "tiled": root / "tiled"}
    export(str(project["config"]), str(out["plain"]), acc=AccConfig(quant_emb=""))
    export(str(project["config"]), str(out["tiled"]), acc=AccConfig(quant_emb="", input_tile=2))
    return out


def test_tiled_export_scores_one_user_against_many_items(exports: dict[str, Path], project: dict[str, Path]) -> None:
    tiled = Predictor(str(exports["tiled"]))
    assert json.loads((exports["tiled"] / "model_acc.json").read_text())["INPUT_TILE"] == "2"
    assert sorted(tiled.user_columns) == ["age", "user_id"]
    rows = pq.read_table(project["data"]).slice(0, 30).to_pylist()
    user = {"user_id": 7, "age": 33.0}
    items = [{k: v for k, v in r.items() if k not in user and k != "clk"} for r in rows]
    full_rows = [{**r, **user} for r in items]
    expected = Predictor(str(exports["plain"])).predict(full_rows)["probs"]
    np.testing.assert_allclose(tiled.predict(items, user=user)["probs"], expected, rtol=0, atol=1e-6)
    # whole rows (offline prediction, rec-predict) go through the tiled model unchanged
    np.testing.assert_allclose(tiled.predict(full_rows)["probs"], expected, rtol=0, atol=1e-6)
    mixed = pq.read_table(project["data"]).slice(0, 30)
    np.testing.assert_allclose(
        tiled.predict(mixed)["probs"], Predictor(str(exports["plain"])).predict(mixed)["probs"], rtol=0, atol=1e-6
    )


def test_the_tiled_model_takes_user_inputs_of_one_row(exports: dict[str, Path]) -> None:
    model = torch.jit.load(str(exports["tiled"] / "scripted_model.pt"))
    items = 5
    inputs = {
        "user_id.values": torch.tensor([3]), "user_id.lengths": torch.tensor([1], dtype=torch.int32),
        "age.values": torch.tensor([2]), "age.lengths": torch.tensor([1], dtype=torch.int32),
        "item_id.values": torch.arange(items), "item_id.lengths": torch.ones(items, dtype=torch.int32),
        "tag.values": torch.full((items,), 2), "tag.lengths": torch.ones(items, dtype=torch.int32),
        "hour.values": torch.arange(items), "hour.lengths": torch.ones(items, dtype=torch.int32),
        "price": torch.rand(items, 1),
    }
    full = dict(inputs)
    for name in ("user_id", "age"):
        full[f"{name}.values"] = inputs[f"{name}.values"].repeat(items)
        full[f"{name}.lengths"] = inputs[f"{name}.lengths"].repeat(items)
    torch.testing.assert_close(model(inputs)["probs"], model(full)["probs"], rtol=0, atol=0)
    assert model(inputs)["probs"].shape == (items,)


def test_unsupported_input_tile_and_trt_without_cuda_are_clear_errors(
    project: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INPUT_TILE", "3")
    with pytest.raises(ConfigError, match="INPUT_TILE"):
        AccConfig.from_env()
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="ENABLE_TRT: TensorRT export needs a CUDA GPU"):
        export(str(project["config"]), str(tmp_path / "trt"), acc=AccConfig(enable_trt=True))
    assert list(tmp_path.iterdir()) == []
