"""MMoE: multi-gate mixture of experts (Ma et al., KDD 2018).

Every task mixes the same experts with its own softmax gate over the input.
"""

# No `from __future__ import annotations`: FX traces rooted here must stay TorchScript-able.

from typing import Any, List, Optional

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_models.modules.mlp import MLP


class MMoE(nn.Module):
    """[B, in_features] -> one [B, expert width] tensor per task."""

    def __init__(
        self,
        in_features: int,
        expert_mlp: Any,
        num_expert: int,
        num_task: int,
        gate_mlp: Optional[Any] = None,
        where: str = "mmoe",
    ) -> None:
        super().__init__()
        if num_expert < 1:
            raise ConfigError(f"{where}.num_expert", f"needs at least one expert, got {num_expert}")
        self.experts = nn.ModuleList(MLP.from_config(in_features, expert_mlp) for _ in range(num_expert))
        self.output_dim = self.experts[0].output_dim
        self.gates = nn.ModuleList(_gate(in_features, num_expert, gate_mlp) for _ in range(num_task))

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Per task: sum_e softmax(gate_t(x))_e * expert_e(x)."""
        experts = torch.stack([e(x) for e in self.experts], dim=1)
        return [mix(experts, gate(x)) for gate in self.gates]


def _gate(in_features: int, num_expert: int, gate_mlp: Optional[Any]) -> nn.Module:
    if gate_mlp is None:
        return nn.Linear(in_features, num_expert)
    mlp = MLP.from_config(in_features, gate_mlp)
    return nn.Sequential(mlp, nn.Linear(mlp.output_dim, num_expert))


def mix(experts: torch.Tensor, gate_logits: torch.Tensor) -> torch.Tensor:
    """Experts [B, E, D] weighted by softmax(gate_logits [B, E]) -> [B, D]."""
    weights = torch.softmax(gate_logits, dim=1).unsqueeze(1)
    return torch.bmm(weights, experts).squeeze(1)
