"""Split a traced model into its sparse part (embedding lookups) and its dense part.

AOTInductor and TensorRT compile only the dense part: the embedding lookups (jagged ids,
FBGEMM kernels) stay in TorchScript. The cut is found from the FX trace: nodes created inside
an embedding module (EmbeddingGroup, TorchRec's collections) and whatever feeds them form the
sparse part; nodes computed from their results form the dense part. The tensors crossing the
cut are the sparse part's outputs and the dense part's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx, nn
from torchrec.modules.embedding_modules import EmbeddingBagCollection, EmbeddingCollection
from torchrec.quant import embedding_modules as quant_modules

from rec_core.errors import RecError
from rec_models.embedding_group import EmbeddingGroup

SPARSE_MODULES: tuple[type[nn.Module], ...] = (
    EmbeddingGroup,
    EmbeddingBagCollection,
    EmbeddingCollection,
    quant_modules.EmbeddingBagCollection,
    quant_modules.EmbeddingCollection,
)


@dataclass
class SplitModel:
    """`sparse(inputs) -> {name: tensor}` and `dense(*tensors) -> predictions`, `names` in order."""

    sparse: fx.GraphModule
    dense: fx.GraphModule
    names: list[str]


def _in_sparse_module(node: fx.Node) -> bool:
    stack = node.meta.get("nn_module_stack") or {}
    return any(isinstance(t, type) and issubclass(t, SPARSE_MODULES) for _, t in stack.values())


def split_sparse_dense(traced: fx.GraphModule) -> SplitModel:
    """Cut `traced` (an FX trace of a ScriptWrapper) after its embedding lookups."""
    nodes = list(traced.graph.nodes)
    inside = {n for n in nodes if _in_sparse_module(n)}
    if not inside:
        raise RecError("cannot split the model: its trace has no embedding lookups")
    dense: set[fx.Node] = set()
    for n in nodes:
        if n.op not in ("placeholder", "output") and n not in inside and any(a in inside or a in dense for a in n.all_input_nodes):
            dense.add(n)
    output = nodes[-1]
    # parameters and buffers the dense part reads are copied into it, not passed across the cut
    attrs = {a for n in [*dense, output] for a in n.all_input_nodes if a.op == "get_attr"}
    cut: list[fx.Node] = []
    for n in [*(n for n in nodes if n in dense), output]:
        for a in n.all_input_nodes:
            if a not in dense and a not in attrs and a not in cut:
                cut.append(a)
    if any(a.op == "placeholder" for a in cut):
        raise RecError("cannot split the model: its dense part reads the raw inputs directly")

    sparse_graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for n in nodes:
        if n.op != "output" and n not in dense:
            env[n] = sparse_graph.node_copy(n, lambda a: env[a])
    sparse_graph.output({a.name: env[a] for a in cut})

    dense_graph = fx.Graph()
    denv: dict[fx.Node, fx.Node] = {a: dense_graph.placeholder(a.name) for a in cut}
    for n in nodes:
        if n in dense or n in attrs:
            denv[n] = dense_graph.node_copy(n, lambda a: denv[a])
    dense_graph.output(fx.graph.map_arg(output.args[0], lambda a: denv[a]))
    sparse_gm = fx.GraphModule(traced, sparse_graph, "SparseModel")
    dense_gm = fx.GraphModule(traced, dense_graph, "DenseModel")
    sparse_gm.graph.eliminate_dead_code()
    sparse_gm.recompile()
    return SplitModel(sparse_gm, dense_gm, [a.name for a in cut])


def check_cut(sparse_out: dict[str, object]) -> None:
    """The cut must carry tensors only (a compiled dense part takes nothing else)."""
    bad = [k for k, v in sparse_out.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise RecError(f"cannot split the model: values crossing into the dense part are not tensors: {bad}")
