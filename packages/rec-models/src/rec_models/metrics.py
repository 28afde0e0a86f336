"""Metrics, each registered under `rec.metrics` by its MetricConfig oneof name.

torchmetrics where it has the metric (AUROC, accuracy, errors), rec's own otherwise (grouped
AUC, XAUC, recall@k, normalized entropy). A model feeds each metric the input its
`metric_input` kind names (see `metric_input_kind`).
"""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, MulticlassAccuracy, MulticlassAUROC
from torchmetrics.utilities.data import dim_zero_cat

from rec_core.errors import ConfigError
from rec_core.registry import registry

# what a model passes to a metric's update():
#   SCORE: (score [B], label)   score = probs (1 class), probs1 (2 classes) or y (regression)
#   PROBS: (probs [B, C], class ids [B])
#   GROUPED: (score [B], label, group ids [B]); the metric names its sparse feature in `grouping_key`
SCORE, PROBS, GROUPED = "score", "probs", "grouped"


def metric_input_kind(metric: torchmetrics.Metric, num_class: int) -> str:
    """Which inputs `metric` takes: its `metric_input` attribute, else SCORE (PROBS for > 2 classes)."""
    return getattr(metric, "metric_input", PROBS if num_class > 2 else SCORE)


def _thresholds(config: Any) -> int | None:
    # exact (every distinct score a threshold) unless the config asks for bins; the proto's
    # default of 200 bins understates AUC by up to ~1e-3, so it is not applied silently
    return int(config.thresholds) if config.HasField("thresholds") and config.thresholds else None


def auc(config: Any, num_class: int) -> torchmetrics.Metric:
    """Binary ROC AUC over probabilities; exact, or binned when `thresholds` is set."""
    _binary_only("auc", num_class)
    return BinaryAUROC(thresholds=_thresholds(config))


def multiclass_auc(config: Any, num_class: int) -> torchmetrics.Metric:
    """One-vs-rest ROC AUC per class, averaged `macro` (plain mean) or `weighted` (by support)."""
    if num_class < 2:
        raise ConfigError("model_config.num_class", f"multiclass_auc needs num_class >= 2, got {num_class}")
    average = config.average or "macro"
    if average not in ("macro", "weighted"):
        raise ConfigError("model_config.metrics.multiclass_auc.average", f"expected macro or weighted, got {average!r}")
    metric = MulticlassAUROC(num_classes=num_class, average=average, thresholds=_thresholds(config))
    metric.metric_input = PROBS
    return metric


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


