"""Test helpers shared by rec's own tests and plugin authors: one model, every graph form.

`create_test_module(module, GraphType.FX_TRACE)` gives the same module in the form an export
produces, so a test can feed one input to each form and require identical outputs. Importing
this module pulls in nothing beyond torch and torchrec.
"""

from __future__ import annotations

from enum import Enum

import torch
from torch import nn
from torchrec.fx import symbolic_trace

__all__ = ["GraphType", "create_test_module"]


class GraphType(Enum):
    """How a module runs: as written, FX-traced, or TorchScript-compiled from its FX trace."""

    EAGER = "eager"
    FX_TRACE = "fx_trace"
    JIT_SCRIPT = "jit_script"


def create_test_module(module: nn.Module, graph_type: GraphType) -> nn.Module:
    """`module` itself (EAGER), its torchrec FX trace, or `torch.jit.script` of that trace.

    The script form goes through the trace because that is how rec exports models: tracing
    flattens the torchrec containers (KeyedJaggedTensor, KeyedTensor) that TorchScript cannot
    compile from Python source directly.
    """
    if graph_type == GraphType.EAGER:
        return module
    traced = symbolic_trace(module)
    if graph_type == GraphType.FX_TRACE:
        return traced
    if graph_type == GraphType.JIT_SCRIPT:
        return torch.jit.script(traced)
    raise ValueError(f"unknown graph type {graph_type!r}; expected one of {[g.name for g in GraphType]}")
