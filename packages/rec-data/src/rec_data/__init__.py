"""Readers, writers, datasets, dataloaders and synthetic data for rec.

Torch is imported only when the dataloader pieces are first used, so the readers, writers
and the `rec-data` CLI start quickly.
"""

from __future__ import annotations

from importlib.metadata import version as _version
from typing import Any

from rec_data.fields import input_fields, parse_input_fields_str
from rec_data.options import CsvOptions
from rec_data.paths import expand_input_path, split_path_list
from rec_data.readers import ArrowReader, BaseReader, CsvReader, ParquetReader, create_reader
from rec_data.writers import ArrowWriter, BaseWriter, CsvWriter, ParquetWriter, create_writer

__version__ = _version("rec-data")

__all__ = [
    "ArrowReader",
    "ArrowWriter",
    "BaseReader",
    "BaseSampler",
    "BaseWriter",
    "CsvOptions",
    "CsvReader",
    "CsvWriter",
    "ParquetReader",
    "ParquetWriter",
    "RecordBatchDataset",
    "SampledBatch",
    "create_dataloader",
    "create_reader",
    "create_sampler",
    "create_writer",
    "expand_input_path",
    "generate_table",
    "input_fields",
    "parse_input_fields_str",
    "split_path_list",
    "write_synth",
]

_LAZY = {
    "BaseSampler": "rec_data.samplers",
    "SampledBatch": "rec_data.samplers",
    "create_sampler": "rec_data.samplers",
    "create_dataloader": "rec_data.loader",
    "RecordBatchDataset": "rec_data.dataset",
    "generate_table": "rec_data.synth",
    "write_synth": "rec_data.synth",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rec_data' has no attribute {name!r}")
