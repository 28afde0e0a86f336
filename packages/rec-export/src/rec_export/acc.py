"""Acceleration flags of an export, read from TorchEasyRec's environment variables.

They choose the exporter and the embedding quantization, and are written to model_acc.json so
a loader knows what it holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rec_core.errors import ConfigError

# TorchEasyRec's values for QUANT_EMB / QUANT_EC_EMB; "1" means INT8 and "0" no quantization
QUANT_DTYPES = ("FP32", "FP16", "INT8", "INT4", "INT2")
INPUT_TILES = (0, 2)
DEFAULT_MAX_EXPORT_BATCH_SIZE = 512


def _quant(name: str, default: str) -> str:
    """QUANT_* as a dtype name, or "" for no quantization."""
    raw = os.environ.get(name, default).strip().upper()
    if raw in ("", "0", "FALSE", "OFF"):
        return ""
    if raw in ("1", "TRUE", "ON"):
        return "INT8"
    if raw not in QUANT_DTYPES:
        raise ConfigError(name, f"unknown value {raw!r}; expected 0, 1 or one of {', '.join(QUANT_DTYPES)}")
    return raw


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(name, f"expected an integer, got {raw!r}") from None


def _flag(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "off", "no"):
        return False
    if raw in ("1", "true", "on", "yes"):
        return True
    raise ConfigError(name, f"expected 0 or 1, got {raw!r}")


@dataclass(frozen=True)
class AccConfig:
    """What an export does beyond plain TorchScript."""

    quant_emb: str = "INT8"  # pooled (EmbeddingBagCollection) tables; "" keeps float32
    quant_ec_emb: str = ""  # sequence (EmbeddingCollection) tables
    enable_aot: bool = False
    enable_trt: bool = False
    input_tile: int = 0
    max_export_batch_size: int = DEFAULT_MAX_EXPORT_BATCH_SIZE

    @classmethod
    def from_env(cls) -> AccConfig:
        """Flags as TorchEasyRec reads them: QUANT_EMB (INT8 unless set to 0), QUANT_EC_EMB (off),
        ENABLE_AOT, ENABLE_TRT, INPUT_TILE, MAX_EXPORT_BATCH_SIZE (512)."""
        acc = cls(
            quant_emb=_quant("QUANT_EMB", "INT8"),
            quant_ec_emb=_quant("QUANT_EC_EMB", "0"),
            enable_aot=_flag("ENABLE_AOT"),
            enable_trt=_flag("ENABLE_TRT"),
            input_tile=_int("INPUT_TILE", 0),
            max_export_batch_size=_int("MAX_EXPORT_BATCH_SIZE", DEFAULT_MAX_EXPORT_BATCH_SIZE),
        )
        if acc.enable_aot and acc.enable_trt:
            raise ConfigError("ENABLE_AOT", "ENABLE_AOT and ENABLE_TRT exclude each other; set one")
        if acc.input_tile not in INPUT_TILES:
            raise ConfigError("INPUT_TILE", f"unsupported value {acc.input_tile}; supported: {', '.join(map(str, INPUT_TILES))}")
        if acc.max_export_batch_size < 1:
            raise ConfigError("MAX_EXPORT_BATCH_SIZE", f"must be at least 1, got {acc.max_export_batch_size}")
        return acc

    @property
    def exporter(self) -> str:
        """The built-in `rec.exporters` plugin these flags select."""
        return "aot" if self.enable_aot else "trt" if self.enable_trt else "torchscript"

    def to_json(self) -> dict[str, Any]:
        """model_acc.json entries, under TorchEasyRec's flag names."""
        return {
            "SPARSE_INT64": "1",
            "QUANT_EMB": self.quant_emb or "0",
            "QUANT_EC_EMB": self.quant_ec_emb or "0",
            "ENABLE_AOT": "1" if self.enable_aot else "0",
            "ENABLE_TRT": "1" if self.enable_trt else "0",
            "INPUT_TILE": str(self.input_tile),
            "MAX_EXPORT_BATCH_SIZE": str(self.max_export_batch_size),
        }