class _CatMetric(torchmetrics.Metric):
    """Keeps every (pred, target[, group]) row; compute() sees them all (across ranks too)."""

    full_state_update = False

    def __init__(self, grouped: bool = False) -> None:
        super().__init__()
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")
        if grouped:
            self.add_state("groups", default=[], dist_reduce_fx="cat")

    def update(self, preds: torch.Tensor, target: torch.Tensor, groups: torch.Tensor | None = None) -> None:  # type: ignore[override]
        """Add a batch of scores, labels (and group ids)."""
        self.preds.append(preds.detach().double())
        self.target.append(target.detach().double())
        if groups is not None:
            self.groups.append(groups.detach().long())

    def _split_by_group(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        preds, target, groups = dim_zero_cat(self.preds), dim_zero_cat(self.target), dim_zero_cat(self.groups)
        order = torch.argsort(groups, stable=True)
        _, counts = torch.unique_consecutive(groups[order], return_counts=True)
        sizes = counts.tolist()
        return list(zip(torch.split(preds[order], sizes), torch.split(target[order], sizes)))


class GroupedAUC(_CatMetric):
    """Mean of per-group AUCs (e.g. per user), over groups holding both classes."""

    metric_input = GROUPED

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__(grouped=True)
        _binary_only("grouped_auc", num_class)
        if not config.grouping_key:
            raise ConfigError("model_config.metrics.grouped_auc.grouping_key", "names the sparse feature to group by")
        self.grouping_key = config.grouping_key

    def compute(self) -> torch.Tensor:
        """Unweighted mean AUC over groups with positives and negatives."""
        aucs = []
        for p, t in self._split_by_group():
            pos = int((t > 0).sum())
            if 0 < pos < len(t):
                aucs.append(_rank_auc(p, t > 0, pos))
        return torch.tensor(sum(aucs) / len(aucs) if aucs else 0.0)


def _rank_auc(p: torch.Tensor, positive: torch.Tensor, pos: int) -> float:
    ranks = torch.empty_like(p, dtype=torch.float64)
    order = torch.argsort(p)
    ranks[order] = torch.arange(1, len(p) + 1, dtype=torch.float64)
    # ties share their mean rank
    uniq, inverse = torch.unique(p, return_inverse=True)
    mean_rank = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, ranks)
    mean_rank /= torch.bincount(inverse, minlength=len(uniq)).double()
    ranks = mean_rank[inverse]
    neg = len(p) - pos
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _pairs(n: int, num_pairs: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Index pairs i < j: all of them when num_pairs reaches n(n-1)/2, else a uniform sample."""
    total = n * (n - 1) // 2
    if num_pairs >= total:
        i, j = torch.triu_indices(n, n, offset=1)
        return i, j
    i = torch.randint(0, n, (num_pairs,), generator=generator)
    j = torch.randint(0, n - 1, (num_pairs,), generator=generator)
    j = j + (j >= i).long()  # uniform over j != i
    return i, j


def xauc_of(preds: torch.Tensor, target: torch.Tensor, num_pairs: int, generator: torch.Generator) -> tuple[float, int]:
    """(XAUC, pairs used): the share of pairs with different labels that the predictions order
    the same way (prediction ties count one half)."""
    i, j = _pairs(len(preds), num_pairs, generator)
    dt = target[i] - target[j]
    keep = dt != 0
    dp = (preds[i] - preds[j])[keep]
    dt = dt[keep]
    used = int(keep.sum())
    if used == 0:
        return 0.0, 0
    agree = (dp * dt > 0).double() + 0.5 * (dp == 0).double()
    return float(agree.mean()), used


class XAUC(_CatMetric):
    """XAUC for regression targets such as watch time: pairwise order agreement (Zhan et al., 2022).

    Evaluates `sample_ratio` of all n(n-1)/2 row pairs (all pairs when that covers them), at
    most `max_pairs`; `in_batch` scores each update's rows on their own and averages the
    batches (weighted by pairs), instead of pairing rows across the whole evaluation.
    """

    def __init__(self, config: Any, num_class: int, seed: int = 0) -> None:
        super().__init__()
        if num_class > 2:
            raise ConfigError("model_config.num_class", f"xauc needs one score per row (num_class 1 or 2), got {num_class}")
        self.sample_ratio = float(config.sample_ratio)
        if not 0.0 < self.sample_ratio:
            raise ConfigError("model_config.metrics.xauc.sample_ratio", f"must be > 0, got {self.sample_ratio}")
        self.max_pairs = int(config.max_pairs) or None
        self.in_batch = bool(config.in_batch)
        self._generator = torch.Generator().manual_seed(seed)
        self.add_state("batch_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("batch_pairs", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def num_pairs(self, n: int) -> int:
        """How many pairs to draw among n rows."""
        wanted = max(1, round(n * (n - 1) / 2 * self.sample_ratio))
        return min(wanted, self.max_pairs) if self.max_pairs else wanted

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        """Add a batch of predictions and targets."""
        if not self.in_batch:
            super().update(preds, target)
            return
        p, t = preds.detach().double().cpu(), target.detach().double().cpu()
        value, used = xauc_of(p, t, self.num_pairs(len(p)), self._generator)
        self.batch_sum += value * used
        self.batch_pairs += used

    def compute(self) -> torch.Tensor:
        """XAUC over the evaluated pairs (0 when no pair has different targets)."""
        if self.in_batch:
            return (self.batch_sum / self.batch_pairs.clamp_min(1)).float()
        preds, target = dim_zero_cat(self.preds).cpu(), dim_zero_cat(self.target).cpu()
        return torch.tensor(xauc_of(preds, target, self.num_pairs(len(preds)), self._generator)[0])


class GroupedXAUC(_CatMetric):
    """Mean XAUC over groups (e.g. users), each from at most `max_pairs_per_group` pairs."""

    metric_input = GROUPED

    def __init__(self, config: Any, num_class: int, seed: int = 0) -> None:
        super().__init__(grouped=True)
        if not config.grouping_key:
            raise ConfigError("model_config.metrics.grouped_xauc.grouping_key", "names the sparse feature to group by")
        self.grouping_key = config.grouping_key
        self.max_pairs_per_group = int(config.max_pairs_per_group) or 100
        self._generator = torch.Generator().manual_seed(seed)

    def compute(self) -> torch.Tensor:
        """Unweighted mean over groups that hold two different targets."""
        values = []
        for p, t in self._split_by_group():
            value, used = xauc_of(p.cpu(), t.cpu(), self.max_pairs_per_group, self._generator)
            if used:
                values.append(value)
        return torch.tensor(sum(values) / len(values) if values else 0.0)


class NormalizedEntropy(torchmetrics.Metric):
    """Log loss of the predictions divided by the entropy of the observed positive rate.

    Below 1 the model beats always predicting the base rate; `eta` keeps logs finite.
    """

    full_state_update = False

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__()
        _binary_only("normalized_entropy", num_class)
        self.eta = float(config.eta)
        self.add_state("log_loss", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("positives", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("rows", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        """Add a batch of probabilities and 0/1 labels."""
        p = preds.detach().double().clamp(self.eta, 1 - self.eta)
        y = target.detach().double()
        self.log_loss += -(y * p.log() + (1 - y) * (1 - p).log()).sum()
        self.positives += y.sum()
        self.rows += y.numel()

    def compute(self) -> torch.Tensor:
        """NE = mean log loss / H(positive rate)."""
        rate = (self.positives / self.rows.clamp_min(1)).clamp(self.eta, 1 - self.eta)
        entropy = -(rate * rate.log() + (1 - rate) * (1 - rate).log())
        return (self.log_loss / self.rows.clamp_min(1) / entropy).float()


class RecallAtK(torchmetrics.Metric):
    """Share of positives ranked in the top k: the hit rate when each row has one positive.

    update() takes scores [B, N] with either class ids [B] (the positive column per row, as
    for a multi-class model) or a 0/1 matrix [B, N] marking the positive columns.
    """

    full_state_update = False
    metric_input = PROBS

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__()
        self.top_k = int(config.top_k)
        if self.top_k < 1:
            raise ConfigError("model_config.metrics.recall_at_k.top_k", f"must be >= 1, got {self.top_k}")
        self.add_state("hits", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("positives", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        """Add a batch of scores and positives."""
        preds = preds.detach()
        if target.dim() == 1:
            target = torch.nn.functional.one_hot(target.long(), preds.shape[1])
        top = torch.topk(preds, min(self.top_k, preds.shape[1]), dim=1).indices
        self.hits += target.gather(1, top).double().sum()
        self.positives += target.double().sum()

    def compute(self) -> torch.Tensor:
        """Positives in the top k / all positives."""
        return (self.hits / self.positives.clamp_min(1)).float()


class DecayMetric(torchmetrics.Metric):
    """A train metric smoothed over time: every `decay_step` updates, value = decay_rate * value
    + (1 - decay_rate) * (metric over those updates), and the inner metric starts afresh.

    The first window sets the value outright; before it closes, the value is the metric over
    the updates so far.
    """

    full_state_update = False

    def __init__(self, metric: torchmetrics.Metric, decay_rate: float, decay_step: int) -> None:
        super().__init__(sync_on_compute=False)
        if not 0.0 <= decay_rate < 1.0:
            raise ConfigError("model_config.train_metrics.decay_rate", f"must be in [0, 1), got {decay_rate}")
        if decay_step < 1:
            raise ConfigError("model_config.train_metrics.decay_step", f"must be >= 1, got {decay_step}")
        self.metric = metric
        self.decay_rate, self.decay_step = decay_rate, decay_step
        if hasattr(metric, "metric_input"):
            self.metric_input = metric.metric_input
        if hasattr(metric, "grouping_key"):
            self.grouping_key = metric.grouping_key
        self.add_state("value", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="mean")
        self.add_state("steps", default=torch.tensor(0), dist_reduce_fx="max")

    def update(self, *args: Any) -> None:  # type: ignore[override]
        """Update the inner metric; fold it into the value at the end of each window."""
        self.metric.update(*args)
        self.steps += 1
        if int(self.steps) % self.decay_step == 0:
            current = self.metric.compute().double()
            first = int(self.steps) == self.decay_step
            self.value = current if first else self.decay_rate * self.value + (1 - self.decay_rate) * current
            self.metric.reset()

    def compute(self) -> torch.Tensor:
        """The smoothed value."""
        if int(self.steps) < self.decay_step:
            return self.metric.compute().float() if int(self.steps) else torch.tensor(0.0)
        return self.value.float()


def create_metric(metric_config: Any, num_class: int) -> tuple[str, torchmetrics.Metric]:
    """(name, metric) for a MetricConfig; the name is its oneof field (e.g. auc, grouped_auc)."""
    kind = metric_config.WhichOneof("metric")
    if kind is None:
        raise ConfigError("model_config.metrics", "a metric entry sets no metric type")
    return kind, registry("rec.metrics").get(kind)(getattr(metric_config, kind), num_class)


def create_train_metric(metric_config: Any, num_class: int) -> tuple[str, DecayMetric]:
    """(name, decayed metric) for a TrainMetricConfig (decay_rate, decay_step)."""
    name, metric = create_metric(metric_config, num_class)
    return name, DecayMetric(metric, float(metric_config.decay_rate), int(metric_config.decay_step))
