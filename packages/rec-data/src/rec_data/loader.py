"""create_dataloader: the one call the trainer makes to stream parsed batches from a DataConfig."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pyarrow as pa
import torch
from torch.utils.data import DataLoader

from rec_data.dataset import RecordBatchDataset
from rec_data.options import batch_size_for, check_mode
from rec_data.readers import create_reader

T = TypeVar("T")


def create_dataloader(
    data_config: Any,
    input_path: str,
    parser: Callable[[pa.RecordBatch], T],
    *,
    mode: str = "train",
    columns: Sequence[str] | None = None,
    rank: int = 0,
    world_size: int = 1,
    batch_size: int | None = None,
    seed: int = 0,
) -> DataLoader[T]:
    """A DataLoader yielding parser(batch) for this rank's share of `input_path`, once per row.

    Shuffles (train only, when data_config.shuffle) differently per `loader.dataset.set_epoch`.
    drop_remainder applies to train and eval; predict always keeps every row.
    """
    check_mode(mode)
    num_workers = int(getattr(data_config, "num_workers", 0) or 0)
    reader = create_reader(
        data_config,
        input_path,
        columns=columns,
        batch_size=batch_size or batch_size_for(data_config, mode),
        drop_remainder=bool(getattr(data_config, "drop_remainder", False)) and mode != "predict",
    )
    reader.check_readers(world_size, num_workers)
    dataset = RecordBatchDataset(
        reader,
        parser,
        rank=rank,
        world_size=world_size,
        shuffle=mode == "train" and bool(getattr(data_config, "shuffle", False)),
        seed=seed,
    )
    pin = (
        bool(getattr(data_config, "pin_memory", True))
        and mode != "predict"
        and torch.cuda.is_available()
    )
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=num_workers,
        pin_memory=pin,
        persistent_workers=False,
    )
