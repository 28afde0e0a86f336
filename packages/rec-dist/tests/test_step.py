"""StepOptimizer: gradient accumulation, clipping and mixed precision."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch

from rec_core.errors import ConfigError
from rec_dist.step import StepOptimizer, autocast_dtype


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.mse_loss(model(x).squeeze(1), y)


def test_accumulating_n_micro_batches_equals_one_n_times_larger_batch() -> None:
    torch.manual_seed(1)
    x, y = torch.randn(32, 6), torch.randn(32)
    big, small = _model(), _model()
    small.load_state_dict(copy.deepcopy(big.state_dict()))
    big_opt = StepOptimizer(torch.optim.SGD(big.parameters(), lr=0.1), big)
    small_opt = StepOptimizer(torch.optim.SGD(small.parameters(), lr=0.1), small, accumulation_steps=4)
    for _ in range(3):
        big_opt.zero_grad()
        big_opt.backward(_loss(big, x, y))
        big_opt.step()
        for xs, ys in zip(x.split(8), y.split(8)):
            small_opt.zero_grad()
            small_opt.backward(_loss(small, xs, ys))
            small_opt.step()
    for a, b in zip(big.parameters(), small.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_no_update_until_the_window_closes() -> None:
    model = _model()
    before = copy.deepcopy(model.state_dict())
    opt = StepOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model, accumulation_steps=3)
    for i in range(3):
        opt.zero_grad()
        opt.backward(_loss(model, torch.randn(4, 6), torch.randn(4)))
        assert opt.at_boundary == (i == 2)
        opt.step()
        changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert changed == (i == 2)


def test_norm_clipping_bounds_the_gradient() -> None:
    model = _model()
    clip = SimpleNamespace(clipping_type="norm", max_gradient=0.01, norm_type=2.0)
    opt = StepOptimizer(torch.optim.SGD(model.parameters(), lr=0.0), model, clipping=clip)
    opt.zero_grad()
    opt.backward(1000 * _loss(model, torch.randn(16, 6), torch.randn(16)))
    opt.step()
    total = torch.norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert opt.grad_norm is not None and opt.grad_norm > 0.01
    assert float(total) == pytest.approx(0.01, rel=1e-3)


def test_bad_clipping_type_names_the_field() -> None:
    with pytest.raises(ConfigError, match="grad_clipping.clipping_type"):
        StepOptimizer(torch.optim.SGD(_model().parameters(), lr=0.1), _model(), clipping=SimpleNamespace(clipping_type="l3"))


def test_fp16_with_grad_scaler_trains_and_bf16_autocast_lowers_precision() -> None:
    assert autocast_dtype("bf16", "x") is torch.bfloat16 and autocast_dtype("", "x") is None
    with pytest.raises(ConfigError, match="train_config.mixed_precision"):
        autocast_dtype("FP8", "train_config.mixed_precision")
    model = _model()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    opt = StepOptimizer(torch.optim.SGD(model.parameters(), lr=0.05), model, scaler=scaler)
    torch.manual_seed(2)
    x = torch.randn(64, 6)
    y = x.sum(dim=1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            out = model(x).squeeze(1)
        assert out.dtype == torch.float16
        loss = torch.nn.functional.mse_loss(out.float(), y)
        opt.backward(loss)
        opt.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < 0.5 * losses[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(x).dtype == torch.bfloat16
