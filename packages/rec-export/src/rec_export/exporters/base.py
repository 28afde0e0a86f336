"""The exporter contract: write a model into an export directory, and load it back for inference.

A third-party exporter subclasses `Exporter`, registers it in the `rec.exporters` entry-point
group, and is chosen with `rec-export --exporter NAME`. `export` runs on the training side
(TorchRec available); `load_runner` must not need it, so serving stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

if TYPE_CHECKING:
    from rec_export.acc import AccConfig
    from rec_export.runtime import ExportedModel, Runner


@dataclass
class ExportJob:
    """What an exporter freezes, and where."""

    wrapper: nn.Module  # flat input tensors -> predictions (embeddings already quantized if asked)
    sample: dict[str, torch.Tensor]  # flat inputs of real rows, at most MAX_EXPORT_BATCH_SIZE
    acc: AccConfig
    out_dir: str  # a local, empty staging directory


class Exporter:
    """Base class of `rec.exporters` plugins."""

    name: ClassVar[str] = ""

    def check(self, acc: AccConfig) -> None:
        """Fail before anything is loaded or written when this exporter cannot run here."""

    def export(self, job: ExportJob) -> dict[str, Any]:
        """Write the model files into job.out_dir; returns extra model_acc.json entries."""
        raise NotImplementedError

    @classmethod
    def load_runner(cls, export_dir: str, device: torch.device, acc: dict[str, Any]) -> Runner:
        """A callable from flat input tensors to predictions, for an export this exporter wrote."""
        raise NotImplementedError

    @classmethod
    def open(cls, export_dir: str, device: str | torch.device = "cpu") -> ExportedModel:
        """The export directory loaded for inference (config, FG features, model)."""
        from rec_export.runtime import ExportedModel

        return ExportedModel(export_dir, device)


def load_fbgemm_ops() -> None:
    """Register FBGEMM's operators, which exported embedding lookups call, without importing TorchRec."""
    try:
        import fbgemm_gpu  # noqa: F401
    except ImportError:  # an export without FBGEMM lookups still loads
        pass
