"""The default exporter: the whole model as TorchScript (FX trace, then `torch.jit.script`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from rec_export.exporters.base import Exporter, ExportJob, load_fbgemm_ops
from rec_export.layout import SCRIPTED_MODEL

if TYPE_CHECKING:
    from rec_export.runtime import Runner


class TorchScriptExporter(Exporter):
    """scripted_model.pt (+ gm.code, the traced Python code, for reading)."""

    name = "torchscript"

    def export(self, job: ExportJob) -> dict[str, Any]:
        from torchrec.fx import symbolic_trace

        traced = symbolic_trace(job.wrapper)
        with open(os.path.join(job.out_dir, "gm.code"), "w") as f:
            f.write(traced.code)
        torch.jit.script(traced).save(os.path.join(job.out_dir, SCRIPTED_MODEL))
        return {}

    @classmethod
    def load_runner(cls, export_dir: str, device: torch.device, acc: dict[str, Any]) -> Runner:
        load_fbgemm_ops()
        model = torch.jit.load(os.path.join(export_dir, SCRIPTED_MODEL), map_location=device)
        return model.eval()
