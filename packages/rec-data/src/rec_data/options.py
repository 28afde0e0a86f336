"""Read the data options rec-data needs out of a DataConfig (a protobuf message or a look-alike)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rec_core.errors import ConfigError
from rec_core.protos import data_pb2

from rec_data.fields import input_fields

MODES = ("train", "eval", "predict")

_KINDS = {"ParquetDataset": "parquet", "CsvDataset": "csv"}


def dataset_type_name(data_config: Any) -> str:
    """The DatasetType name of a DataConfig (e.g. "ParquetDataset")."""
    value = data_config.dataset_type
    if isinstance(value, str):
        return value
    try:
        return data_pb2.DatasetType.Name(value)
    except ValueError:
        return str(value)


def dataset_kind(data_config: Any) -> str:
    """The reader kind ("parquet" or "csv") a DataConfig asks for."""
    name = dataset_type_name(data_config)
    if name not in _KINDS:
        raise ConfigError(
            "data_config.dataset_type",
            f"{name} is not supported by rec-data; use ParquetDataset or CsvDataset",
        )
    return _KINDS[name]


def batch_size_for(data_config: Any, mode: str) -> int:
    """batch_size for train; eval_batch_size (falling back to batch_size) for eval and predict."""
    check_mode(mode)
    size = int(getattr(data_config, "batch_size", 1024) or 1024)
    if mode != "train":
        size = int(getattr(data_config, "eval_batch_size", 0) or 0) or size
    return size


def check_mode(mode: str) -> None:
    """Raise unless `mode` is train, eval or predict."""
    if mode not in MODES:
        raise ConfigError("mode", f"expected one of {', '.join(MODES)}, got {mode!r}")


@dataclass(frozen=True)
class CsvOptions:
    """How to read CSV: the delimiter, whether line one is a header, and the declared columns."""

    delimiter: str = ","
    with_header: bool = False
    fields: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1:
            raise ConfigError(
                "data_config.delimiter", f"must be a single character, got {self.delimiter!r}"
            )

    @classmethod
    def from_data_config(cls, data_config: Any) -> CsvOptions:
        """CSV options from DataConfig.delimiter, with_header and input_fields(_str)."""
        declared = input_fields(data_config)
        return cls(
            delimiter=getattr(data_config, "delimiter", ",") or ",",
            with_header=bool(getattr(data_config, "with_header", False)),
            fields=tuple(declared) if declared else None,
        )
