"""ENABLE_TRT=1: the dense part compiled by TensorRT (torch-tensorrt); needs a CUDA GPU.

The sparse part is scripted_sparse_model.pt; the dense part, compiled for batches of
1..MAX_EXPORT_BATCH_SIZE rows, is saved as TorchScript (trt_dense_model.ts).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import fx

from rec_core.errors import ConfigError
from rec_export.acc import AccConfig
from rec_export.exporters.base import ExportJob
from rec_export.exporters.split import SplitExporter
from rec_export.layout import TRT_DENSE_MODEL


def _torch_tensorrt() -> Any:
    try:
        import torch_tensorrt
    except ImportError as e:
        raise ConfigError("ENABLE_TRT", f"TensorRT export needs the torch-tensorrt package ({e})") from e
    return torch_tensorrt


class TensorRTExporter(SplitExporter):
    """scripted_sparse_model.pt + trt_dense_model.ts."""

    name = "trt"

    def check(self, acc: AccConfig) -> None:
        if not torch.cuda.is_available():
            raise ConfigError("ENABLE_TRT", "TensorRT export needs a CUDA GPU, and none is available here; unset ENABLE_TRT")
        _torch_tensorrt()

    def compile_dense(self, dense: fx.GraphModule, example: list[torch.Tensor], batch_major: list[bool], job: ExportJob) -> None:
        trt = _torch_tensorrt()
        max_rows = job.acc.max_export_batch_size
        inputs = [
            trt.Input(min_shape=(1, *t.shape[1:]), opt_shape=tuple(t.shape), max_shape=(max_rows, *t.shape[1:]), dtype=t.dtype)
            if bm else trt.Input(shape=tuple(t.shape), dtype=t.dtype)
            for t, bm in zip(example, batch_major)
        ]
        cuda = [t.cuda() for t in example]
        compiled = trt.compile(dense.cuda(), ir="dynamo", inputs=inputs)
        trt.save(compiled, os.path.join(job.out_dir, TRT_DENSE_MODEL), output_format="torchscript", inputs=cuda)

    @classmethod
    def load_dense(cls, export_dir: str, device: torch.device, acc: dict[str, Any]) -> Any:
        _torch_tensorrt()  # registers the TensorRT runtime ops the TorchScript calls
        return torch.jit.load(os.path.join(export_dir, TRT_DENSE_MODEL), map_location=device).eval()
