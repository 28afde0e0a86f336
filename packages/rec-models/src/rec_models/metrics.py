"""Metrics through torchmetrics, each registered under `rec.metrics` by its MetricConfig oneof name."""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, MulticlassAccuracy
from torchmetrics.utilities.data import dim_zero_cat

from rec_core.errors import ConfigError
from rec_core.registry import registry


def auc(config: Any, num_class: int) -> torchmetrics.Metric:
    """Binary ROC AUC over probabilities (binned with `thresholds` bins when set)."""
    _binary_only("auc", num_class)
    thresholds = int(config.thresholds) if config.thresholds else None
    return BinaryAUROC(thresholds=thresholds)


def accuracy(config: Any, num_class: int) -> torchmetrics.Metric:
    """Binary accuracy at `threshold`, or top-k accuracy for multi-class."""
    if num_class > 2:
        return MulticlassAccuracy(num_classes=num_class, top_k=int(config.top_k or 1), average="micro")
    return BinaryAccuracy(threshold=float(config.threshold))


def mean_squared_error(config: Any, num_class: int) -> torchmetrics.Metric:
    """Mean squared error of a regression output."""
    return torchmetrics.MeanSquaredError()


def mean_absolute_error(config: Any, num_class: int) -> torchmetrics.Metric:
    """Mean absolute error of a regression output."""
    return torchmetrics.MeanAbsoluteError()


def _binary_only(name: str, num_class: int) -> None:
    # AUC ranks one score per row: sigmoid probs (num_class 1) or the positive-class prob (2)
    if num_class > 2:
        raise ConfigError("model_config.num_class", f"{name} needs num_class 1 or 2, got {num_class}")


class GroupedAUC(torchmetrics.Metric):
    """Mean of per-group AUCs (e.g. per user), over groups holding both classes."""

    full_state_update = False

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__()
        _binary_only("grouped_auc", num_class)
        if not config.grouping_key:
            raise ConfigError("model_config.metrics.grouped_auc.grouping_key", "names the sparse feature to group by")
        self.grouping_key = config.grouping_key
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")
        self.add_state("groups", default=[], dist_reduce_fx="cat")

    def update(self, preds: torch.Tensor, target: torch.Tensor, groups: torch.Tensor) -> None:  # type: ignore[override]
        """Add a batch of scores, 0/1 labels and group ids."""
        self.preds.append(preds.detach().float())
        self.target.append(target.detach().long())
        self.groups.append(groups.detach().long())

    def compute(self) -> torch.Tensor:
        """Unweighted mean AUC over groups with positives and negatives."""
        preds, target, groups = dim_zero_cat(self.preds), dim_zero_cat(self.target), dim_zero_cat(self.groups)
        order = torch.argsort(groups, stable=True)
        preds, target, groups = preds[order], target[order], groups[order]
        _, counts = torch.unique_consecutive(groups, return_counts=True)
        aucs = []
        for p, t in zip(torch.split(preds, counts.tolist()), torch.split(target, counts.tolist())):
            pos = int(t.sum())
            if 0 < pos < len(t):
                aucs.append(_rank_auc(p, t, pos))
        return torch.tensor(sum(aucs) / len(aucs) if aucs else 0.0)


def _rank_auc(p: torch.Tensor, t: torch.Tensor, pos: int) -> float:
    ranks = torch.empty_like(p, dtype=torch.float64)
    order = torch.argsort(p)
    ranks[order] = torch.arange(1, len(p) + 1, dtype=torch.float64)
    # ties share their mean rank
    uniq, inverse = torch.unique(p, return_inverse=True)
    mean_rank = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, ranks)
    mean_rank /= torch.bincount(inverse, minlength=len(uniq)).double()
    ranks = mean_rank[inverse]
    neg = len(t) - pos
    return float((ranks[t == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def create_metric(metric_config: Any, num_class: int) -> tuple[str, torchmetrics.Metric]:
    """(name, metric) for a MetricConfig; the name is its oneof field (e.g. auc, grouped_auc)."""
    kind = metric_config.WhichOneof("metric")
    if kind is None:
        raise ConfigError("model_config.metrics", "a metric entry sets no metric type")
    return kind, registry("rec.metrics").get(kind)(getattr(metric_config, kind), num_class)
