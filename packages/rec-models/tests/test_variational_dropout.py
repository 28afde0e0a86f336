"""Variational dropout of a feature group: the module alone (hand-computed cases, learning)."""

from __future__ import annotations

import pytest
import torch

from rec_core.errors import ConfigError
from rec_models.modules.variational_dropout import VariationalDropout


def _vd(embedding_wise: bool = False, lam: float = 0.01) -> VariationalDropout:
    torch.manual_seed(0)
    vd = VariationalDropout({"a": 1, "b": 2, "c": 3}, "g", lam, embedding_wise)
    with torch.no_grad():
        vd.feature_p.copy_(torch.logit(torch.linspace(0.1, 0.9, vd.feature_p.numel())))
    return vd


def test_eval_scales_each_feature_by_its_keep_probability() -> None:
    vd = _vd().eval()
    x = torch.arange(12, dtype=torch.float32).reshape(2, 6)
    out, penalty = vd(x)
    keep = torch.tensor([0.9, 0.5, 0.5, 0.1, 0.1, 0.1])  # p = 0.1, 0.5, 0.9 spread over widths 1, 2, 3
    torch.testing.assert_close(out, x * keep)
    torch.testing.assert_close(penalty, torch.tensor(0.01 / 2 * (0.9 + 0.5 + 0.1)))


def test_training_drops_features_with_their_probability() -> None:
    vd = _vd().train()
    torch.manual_seed(1)
    out, _ = vd(torch.ones(20000, 6))
    kept = out.mean(dim=0)
    # a feature is dropped or kept as a whole: its columns move together
    assert torch.equal(out[:, 1], out[:, 2]) and torch.equal(out[:, 3], out[:, 5])
    torch.testing.assert_close(kept, torch.tensor([0.9, 0.5, 0.5, 0.1, 0.1, 0.1]), atol=0.03, rtol=0)


def test_embedding_wise_learns_one_probability_per_dimension() -> None:
    vd = _vd(embedding_wise=True).eval()
    assert vd.feature_p.shape == (6,)
    p = torch.linspace(0.1, 0.9, 6)
    x = torch.ones(3, 6)
    torch.testing.assert_close(vd(x)[0], (1 - p).expand(3, 6))
    drop = vd.feature_drop_p()
    assert list(drop) == ["a", "b", "c"]
    assert drop == pytest.approx({"a": p[0].item(), "b": p[1:3].mean().item(), "c": p[3:].mean().item()})


def test_penalty_pushes_probabilities_up() -> None:
    vd = _vd(lam=1.0)
    _, penalty = vd(torch.zeros(4, 6))
    penalty.backward()
    assert (vd.feature_p.grad < 0).all()  # descending the penalty raises every p


def test_learns_which_feature_carries_the_label() -> None:
    torch.manual_seed(0)
    vd = VariationalDropout({"signal": 2, "noise_a": 2, "noise_b": 2}, "g", regularization_lambda=1.0)
    head = torch.nn.Linear(6, 1)
    opt = torch.optim.Adam([*vd.parameters(), *head.parameters()], lr=0.05)
    for _ in range(300):
        x = torch.randn(256, 6)
        y = (x[:, 0] + x[:, 1] > 0).float()
        noisy, penalty = vd(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(noisy).squeeze(1), y) + penalty
        opt.zero_grad()
        loss.backward()
        opt.step()
    drop = vd.feature_drop_p()
    assert drop["signal"] < 0.1 < 0.8 < min(drop["noise_a"], drop["noise_b"])


def test_a_group_without_features_is_an_error() -> None:
    with pytest.raises(ConfigError, match="model_config.variational_dropout: group 'g' has no features to drop"):
        VariationalDropout({}, "g")
