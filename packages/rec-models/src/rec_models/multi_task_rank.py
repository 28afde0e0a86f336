"""MultiTaskRank: the base of multi-task ranking models (task towers, per-task losses and metrics).

Every task tower names its label, losses, metrics, loss weight and sample weighting; its
predictions, losses and metrics carry the tower name as a suffix (`probs_ctr`,
`binary_cross_entropy_ctr`, `auc_ctr`). A subclass builds the shared part and calls
`tower_outputs(...)` helpers; the tower heads, losses and metrics live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_features.features.base import BaseFeature
from rec_models.embedding_group import DEEP, WIDE, EmbeddingGroup
from rec_models.losses import create_loss, weighted_mean
from rec_models.metrics import create_metric, create_train_metric
from rec_models.model import BaseModel
from rec_models.modules.task_tower import TaskTower
from rec_models.modules.variational_dropout import attach_variational_dropout, variational_dropout_losses
from rec_models.rank_model import feed_metric, group_ids, prediction_key


@dataclass
class Task:
    """One task tower's settings, resolved and checked against the data config."""

    name: str
    label: str
    num_class: int
    weight: float
    regression: bool
    losses: list[str]  # loss module keys, e.g. binary_cross_entropy_ctr
    metrics: list[str]  # metric keys, e.g. auc_ctr
    train_metrics: list[str]
    sample_weight: str = ""
    indicator: str = ""
    in_weight: float = 1.0
    out_weight: float = 1.0
    pareto_min: float = 0.0


