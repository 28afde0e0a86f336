"""DlrmHSTU: generative multi-task ranking with HSTU (Zhai et al., ICML 2024), one candidate per row.

Each row becomes one token sequence [contextual features | history items | candidate]: every
`contextual` feature is a token of its own, the `uih` history (a JAGGED_SEQUENCE group, oldest
first unless `sequence_timestamp_is_ascending` is false) one token per element, and the
`candidate` item (a DEEP group) the last token. HSTU's causal attention lets the candidate see
the whole history; its output, times the candidate's embedding through `item_embedding_mlp`
(Linear -> SwishLayerNorm -> Linear -> LayerNorm, TorchEasyRec's item MLP), feeds the fusion
multi-task tower: an optional shared MLP, then one output per task class.

Each `fusion_mtl_tower.task_configs` entry is a task: its label is `label_name`, or with
`task_bitmask` the indicator (label & task_bitmask) > 0, so one action-bitmask column drives
several tasks. Predictions, losses and metrics are named as in every multi-task model
(`probs_<task>`, `binary_cross_entropy_<task>`, `auc_<task>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_core.protos import tower_pb2
from rec_features.features.base import BaseFeature
from rec_models.embedding_group import DEEP, EmbeddingGroup
from rec_models.model import BaseModel
from rec_models.models.hstu_match import check_history_group
from rec_models.modules.hstu import HSTUEncoder
from rec_models.modules.hstu_inputs import join_tokens, reverse_rows
from rec_models.modules.task_tower import TaskTower
from rec_models.modules.variational_dropout import attach_variational_dropout
from rec_models.multi_task_rank import MultiTaskRank

HISTORY, CANDIDATE, CONTEXTUAL = "uih", "candidate", "contextual"


class SwishLayerNorm(nn.Module):
    """x * sigmoid(LayerNorm(x))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[..., dim] -> [..., dim]."""
        return x * torch.sigmoid(self.norm(x))


class DlrmHSTU(MultiTaskRank):
    """Groups `uih` (JAGGED_SEQUENCE), `candidate` (DEEP), optional `contextual` (DEEP); `hstu`, `fusion_mtl_tower`."""

    def __init__(
        self,
        model_config: Any,
        features: Sequence[BaseFeature],
        labels: Sequence[str],
        sample_weights: Sequence[str] = (),
        device: torch.device | None = None,
    ) -> None:
        # MultiTaskRank's own set-up reads `task_towers` over DEEP/WIDE groups; this model reads
        # jagged groups and `fusion_mtl_tower.task_configs`, so it sets up the same attributes itself
        BaseModel.__init__(self, model_config, features, labels, sample_weights, device)
        self.kind = "dlrm_hstu"
        cfg = model_config.dlrm_hstu
        where = "model_config.dlrm_hstu"
        self.embedding_group = EmbeddingGroup(features, list(model_config.feature_groups), device=device)
        attach_variational_dropout(self, self.embedding_group, model_config.feature_groups)
        eg = self.embedding_group
        unknown = [g for g in eg.group_names if g not in (HISTORY, CANDIDATE, CONTEXTUAL)]
        if unknown:
            raise ConfigError(
                "model_config.feature_groups",
                f"DlrmHSTU reads the groups {HISTORY!r}, {CANDIDATE!r} and optional {CONTEXTUAL!r}; "
                f"not supported: {unknown} (action, watch-time and timestamp sequences are not implemented)",
            )
        check_history_group(eg, HISTORY, f"model_config.feature_groups[{HISTORY!r}]")
        for name in (CANDIDATE, CONTEXTUAL):
            if name in eg.group_types and eg.group_types[name] != DEEP:
                raise ConfigError(f"model_config.feature_groups[{name!r}].group_type", f"{name!r} must be a DEEP group")
        if CANDIDATE not in eg.group_types:
            raise ConfigError("model_config.feature_groups", f"DlrmHSTU needs a DEEP group {CANDIDATE!r} (the scored item)")
        if cfg.concat_contextual_features:
            raise ConfigError(f"{where}.concat_contextual_features", "not implemented: contextual features enter as tokens")
        preprocessor = cfg.hstu.input_preprocessor.WhichOneof("input_preprocessor")
        if preprocessor and getattr(cfg.hstu.input_preprocessor, preprocessor).HasField("action_encoder"):
            raise ConfigError(f"{where}.hstu.input_preprocessor.{preprocessor}.action_encoder", "action encoders are not implemented")
        self.ascending = bool(cfg.sequence_timestamp_is_ascending)

        dim = int(cfg.hstu.stu.embedding_dim)
        self.encoder = HSTUEncoder(cfg.hstu, dim, int(cfg.max_seq_len), f"{where}.hstu")
        self.history_projection = nn.Linear(eg.group_total_dim(f"{HISTORY}.sequence"), dim)
        candidate_dim = eg.group_total_dim(CANDIDATE)
        self.candidate_projection = nn.Linear(candidate_dim, dim)
        self.contextual_dims = eg.group_dims(CONTEXTUAL) if CONTEXTUAL in eg.group_types else []
        self.contextual_projections = nn.ModuleList(nn.Linear(d, dim) for d in self.contextual_dims)
        hidden = int(cfg.item_embedding_hidden_dim)
        if hidden <= 0:
            raise ConfigError(f"{where}.item_embedding_hidden_dim", f"must be > 0, got {hidden}")
        self.item_embedding_mlp = nn.Sequential(
            nn.Linear(candidate_dim, hidden), SwishLayerNorm(hidden), nn.Linear(hidden, dim), nn.LayerNorm(dim)
        )

        tasks_where = f"{where}.fusion_mtl_tower.task_configs"
        task_configs = list(cfg.fusion_mtl_tower.task_configs)
        if not task_configs:
            raise ConfigError(tasks_where, "DlrmHSTU needs at least one task")
        self.tower_configs = [as_task_tower(c) for c in task_configs]
        self.train_metrics = nn.ModuleDict()
        sparse_names = {f.name for f in features if f.is_sparse}
        self.tasks = []
        # per task: (label column, bitmask or 0)
        self.task_sources: list[tuple[str, int]] = []
        for i, task_cfg in enumerate(task_configs):
            if task_cfg.label_name not in self.labels:
                raise ConfigError(
                    f"{tasks_where}[{i}].label_name", f"{task_cfg.label_name!r} is not in data_config.label_fields {self.labels}"
                )
            if not task_cfg.losses:
                raise ConfigError(f"{tasks_where}[{i}].losses", f"task {task_cfg.task_name!r} configures no loss")
            task = self._task(i, self.tower_configs[i], sparse_names)
            mask = int(task_cfg.task_bitmask) if task_cfg.HasField("task_bitmask") else 0
            if mask:
                # tasks sharing one action column differ by mask: each reads its own derived label
                task = replace(task, label=f"{task.label}&{mask}")
            self.tasks.append(task)
            self.task_sources.append((task_cfg.label_name, mask))
        self.use_pareto = bool(model_config.use_pareto_loss_weight)
        self._pareto_anchor = None
        mlp = cfg.fusion_mtl_tower.mlp if cfg.fusion_mtl_tower.HasField("mlp") else None
        self.fusion_tower = TaskTower(dim, mlp, sum(t.num_class for t in self.tasks))
        self.task_widths = [t.num_class for t in self.tasks]

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        history, lengths = groups[f"{HISTORY}.sequence"], groups[f"{HISTORY}.sequence_length"]
        if not self.ascending:
            history = reverse_rows(history, lengths)
        candidate = groups[CANDIDATE]
        tokens = [p(x) for p, x in zip(self.contextual_projections, self._contextual(groups))]
        # [B, C, D]; C = 0 without contextual features
        prefix = torch.stack(tokens, dim=1) if tokens else candidate.new_zeros(candidate.size(0), 0, self.encoder.output_dim)
        steps = groups[f"{HISTORY}.sequence_steps"].size(1)
        values, joined = join_tokens(prefix, self.history_projection(history), lengths, self.candidate_projection(candidate), steps)
        # [contextual | history | candidate]
        steps = prefix.size(1) + steps + 1
        user = self.encoder.last(self.encoder(values, joined, steps), joined, steps)
        fused = user * self.item_embedding_mlp(candidate)
        if self.use_pareto and self.training:
            # Pareto weights come from each task's gradient w.r.t. this shared input
            self._pareto_anchor = fused
        outputs = torch.split(self.fusion_tower(fused), self.task_widths, dim=1)
        # indexed, not iterated: under FX tracing the split is a proxy
        return self.to_predictions([outputs[i] for i in range(len(self.tasks))])

    def _contextual(self, groups: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Each contextual feature's [B, width] slice of the group (sliced, not split: FX-traceable)."""
        if not self.contextual_dims:
            return []
        x, out, start = groups[CONTEXTUAL], [], 0
        for width in self.contextual_dims:
            out.append(x[:, start : start + width])
            start += width
        return out

    def task_labels(self, batch: Batch) -> Batch:
        """The batch with each task's label under the task's label key; a bitmask task's is (label & task_bitmask) > 0."""
        # read by key, never copied: under FX tracing `batch.labels` is a proxy
        labels: dict[str, torch.Tensor] = {}
        for task, (column, mask) in zip(self.tasks, self.task_sources):
            source = batch.labels[column]
            labels[task.label] = (torch.bitwise_and(source.long(), mask) > 0).long() if mask else source
        return Batch(
            sparse_features=batch.sparse_features, labels=labels, sample_weights=batch.sample_weights, batch_size=batch.batch_size
        )

    def loss(self, predictions: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        return super().loss(predictions, self.task_labels(batch))

    def update_metric(
        self, predictions: dict[str, torch.Tensor], batch: Batch, losses: dict[str, torch.Tensor] | None = None
    ) -> None:
        super().update_metric(predictions, self.task_labels(batch), losses)

    def update_train_metric(self, predictions: dict[str, torch.Tensor], batch: Batch) -> None:
        super().update_train_metric(predictions, self.task_labels(batch))


def as_task_tower(task: Any) -> tower_pb2.TaskTower:
    """A FusionSubTaskConfig as the TaskTower message MultiTaskRank reads (no MLP: the fusion tower is shared)."""
    return tower_pb2.TaskTower(
        tower_name=task.task_name,
        label_name=task.label_name,
        losses=task.losses,
        metrics=task.metrics,
        train_metrics=task.train_metrics,
        num_class=task.num_class,
        weight=task.weight,
    )
