"""Readers: input path → record batches of exactly batch_size rows (Parquet, CSV, Arrow IPC, plugins)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rec_core.errors import ConfigError
from rec_core.logging_utils import get_logger

from rec_data.readers.arrow import ArrowReader
from rec_data.readers.base import BaseReader
from rec_data.readers.batching import cost_rebatch, rebatch, shuffle_rebatch
from rec_data.readers.csv import CsvReader
from rec_data.readers.parquet import ParquetReader
from rec_data.readers.splits import Split, assign_splits

logger = get_logger(__name__)

__all__ = [
    "ArrowReader",
    "BaseReader",
    "CsvReader",
    "ParquetReader",
    "Split",
    "assign_splits",
    "cost_rebatch",
    "cost_options",
    "create_reader",
    "rebatch",
    "shuffle_rebatch",
]


def cost_options(data_config: Any) -> tuple[str | None, int | None]:
    """(sample_cost_field, batch_cost_size) of a DataConfig; (None, None) when cost batching is off."""
    field = (getattr(data_config, "sample_cost_field", "") or "").strip() or None
    size = int(getattr(data_config, "batch_cost_size", 0) or 0) or None
    if size is not None and field is None:
        raise ConfigError("data_config.batch_cost_size", "is set, so data_config.sample_cost_field must name the cost column")
    if field is not None and size is None:
        logger.warning("data_config.sample_cost_field %r is set without batch_cost_size; batches are cut by batch_size", field)
        field = None
    return field, size


def create_reader(
    data_config: Any,
    input_path: str,
    *,
    columns: Sequence[str] | None = None,
    batch_size: int = 1024,
    drop_remainder: bool = False,
    reader: str | None = None,
) -> BaseReader:
    """The reader for `input_path`: `reader` (a `rec.readers` name or kind) when given, else the
    one its file endings name (.parquet, .csv, .arrow/.feather/.ipc, a plugin's), else the one
    DataConfig.dataset_type asks for. `data_config` may be None (defaults)."""
    from rec_data.plugins import READERS, reader_name_for, resolve

    cost_field, cost_size = cost_options(data_config) if data_config is not None else (None, None)
    common: dict[str, Any] = dict(
        columns=columns,
        batch_size=batch_size,
        drop_remainder=drop_remainder,
        shuffle_buffer_size=int(getattr(data_config, "shuffle_buffer_size", 32) or 32),
    )
    if cost_field is not None:
        common.update(sample_cost_field=cost_field, batch_cost_size=cost_size)
    cls = resolve(READERS, reader or reader_name_for(data_config, input_path))
    return cls.from_data_config(data_config, input_path, **common)