class MultiTaskRank(BaseModel):
    """Embedding group over all feature groups, one `Task` per `task_towers` entry.

    Subclasses compute one [B, num_class] output per task and return
    `self.to_predictions(outputs)`. Towers are read from `model_config.<model>.task_towers`
    (TaskTower, BayesTaskTower or InterventionTaskTower messages).
    """

    def __init__(
        self,
        model_config: Any,
        features: Sequence[BaseFeature],
        labels: Sequence[str],
        sample_weights: Sequence[str] = (),
        device: torch.device | None = None,
    ) -> None:
        super().__init__(model_config, features, labels, sample_weights, device)
        self.kind = model_config.WhichOneof("model")
        self.embedding_group = EmbeddingGroup(features, list(model_config.feature_groups), device=device)
        attach_variational_dropout(self, self.embedding_group, model_config.feature_groups)
        self.group_names = list(self.embedding_group.group_names)
        for g in self.group_names:
            if self.embedding_group.group_types[g] not in (DEEP, WIDE):
                raise ConfigError(
                    "model_config.feature_groups",
                    f"multi-task models read DEEP and WIDE groups; {g!r} is a sequence group "
                    "(nest it in a DEEP group's sequence_groups with a sequence encoder)",
                )
        self.input_dim = sum(self.embedding_group.group_total_dim(g) for g in self.group_names)
        self.tower_configs = list(getattr(model_config, self.kind).task_towers)
        if not self.tower_configs:
            raise ConfigError(f"model_config.{self.kind}.task_towers", "a multi-task model needs at least one task tower")
        sparse_names = {f.name for f in features if f.is_sparse}
        self.train_metrics = nn.ModuleDict()
        self.tasks = [self._task(i, cfg, sparse_names) for i, cfg in enumerate(self.tower_configs)]
        self.use_pareto = bool(model_config.use_pareto_loss_weight)
        if self.use_pareto and sum(t.pareto_min for t in self.tasks) >= 1:
            raise ConfigError(
                f"model_config.{self.kind}.task_towers.pareto_min_loss_weight",
                "the towers' minimum Pareto weights must sum to less than 1",
            )
        self._pareto_anchor = None

    # -- configuration ------------------------------------------------------------------
    def _task(self, i: int, cfg: Any, sparse_names: set[str]) -> Task:
        where = f"model_config.{self.kind}.task_towers[{i}]"
        name = cfg.tower_name
        label = cfg.label_name or (self.labels[i] if i < len(self.labels) else "")
        if label not in self.labels:
            raise ConfigError(f"{where}.label_name", f"{label!r} is not in data_config.label_fields {self.labels}")
        num_class = int(cfg.num_class) or 1
        if not cfg.losses:
            raise ConfigError(f"{where}.losses", f"task tower {name!r} configures no loss")
        loss_keys = []
        for j, loss_cfg in enumerate(cfg.losses):
            kind, module = create_loss(loss_cfg, num_class)
            loss_keys.append(f"{kind}_{name}")
            self._check_grouping_key(module, f"{where}.losses[{j}].{kind}.session_name", sparse_names)
            self.loss_modules[loss_keys[-1]] = module
        metric_keys, train_metric_keys = [], []
        for j, metric_cfg in enumerate(cfg.metrics):
            kind, metric = create_metric(metric_cfg, num_class)
            self._check_grouping_key(metric, f"{where}.metrics[{j}].{kind}.grouping_key", sparse_names)
            metric_keys.append(f"{kind}_{name}")
            self.metrics[metric_keys[-1]] = metric
        for j, metric_cfg in enumerate(cfg.train_metrics):
            kind, metric = create_train_metric(metric_cfg, num_class)
            self._check_grouping_key(metric, f"{where}.train_metrics[{j}].{kind}.grouping_key", sparse_names)
            train_metric_keys.append(f"{kind}_{name}")
            self.train_metrics[train_metric_keys[-1]] = metric
        sample_weight = getattr(cfg, "sample_weight_name", "")
        if sample_weight and sample_weight not in self.sample_weights:
            raise ConfigError(
                f"{where}.sample_weight_name",
                f"{sample_weight!r} is not in data_config.sample_weight_fields {self.sample_weights}",
            )
        indicator = cfg.task_space_indicator_label
        if indicator and indicator not in self.labels:
            raise ConfigError(
                f"{where}.task_space_indicator_label", f"{indicator!r} is not in data_config.label_fields {self.labels}"
            )
        return Task(
            name=name,
            label=label,
            num_class=num_class,
            weight=float(cfg.weight),
            regression=all(prediction_key(self.loss_modules[k]) == "y" for k in loss_keys),
            losses=loss_keys,
            metrics=metric_keys,
            train_metrics=train_metric_keys,
            sample_weight=sample_weight,
            indicator=indicator,
            in_weight=float(cfg.in_task_space_weight),
            out_weight=float(cfg.out_task_space_weight),
            pareto_min=float(cfg.pareto_min_loss_weight),
        )

    @staticmethod
    def _check_grouping_key(module: nn.Module, where: str, sparse_names: set[str]) -> None:
        # checked at build so a typo fails at once, not after the first training steps
        key = getattr(module, "grouping_key", None)
        if key is not None and key not in sparse_names:
            raise ConfigError(where, f"{key!r} is not a sparse feature; sparse features: {sorted(sparse_names)}")

    def task_towers(self, in_features: int) -> nn.ModuleList:
        """One TaskTower per task over [B, in_features]: the tower's `mlp`, then num_class outputs."""
        return nn.ModuleList(
            TaskTower(in_features, cfg.mlp if cfg.HasField("mlp") else None, task.num_class)
            for cfg, task in zip(self.tower_configs, self.tasks)
        )

    def tower_where(self, i: int) -> str:
        """Config path of task tower i, for errors."""
        return f"model_config.{self.kind}.task_towers[{i}]"

    def earlier_towers(self, i: int, field: str) -> list[int]:
        """Indices of the towers that tower i names in `field` (e.g. relation_tower_names); each must come before it."""
        names = [t.name for t in self.tasks]
        out = []
        for j, name in enumerate(getattr(self.tower_configs[i], field)):
            if name not in names[:i]:
                raise ConfigError(
                    f"model_config.{self.kind}.task_towers[{i}].{field}[{j}]",
                    f"{name!r} must name an earlier task tower; towers before {names[i]!r}: {names[:i]}",
                )
            out.append(names.index(name))
        return out

    # -- forward --------------------------------------------------------------------------
    def build_input(self, batch: Batch) -> torch.Tensor:
        """All feature groups concatenated: the input every task shares."""
        groups = self.embedding_group(batch)
        x = torch.cat([groups[g] for g in self.group_names], dim=1)
        if self.use_pareto and self.training:
            # Pareto weights come from each task's gradient w.r.t. this shared input
            self._pareto_anchor = x
        return x

    def to_predictions(self, outputs: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Named predictions of every task from its raw output [B, num_class]."""
        preds: dict[str, torch.Tensor] = {}
        for task, out in zip(self.tasks, outputs):
            s = f"_{task.name}"
            if task.regression:
                preds["y" + s] = out.squeeze(1)
            elif task.num_class == 1:
                logits = out.squeeze(1)
                preds["logits" + s] = logits
                preds["probs" + s] = torch.sigmoid(logits)
            else:
                probs = torch.softmax(out, dim=1)
                preds["logits" + s] = out
                preds["probs" + s] = probs
                if task.num_class == 2:
                    preds["probs1" + s] = probs[:, 1]
        return preds

    # -- losses ---------------------------------------------------------------------------
    def _loss_weights(self, task: Task, batch: Batch) -> torch.Tensor | None:
        weights = batch.sample_weights[task.sample_weight] if task.sample_weight else None
        if task.indicator:
            in_space = batch.labels[task.indicator] > 0
            space = torch.where(
                in_space,
                torch.full_like(in_space, task.in_weight, dtype=torch.float32),
                torch.full_like(in_space, task.out_weight, dtype=torch.float32),
            )
            weights = space if weights is None else weights.float() * space
        return weights

    def loss(self, predictions: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for task in self.tasks:
            label = batch.labels[task.label]
            weights = self._loss_weights(task, batch)
            s = f"_{task.name}"
            for key in task.losses:
                module = self.loss_modules[key]
                pred = predictions[prediction_key(module) + s]
                if getattr(module, "extra_input", None) == "group":
                    per_sample = module(pred, label, group_ids(batch, module.grouping_key))
                else:
                    per_sample = module(pred, label)
                out[key] = weighted_mean(per_sample, weights) * task.weight
        if self.use_pareto and self.training and torch.is_grad_enabled() and self._pareto_anchor is not None:
            per_task = [torch.stack([out[k] for k in t.losses]).sum() for t in self.tasks]
            weights = pareto_weights(per_task, self._pareto_anchor, [t.pareto_min for t in self.tasks])
            self._pareto_anchor = None
            for i, task in enumerate(self.tasks):
                for key in task.losses:
                    out[key] = out[key] * weights[i]
        out.update(variational_dropout_losses(self))
        return out

    # -- metrics --------------------------------------------------------------------------
    def _score(self, task: Task, predictions: dict[str, torch.Tensor]) -> torch.Tensor:
        s = f"_{task.name}"
        if task.regression:
            return predictions["y" + s]
        if task.num_class == 1:
            return predictions["probs" + s]
        return predictions.get("probs1" + s, predictions["probs" + s])

    def _update(self, keys: str, metrics: nn.ModuleDict, predictions: dict[str, torch.Tensor], batch: Batch) -> None:
        for task in self.tasks:
            label, score = batch.labels[task.label], self._score(task, predictions)
            for key in getattr(task, keys):
                feed_metric(metrics[key], task.num_class, task.regression, predictions, f"probs_{task.name}", score, label, batch)

    def update_metric(
        self, predictions: dict[str, torch.Tensor], batch: Batch, losses: dict[str, torch.Tensor] | None = None
    ) -> None:
        self._update("metrics", self.metrics, predictions, batch)
        if losses:
            self._track_loss(losses, len(batch.labels[self.tasks[0].label]))

    def update_train_metric(self, predictions: dict[str, torch.Tensor], batch: Batch) -> None:
        """Feed one training batch to the towers' decayed `train_metrics` (named `<metric>_<tower>`)."""
        self._update("train_metrics", self.train_metrics, predictions, batch)

    def compute_train_metric(self) -> dict[str, float]:
        """Current decayed train-metric values; they keep accumulating (no reset)."""
        return {name: float(metric.compute()) for name, metric in self.train_metrics.items()}


@torch.fx.wrap
def pareto_weights(task_losses: list[torch.Tensor], shared: torch.Tensor, min_weights: list[float]) -> torch.Tensor:
    """Pareto-efficient task weights (PE-LTR, Lin et al., RecSys 2019), detached.

    Minimises ||sum_t w_t g_t||^2 over the simplex with w_t >= min_weights[t], where g_t is
    task t's gradient w.r.t. the shared tensor: the closed-form solution of the equality-
    constrained problem, projected back onto the feasible set.
    """
    grads = []
    for loss in task_losses:
        (g,) = torch.autograd.grad(loss, shared, retain_graph=True, allow_unused=True)
        grads.append(torch.zeros_like(shared).flatten() if g is None else g.detach().flatten())
    g = torch.stack(grads).double()
    c = torch.tensor(min_weights, dtype=torch.float64, device=g.device)
    k = g.shape[0]
    gram = g @ g.T
    # KKT system of min ||(w_hat + c)^T G||^2 s.t. sum(w_hat) = 1 - sum(c)
    system = torch.zeros(k + 1, k + 1, dtype=torch.float64, device=g.device)
    system[:k, :k] = gram
    system[:k, k] = 1.0
    system[k, :k] = 1.0
    rhs = torch.cat([-(gram @ c), (1.0 - c.sum()).reshape(1)])
    solution = torch.linalg.lstsq(system, rhs.unsqueeze(1)).solution.squeeze(1)
    w_hat = _project_to_simplex(solution[:k], float(1.0 - c.sum()))
    return (w_hat + c).to(task_losses[0].dtype)


def _project_to_simplex(v: torch.Tensor, total: float) -> torch.Tensor:
    """Euclidean projection of v onto {x >= 0, sum(x) = total}."""
    u, _ = torch.sort(v, descending=True)
    cumulative = torch.cumsum(u, 0) - total
    idx = torch.arange(1, len(v) + 1, dtype=v.dtype, device=v.device)
    rho = int(torch.nonzero(u - cumulative / idx > 0).max())
    theta = cumulative[rho] / (rho + 1)
    return torch.clamp(v - theta, min=0.0)
