"""Modules: FM and dot interaction against explicit sums, MLP structure and activation parsing."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_core.protos import module_pb2
from rec_models.modules.interaction import DotInteraction, FactorizationMachine
from rec_models.modules.mlp import MLP, create_activation
from rec_models.testing import TRACE_FORMS, GraphType, create_test_module, tolerance


class TestFactorizationMachine:
    def test_equals_explicit_pairwise_sum(self) -> None:
        torch.manual_seed(0)
        x = torch.randn(5, 4, 3, dtype=torch.float64)
        got = FactorizationMachine()(x)
        assert got.shape == (5, 3)
        # sum over i<j of v_i * v_j, per embedding dimension
        expected = sum(x[:, i] * x[:, j] for i, j in itertools.combinations(range(4), 2))
        torch.testing.assert_close(got, expected)
        # summed over dimensions it is sum_{i<j} <v_i, v_j>
        dots = sum((x[:, i] * x[:, j]).sum(dim=1) for i, j in itertools.combinations(range(4), 2))
        torch.testing.assert_close(got.sum(dim=1), dots)

    def test_hand_computed(self) -> None:
        x = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
        # pairs: (1*3 + 1*5 + 3*5, 2*4 + 2*6 + 4*6) = (23, 44)
        assert FactorizationMachine()(x).tolist() == [[23.0, 44.0]]

    def test_single_field_has_no_pairs(self) -> None:
        assert torch.all(FactorizationMachine()(torch.randn(2, 1, 4)) == 0)

    @pytest.mark.parametrize("graph_type", [*TRACE_FORMS, pytest.param(GraphType.AOT_INDUCTOR, marks=pytest.mark.slow)])
    def test_graph_forms(self, graph_type: GraphType) -> None:
        x = torch.randn(3, 4, 2)
        module = create_test_module(FactorizationMachine(), graph_type, example_inputs=(x,))
        torch.testing.assert_close(module(x), FactorizationMachine()(x))


class TestDotInteraction:
    def test_equals_explicit_dot_products(self) -> None:
        torch.manual_seed(0)
        x = torch.randn(2, 4, 3)
        module = DotInteraction(4)
        assert module.output_dim == 6
        got = module(x)
        expected = torch.stack([(x[:, i] * x[:, j]).sum(dim=1) for i, j in itertools.combinations(range(4), 2)], dim=1)
        torch.testing.assert_close(got, expected)

    def test_hand_computed_order(self) -> None:
        x = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]]])
        # pairs in row-major upper-triangle order: (0,1), (0,2), (1,2)
        assert DotInteraction(3)(x).tolist() == [[0.0, 3.0, 8.0]]

    def test_index_buffers_are_not_state(self) -> None:
        assert DotInteraction(3).state_dict() == {}

    @pytest.mark.parametrize("graph_type", [*TRACE_FORMS, pytest.param(GraphType.AOT_INDUCTOR, marks=pytest.mark.slow)])
    def test_graph_forms(self, graph_type: GraphType) -> None:
        x = torch.randn(3, 4, 2)
        module = create_test_module(DotInteraction(4), graph_type, example_inputs=(x,))
        torch.testing.assert_close(module(x), DotInteraction(4)(x))


class TestMLP:
    def test_shapes(self) -> None:
        mlp = MLP(10, [8, 4])
        assert mlp.output_dim == 4
        assert mlp(torch.randn(3, 10)).shape == (3, 4)

    def test_layer_structure(self) -> None:
        mlp = MLP(10, [8, 4], dropout_ratio=[0.5, 0.0], activation="nn.Tanh", use_bn=True)
        kinds = [type(m) for m in mlp.layers]
        assert kinds == [nn.Linear, nn.BatchNorm1d, nn.Tanh, nn.Dropout, nn.Linear, nn.BatchNorm1d, nn.Tanh]
        # batch norm already centres, so its Linear drops the redundant bias
        assert mlp.layers[0].bias is None

    def test_layer_norm_and_bias(self) -> None:
        mlp = MLP(6, [5], use_ln=True, bias=False)
        assert [type(m) for m in mlp.layers] == [nn.Linear, nn.LayerNorm, nn.ReLU]
        assert mlp.layers[0].bias is None
        out = MLP(6, [5], use_ln=True).layers[1](torch.randn(4, 5))
        torch.testing.assert_close(out.mean(dim=1), torch.zeros(4), atol=1e-5, rtol=0)

    def test_dropout_only_in_training(self) -> None:
        torch.manual_seed(0)
        mlp = MLP(4, [64], dropout_ratio=0.5, activation="nn.Identity")
        x = torch.ones(32, 4)
        mlp.train()
        zeros_train = (mlp(x) == 0).float().mean()
        mlp.eval()
        assert torch.equal(mlp(x), mlp(x))
        assert zeros_train > 0.3 and (mlp(x) == 0).float().mean() < 0.05

    def test_single_ratio_applies_to_every_layer(self) -> None:
        mlp = MLP(4, [3, 3, 3], dropout_ratio=[0.2])
        assert sum(isinstance(m, nn.Dropout) for m in mlp.layers) == 3

    def test_ratio_count_mismatch(self) -> None:
        with pytest.raises(ConfigError, match="dropout_ratio"):
            MLP(4, [3, 3, 3], dropout_ratio=[0.1, 0.2])

    def test_needs_hidden_units(self) -> None:
        with pytest.raises(ConfigError, match="hidden_units"):
            MLP(4, [])

    def test_from_config(self) -> None:
        cfg = module_pb2.MLP(hidden_units=[8, 2], dropout_ratio=[0.1], activation="nn.Sigmoid", use_bn=False)
        mlp = MLP.from_config(5, cfg)
        assert mlp.output_dim == 2
        assert sum(isinstance(m, nn.Sigmoid) for m in mlp.layers) == 2
        assert sum(isinstance(m, nn.Dropout) for m in mlp.layers) == 2

    @pytest.mark.slow
    def test_batch_norm_eval_is_deterministic_across_forms(self) -> None:
        mlp = MLP(5, [4], use_bn=True).eval()
        x = torch.randn(3, 5)
        for graph_type in GraphType:
            tol = tolerance(graph_type)
            torch.testing.assert_close(create_test_module(mlp, graph_type, example_inputs=(x,))(x), mlp(x), rtol=tol, atol=tol)


class TestActivation:
    @pytest.mark.parametrize(
        ("name", "cls"),
        [("nn.ReLU", nn.ReLU), ("ReLU", nn.ReLU), ("torch.nn.Sigmoid", nn.Sigmoid), ("", nn.ReLU), ("nn.ReLU()", nn.ReLU)],
    )
    def test_names(self, name: str, cls: type) -> None:
        assert isinstance(create_activation(name), cls)

    def test_arguments(self) -> None:
        act = create_activation("nn.LeakyReLU(0.2)")
        assert isinstance(act, nn.LeakyReLU) and act.negative_slope == pytest.approx(0.2)

    @pytest.mark.parametrize("name", ["nn.NoSuchThing", "nn.Linear", "nn.init"])
    def test_bad_name_is_a_config_error(self, name: str) -> None:
        with pytest.raises(ConfigError, match="activation"):
            create_activation(name, "activation")
        with pytest.raises(ConfigError, match="activation"):
            MLP(4, [2], activation=name)

    def test_dice_needs_a_layer_width(self) -> None:
        with pytest.raises(ConfigError, match="activation.*Dice needs the layer width"):
            create_activation("Dice", "activation")
        assert MLP(4, [2], activation="Dice").output_dim == 2

    def test_bad_arguments_are_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="deep.activation.*nn.LeakyReLU\\(x\\)"):
            create_activation("nn.LeakyReLU(x)", "deep.activation")
