"""Metrics: AUC and grouped AUC against pair counting by hand, config checks, registry."""

from __future__ import annotations

import itertools
import math
import random

import pytest
import torch

from rec_core.errors import ConfigError
from rec_core.protos import metric_pb2
from rec_core.registry import registry
from rec_models.metrics import DecayMetric, GroupedAUC, create_metric, create_train_metric


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
    "multiclass_auc": "MulticlassAUC",
    "recall_at_k": "RecallAtK",
    "xauc": "XAUC",
    "grouped_xauc": "GroupedXAUC",
    "normalized_entropy": "NormalizedEntropy",
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

    def test_default_is_exact(self) -> None:
        # CTR-like scores crowd into a few of the proto's 200 default bins, where binning turns
        # them into ties; unless the config asks for bins, AUC is exact
        rng = random.Random(0)
        scores = [0.01 + 0.008 * rng.random() for _ in range(500)]
        labels = [int(rng.random() < (s - 0.01) * 100) for s in scores]
        exact = pair_auc(scores, labels)
        _, default = metric("auc")
        default.update(torch.tensor(scores, dtype=torch.float64), torch.tensor(labels))
        assert float(default.compute()) == pytest.approx(exact, abs=1e-6)  # float32 result
        _, binned = metric("auc", thresholds=200)  # asked for explicitly: 200 bins
        binned.update(torch.tensor(scores), torch.tensor(labels))
        assert float(binned.compute()) < exact - 0.05

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
        assert set(metric_pb2.MetricConfig.DESCRIPTOR.oneofs_by_name["metric"].fields) and names >= {
            f.name for f in metric_pb2.MetricConfig.DESCRIPTOR.oneofs_by_name["metric"].fields
        }
        assert registry("rec.metrics").get("grouped_auc") is GroupedAUC


def one_vs_rest_aucs(probs: list[list[float]], labels: list[int]) -> list[float]:
    return [pair_auc([p[c] for p in probs], [int(y == c) for y in labels]) for c in range(len(probs[0]))]


class TestMulticlassAUC:
    probs = [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4], [0.5, 0.1, 0.4]]
    labels = [0, 1, 2, 1, 2, 0]

    def test_macro_is_the_mean_of_one_vs_rest_aucs(self) -> None:
        name, m = metric("multiclass_auc", num_class=3)
        assert name == "multiclass_auc"
        m.update(torch.tensor(self.probs), torch.tensor(self.labels))
        aucs = one_vs_rest_aucs(self.probs, self.labels)
        assert float(m.compute()) == pytest.approx(sum(aucs) / 3, abs=1e-6)

    def test_weighted_by_class_support(self) -> None:
        labels = [0, 1, 2, 1, 1, 0]
        _, m = metric("multiclass_auc", num_class=3, average="weighted")
        m.update(torch.tensor(self.probs), torch.tensor(labels))
        aucs = one_vs_rest_aucs(self.probs, labels)
        assert float(m.compute()) == pytest.approx((2 * aucs[0] + 3 * aucs[1] + aucs[2]) / 6, abs=1e-6)

    def test_config_checks(self) -> None:
        with pytest.raises(ConfigError, match="multiclass_auc.average"):
            metric("multiclass_auc", num_class=3, average="micro")
        with pytest.raises(ConfigError, match="model_config.num_class.*multiclass_auc"):
            metric("multiclass_auc", num_class=1)


class TestRecallAtK:
    def test_class_ids_give_the_hit_rate(self) -> None:
        _, m = metric("recall_at_k", top_k=2)
        scores = torch.tensor([[0.1, 0.5, 0.4], [0.3, 0.2, 0.5], [0.6, 0.3, 0.1]])
        # top-2 sets {1, 2}, {2, 0}, {0, 1}: label 2 hit, label 1 miss, label 0 hit
        m.update(scores, torch.tensor([2, 1, 0]))
        assert float(m.compute()) == pytest.approx(2 / 3)

    def test_positive_matrix(self) -> None:
        _, m = metric("recall_at_k", top_k=1)
        scores = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.8, 0.1]])
        positives = torch.tensor([[1, 0, 1], [1, 0, 0]])
        # row 0 retrieves one of its two positives, row 1 none of its one
        m.update(scores, positives)
        assert float(m.compute()) == pytest.approx(1 / 3)

    def test_top_k_must_be_positive(self) -> None:
        with pytest.raises(ConfigError, match="recall_at_k.top_k"):
            metric("recall_at_k", top_k=0)


def pair_xauc(preds: list[float], targets: list[float]) -> float:
    agree = total = 0.0
    for i in range(len(preds)):
        for j in range(i + 1, len(preds)):
            if targets[i] == targets[j]:
                continue
            total += 1
            d = (preds[i] - preds[j]) * (targets[i] - targets[j])
            agree += 1.0 if d > 0 else 0.5 if preds[i] == preds[j] else 0.0
    return agree / total


