"""Metrics: AUC and grouped AUC against pair counting by hand, config checks, registry."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from rec_core.errors import ConfigError
from rec_core.protos import metric_pb2
from rec_core.registry import registry
from rec_models.metrics import GroupedAUC, create_metric


def pair_auc(scores: list[float], labels: list[int]) -> float:
    """P(score of a positive > score of a negative), ties counting one half: AUC by definition."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def metric(text_field: str, num_class: int = 1, **kwargs: object):  # type: ignore[no-untyped-def]
    cfg = metric_pb2.MetricConfig(**{text_field: getattr(metric_pb2, _MESSAGES[text_field])(**kwargs)})
    return create_metric(cfg, num_class)


_MESSAGES = {
    "auc": "AUC",
    "accuracy": "Accuracy",
    "grouped_auc": "GroupedAUC",
    "mean_squared_error": "MeanSquaredError",
    "mean_absolute_error": "MeanAbsoluteError",
}


class TestAUC:
    def test_exact_auc_matches_pair_counting(self) -> None:
        scores = [0.1, 0.4, 0.35, 0.8, 0.65, 0.2, 0.9]
        labels = [0, 0, 1, 1, 0, 1, 1]
        name, m = metric("auc", thresholds=0)
        assert name == "auc"
        m.update(torch.tensor(scores), torch.tensor(labels))
        assert float(m.compute()) == pytest.approx(pair_auc(scores, labels))
        # positives {.35, .8, .2, .9} beat 1 + 3 + 1 + 3 of the negatives {.1, .4, .65}: 8 of 12 pairs
        assert pair_auc(scores, labels) == pytest.approx(8 / 12)

    def test_ties_count_half(self) -> None:
        _, m = metric("auc", thresholds=0)
        m.update(torch.tensor([0.5, 0.5, 0.5, 0.9]), torch.tensor([0, 1, 0, 1]))
        assert float(m.compute()) == pytest.approx(pair_auc([0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1]))

    def test_default_is_binned_with_200_thresholds(self) -> None:
        # the proto default thresholds: 200 bins, close to (not exactly) the exact value
        rng = random.Random(0)
        scores = [rng.random() for _ in range(500)]
        labels = [int(rng.random() < s) for s in scores]
        _, m = metric("auc")
        m.update(torch.tensor(scores), torch.tensor(labels))
        assert float(m.compute()) == pytest.approx(pair_auc(scores, labels), abs=0.01)

    def test_accumulates_over_batches(self) -> None:
        _, m = metric("auc", thresholds=0)
        m.update(torch.tensor([0.1, 0.9]), torch.tensor([0, 1]))
        m.update(torch.tensor([0.8, 0.2]), torch.tensor([0, 1]))
        assert float(m.compute()) == pytest.approx(pair_auc([0.1, 0.9, 0.8, 0.2], [0, 1, 0, 1]))

    def test_more_than_two_classes_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="model_config.num_class.*auc needs num_class 1 or 2"):
            metric("auc", num_class=3)


class TestGroupedAUC:
    def test_mean_of_per_group_auc(self) -> None:
        scores = [0.1, 0.9, 0.4, 0.3, 0.8, 0.5, 0.7, 0.2, 0.6]
        labels = [0, 1, 1, 0, 0, 1, 1, 0, 1]
        groups = [7, 7, 7, 3, 3, 3, 5, 5, 9]
        _, m = metric("grouped_auc", grouping_key="user_id")
        assert isinstance(m, GroupedAUC) and m.grouping_key == "user_id"
        m.update(torch.tensor(scores), torch.tensor(labels), torch.tensor(groups))
        # group 7: pos {0.9, 0.4} vs neg {0.1} -> 1; group 3: pos {0.5} vs neg {0.3, 0.8} -> 0.5;
        # group 5: pos 0.7 vs neg 0.2 -> 1; group 9 has no negative and is skipped
        assert float(m.compute()) == pytest.approx((1.0 + 0.5 + 1.0) / 3)

    def test_against_pair_counting_with_ties(self) -> None:
        rng = random.Random(1)
        scores = [round(rng.random(), 1) for _ in range(200)]  # many ties
        labels = [rng.randint(0, 1) for _ in range(200)]
        groups = [rng.randint(0, 9) for _ in range(200)]
        per_group = []
        for g in sorted(set(groups)):
            s = [x for x, gg in zip(scores, groups) if gg == g]
            y = [x for x, gg in zip(labels, groups) if gg == g]
            if 0 < sum(y) < len(y):
                per_group.append(pair_auc(s, y))
        _, m = metric("grouped_auc", grouping_key="g")
        # fed in two batches: state accumulates across updates
        m.update(torch.tensor(scores[:77]), torch.tensor(labels[:77]), torch.tensor(groups[:77]))
        m.update(torch.tensor(scores[77:]), torch.tensor(labels[77:]), torch.tensor(groups[77:]))
        assert float(m.compute()) == pytest.approx(sum(per_group) / len(per_group))

    def test_no_usable_group_gives_zero(self) -> None:
        _, m = metric("grouped_auc", grouping_key="g")
        m.update(torch.tensor([0.1, 0.2]), torch.tensor([1, 1]), torch.tensor([1, 2]))
        assert float(m.compute()) == 0.0

    def test_reset(self) -> None:
        _, m = metric("grouped_auc", grouping_key="g")
        m.update(torch.tensor([0.1, 0.9]), torch.tensor([1, 0]), torch.tensor([1, 1]))
        assert float(m.compute()) == 0.0
        m.reset()
        m.update(torch.tensor([0.1, 0.9]), torch.tensor([0, 1]), torch.tensor([1, 1]))
        assert float(m.compute()) == 1.0

    def test_needs_grouping_key(self) -> None:
        with pytest.raises(ConfigError, match="grouping_key"):
            metric("grouped_auc")


class TestOthers:
    def test_accuracy_threshold(self) -> None:
        _, m = metric("accuracy", threshold=0.7)
        m.update(torch.tensor([0.6, 0.8, 0.75, 0.1]), torch.tensor([1, 1, 0, 0]))
        # predictions at 0.7 are [0, 1, 1, 0] against labels [1, 1, 0, 0]: rows 1 and 3 are right
        assert float(m.compute()) == pytest.approx(0.5)

    def test_multiclass_top_k_accuracy(self) -> None:
        _, m = metric("accuracy", num_class=3, top_k=2)
        probs = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3]])
        m.update(probs, torch.tensor([1, 0, 0]))
        # top-2 sets: {0,1} hit, {2,1} miss, {1,2} miss
        assert float(m.compute()) == pytest.approx(1 / 3)

    def test_regression_errors(self) -> None:
        _, mse = metric("mean_squared_error")
        _, mae = metric("mean_absolute_error")
        pred, target = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 0.0, 5.0])
        mse.update(pred, target)
        mae.update(pred, target)
        assert float(mse.compute()) == pytest.approx(5 / 3)
        assert float(mae.compute()) == pytest.approx(1.0)

    def test_empty_entry(self) -> None:
        with pytest.raises(ConfigError, match="model_config.metrics"):
            create_metric(metric_pb2.MetricConfig(), 1)

    def test_registered_entry_points(self) -> None:
        names = set(registry("rec.metrics").names())
        assert {"auc", "accuracy", "mean_squared_error", "mean_absolute_error", "grouped_auc"} <= names
        assert registry("rec.metrics").get("grouped_auc") is GroupedAUC
