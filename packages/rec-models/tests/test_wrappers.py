"""Wrappers and the graph-form helper: flat-tensor signature, train step shape, GraphType."""

from __future__ import annotations

import pyarrow as pa
import pytest
import torch
from google.protobuf import text_format

from rec_core.protos import model_pb2
from rec_features.features import FG_NONE
from rec_features.parser import FeatureParser
from rec_features.testing import build_feature
from rec_models.model import create_model
from rec_models.testing import GraphType, create_test_module, tolerance
from rec_models.wrappers import ScriptWrapper, TrainWrapper, input_names

DENSE_ONLY = """
feature_groups { group_name: "a" feature_names: ["x"] group_type: DEEP }
feature_groups { group_name: "b" feature_names: ["y"] group_type: DEEP }
multi_tower {
    towers { input: "a" mlp { hidden_units: [4] } }
    towers { input: "b" }
    final { hidden_units: [4] }
}
losses { binary_cross_entropy {} }
"""


def dense_only_model():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    features = [
        build_feature('raw_feature { feature_name: "x" expression: "user:x" value_dim: 3 }', FG_NONE),
        build_feature('raw_feature { feature_name: "y" expression: "user:y" }', FG_NONE),
    ]
    model = create_model(text_format.Parse(DENSE_ONLY, model_pb2.ModelConfig()), features, ["label"])
    parser = FeatureParser(features, ["label"])
    rows = pa.record_batch(
        {
            "x": pa.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]], pa.list_(pa.float32())),
            "y": pa.array([0.5, -1.0]),
            "label": pa.array([1, 0]),
        }
    )
    return model, parser(rows)


@pytest.mark.slow
def test_dense_only_model_in_every_form() -> None:
    model, batch = dense_only_model()
    model.eval()
    wrapper = ScriptWrapper(model)
    assert wrapper.sparse_keys == [] and wrapper.dense_keys == ["x", "y"] and wrapper.dense_dims == [3, 1]
    expected = model.predict(batch)["probs"]
    data = batch.to_dict()
    for graph_type in GraphType:
        got = create_test_module(wrapper, graph_type, example_inputs=(data,))(data)["probs"]
        tol = tolerance(graph_type)
        torch.testing.assert_close(got, expected, rtol=tol, atol=tol, msg=str(graph_type))


def test_identity_tower_passes_the_group_through() -> None:
    model, batch = dense_only_model()
    assert isinstance(model.towers[1], torch.nn.Identity)
    assert model.final.layers[0].in_features == 4 + 1


def test_train_wrapper_returns_total_and_detached_parts() -> None:
    model, batch = dense_only_model()
    total, (losses, preds) = TrainWrapper(model)(batch)
    assert total.requires_grad and total.dim() == 0
    assert set(losses) == {"binary_cross_entropy"}
    assert not losses["binary_cross_entropy"].requires_grad
    assert not preds["probs"].requires_grad
    torch.testing.assert_close(total, losses["binary_cross_entropy"])


def test_input_names_order() -> None:
    assert input_names(["a", "b"], ["d"]) == ["a.values", "a.lengths", "b.values", "b.lengths", "d"]


def test_unknown_graph_type() -> None:
    with pytest.raises(ValueError, match="unknown graph type"):
        create_test_module(torch.nn.Identity(), "aot")  # type: ignore[arg-type]


def test_eager_is_the_module_itself() -> None:
    m = torch.nn.Linear(2, 2)
    assert create_test_module(m, GraphType.EAGER) is m
    assert isinstance(create_test_module(m, GraphType.FX_TRACE), torch.fx.GraphModule)
    assert isinstance(create_test_module(m, GraphType.JIT_SCRIPT), torch.jit.ScriptModule)


def test_aot_inductor_needs_example_inputs() -> None:
    with pytest.raises(ValueError, match="example_inputs"):
        create_test_module(torch.nn.Linear(2, 2), GraphType.AOT_INDUCTOR)
