"""Exporters that compile the dense part: embedding lookups stay TorchScript, the rest is compiled.

The export holds scripted_sparse_model.pt (flat inputs -> the tensors crossing the cut) and a
compiled dense part taking those tensors. The dense part is compiled for batches of up to
MAX_EXPORT_BATCH_SIZE rows; larger batches run in chunks.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch
from torch import fx

from rec_core.errors import DataError, RecError
from rec_export.exporters.base import Exporter, ExportJob, load_fbgemm_ops
from rec_export.layout import SCRIPTED_SPARSE_MODEL

if TYPE_CHECKING:
    from rec_export.runtime import Runner

DENSE_INPUTS = "DENSE_INPUTS"
DENSE_BATCH_MAJOR = "DENSE_BATCH_MAJOR"


def sample_rows(sample: dict[str, torch.Tensor]) -> int:
    """Rows of a flat input dict: the length of any `.lengths` input, else of any dense input."""
    for key, value in sample.items():
        if key.endswith(".lengths"):
            return int(value.numel())
    for value in sample.values():
        return int(value.size(0))
    raise RecError("the export sample has no inputs")


class SplitRunner:
    """Sparse TorchScript part, then the compiled dense part in chunks of at most `max_rows`."""

    def __init__(self, sparse: Any, dense: Any, names: list[str], batch_major: list[bool], max_rows: int) -> None:
        self.sparse, self.dense, self.names, self.batch_major, self.max_rows = sparse, dense, names, batch_major, max_rows

    def __call__(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cut = self.sparse(inputs)
        args = [cut[n] for n in self.names]
        rows = next((a.size(0) for a, bm in zip(args, self.batch_major) if bm), 0)
        if rows <= self.max_rows:
            return dict(self.dense(*args))
        if not all(self.batch_major):
            raise DataError(f"batch of {rows} rows is over MAX_EXPORT_BATCH_SIZE={self.max_rows} of this export")
        parts = [dict(self.dense(*[a[i : i + self.max_rows] for a in args])) for i in range(0, rows, self.max_rows)]
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


class SplitExporter(Exporter):
    """Shared export and load of a sparse/dense split; subclasses compile and load the dense part."""

    def compile_dense(self, dense: fx.GraphModule, example: list[torch.Tensor], batch_major: list[bool], job: ExportJob) -> None:
        """Compile `dense` for inputs like `example` into job.out_dir."""
        raise NotImplementedError

    @classmethod
    def load_dense(cls, export_dir: str, device: torch.device, acc: dict[str, Any]) -> Any:
        """The compiled dense part of an export, callable on the cut tensors."""
        raise NotImplementedError

    def export(self, job: ExportJob) -> dict[str, Any]:
        from torchrec.fx import symbolic_trace

        from rec_models.split import check_cut, split_sparse_dense

        parts = split_sparse_dense(symbolic_trace(job.wrapper))
        torch.jit.script(parts.sparse).save(os.path.join(job.out_dir, SCRIPTED_SPARSE_MODEL))
        with torch.no_grad():
            cut = parts.sparse(job.sample)
        check_cut(cut)
        rows = sample_rows(job.sample)
        example = [cut[n] for n in parts.names]
        batch_major = [t.dim() > 0 and t.size(0) == rows for t in example]
        self.compile_dense(parts.dense, example, batch_major, job)
        return {DENSE_INPUTS: parts.names, DENSE_BATCH_MAJOR: batch_major}

    @classmethod
    def load_runner(cls, export_dir: str, device: torch.device, acc: dict[str, Any]) -> Runner:
        load_fbgemm_ops()
        sparse = torch.jit.load(os.path.join(export_dir, SCRIPTED_SPARSE_MODEL), map_location=device).eval()
        dense = cls.load_dense(export_dir, device, acc)
        return SplitRunner(sparse, dense, list(acc[DENSE_INPUTS]), list(acc[DENSE_BATCH_MAJOR]), int(acc["MAX_EXPORT_BATCH_SIZE"]))


def dynamic_shapes(example: list[torch.Tensor], batch_major: list[bool], max_rows: int) -> tuple[dict[int, Any], ...]:
    """torch.export dynamic shapes: dim 0 of batch-major inputs is the batch (1..max_rows); every
    other dim is left to torch.export (dynamic unless the program fixes it, e.g. padded sequence lengths)."""
    from torch.export import Dim

    batch = Dim("batch", min=1, max=max_rows) if max_rows > 1 else Dim.AUTO
    return tuple({d: batch if bm and d == 0 else Dim.AUTO for d in range(t.dim())} for t, bm in zip(example, batch_major))
