"""Dense-kernel table optimizers: the same updates as FBGEMM's fused CPU kernels where those
exist, hand-computed updates where they do not, and untouched rows left alone."""

from __future__ import annotations

import math

import pytest
import torch
from fbgemm_gpu.split_embedding_configs import EmbOptimType
from fbgemm_gpu.split_table_batched_embeddings_ops_common import EmbeddingLocation
from fbgemm_gpu.split_table_batched_embeddings_ops_training import ComputeDevice, SplitTableBatchedEmbeddingBagsCodegen
from fbgemm_gpu.tbe.config.optimizer_config import WeightDecayMode
from torch.nn import functional as F

from rec_models import sparse_optim

ROWS, DIM = 10, 8
# three batches of bags; rows 7-9 are never looked up, row 2 repeats within a batch
BATCHES = [
    (torch.tensor([1, 2, 2, 5]), torch.tensor([0, 3, 4])),
    (torch.tensor([0, 5, 6]), torch.tensor([0, 1, 3])),
    (torch.tensor([2, 3]), torch.tensor([0, 1, 2])),
]


def initial_table() -> torch.Tensor:
    return torch.randn(ROWS, DIM, generator=torch.Generator().manual_seed(0))


def targets(batch_size: int, step: int) -> torch.Tensor:
    return torch.randn(batch_size, DIM, generator=torch.Generator().manual_seed(100 + step))


def train_fused(optimizer: EmbOptimType, batches: list = BATCHES, **kwargs: object) -> torch.Tensor:
    """The table after BATCHES through FBGEMM's fused CPU kernel."""
    tbe = SplitTableBatchedEmbeddingBagsCodegen(
        [(ROWS, DIM, EmbeddingLocation.HOST, ComputeDevice.CPU)], optimizer=optimizer, **kwargs
    )
    with torch.no_grad():
        tbe.split_embedding_weights()[0].copy_(initial_table())
    for step, (indices, offsets) in enumerate(batches):
        out = tbe(indices, offsets)
        (out * targets(len(offsets) - 1, step)).sum().backward()
    return tbe.split_embedding_weights()[0].detach().clone()


def train_dense(make: object, batches: list = BATCHES) -> torch.Tensor:
    """The table after BATCHES through a dense parameter and one of rec's optimizers."""
    table = torch.nn.Parameter(initial_table())
    opt = make([table])  # type: ignore[operator]
    for step, (indices, offsets) in enumerate(batches):
        opt.zero_grad()
        out = F.embedding_bag(indices, table, offsets[:-1], mode="sum")
        (out * targets(len(offsets) - 1, step)).sum().backward()
        opt.step()
    return table.detach()


