"""PEPNet (Chang et al., 2023): parameter and embedding personalised multi-task ranking.

Groups: `all` (the main features), `domain` (features naming the scenario, for EPNet) and
`uia` (user / item / author features, for PPNet). With `task_domain_num` > 1 each task has
one output per domain and a row uses the one its `domain_input_name` id selects (ids are
clamped into [0, task_domain_num)).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.modules.pepnet import EPNet, PPNet
from rec_models.modules.task_tower import TaskTower
from rec_models.multi_task_rank import MultiTaskRank
from rec_models.rank_model import group_ids


class PEPNet(MultiTaskRank):
    """EPNet over `all` gated by `domain`; PPNet task nets gated by `uia`; one tower per task."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg, where = model_config.pepnet, "model_config.pepnet"
        eg = self.embedding_group
        main_dim, domain_dim, uia_dim = (eg.group_total_dim(g) for g in ("all", "domain", "uia"))
        self.epnet = EPNet(main_dim, domain_dim, int(cfg.epnet_hidden_unit) or main_dim, float(cfg.epnet_gamma))
        self.ppnet = PPNet(
            main_dim,
            uia_dim,
            list(cfg.ppnet_hidden_units),
            len(self.tasks),
            cfg.ppnet_activation,
            list(cfg.ppnet_dropout_ratio),
            float(cfg.ppnet_gamma),
            where,
        )
        self.num_domains = int(cfg.task_domain_num) or 1
        self.domain_input_name = cfg.domain_input_name
        if self.num_domains > 1 and self.domain_input_name not in {f.name for f in self.features if f.is_sparse}:
            raise ConfigError(
                f"{where}.domain_input_name",
                f"task_domain_num {self.num_domains} needs a sparse feature holding the domain id, got {self.domain_input_name!r}",
            )
        self.towers = nn.ModuleList(
            TaskTower(self.ppnet.output_dim, tower.mlp if tower.HasField("mlp") else None, task.num_class * self.num_domains)
            for tower, task in zip(self.tower_configs, self.tasks)
        )

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        main = groups["all"]
        if self.use_pareto and self.training:
            self._pareto_anchor = main  # Pareto weights come from each task's gradient w.r.t. it
        task_inputs = self.ppnet(self.epnet(main, groups["domain"]), groups["uia"])
        outputs = [tower(task_inputs[i]) for i, tower in enumerate(self.towers)]
        if self.num_domains > 1:
            domain = group_ids(batch, self.domain_input_name).clamp(0, self.num_domains - 1)
            outputs = [self._select(out, domain, task.num_class) for out, task in zip(outputs, self.tasks)]
        return self.to_predictions(outputs)

    def _select(self, out: torch.Tensor, domain: torch.Tensor, num_class: int) -> torch.Tensor:
        """[B, domains * num_class] -> [B, num_class]: the row's own domain's outputs."""
        per_domain = out.view(-1, self.num_domains, num_class)
        return per_domain.gather(1, domain.view(-1, 1, 1).expand(-1, 1, num_class)).squeeze(1)
