"""Losses: hand-computed values, label smoothing, sample-weight normalisation, config errors."""

from __future__ import annotations

import math

import pytest
import torch

from rec_core.errors import ConfigError
from rec_core.protos import loss_pb2
from rec_core.registry import registry
from rec_models.losses import BinaryCrossEntropy, L2Loss, SoftmaxCrossEntropy, create_loss, weighted_mean


def bce(logit: float, target: float) -> float:
    p = 1 / (1 + math.exp(-logit))
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


class TestBinaryCrossEntropy:
    def test_per_sample_values(self) -> None:
        loss = BinaryCrossEntropy(loss_pb2.BinaryCrossEntropy(), 1)
        got = loss(torch.tensor([0.0, 2.0, -1.0]), torch.tensor([1, 0, 0]))
        assert got.shape == (3,)
        assert got.tolist() == pytest.approx([bce(0, 1), bce(2, 0), bce(-1, 0)], rel=1e-6)

    def test_label_smoothing_pulls_targets_to_half(self) -> None:
        loss = BinaryCrossEntropy(loss_pb2.BinaryCrossEntropy(label_smoothing=0.2), 1)
        got = loss(torch.tensor([1.5, 1.5]), torch.tensor([1, 0]))
        # y * (1 - s) + 0.5 * s: 1 -> 0.9, 0 -> 0.1
        assert got.tolist() == pytest.approx([bce(1.5, 0.9), bce(1.5, 0.1)], rel=1e-6)

    def test_needs_one_class(self) -> None:
        with pytest.raises(ConfigError, match="model_config.num_class.*binary_cross_entropy"):
            BinaryCrossEntropy(loss_pb2.BinaryCrossEntropy(), 2)


class TestSoftmaxCrossEntropy:
    def test_per_sample_values(self) -> None:
        loss = SoftmaxCrossEntropy(loss_pb2.SoftmaxCrossEntropy(), 3)
        logits = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
        got = loss(logits, torch.tensor([2, 0]))
        z = math.log(math.exp(1) + math.exp(2) + math.exp(3))
        assert got.tolist() == pytest.approx([z - 3, math.log(3)], rel=1e-6)

    def test_label_smoothing(self) -> None:
        loss = SoftmaxCrossEntropy(loss_pb2.SoftmaxCrossEntropy(label_smoothing=0.3), 2)
        logits = torch.tensor([[2.0, 0.0]])
        logp = torch.log_softmax(logits, dim=1)[0]
        # target mixes one-hot with uniform: (1 - s) * onehot + s / C
        expected = -((1 - 0.3 + 0.15) * logp[0] + 0.15 * logp[1])
        assert float(loss(logits, torch.tensor([0]))) == pytest.approx(float(expected), rel=1e-6)

    def test_needs_two_classes(self) -> None:
        with pytest.raises(ConfigError, match="model_config.num_class.*softmax_cross_entropy"):
            SoftmaxCrossEntropy(loss_pb2.SoftmaxCrossEntropy(), 1)


def test_l2_loss() -> None:
    got = L2Loss(loss_pb2.L2Loss(), 1)(torch.tensor([1.0, 3.0]), torch.tensor([0, 5]))
    assert got.tolist() == [1.0, 4.0]


class TestWeightedMean:
    def test_no_weights_is_plain_mean(self) -> None:
        assert float(weighted_mean(torch.tensor([1.0, 2.0, 6.0]), None)) == pytest.approx(3.0)

    def test_weights_normalised_by_their_mean(self) -> None:
        # weights [1, 3] have mean 2 -> [0.5, 1.5]; mean of [1*0.5, 5*1.5] = 4
        assert float(weighted_mean(torch.tensor([1.0, 5.0]), torch.tensor([1.0, 3.0]))) == pytest.approx(4.0)

    def test_scaling_weights_changes_nothing(self) -> None:
        x, w = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([0.5, 1.0, 2.0])
        torch.testing.assert_close(weighted_mean(x, w), weighted_mean(x, 10 * w))

    def test_all_zero_weights_give_zero(self) -> None:
        got = weighted_mean(torch.tensor([1.0, 2.0]), torch.zeros(2))
        assert float(got) == 0.0 and not torch.isnan(got)

    def test_zero_weights_keep_gradients_finite(self) -> None:
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        weighted_mean(x, torch.zeros(2)).backward()
        assert torch.all(torch.isfinite(x.grad))

    def test_integer_weights(self) -> None:
        assert float(weighted_mean(torch.tensor([2.0, 4.0]), torch.tensor([1, 1]))) == pytest.approx(3.0)


class TestCreateLoss:
    def test_named_by_oneof(self) -> None:
        name, module = create_loss(loss_pb2.LossConfig(binary_cross_entropy=loss_pb2.BinaryCrossEntropy()), 1)
        assert name == "binary_cross_entropy" and isinstance(module, BinaryCrossEntropy)

    def test_empty_entry(self) -> None:
        with pytest.raises(ConfigError, match="model_config.losses"):
            create_loss(loss_pb2.LossConfig(), 1)

    def test_registered_entry_points(self) -> None:
        names = set(registry("rec.losses").names())
        assert {"binary_cross_entropy", "softmax_cross_entropy", "l2_loss"} <= names
        assert registry("rec.losses").get("l2_loss") is L2Loss
