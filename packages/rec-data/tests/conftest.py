"""Shared fixtures: DataConfig construction and small files on disk."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rec_core.protos import data_pb2


def make_data_config(**fields: Any) -> data_pb2.DataConfig:
    """A ParquetDataset DataConfig read in-process unless told otherwise; input_fields as (name, type name)."""
    declared = fields.pop("input_fields", [])
    fields.setdefault("dataset_type", data_pb2.ParquetDataset)
    fields.setdefault("num_workers", 0)
    config = data_pb2.DataConfig(**fields)
    for name, type_name in declared:
        config.input_fields.add(input_name=name, input_type=data_pb2.FieldType.Value(type_name))
    return config


@pytest.fixture
def make_config():  # type: ignore[no-untyped-def]
    """Factory fixture: make_config(batch_size=..., ...) -> DataConfig."""
    return make_data_config


@pytest.fixture
def ids_parquet():  # type: ignore[no-untyped-def]
    """Factory fixture: ids_parquet(path, start, n, row_group_size) writes an id/x/s Parquet file."""
    return write_ids_parquet


def write_ids_parquet(path: str, start: int, n: int, row_group_size: int) -> None:
    """A Parquet file with an `id` column start..start+n and a float column, in row groups."""
    table = pa.table(
        {
            "id": np.arange(start, start + n, dtype=np.int64),
            "x": np.linspace(0, 1, n, dtype=np.float32),
            "s": [f"v{i % 7}" for i in range(n)],
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)
