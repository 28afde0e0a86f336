"""PLE: progressive layered extraction (Tang et al., RecSys 2020).

Each extraction layer has experts per task plus shared experts. A task's gate mixes its own
experts and the shared ones; the shared gate (every layer but the last) mixes all experts
and feeds the next layer's shared experts.
"""

# No `from __future__ import annotations`: FX traces rooted here must stay TorchScript-able.

from typing import Any, List, Sequence, Tuple

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_models.modules.mlp import MLP
from rec_models.modules.mmoe import mix


class ExtractionLayer(nn.Module):
    """(per-task inputs, shared input) -> (per-task outputs, shared output)."""

    def __init__(self, task_dims: Sequence[int], shared_dim: int, config: Any, last: bool, where: str) -> None:
        super().__init__()
        num_task, per_task = len(task_dims), int(config.expert_num_per_task)
        share_num = int(config.share_num) if config.HasField("share_expert_net") else 0
        if per_task < 1:
            raise ConfigError(f"{where}.expert_num_per_task", f"needs at least one expert, got {per_task}")
        if config.share_num and not config.HasField("share_expert_net"):
            raise ConfigError(f"{where}.share_expert_net", "share_num is set but share_expert_net is not")
        self.task_experts = nn.ModuleList(
            nn.ModuleList(MLP.from_config(dim, config.task_expert_net) for _ in range(per_task)) for dim in task_dims
        )
        self.shared_experts = nn.ModuleList(MLP.from_config(shared_dim, config.share_expert_net) for _ in range(share_num))
        self.output_dim = self.task_experts[0][0].output_dim
        if share_num and self.shared_experts[0].output_dim != self.output_dim:
            raise ConfigError(
                f"{where}.share_expert_net.hidden_units",
                f"shared experts must end at the task experts' width {self.output_dim}, got {self.shared_experts[0].output_dim}",
            )
        self.task_gates = nn.ModuleList(nn.Linear(dim, per_task + share_num) for dim in task_dims)
        self.shared_gate = None if last else nn.Linear(shared_dim, num_task * per_task + share_num)

    def forward(self, task_inputs: List[torch.Tensor], shared_input: torch.Tensor) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Mix experts per task (and, before the last layer, for the shared path)."""
        shared = [e(shared_input) for e in self.shared_experts]
        outputs: List[torch.Tensor] = []
        every: List[torch.Tensor] = []
        for experts, gate, x in zip(self.task_experts, self.task_gates, task_inputs):
            own = [e(x) for e in experts]
            every.extend(own)
            outputs.append(mix(torch.stack(own + shared, dim=1), gate(x)))
        shared_out = shared_input
        if self.shared_gate is not None:
            shared_out = mix(torch.stack(every + shared, dim=1), self.shared_gate(shared_input))
        return outputs, shared_out


class PLE(nn.Module):
    """Stacked extraction layers: [B, in_features] -> one [B, D] tensor per task."""

    def __init__(self, in_features: int, configs: Sequence[Any], num_task: int, where: str = "ple") -> None:
        super().__init__()
        if not configs:
            raise ConfigError(f"{where}.extraction_networks", "PLE needs at least one extraction network")
        layers = []
        task_dims, shared_dim = [in_features] * num_task, in_features
        for i, cfg in enumerate(configs):
            layer = ExtractionLayer(task_dims, shared_dim, cfg, i == len(configs) - 1, f"{where}.extraction_networks[{i}]")
            layers.append(layer)
            task_dims, shared_dim = [layer.output_dim] * num_task, layer.output_dim
        self.layers = nn.ModuleList(layers)
        self.num_task = num_task
        self.output_dim = task_dims[0]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Per-task representations after the last extraction layer."""
        task_inputs = [x for _ in range(self.num_task)]
        shared = x
        for layer in self.layers:
            task_inputs, shared = layer(task_inputs, shared)
        return task_inputs
