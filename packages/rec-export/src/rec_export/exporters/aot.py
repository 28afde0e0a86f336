"""ENABLE_AOT=1: the dense part compiled ahead of time by AOTInductor (C++; runs on CPU).

The sparse part is scripted_sparse_model.pt; the dense part is `torch.export`-ed with a dynamic
batch dimension (1..MAX_EXPORT_BATCH_SIZE) and packaged by `aoti_compile_and_package` as
aoti/aoti_model.pt2. Compiling needs a C++ compiler on the exporting machine; the package
runs on machines of the same CPU architecture.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import fx

from rec_core.errors import CheckpointError
from rec_export.exporters.base import ExportJob
from rec_export.exporters.split import SplitExporter, dynamic_shapes
from rec_export.layout import AOTI_MODEL


class AOTInductorExporter(SplitExporter):
    """scripted_sparse_model.pt + aoti/aoti_model.pt2."""

    name = "aot"

    def compile_dense(self, dense: fx.GraphModule, example: list[torch.Tensor], batch_major: list[bool], job: ExportJob) -> None:
        from torch._inductor import aoti_compile_and_package

        program = torch.export.export(dense, tuple(example), dynamic_shapes=dynamic_shapes(example, batch_major, job.acc.max_export_batch_size))
        path = os.path.join(job.out_dir, AOTI_MODEL)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        aoti_compile_and_package(program, package_path=path)

    @classmethod
    def load_dense(cls, export_dir: str, device: torch.device, acc: dict[str, Any]) -> Any:
        if device.type != "cpu":
            raise CheckpointError(f"{export_dir}: the AOTInductor dense part was compiled for CPU, not {device}")
        from torch._inductor import aoti_load_package

        return aoti_load_package(os.path.join(export_dir, AOTI_MODEL))
