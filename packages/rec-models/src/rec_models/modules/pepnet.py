"""PEPNet's personalisation gates (Chang et al., 2023).

GateNU: gamma * sigmoid(Linear(ReLU(Linear(x)))), a scale in (0, gamma) per output unit.
EPNet: scales the main embeddings by a gate computed from the domain features and the
(gradient-stopped) main embeddings.
PPNet: one MLP per task whose every layer input is scaled by a gate computed from the
user/item/author features and the (gradient-stopped) EPNet output.
"""

# No `from __future__ import annotations`: an FX trace rooted at one of these modules copies
# its forward annotations, and TorchScript cannot resolve them when they are strings.

from collections.abc import Sequence
from typing import List

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_models.modules.mlp import create_activation


class GateNU(nn.Module):
    """[B, in_features] -> [B, out_features] gates in (0, gamma)."""

    def __init__(self, in_features: int, hidden: int, out_features: int, gamma: float = 2.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_features))
        self.gamma = gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gates for x."""
        return self.gamma * torch.sigmoid(self.net(x))


class EPNet(nn.Module):
    """(main [B, main_dim], domain [B, domain_dim]) -> gated main [B, main_dim]."""

    def __init__(self, main_dim: int, domain_dim: int, hidden: int, gamma: float) -> None:
        super().__init__()
        self.gate = GateNU(domain_dim + main_dim, hidden, main_dim, gamma)

    def forward(self, main: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        """The main embeddings scaled per unit by the domain's gate."""
        return main * self.gate(torch.cat([domain, main.detach()], dim=1))


class PPNet(nn.Module):
    """(x [B, in_features], prior [B, prior_dim]) -> one [B, hidden_units[-1]] output per task."""

    def __init__(
        self,
        in_features: int,
        prior_dim: int,
        hidden_units: Sequence[int],
        num_tasks: int,
        activation: str = "nn.ReLU",
        dropout_ratio: Sequence[float] = (),
        gamma: float = 2.0,
        where: str = "pepnet",
    ) -> None:
        super().__init__()
        if not hidden_units:
            raise ConfigError(f"{where}.ppnet_hidden_units", "PPNet needs at least one hidden unit count")
        ratios = list(dropout_ratio) or [0.0]
        if len(ratios) == 1:
            ratios = ratios * len(hidden_units)
        if len(ratios) != len(hidden_units):
            raise ConfigError(f"{where}.ppnet_dropout_ratio", f"expected 1 or {len(hidden_units)} values, got {len(ratios)}")
        widths = [in_features, *hidden_units]
        self.num_tasks = num_tasks
        self.widths: List[int] = widths[:-1]
        # one gate per layer gives every task its scale of that layer's input
        self.gates = nn.ModuleList(
            GateNU(prior_dim + in_features, widths[i + 1], num_tasks * widths[i], gamma) for i in range(len(hidden_units))
        )
        self.layers = nn.ModuleList(
            nn.ModuleList(
                nn.Sequential(
                    nn.Linear(widths[i], widths[i + 1]),
                    create_activation(activation, f"{where}.ppnet_activation", widths[i + 1]),
                    nn.Dropout(ratios[i]) if ratios[i] > 0 else nn.Identity(),
                )
                for i in range(len(hidden_units))
            )
            for _ in range(num_tasks)
        )
        self.output_dim = widths[-1]

    def forward(self, x: torch.Tensor, prior: torch.Tensor) -> List[torch.Tensor]:
        """Every task's representation."""
        gate_input = torch.cat([prior, x.detach()], dim=1)
        gates = [gate(gate_input).chunk(self.num_tasks, dim=1) for gate in self.gates]
        outputs: List[torch.Tensor] = []
        for t, task_layers in enumerate(self.layers):
            h = x
            for i, layer in enumerate(task_layers):
                h = layer(h * gates[i][t])
            outputs.append(h)
        return outputs