class TestXAUC:
    def test_all_pairs_hand_computed(self) -> None:
        _, m = metric("xauc", sample_ratio=1.0)
        # targets 1 < 3 < 7: pairs (a, b) (a, c) (b, c); predictions order (a, b) wrong, the rest right
        m.update(torch.tensor([0.5, 0.2, 0.9]), torch.tensor([1.0, 3.0, 7.0]))
        assert float(m.compute()) == pytest.approx(2 / 3)

    def test_equal_targets_and_tied_predictions(self) -> None:
        preds, targets = [0.5, 0.5, 0.1, 0.7], [2.0, 5.0, 5.0, 1.0]
        _, m = metric("xauc", sample_ratio=1.0)
        m.update(torch.tensor(preds), torch.tensor(targets))
        assert float(m.compute()) == pytest.approx(pair_xauc(preds, targets))

    def test_sampled_pairs_estimate_the_exact_value(self) -> None:
        rng = random.Random(3)
        targets = [rng.random() * 10 for _ in range(600)]
        preds = [t + rng.gauss(0, 3) for t in targets]
        _, m = metric("xauc", sample_ratio=0.2)
        m.update(torch.tensor(preds[:300]), torch.tensor(targets[:300]))
        m.update(torch.tensor(preds[300:]), torch.tensor(targets[300:]))
        assert m.num_pairs(600) == 35940
        assert float(m.compute()) == pytest.approx(pair_xauc(preds, targets), abs=0.01)

    def test_max_pairs_caps_the_sample(self) -> None:
        _, m = metric("xauc", sample_ratio=1.0, max_pairs=100)
        assert m.num_pairs(1000) == 100

    def test_in_batch_averages_batches_by_pairs(self) -> None:
        _, m = metric("xauc", sample_ratio=1.0, in_batch=True)
        m.update(torch.tensor([0.5, 0.2, 0.9]), torch.tensor([1.0, 3.0, 7.0]))  # 2 of 3 pairs agree
        m.update(torch.tensor([0.1, 0.2]), torch.tensor([1.0, 2.0]))  # 1 of 1
        # pairs never cross batches: (2 + 1) / 4
        assert float(m.compute()) == pytest.approx(3 / 4)


class TestGroupedXAUC:
    def test_mean_over_groups(self) -> None:
        _, m = metric("grouped_xauc", grouping_key="user_id")
        m.update(
            torch.tensor([0.5, 0.2, 0.9, 0.3, 0.1, 0.4]),
            torch.tensor([1.0, 3.0, 7.0, 2.0, 1.0, 4.0]),
            torch.tensor([1, 1, 1, 2, 2, 3]),
        )
        # group 1: 2/3; group 2: (0.3 vs 0.1, targets 2 vs 1) agrees: 1; group 3 has one row
        assert float(m.compute()) == pytest.approx((2 / 3 + 1) / 2)


class TestNormalizedEntropy:
    def test_hand_computed(self) -> None:
        _, m = metric("normalized_entropy")
        probs, labels = [0.9, 0.2, 0.6, 0.3], [1, 0, 1, 1]
        m.update(torch.tensor(probs), torch.tensor(labels))
        log_loss = -sum(math.log(p) if y else math.log(1 - p) for p, y in zip(probs, labels)) / 4
        rate = 0.75
        entropy = -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
        assert float(m.compute()) == pytest.approx(log_loss / entropy, rel=1e-6)

    def test_base_rate_prediction_scores_one(self) -> None:
        _, m = metric("normalized_entropy")
        m.update(torch.full((8,), 0.25), torch.tensor([1, 0, 0, 0, 1, 0, 0, 0]))
        assert float(m.compute()) == pytest.approx(1.0, rel=1e-6)


class TestDecayMetric:
    def test_windows_fold_into_an_exponential_average(self) -> None:
        cfg = metric_pb2.TrainMetricConfig(mean_absolute_error=metric_pb2.MeanAbsoluteError(), decay_rate=0.9, decay_step=2)
        name, m = create_train_metric(cfg, 1)
        assert name == "mean_absolute_error" and isinstance(m, DecayMetric)
        errors = [1.0, 3.0, 5.0, 7.0, 10.0]
        for i, e in enumerate(errors):
            m.update(torch.tensor([e]), torch.tensor([0.0]))
            if i == 0:
                assert float(m.compute()) == pytest.approx(1.0)  # before the first window closes
        # windows: mean(1, 3) = 2, then mean(5, 7) = 6; the fifth update is pending
        assert float(m.compute()) == pytest.approx(0.9 * 2 + 0.1 * 6)

    def test_config_checks(self) -> None:
        bad_rate = metric_pb2.TrainMetricConfig(auc=metric_pb2.AUC(), decay_rate=1.0)
        with pytest.raises(ConfigError, match="train_metrics.decay_rate"):
            create_train_metric(bad_rate, 1)
        bad_step = metric_pb2.TrainMetricConfig(auc=metric_pb2.AUC(), decay_step=0)
        with pytest.raises(ConfigError, match="train_metrics.decay_step"):
            create_train_metric(bad_step, 1)