@pytest.fixture(params=["whole table", "touched rows"])
def update_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways SGD and Adagrad update a table: whole (small tables) or only its touched rows."""
    if request.param == "touched rows":
        monkeypatch.setattr(sparse_optim, "DENSE_UPDATE_MAX_ELEMENTS", 0)
    return request.param


class TestSameAsFusedKernels:
    @pytest.mark.usefixtures("update_path")
    def test_sgd(self) -> None:
        fused = train_fused(EmbOptimType.EXACT_SGD, learning_rate=0.1)
        torch.testing.assert_close(train_dense(lambda p: sparse_optim.SGD(p, 0.1)), fused)

    @pytest.mark.usefixtures("update_path")
    def test_adagrad(self) -> None:
        fused = train_fused(EmbOptimType.EXACT_ADAGRAD, learning_rate=0.1, eps=1e-8)
        torch.testing.assert_close(train_dense(lambda p: sparse_optim.Adagrad(p, 0.1, 1e-8)), fused)

    @pytest.mark.usefixtures("update_path")
    def test_rowwise_adagrad(self) -> None:
        fused = train_fused(EmbOptimType.EXACT_ROWWISE_ADAGRAD, learning_rate=0.1, eps=1e-8)
        torch.testing.assert_close(train_dense(lambda p: sparse_optim.RowWiseAdagrad(p, 0.1, 1e-8)), fused)

    @pytest.mark.parametrize("mode", [WeightDecayMode.L2, WeightDecayMode.DECOUPLE])
    def test_cpu_rowwise_adagrad_ignores_weight_decay(self, mode: WeightDecayMode) -> None:
        # why rec keeps such tables off the fused CPU kernel (needs_dense_kernel)
        decayed = train_fused(
            EmbOptimType.EXACT_ROWWISE_ADAGRAD, learning_rate=0.1, eps=1e-8, weight_decay=0.05, weight_decay_mode=mode
        )
        torch.testing.assert_close(decayed, train_fused(EmbOptimType.EXACT_ROWWISE_ADAGRAD, learning_rate=0.1, eps=1e-8))

    @pytest.mark.usefixtures("update_path")
    def test_gradient_clipping(self) -> None:
        # each row looked up once per batch: FBGEMM's CPU kernel clips every lookup's gradient,
        # the dense table only sees their sum, so repeated rows may differ (clipped once)
        batches = [(torch.tensor([1, 2, 5]), torch.tensor([0, 2, 3])), (torch.tensor([2, 6]), torch.tensor([0, 1, 2]))]
        fused = train_fused(EmbOptimType.EXACT_ADAGRAD, batches, learning_rate=0.1, gradient_clipping=True, max_gradient=0.3)
        dense = train_dense(lambda p: sparse_optim.Adagrad(p, 0.1, max_gradient=0.3), batches)
        torch.testing.assert_close(dense, fused)
        assert not torch.allclose(fused, train_fused(EmbOptimType.EXACT_ADAGRAD, batches, learning_rate=0.1))


def one_step(opt_cls: type, grad_rows: dict[int, list[float]], weights: list[list[float]], **kwargs: object):  # type: ignore[no-untyped-def]
    table = torch.nn.Parameter(torch.tensor(weights))
    grad = torch.zeros_like(table)
    for r, g in grad_rows.items():
        grad[r] = torch.tensor(g)
    table.grad = grad
    opt = opt_cls([table], **kwargs)
    opt.step()
    return table.detach(), opt.state[table]


W = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]


def _with_l2(optimizer: torch.optim.Optimizer, l2: float) -> torch.optim.Optimizer:
    for group in optimizer.param_groups:
        group["embedding_l2"] = l2
    return optimizer


class TestHandComputed:
    def test_adam_first_step_and_lazy_rows(self) -> None:
        got, state = one_step(sparse_optim.Adam, {0: [0.5, -0.2]}, W, lr=0.1, weight_decay=0.01)
        # step 1: m_hat = g, v_hat = g^2, so the direction is g / (|g| + eps) = sign(g), plus wd * w
        expected0 = [1.0 - 0.1 * (1 + 0.01 * 1.0), 2.0 - 0.1 * (-1 + 0.01 * 2.0)]
        assert got[0].tolist() == pytest.approx(expected0, rel=1e-6)
        assert got[1:].tolist() == W[1:]  # no gradient: weights and moments stay
        assert state["momentum1"][1:].abs().sum() == 0 and state["momentum2"][1:].abs().sum() == 0

    def test_partial_rowwise_adam_shares_the_second_moment_in_a_row(self) -> None:
        got, state = one_step(sparse_optim.PartialRowWiseAdam, {1: [0.3, 0.4]}, W, lr=0.1, betas=(0.9, 0.999))
        assert state["momentum2"].shape == (3,)
        v = (0.3**2 + 0.4**2) / 2  # bias-corrected at step 1
        expected = [3.0 - 0.1 * 0.3 / (math.sqrt(v) + 1e-8), -1.0 - 0.1 * 0.4 / (math.sqrt(v) + 1e-8)]
        assert got[1].tolist() == pytest.approx(expected, rel=1e-6)

    def test_lamb_scales_by_the_trust_ratio(self) -> None:
        got, _ = one_step(sparse_optim.LAMB, {1: [0.3, -0.4]}, W, lr=0.1)
        direction = [1.0, -1.0]  # sign(g) at step 1
        ratio = math.hypot(3.0, -1.0) / math.hypot(*direction)
        assert got[1].tolist() == pytest.approx([3.0 - 0.1 * ratio, -1.0 + 0.1 * ratio], rel=1e-5)
        assert got[0].tolist() == W[0]

    def test_partial_rowwise_lamb(self) -> None:
        got, state = one_step(sparse_optim.PartialRowWiseLAMB, {2: [0.6, 0.8]}, W, lr=0.1)
        v = (0.36 + 0.64) / 2
        direction = [0.6 / math.sqrt(v), 0.8 / math.sqrt(v)]
        ratio = math.hypot(0.5, 0.5) / math.hypot(*direction)
        assert got[2].tolist() == pytest.approx([0.5 - 0.1 * ratio * direction[0], 0.5 - 0.1 * ratio * direction[1]], rel=1e-5)
        assert state["momentum2"].shape == (3,)

    def test_lars_sgd(self) -> None:
        got, state = one_step(sparse_optim.LarsSGD, {0: [0.3, 0.4]}, W, lr=1.0, momentum=0.9, weight_decay=0.1, eta=0.5)
        w_norm, g_norm = math.hypot(1.0, 2.0), 0.5
        local = 1.0 * 0.5 * w_norm / (g_norm + 0.1 * w_norm)
        m = [local * (0.3 + 0.1 * 1.0), local * (0.4 + 0.1 * 2.0)]
        assert got[0].tolist() == pytest.approx([1.0 - m[0], 2.0 - m[1]], rel=1e-6)
        assert state["momentum1"][0].tolist() == pytest.approx(m, rel=1e-6)

    def test_rowwise_adagrad_l2_adds_decay_to_the_gradient(self) -> None:
        got, state = one_step(sparse_optim.RowWiseAdagrad, {1: [0.3, 0.4]}, W, lr=0.1, weight_decay=0.5, weight_decay_mode=1)
        g = [0.3 + 0.5 * 3.0, 0.4 + 0.5 * -1.0]
        acc = (g[0] ** 2 + g[1] ** 2) / 2
        assert float(state["sum"][1]) == pytest.approx(acc)
        assert got[1].tolist() == pytest.approx([3.0 - 0.1 * g[0] / math.sqrt(acc), -1.0 - 0.1 * g[1] / math.sqrt(acc)], rel=1e-6)
        # FBGEMM decays looked-up rows only, so the table is never updated whole
        assert got[[0, 2]].tolist() == [W[0], W[2]]

    def test_rowwise_adagrad_decoupled_decay(self) -> None:
        got, state = one_step(sparse_optim.RowWiseAdagrad, {1: [0.3, 0.4]}, W, lr=0.1, weight_decay=0.5, weight_decay_mode=2)
        acc = (0.3**2 + 0.4**2) / 2
        expected = [3.0 - 0.1 * 0.3 / math.sqrt(acc) - 0.1 * 0.5 * 3.0, -1.0 - 0.1 * 0.4 / math.sqrt(acc) + 0.1 * 0.5 * 1.0]
        assert got[1].tolist() == pytest.approx(expected, rel=1e-6)
        assert got[[0, 2]].tolist() == [W[0], W[2]]

    def test_embedding_l2_decays_every_row(self) -> None:
        table = torch.nn.Parameter(torch.tensor(W))
        table.grad = torch.tensor([[0.2, -0.4], [0.0, 0.0], [0.0, 0.0]])
        opt = sparse_optim.SGD([table], lr=0.1)
        opt.param_groups[0]["embedding_l2"] = 0.5
        expected = torch.tensor(W) - 0.1 * (table.grad + 0.5 * torch.tensor(W))
        opt.step()
        assert torch.allclose(table.detach(), expected)

    def test_adam_with_embedding_l2_is_adam_on_the_loss_with_the_penalty(self) -> None:
        # FuxiCTR's embedding_regularizer: loss + lambda/2 * ||W||^2 over the whole table, then
        # Adam on every row; torch's Adam(weight_decay) applies exactly that gradient
        rec = train_dense(lambda p: _with_l2(sparse_optim.Adam(p, lr=0.05), 0.3))
        torch_adam = train_dense(lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.3, eps=1e-8))
        assert torch.allclose(rec, torch_adam, atol=1e-6)
        assert not torch.equal(rec[7:], initial_table()[7:])  # rows never looked up decay too

    def test_zero_learning_rate_moves_nothing(self) -> None:
        for cls in (sparse_optim.Adam, sparse_optim.LAMB, sparse_optim.LarsSGD, sparse_optim.RowWiseAdagrad):
            got, _ = one_step(cls, {0: [1.0, 1.0]}, W, lr=0.0)
            assert got.tolist() == W, cls.__name__

    def test_state_exists_after_a_step_without_gradient_rows(self) -> None:
        # KeyedOptimizer.init_state steps once with zero gradients to create the state for loading
        _, state = one_step(sparse_optim.PartialRowWiseLAMB, {}, W, lr=0.1)
        assert set(state) == {"step", "momentum1", "momentum2"}
