"""Readers: input path → record batches of exactly batch_size rows (Parquet and CSV)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rec_data.options import CsvOptions, dataset_kind
from rec_data.readers.base import BaseReader
from rec_data.readers.batching import rebatch, shuffle_rebatch
from rec_data.readers.csv import CsvReader
from rec_data.readers.parquet import ParquetReader
from rec_data.readers.splits import Split, assign_splits

__all__ = [
    "BaseReader",
    "CsvReader",
    "ParquetReader",
    "Split",
    "assign_splits",
    "create_reader",
    "rebatch",
    "shuffle_rebatch",
]


def create_reader(
    data_config: Any,
    input_path: str,
    *,
    columns: Sequence[str] | None = None,
    batch_size: int = 1024,
    drop_remainder: bool = False,
) -> BaseReader:
    """The reader DataConfig.dataset_type asks for, over `input_path`."""
    common = dict(
        columns=columns,
        batch_size=batch_size,
        drop_remainder=drop_remainder,
        shuffle_buffer_size=int(getattr(data_config, "shuffle_buffer_size", 32) or 32),
    )
    if dataset_kind(data_config) == "csv":
        return CsvReader(input_path, options=CsvOptions.from_data_config(data_config), **common)
    return ParquetReader(input_path, **common)
