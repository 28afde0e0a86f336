"""Losses: hand-computed values, label smoothing, sample-weight normalisation, config errors."""

from __future__ import annotations

import math

import pytest
import torch

from rec_core.errors import ConfigError
from rec_core.protos import loss_pb2
from rec_core.registry import registry
from rec_models.losses import (
    BinaryCrossEntropy,
    BinaryFocalLoss,
    JRCLoss,
    L2Loss,
    SoftmaxCrossEntropy,
    create_loss,
    group_log_softmax,
    weighted_mean,
)


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


class TestBinaryFocalLoss:
    def test_hand_computed(self) -> None:
        loss = BinaryFocalLoss(loss_pb2.BinaryFocalLoss(gamma=2.0, alpha=0.25), 1)
        got = loss(torch.tensor([0.0, 2.0, -1.0]), torch.tensor([1, 0, 1]))
        expected = []
        for logit, y in ((0.0, 1), (2.0, 0), (-1.0, 1)):
            p = 1 / (1 + math.exp(-logit))
            p_t, alpha_t = (p, 0.25) if y == 1 else (1 - p, 0.75)
            expected.append(-alpha_t * (1 - p_t) ** 2 * math.log(p_t))
        assert got.tolist() == pytest.approx(expected, rel=1e-6)

    def test_gamma_zero_is_weighted_cross_entropy(self) -> None:
        loss = BinaryFocalLoss(loss_pb2.BinaryFocalLoss(gamma=0.0, alpha=0.5), 1)
        got = loss(torch.tensor([1.5, -0.3]), torch.tensor([1, 0]))
        assert got.tolist() == pytest.approx([0.5 * bce(1.5, 1), 0.5 * bce(-0.3, 0)], rel=1e-6)

    def test_confident_right_answers_weigh_less(self) -> None:
        loss = BinaryFocalLoss(loss_pb2.BinaryFocalLoss(), 1)
        plain = BinaryCrossEntropy(loss_pb2.BinaryCrossEntropy(), 1)
        easy, hard = torch.tensor([4.0]), torch.tensor([-4.0])
        y = torch.tensor([1])
        assert float(loss(easy, y) / plain(easy, y)) < float(loss(hard, y) / plain(hard, y))

    def test_config_checks(self) -> None:
        with pytest.raises(ConfigError, match="model_config.num_class.*binary_focal_loss"):
            BinaryFocalLoss(loss_pb2.BinaryFocalLoss(), 2)
        with pytest.raises(ConfigError, match="binary_focal_loss.alpha"):
            BinaryFocalLoss(loss_pb2.BinaryFocalLoss(alpha=1.5), 1)
        with pytest.raises(ConfigError, match="binary_focal_loss.gamma"):
            BinaryFocalLoss(loss_pb2.BinaryFocalLoss(gamma=-1), 1)


def log_softmax_of(scores: list[float], i: int) -> float:
    return scores[i] - math.log(sum(math.exp(s) for s in scores))


class TestJRCLoss:
    def test_hand_computed(self) -> None:
        loss = JRCLoss(loss_pb2.JRCLoss(session_name="sid", alpha=0.3), 2)
        assert loss.extra_input == "group" and loss.grouping_key == "sid"
        logits = torch.tensor([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
        got = loss(logits, torch.tensor([1, 0, 1]), torch.tensor([7, 7, 9]))
        ce = [-log_softmax_of([0.0, 1.0], 1), -log_softmax_of([0.0, 0.0], 0), -log_softmax_of([1.0, 0.0], 1)]
        # session 7: row 0 (positive) competes on class-1 logits [1, 0], row 1 (negative) on
        # class-0 logits [0, 0]; row 2 is alone in session 9, so its ranking term is 0
        ranking = [-log_softmax_of([1.0, 0.0], 0), -log_softmax_of([0.0, 0.0], 1), 0.0]
        expected = [0.3 * c + 0.7 * r for c, r in zip(ce, ranking)]
        assert got.tolist() == pytest.approx(expected, rel=1e-6)

    def test_alpha_one_is_cross_entropy(self) -> None:
        loss = JRCLoss(loss_pb2.JRCLoss(session_name="sid", alpha=1.0), 2)
        logits = torch.randn(6, 2)
        labels = torch.tensor([0, 1, 1, 0, 1, 0])
        expected = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
        torch.testing.assert_close(loss(logits, labels, torch.tensor([1, 1, 2, 2, 2, 3])), expected)

    def test_gradient_flows_within_sessions_only(self) -> None:
        loss = JRCLoss(loss_pb2.JRCLoss(session_name="sid", alpha=0.0), 2)
        logits = torch.zeros(4, 2, requires_grad=True)
        loss(logits, torch.tensor([1, 0, 1, 1]), torch.tensor([5, 5, 6, 8]))[0].backward()
        assert logits.grad[2:].abs().sum() == 0 and logits.grad[:2].abs().sum() > 0

    def test_config_checks(self) -> None:
        with pytest.raises(ConfigError, match="model_config.num_class.*jrc_loss needs num_class: 2"):
            JRCLoss(loss_pb2.JRCLoss(session_name="s"), 1)
        with pytest.raises(ConfigError, match="jrc_loss.session_name"):
            JRCLoss(loss_pb2.JRCLoss(), 2)


def test_group_log_softmax_matches_per_group_softmax() -> None:
    torch.manual_seed(0)
    scores = torch.randn(9, dtype=torch.float64) * 30  # large values: the per-group max keeps exp finite
    groups = torch.tensor([3, 1, 3, 2, 1, 3, 2, 2, 9])
    got = group_log_softmax(scores, groups)
    for g in groups.unique():
        rows = groups == g
        torch.testing.assert_close(got[rows], torch.log_softmax(scores[rows], dim=0))


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
        assert {"binary_cross_entropy", "softmax_cross_entropy", "l2_loss", "binary_focal_loss", "jrc_loss"} <= names
        assert registry("rec.losses").get("l2_loss") is L2Loss
