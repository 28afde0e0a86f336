"""A TorchScript exporter that records the model file's SHA-256 and refuses to load a changed file."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

import torch

from rec_core.errors import RecError
from rec_export.exporters.base import Exporter, ExportJob, load_fbgemm_ops

if TYPE_CHECKING:
    from rec_export.runtime import Runner

__all__ = ["ChecksummedExporter", "CHECKSUM_KEY", "MODEL_FILE"]

MODEL_FILE = "checksummed_model.pt"
CHECKSUM_KEY = "MODEL_SHA256"


class ChecksummedExporter(Exporter):
    """checksummed_model.pt (FX trace + TorchScript) with its SHA-256 in model_acc.json."""

    name = "checksummed"

    def export(self, job: ExportJob) -> dict[str, Any]:
        from torchrec.fx import symbolic_trace

        path = os.path.join(job.out_dir, MODEL_FILE)
        torch.jit.script(symbolic_trace(job.wrapper)).save(path)
        return {CHECKSUM_KEY: _sha256(path)}

    @classmethod
    def load_runner(cls, export_dir: str, device: torch.device, acc: dict[str, Any]) -> Runner:
        path = os.path.join(export_dir, MODEL_FILE)
        # checked before torch.jit.load, so a truncated or swapped file fails with a clear message
        expected, actual = acc.get(CHECKSUM_KEY), _sha256(path)
        if actual != expected:
            raise RecError(f"{path}: SHA-256 {actual} differs from model_acc.json {CHECKSUM_KEY} {expected}")
        load_fbgemm_ops()
        return torch.jit.load(path, map_location=device).eval()


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
