"""create_dataloader: the one call the trainer makes to stream parsed batches from a DataConfig."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch.utils.data import DataLoader

from rec_core.env import env_flag

from rec_data.dataset import RecordBatchDataset
from rec_data.masking import mask_probabilities
from rec_data.options import batch_size_for, check_mode
from rec_data.readers import create_reader
from rec_data.readers.base import BaseReader, check_column_type
from rec_data.samplers import create_sampler

T = TypeVar("T")

ALLOW_IDLE_READERS_ENV = "REC_ALLOW_IDLE_READERS"


def check_data_columns(reader: BaseReader, data_config: Any) -> None:
    """DataError naming the file and column when a label or sample weight column is not numeric."""
    for name in getattr(data_config, "label_fields", []) or []:
        check_column_type(reader, name, "numeric_or_list", "data_config.label_fields")
    for name in getattr(data_config, "sample_weight_fields", []) or []:
        check_column_type(reader, name, "numeric", "data_config.sample_weight_fields")


def create_dataloader(
    data_config: Any,
    input_path: str,
    parser: Callable[[Any], T],
    *,
    mode: str = "train",
    columns: Sequence[str] | None = None,
    rank: int = 0,
    world_size: int = 1,
    batch_size: int | None = None,
    seed: int = 0,
    allow_idle_readers: bool | None = None,
    feature_configs: Sequence[Any] | None = None,
    mask_columns: Mapping[str, float] | None = None,
    negative_mask_columns: Mapping[str, float] | None = None,
    use_sampler: bool = True,
    reader: str | None = None,
) -> DataLoader[T]:
    """A DataLoader yielding parser(batch) for this rank's share of `input_path`, once per row.

    Shuffles (train only, when data_config.shuffle) differently per `loader.dataset.set_epoch`.
    drop_remainder applies to train and eval; predict always keeps every row.

    - `allow_idle_readers`: with fewer splits than ranks × workers, let the extra readers
      read nothing instead of raising (default: env REC_ALLOW_IDLE_READERS).
    - Masking (train only): `mask_columns` / `negative_mask_columns` ({column: probability});
      or give `feature_configs` and they are computed from the use_mask features and
      data_config.sample_mask_prob / negative_sample_mask_prob.
    - A sampler set in data_config runs in train and eval (not predict) unless
      `use_sampler=False`; the parser then gets a `SampledBatch` or, for TDM, an expanded
      RecordBatch (see rec_data.samplers). Its id columns are added to `columns`.
    - `reader`: a `rec.readers` name or kind, instead of choosing by file ending / dataset_type.
    """
    check_mode(mode)
    num_workers = int(getattr(data_config, "num_workers", 0) or 0)
    sampler = create_sampler(data_config, mode) if use_sampler and mode != "predict" else None
    if columns is not None and sampler is not None:
        columns = list(dict.fromkeys([*columns, *sampler.required_columns()]))
    data_reader = create_reader(
        data_config,
        input_path,
        columns=columns,
        batch_size=batch_size or batch_size_for(data_config, mode),
        drop_remainder=bool(getattr(data_config, "drop_remainder", False)) and mode != "predict",
        reader=reader,
    )
    check_data_columns(data_reader, data_config)
    if allow_idle_readers is None:
        allow_idle_readers = env_flag(ALLOW_IDLE_READERS_ENV)
    data_reader.check_readers(world_size, num_workers, allow_idle=allow_idle_readers)
    mask, negative_mask = {}, {}
    if mode == "train":
        if feature_configs is not None and mask_columns is None and negative_mask_columns is None:
            mask, negative_mask = mask_probabilities(feature_configs, data_config)
        mask, negative_mask = dict(mask_columns or mask), dict(negative_mask_columns or negative_mask)
    dataset = RecordBatchDataset(
        data_reader,
        parser,
        rank=rank,
        world_size=world_size,
        shuffle=mode == "train" and bool(getattr(data_config, "shuffle", False)),
        seed=seed,
        sampler=sampler,
        mask=mask,
        negative_mask=negative_mask,
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


__all__ = ["ALLOW_IDLE_READERS_ENV", "check_data_columns", "create_dataloader"]
