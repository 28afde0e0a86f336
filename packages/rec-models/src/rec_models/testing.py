"""Test helpers shared by rec's own tests and plugin authors: one model, every graph form.

`create_test_module(module, GraphType.FX_TRACE)` gives the same module in the form an export
produces, so a test can feed one input to each form and require identical outputs. Importing
this module pulls in nothing beyond torch and torchrec.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn
from torchrec.distributed.train_pipeline.tracing import Tracer
from torchrec.fx import symbolic_trace
from torchrec.modules.embedding_modules import EmbeddingBagCollection, EmbeddingCollection

from rec_core.batch import Batch
from rec_core.config import load_pipeline_config
from rec_features.features import create_features
from rec_features.parser import FeatureParser
from rec_models.model import BaseModel, create_model
from rec_models.split import SPARSE_MODULES, split_sparse_dense
from rec_models.wrappers import ScriptWrapper

__all__ = [
    "TRACE_FORMS",
    "GraphType",
    "aot_inductor_compile",
    "aot_inductor_models",
    "create_test_module",
    "pipeline_trace",
    "tolerance",
]


class GraphType(Enum):
    """How a module runs: as written, FX-traced, TorchScript-compiled from its FX trace, or
    compiled ahead of time by AOTInductor (C++, CPU)."""

    EAGER = "eager"
    FX_TRACE = "fx_trace"
    JIT_SCRIPT = "jit_script"
    AOT_INDUCTOR = "aot_inductor"


# the forms built from the module alone; AOT_INDUCTOR compiles for the shapes of example inputs
TRACE_FORMS = (GraphType.EAGER, GraphType.FX_TRACE, GraphType.JIT_SCRIPT)


def tolerance(graph_type: GraphType) -> float:
    """rtol = atol for comparing a form's outputs with eager: 0 (the same ATen kernels) except for
    AOTInductor, whose generated C++ kernels may sum in another order (last-bit differences)."""
    return 1e-6 if graph_type == GraphType.AOT_INDUCTOR else 0.0


def graph_type_params() -> list[Any]:
    """Every GraphType as a pytest parameter; the AOTInductor form (a C++ build) is marked slow."""
    import pytest

    return [
        pytest.param(g, id=g.name, marks=[pytest.mark.slow] if g == GraphType.AOT_INDUCTOR else [])
        for g in GraphType
    ]


def create_test_module(module: nn.Module, graph_type: GraphType, example_inputs: tuple | None = None) -> Callable:
    """`module` itself (EAGER), its torchrec FX trace, `torch.jit.script` of that trace, or
    its AOTInductor form compiled for inputs shaped like `example_inputs` (see `aot_inductor_compile`).

    The script form goes through the trace because that is how rec exports models: tracing
    flattens the torchrec containers (KeyedJaggedTensor, KeyedTensor) that TorchScript cannot
    compile from Python source directly.
    """
    if graph_type == GraphType.AOT_INDUCTOR:
        if example_inputs is None:
            raise ValueError("GraphType.AOT_INDUCTOR compiles for the shapes of example_inputs; pass them")
        return aot_inductor_compile({"module": (module, example_inputs)})["module"]
    if graph_type == GraphType.EAGER:
        return module
    traced = symbolic_trace(module)
    if graph_type == GraphType.FX_TRACE:
        return traced
    if graph_type == GraphType.JIT_SCRIPT:
        return torch.jit.script(traced)
    raise ValueError(f"unknown graph type {graph_type!r}; expected one of {[g.name for g in GraphType]}")


# Test builds: one compile thread (no worker pool on a small machine) and the generated C++
# wrapper unoptimised (most of a small model's build time; the kernels keep their -O3)
_TEST_INDUCTOR_CONFIG = {"compile_threads": 1, "aot_inductor.compile_wrapper_opt_level": "O0"}


class _Bundle(nn.Module):
    """Several modules as one program, each called on its own group of inputs."""

    def __init__(self, parts: list[nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)

    def forward(self, *groups: tuple) -> tuple:
        return tuple(part(*group) for part, group in zip(self.parts, groups))


class _SparsePart:
    """The TorchScript embedding lookups of a split module: its inputs -> the tensors crossing the cut."""

    def __init__(self, sparse: fx.GraphModule, names: list[str]) -> None:
        self.scripted, self.names = torch.jit.script(sparse), names

    def __call__(self, *inputs: Any) -> tuple:
        cut = self.scripted(*inputs)
        return tuple(cut[n] for n in self.names)


class _AOTICase:
    """One case of a compiled bundle: its sparse part (if any), then the bundle on its inputs."""

    def __init__(self, program: Any, sparse: _SparsePart | None, index: int, groups: list[tuple]) -> None:
        self.program, self.sparse, self.index, self.groups = program, sparse, index, groups

    def __call__(self, *inputs: Any) -> Any:
        groups = list(self.groups)
        groups[self.index] = self.sparse(*inputs) if self.sparse is not None else inputs
        return self.program(*groups)[self.index]


def aot_inductor_compile(cases: Mapping[str, tuple[nn.Module, tuple]]) -> dict[str, Callable]:
    """Each named `(module, example_inputs)` compiled by AOTInductor for CPU and those input shapes.

    A module holding embedding lookups runs as an `aot` export runs it: the lookups in
    TorchScript, the dense part (`rec_models.split`) compiled; other modules compile whole. All
    cases share one C++ build (its fixed cost dominates small models), so calling one case's
    callable also runs the others' compiled code on their example inputs.
    """
    from torch._inductor import aoti_compile_and_package, aoti_load_package
    from torch._inductor import config as inductor_config

    sparse_parts: list[_SparsePart | None] = []
    dense_parts: list[nn.Module] = []
    groups: list[tuple] = []
    with torch.no_grad():
        for module, inputs in cases.values():
            if any(isinstance(m, SPARSE_MODULES) for m in module.modules()):
                split = split_sparse_dense(symbolic_trace(module))
                sparse = _SparsePart(split.sparse, split.names)
                sparse_parts.append(sparse)
                dense_parts.append(split.dense)
                groups.append(sparse(*inputs))
            else:
                sparse_parts.append(None)
                dense_parts.append(module)
                groups.append(tuple(inputs))
        program = torch.export.export(_Bundle(dense_parts), tuple(groups))
        with inductor_config.patch(_TEST_INDUCTOR_CONFIG), tempfile.TemporaryDirectory() as tmp:
            package = aoti_load_package(aoti_compile_and_package(program, package_path=os.path.join(tmp, "model.pt2")))
    return {name: _AOTICase(package, sparse, i, groups) for i, (name, sparse) in enumerate(zip(cases, sparse_parts))}


def aot_inductor_models(cases: Mapping[str, tuple[BaseModel, Batch]]) -> dict[str, Callable]:
    """Each named model's export signature (`ScriptWrapper`) compiled for its batch, in one build."""
    return aot_inductor_compile({name: (ScriptWrapper(model), (batch.to_dict(),)) for name, (model, batch) in cases.items()})


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
