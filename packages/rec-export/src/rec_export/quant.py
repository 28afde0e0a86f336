"""Embedding quantization for export through TorchRec's quantized embedding modules.

QUANT_EMB quantizes pooled tables (EmbeddingBagCollection), QUANT_EC_EMB sequence tables
(EmbeddingCollection). Rows are stored row-wise: INT8/INT4/INT2 ids with a float16 scale and
bias per row, FP16/FP32 as they are; lookups run in FBGEMM's batched inference kernels. The
error a row-wise INT8 code adds is at most half a quantization step, (max - min) / 255 / 2 of
the row, so predictions move by far less than a probability's noise (see the README).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.ao import quantization as tq
from torchrec.modules.embedding_modules import EmbeddingBagCollection, EmbeddingCollection
from torchrec.quant import embedding_modules as quant_modules

from rec_core.logging_utils import get_logger

logger = get_logger(__name__)

DTYPES: dict[str, torch.dtype] = {
    "FP32": torch.float32,
    "FP16": torch.float16,
    "INT8": torch.qint8,
    "INT4": torch.quint4x2,
    "INT2": torch.quint2x4,
}
# How far an export's probabilities may move from the float32 checkpoint's, per table dtype
# (max over rows); rec's tests hold every quantized export to it (README, "Quantization").
PROBABILITY_TOLERANCE = {"FP32": 1e-5, "FP16": 5e-4, "INT8": 5e-3, "INT4": 3e-2, "INT2": 1e-1}
_BITS = {"FP32": 32, "FP16": 16, "INT8": 8, "INT4": 4, "INT2": 2}
# FBGEMM packs the float16 scale/bias of a row after its codes, so a row's codes must fill
# whole 2-byte words; a table too narrow for the asked dtype takes the first of these that fits
# (FP16 always does: odd-width INT8 rows, e.g. 1-wide wide tables, cannot be packed).
_FALLBACKS = ("INT8", "FP16")


def row_alignment_for(device_has_cuda: bool) -> int:
    """Bytes each quantized row is padded to: 16 for CUDA kernels, 4 (compact) for CPU."""
    return 16 if device_has_cuda else 4


def _table_dtypes(module: Any, dtype: str) -> dict[str, torch.dtype]:
    """Per-table dtypes where `dtype` cannot pack a table's rows."""
    out = {}
    tables = module.embedding_bag_configs() if isinstance(module, EmbeddingBagCollection) else module.embedding_configs()
    for table in tables:
        if table.embedding_dim * _BITS[dtype] % 16:
            fallback = next(d for d in _FALLBACKS if table.embedding_dim * _BITS[d] % 16 == 0)
            logger.warning("table %s (dim %d) cannot be packed as %s; it is stored as %s", table.name, table.embedding_dim, dtype, fallback)
            out[table.name] = DTYPES[fallback]
    return out


def _quantized(module: nn.Module, dtype: str, row_alignment: int) -> nn.Module:
    module.qconfig = quant_modules.QuantConfig(  # type: ignore[assignment]
        activation=tq.PlaceholderObserver.with_args(dtype=torch.float32),
        weight=tq.PlaceholderObserver.with_args(dtype=DTYPES[dtype]),
        per_table_weight_dtype=_table_dtypes(module, dtype) or None,
    )
    setattr(module, quant_modules.MODULE_ATTR_ROW_ALIGNMENT_INT, row_alignment)
    if isinstance(module, EmbeddingBagCollection):
        return quant_modules.EmbeddingBagCollection.from_float(module)
    return quant_modules.EmbeddingCollection.from_float(module)


def embedding_bytes(model: nn.Module) -> int:
    """Bytes the embedding tables of `model` take as stored (float or quantized rows, scales included)."""
    total = 0
    for m in model.modules():
        if isinstance(m, (EmbeddingBagCollection, EmbeddingCollection)):
            total += sum(p.numel() * p.element_size() for p in m.parameters())
        elif isinstance(m, (quant_modules.EmbeddingBagCollection, quant_modules.EmbeddingCollection)):
            # FBGEMM's inference kernels keep every table of a dtype in one byte buffer (on the
            # host, a device or unified memory); the per-table tensors of state_dict are views
            for tbe in m._emb_modules:
                total += sum(t.numel() for t in (tbe.weights_host, tbe.weights_dev, tbe.weights_uvm))
    return total


def quantize_embeddings(model: nn.Module, pooled: str, sequence: str, row_alignment: int) -> int:
    """Replace, in place, every float EmbeddingBagCollection by a `pooled`-typed quantized one and
    every EmbeddingCollection by a `sequence`-typed one ("" leaves them); returns how many."""
    targets: list[tuple[nn.Module, str, nn.Module, str]] = []
    for parent_name, parent in model.named_modules():
        for name, child in parent.named_children():
            dtype = pooled if type(child) is EmbeddingBagCollection else sequence if type(child) is EmbeddingCollection else ""
            if dtype:
                targets.append((parent, name, child, dtype))
    for parent, name, child, dtype in targets:
        setattr(parent, name, _quantized(child, dtype, row_alignment))
    return len(targets)
