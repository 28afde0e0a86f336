"""Zoo modules against hand-computed small cases: cross networks, CIN, mask blocks, WuKong blocks,
Dice and MLP layer outputs; each in eager, FX-traced and TorchScript form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_core.protos import module_pb2
from rec_models.modules.cin import CIN
from rec_models.modules.cross import cross_net, cross_net_v2
from rec_models.modules.mask_net import MaskBlock, MaskNetModule
from rec_models.modules.mlp import MLP, Dice
from rec_models.modules.wukong import FactorizationMachineBlock, LinearCompressBlock, WuKongLayer
from rec_models.testing import GraphType, create_test_module, tolerance


def assert_forms_agree(module: nn.Module, *inputs: torch.Tensor) -> None:
    module.eval()
    expected = module(*inputs)
    for graph_type in GraphType:
        tol = tolerance(graph_type)
        got = create_test_module(module, graph_type, example_inputs=inputs)(*inputs)
        torch.testing.assert_close(got, expected, rtol=tol, atol=tol, msg=str(graph_type))


class TestCrossNetworks:
    def test_v1_on_a_two_dim_input(self) -> None:
        net = cross_net(2, module_pb2.Cross(cross_num=1))
        with torch.no_grad():
            net.kernels[0].copy_(torch.tensor([[0.5], [-1.0]]))
            net.bias[0].copy_(torch.tensor([[0.1], [0.2]]))
        # <x, w> = 0.5 - 2 = -1.5;  x0 * -1.5 + b + x = [-1.5 + 0.1 + 1, -3 + 0.2 + 2]
        torch.testing.assert_close(net(torch.tensor([[1.0, 2.0]])), torch.tensor([[-0.4, -0.8]]))

    def test_v1_two_layers(self) -> None:
        net = cross_net(2, module_pb2.Cross(cross_num=2))
        with torch.no_grad():
            for k in net.kernels:
                k.copy_(torch.tensor([[1.0], [1.0]]))
            for b in net.bias:
                b.zero_()
        # x1 = x0 * 3 + x0 = [4, 8];  x2 = x0 * (4 + 8) + x1 = [16, 32]
        torch.testing.assert_close(net(torch.tensor([[1.0, 2.0]])), torch.tensor([[16.0, 32.0]]))

    def test_v2_full_rank_on_a_two_dim_input(self) -> None:
        net = cross_net_v2(2, module_pb2.CrossV2(cross_num=1, low_rank=0))
        with torch.no_grad():
            net.kernels[0].copy_(torch.tensor([[1.0, 2.0], [0.0, -1.0]]))
            net.bias[0].copy_(torch.tensor([[0.5], [0.0]]))
        # W x + b = [1 + 4 + 0.5, -2] = [5.5, -2];  x0 * that + x = [5.5 + 1, -4 + 2]
        torch.testing.assert_close(net(torch.tensor([[1.0, 2.0]])), torch.tensor([[6.5, -2.0]]))

    def test_v2_low_rank_factorises_the_kernel(self) -> None:
        net = cross_net_v2(4, module_pb2.CrossV2(cross_num=1, low_rank=1))
        with torch.no_grad():
            net.W_kernels[0].copy_(torch.tensor([[1.0], [0.0], [2.0], [0.0]]))  # U: [4, 1]
            net.V_kernels[0].copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0]]))  # V: [1, 4]
            net.bias[0].zero_()
        x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
        # V x = 3;  U (V x) = [3, 0, 6, 0];  x0 * that + x = [3 + 1, 2, 18 + 3, 4]
        torch.testing.assert_close(net(x), torch.tensor([[4.0, 2.0, 21.0, 4.0]]))

    def test_v2_rank_not_below_width_is_full_rank(self) -> None:
        assert hasattr(cross_net_v2(4, module_pb2.CrossV2(cross_num=1, low_rank=32)), "kernels")
        assert hasattr(cross_net_v2(64, module_pb2.CrossV2(cross_num=1)), "W_kernels")  # default rank 32

    def test_cross_num_must_be_positive(self) -> None:
        with pytest.raises(ConfigError, match="m.cross.cross_num"):
            cross_net(4, module_pb2.Cross(cross_num=0), "m.cross")

    @pytest.mark.slow
    @pytest.mark.parametrize("rank", [0, 2])
    def test_graph_forms(self, rank: int) -> None:
        assert_forms_agree(cross_net_v2(6, module_pb2.CrossV2(cross_num=2, low_rank=rank)), torch.randn(3, 6))
        assert_forms_agree(cross_net(6, module_pb2.Cross(cross_num=2)), torch.randn(3, 6))


def cin_by_loops(x: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
    """X^k_h = sum_{i,j} W^k[h, i * m + j] * X^{k-1}_i * X^0_j; output = sum over D of every X^k."""
    b, m, d = x.shape
    hidden, pooled = x, []
    for w in weights:
        layer = torch.zeros(b, w.shape[0], d, dtype=x.dtype)
        for h in range(w.shape[0]):
            for i in range(hidden.shape[1]):
                for j in range(m):
                    layer[:, h] += w[h, i * m + j] * hidden[:, i] * x[:, j]
        hidden = layer
        pooled.append(layer.sum(dim=2))
    return torch.cat(pooled, dim=1)


class TestCIN:
    def test_hand_computed(self) -> None:
        cin = CIN(2, [1])
        with torch.no_grad():
            cin.compress[0].weight.copy_(torch.tensor([[1.0, 0.0, 0.0, 2.0]]))  # pairs (0,0), (0,1), (1,0), (1,1)
        x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
        # X^1 = 1 * x0*x0 + 2 * x1*x1 = [1 + 18, 4 + 32] = [19, 36]; pooled over D: 55
        torch.testing.assert_close(cin(x), torch.tensor([[55.0]]))

    def test_matches_the_definition(self) -> None:
        torch.manual_seed(0)
        cin = CIN(3, [4, 2]).double()
        x = torch.randn(5, 3, 2, dtype=torch.float64)
        got = cin(x)
        assert got.shape == (5, 6) and cin.output_dim == 6
        torch.testing.assert_close(got, cin_by_loops(x, [layer.weight for layer in cin.compress]))

    def test_needs_layer_sizes(self) -> None:
        with pytest.raises(ConfigError, match="cin.cin_layer_size"):
            CIN(3, [])

    @pytest.mark.slow
    def test_graph_forms(self) -> None:
        assert_forms_agree(CIN(3, [4, 2]), torch.randn(2, 3, 5))


class TestMaskBlocks:
    def test_block_is_layer_norm_times_mask_then_projection(self) -> None:
        torch.manual_seed(0)
        block = MaskBlock(4, 6, hidden_dim=3, reduction_ratio=0.5)
        assert block.mask[0].out_features == 3  # 6 * 0.5
        x, m = torch.randn(2, 4), torch.randn(2, 6)
        mask = block.mask[2](torch.relu(block.mask[0](m)))
        normed = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, unbiased=False, keepdim=True) + 1e-5)
        hidden = normed * mask @ block.hidden[0].weight.T
        expected = torch.relu(torch.nn.functional.layer_norm(hidden, (3,)))
        torch.testing.assert_close(block(x, m), expected, rtol=1e-5, atol=1e-5)

    def test_zero_mask_silences_the_input(self) -> None:
        block = MaskBlock(4, 4, hidden_dim=3)
        with torch.no_grad():
            block.mask[2].weight.zero_()
            block.mask[2].bias.zero_()
        assert torch.all(block(torch.randn(5, 4), torch.randn(5, 4)) == 0)

    def test_aggregation_dim_wins_over_ratio(self) -> None:
        assert MaskBlock(4, 6, hidden_dim=3, reduction_ratio=0.5, aggregation_dim=7).mask[0].out_features == 7

    def test_parallel_and_serial_widths(self) -> None:
        parallel = MaskNetModule(10, module_pb2.MaskNetModule(n_mask_blocks=3, mask_block=module_pb2.MaskBlock(hidden_dim=4)))
        assert parallel.output_dim == 12 and parallel(torch.randn(2, 10)).shape == (2, 12)
        serial_cfg = module_pb2.MaskNetModule(
            n_mask_blocks=3, mask_block=module_pb2.MaskBlock(hidden_dim=4), use_parallel=False, top_mlp=module_pb2.MLP(hidden_units=[2])
        )
        serial = MaskNetModule(10, serial_cfg)
        assert [b.input_norm.normalized_shape[0] for b in serial.blocks] == [10, 4, 4]
        assert serial(torch.randn(2, 10)).shape == (2, 2)

    @pytest.mark.slow
    def test_graph_forms(self) -> None:
        cfg = module_pb2.MaskNetModule(n_mask_blocks=2, mask_block=module_pb2.MaskBlock(hidden_dim=4), use_parallel=False)
        assert_forms_agree(MaskNetModule(6, cfg), torch.randn(3, 6))


class TestWuKongBlocks:
    def test_linear_compress_mixes_embeddings(self) -> None:
        lcb = LinearCompressBlock(3, 2)
        with torch.no_grad():
            lcb.mix.weight.copy_(torch.tensor([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]]))
        x = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
        torch.testing.assert_close(lcb(x), torch.tensor([[[6.0, 8.0], [6.0, 8.0]]]))

    def test_fm_block_sees_dot_products_with_compressed_embeddings(self) -> None:
        torch.manual_seed(0)
        mlp = module_pb2.MLP(hidden_units=[5])
        fmb = FactorizationMachineBlock(3, 2, 4, 2, mlp, "w")
        x = torch.randn(2, 3, 4)
        compressed = fmb.compress(x)
        dots = torch.stack([(x[:, i] * compressed[:, j]).sum(dim=1) for i in range(3) for j in range(2)], dim=1)
        expected = fmb.project(fmb.mlp(fmb.norm(dots))).view(2, 2, 4)
        torch.testing.assert_close(fmb(x), expected)

    def test_layer_residual_and_norm(self) -> None:
        cfg = module_pb2.WuKongLayer(lcb_feature_num=2, fmb_feature_num=1, compressed_feature_num=2, feature_num_mlp=module_pb2.MLP(hidden_units=[4]))
        same = WuKongLayer(3, 4, cfg)
        assert same.residual is None  # 3 in, 2 + 1 out: the input itself is the residual
        x = torch.randn(2, 3, 4)
        out = torch.cat([same.fmb(x), same.lcb(x)], dim=1) + x
        torch.testing.assert_close(same(x), torch.nn.functional.layer_norm(out, (4,)))
        grown = WuKongLayer(5, 4, cfg)
        assert grown.residual is not None and grown(torch.randn(2, 5, 4)).shape == (2, 3, 4)

    @pytest.mark.slow
    def test_graph_forms(self) -> None:
        cfg = module_pb2.WuKongLayer(lcb_feature_num=2, fmb_feature_num=2, feature_num_mlp=module_pb2.MLP(hidden_units=[4]))
        assert_forms_agree(WuKongLayer(3, 4, cfg), torch.randn(2, 3, 4))


class TestDiceAndMLP:
    def test_dice_hand_computed(self) -> None:
        dice = Dice(2).eval()
        with torch.no_grad():
            dice.bn.running_mean.copy_(torch.tensor([1.0, 0.0]))
            dice.bn.running_var.copy_(torch.tensor([4.0, 1.0]))
            dice.alpha.copy_(torch.tensor([0.5, 0.1]))
        x = torch.tensor([[3.0, -2.0]])
        p = torch.sigmoid(torch.tensor([(3.0 - 1.0) / 2.0, -2.0]))
        expected = torch.stack([p[0] * 3 + (1 - p[0]) * 0.5 * 3, p[1] * -2 + (1 - p[1]) * 0.1 * -2]).unsqueeze(0)
        torch.testing.assert_close(dice(x), expected, rtol=1e-6, atol=1e-6)

    def test_dice_in_an_mlp(self) -> None:
        mlp = MLP(4, [3, 2], activation="Dice")
        assert [type(m) for m in mlp.layers] == [nn.Linear, Dice, nn.Linear, Dice]
        assert mlp.layers[1].alpha.shape == (3,)

    def test_batch_norm_on_sequences_normalises_every_position(self) -> None:
        torch.manual_seed(0)
        mlp = MLP(4, [3], use_bn=True).eval()
        with torch.no_grad():
            mlp.layers[1].running_mean.uniform_()
            mlp.layers[1].running_var.uniform_(0.5, 2)
        x = torch.randn(2, 5, 4)
        torch.testing.assert_close(mlp(x), mlp(x.reshape(10, 4)).reshape(2, 5, 3))
        assert_forms_agree(mlp, x)

    def test_hidden_outputs(self) -> None:
        mlp = MLP(4, [6, 3], activation="nn.Tanh", use_ln=True, dropout_ratio=0.1).eval()
        x = torch.randn(2, 4)
        first, last = mlp.hidden_outputs(x)
        torch.testing.assert_close(first, mlp.layers[2](mlp.layers[1](mlp.layers[0](x))))
        torch.testing.assert_close(last, mlp(x))

    def test_activation_keyword_arguments(self) -> None:
        act = MLP(2, [2], activation="nn.ELU(alpha=0.5)").layers[1]
        assert isinstance(act, nn.ELU) and act.alpha == pytest.approx(0.5)

    def test_dropout_ratio_range(self) -> None:
        with pytest.raises(ConfigError, match=r"tower.dropout_ratio\[1\]"):
            MLP(4, [3, 3], dropout_ratio=[0.1, 1.0], where="tower")

