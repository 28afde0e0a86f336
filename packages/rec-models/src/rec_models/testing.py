"""Test helpers shared by rec's own tests and plugin authors: one model, every graph form.

`create_test_module(module, GraphType.FX_TRACE)` gives the same module in the form an export
produces, so a test can feed one input to each form and require identical outputs. Importing
this module pulls in nothing beyond torch and torchrec.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import torch
from torch import fx, nn
from torchrec.distributed.train_pipeline.tracing import Tracer
from torchrec.fx import symbolic_trace
from torchrec.modules.embedding_modules import EmbeddingBagCollection, EmbeddingCollection

from rec_core.config import load_pipeline_config
from rec_features.features import create_features
from rec_features.parser import FeatureParser
from rec_models.model import BaseModel, create_model

__all__ = ["GraphType", "create_test_module", "pipeline_trace"]


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


_COLLECTIONS = (EmbeddingBagCollection, EmbeddingCollection)


def _has_collection(module: nn.Module) -> bool:
    return any(isinstance(m, _COLLECTIONS) for m in module.modules())


def _pipeline_leaves(module: nn.Module, path: str, out: list) -> None:
    for name, child in module.named_children():
        fqn = path + name
        if isinstance(child, _COLLECTIONS) or not _has_collection(child):
            out.append(fqn)  # sharded in training, or free of sharded modules: opaque
        else:
            _pipeline_leaves(child, fqn + ".", out)


def pipeline_trace(train_module: nn.Module) -> fx.Graph:
    """The graph TorchRec's train pipeline traces for `train_module` (e.g. a TrainWrapper).

    `TrainPipelineSparseDist` FX-traces the training module with the batch as a symbolic
    proxy and every submodule that holds no embedding collection as an opaque leaf, to find
    where the embedding inputs come from. Code that iterates a leaf's output or branches on
    the batch's contents fails there (and only there, in distributed training), so a model
    test should run this trace too.
    """
    leaves: list = []
    _pipeline_leaves(train_module, "", leaves)
    return Tracer(leaf_modules=leaves).trace(train_module)


def build_from_config(config_path: Path) -> tuple[BaseModel, FeatureParser]:
    """The model (seeded) and the feature parser a pipeline config describes, as rec-train builds them."""
    torch.manual_seed(0)
    config = load_pipeline_config(str(config_path))
    data = config.data_config
    features = create_features(config.feature_configs, data.fg_mode, data.fg_encoded_multival_sep)
    labels, weights = list(data.label_fields), list(data.sample_weight_fields)
    return create_model(config.model_config, features, labels, weights), FeatureParser(features, labels, weights)
