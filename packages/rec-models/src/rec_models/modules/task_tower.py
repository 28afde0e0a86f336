"""TaskTower: one task's head in a multi-task model, an optional MLP then a linear output."""

# No `from __future__ import annotations`: FX traces rooted here must stay TorchScript-able.

from typing import Any, Optional

import torch
from torch import nn

from rec_models.modules.mlp import MLP


class TaskTower(nn.Module):
    """[B, in_features] -> [B, num_class]; `hidden` exposes the MLP output (or the input without one)."""

    def __init__(self, in_features: int, mlp_config: Optional[Any], num_class: int) -> None:
        super().__init__()
        self.mlp = MLP.from_config(in_features, mlp_config) if mlp_config is not None else None
        self.hidden_dim = self.mlp.output_dim if self.mlp is not None else in_features
        self.output = nn.Linear(self.hidden_dim, num_class)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The tower's representation before the output layer."""
        return self.mlp(x) if self.mlp is not None else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (or a regression output) of the task."""
        return self.output(self.hidden(x))
