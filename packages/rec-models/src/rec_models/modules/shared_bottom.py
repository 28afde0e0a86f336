"""SharedBottom: the shared part of DBMTL / DC2VR (optional MaskNet, MLP and MMoE experts)."""

# No `from __future__ import annotations`: FX traces rooted here must stay TorchScript-able.

from typing import Any, List, Tuple

import torch
from torch import nn

from rec_models.modules.mask_net import MaskNetModule
from rec_models.modules.mlp import MLP
from rec_models.modules.mmoe import MMoE


def optional_mlp(width: int, cfg: Any, field: str, where: str) -> Tuple[nn.Module, int]:
    """(the MLP in message field `field`, its output width), or (identity, width) when unset."""
    if not cfg.HasField(field):
        return nn.Identity(), width
    mlp = MLP.from_config(width, getattr(cfg, field), f"{where}.{field}")
    return mlp, mlp.output_dim


def _has(cfg: Any, field: str) -> bool:
    return field in cfg.DESCRIPTOR.fields_by_name and cfg.HasField(field)


class SharedBottom(nn.Module):
    """[B, in_features] -> one [B, output_dim] input per task.

    `mask_net`, then `bottom_mlp`, then MMoE experts (`expert_mlp`, `gate_mlp`, `num_expert`),
    each only when the model message sets it; without experts every task gets the same tensor.
    """

    def __init__(self, in_features: int, cfg: Any, num_task: int, where: str) -> None:
        super().__init__()
        width = in_features
        self.mask_net = None
        if _has(cfg, "mask_net"):
            self.mask_net = MaskNetModule(width, cfg.mask_net, f"{where}.mask_net")
            width = self.mask_net.output_dim
        self.bottom, width = optional_mlp(width, cfg, "bottom_mlp", where)
        self.mmoe = None
        if _has(cfg, "expert_mlp"):
            gate = cfg.gate_mlp if cfg.HasField("gate_mlp") else None
            self.mmoe = MMoE(width, cfg.expert_mlp, int(cfg.num_expert), num_task, gate, where)
            width = self.mmoe.output_dim
        self.num_task = num_task
        self.output_dim = width

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Per-task inputs."""
        if self.mask_net is not None:
            x = self.mask_net(x)
        x = self.bottom(x)
        if self.mmoe is not None:
            return self.mmoe(x)
        return [x for _ in range(self.num_task)]
