"""Raw-feature normalizers, parsed from TorchEasyRec's `method=...,key=value` strings."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rec_core.errors import ConfigError


def _params(spec: str, field_path: str) -> dict[str, str]:
    out = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ConfigError(field_path, f"normalizer part {part!r} is not key=value")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _float(params: dict[str, str], key: str, field_path: str, default: float | None = None) -> float:
    if key not in params:
        if default is not None:
            return default
        raise ConfigError(field_path, f"normalizer needs {key}=<number>")
    try:
        return float(params[key])
    except ValueError as e:
        raise ConfigError(field_path, f"normalizer {key}={params[key]!r} is not a number") from e


def parse_normalizer(spec: str, field_path: str = "normalizer") -> Callable[[np.ndarray], np.ndarray] | None:
    """A vectorised function for the spec (log10, zscore or minmax), or None for an empty spec."""
    if not spec:
        return None
    p = _params(spec, field_path)
    method = p.get("method", "")
    if method == "log10":
        threshold = _float(p, "threshold", field_path, 1e-10)
        default = _float(p, "default", field_path, -10.0)
        return lambda x: np.where(x > threshold, np.log10(np.maximum(x, threshold)), default).astype(np.float32)
    if method == "zscore":
        mean = _float(p, "mean", field_path, 0.0)
        std = _float(p, "standard_deviation", field_path, 1.0)
        if std == 0:
            raise ConfigError(field_path, "zscore normalizer needs standard_deviation != 0")
        return lambda x: ((x - mean) / std).astype(np.float32)
    if method == "minmax":
        lo = _float(p, "min", field_path)
        hi = _float(p, "max", field_path)
        if hi <= lo:
            raise ConfigError(field_path, f"minmax normalizer needs max > min, got min={lo} max={hi}")
        return lambda x: ((x - lo) / (hi - lo)).astype(np.float32)
    raise ConfigError(field_path, f"unknown normalizer method {method!r}; expected log10, zscore or minmax")
