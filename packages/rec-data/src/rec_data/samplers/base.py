"""BaseSampler and what a sampler hands to the parser (`SampledBatch`).

The convention between the dataset and the parser when data_config sets a sampler:

- negative_sampler, negative_sampler_v2, hard_negative_sampler(_v2): the dataset calls
  `parser(SampledBatch(batch, negatives, hard_neg_indices, masked_neg_indices, force_base_data_group))`
  instead of `parser(batch)`. `negatives` has the sampler's attr_fields columns (cast to
  the types those columns have in `batch`) and one row per sampled item; a parser appends
  them after the B rows of the item-side features (features whose inputs are attr_fields),
  so those features have B + N rows. `hard_neg_indices` (int32 [H, 2]) says that the last
  H rows of `negatives` are hard negatives of batch row `[:, 0]`, slot `[:, 1]`.
  `masked_neg_indices` (int32 [M, 2]; negative_sampler_v2 with mask_user_positives) lists
  the (batch row, sampled row) pairs to leave out of that row's softmax: the sampled item is
  a positive of the row's user.
- tdm_sampler: the dataset calls `parser(expanded)` with a plain RecordBatch in which
  every batch row is followed (after all B of them) by its tree positives and negatives,
  user columns repeated and labels set to 1 / 0 (see TDMSampler).

Without a sampler the parser gets `parser(batch)` exactly as before.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from rec_core.errors import ConfigError, DataError

from rec_data.options import check_mode


@dataclass
class SampledBatch:
    """The B rows read plus the N item rows a sampler drew for them."""

    batch: pa.RecordBatch
    negatives: pa.RecordBatch
    hard_neg_indices: np.ndarray | None = None
    masked_neg_indices: np.ndarray | None = None
    # data_config.force_base_data_group: every feature goes to one group, so a parser pads
    # the user-side features of the N sampled rows (see padded()) instead of keeping a
    # separate B + N row group for the item-side ones.
    force_base_data_group: bool = False

    @property
    def num_rows(self) -> int:
        """B: the rows that were read (labels, sample weights and reserved columns have B rows)."""
        return self.batch.num_rows

    @property
    def num_negatives(self) -> int:
        """N: the sampled rows (hard negatives included)."""
        return self.negatives.num_rows

    def padded(self) -> pa.RecordBatch:
        """One B + N row batch: the batch, then the negatives; columns the negatives lack are null there."""
        n = self.negatives.num_rows
        columns = []
        for field in self.batch.schema:
            top = self.batch.column(field.name)
            if field.name in self.negatives.schema.names:
                bottom = self.negatives.column(field.name).cast(field.type)
            else:
                bottom = pa.nulls(n, field.type)
            columns.append(pa.concat_arrays([top, bottom]))
        return pa.record_batch(columns, schema=self.batch.schema)


@dataclass
class SamplerOutput:
    """What sample() returns: the sampled item rows (attr_fields columns) and their bookkeeping."""

    negatives: pa.RecordBatch
    hard_neg_indices: np.ndarray | None = None
    masked_neg_indices: np.ndarray | None = None
    # TDM only: the tree positives (ancestors) and, for each positive / negative row, the
    # batch row it belongs to and its tree level.
    positives: pa.RecordBatch | None = None
    pos_rows: np.ndarray | None = None
    neg_rows: np.ndarray | None = None
    pos_levels: np.ndarray | None = None
    neg_levels: np.ndarray | None = None


class BaseSampler(ABC):
    """A sampler configured by one of DataConfig's sampler messages; runs inside each DataLoader worker.

    Built from the config message alone (picklable). Its tables load on first use in the
    process that samples, so each DataLoader worker loads its own copy and no service is
    needed. Third-party samplers register under the `rec.samplers` entry-point group and
    are made with `create_sampler(..., name=...)`.
    """

    # The DataConfig `sampler` oneof field this class implements.
    config_name = ""

    def __init__(self, config: Any, *, data_config: Any = None, mode: str = "train") -> None:
        check_mode(mode)
        self.config = config
        self.mode = mode
        self.attr_fields = list(getattr(config, "attr_fields", []) or [])
        self.multival_sep = getattr(data_config, "fg_encoded_multival_sep", "\x03") if data_config is not None else "\x03"
        self.force_base_data_group = bool(getattr(data_config, "force_base_data_group", False)) if data_config is not None else False
        self.label_fields = list(getattr(data_config, "label_fields", []) or []) if data_config is not None else []
        self._loaded = False
        self.check_config()

    # -- configuration ------------------------------------------------------------------
    def field_path(self, name: str) -> str:
        return f"data_config.{self.config_name}.{name}" if self.config_name else name

    def require(self, *names: str) -> None:
        """ConfigError for the first of `names` that the config leaves empty."""
        for name in names:
            if not getattr(self.config, name, None):
                raise ConfigError(self.field_path(name), "is required")

    def check_config(self) -> None:
        """Validate the config message (called when built, before any table is read)."""

    @property
    def num_sample(self) -> int:
        """Negatives per batch: num_sample in train, num_eval_sample (else num_sample) otherwise."""
        n = int(getattr(self.config, "num_sample", 0) or 0)
        if self.mode != "train":
            n = int(getattr(self.config, "num_eval_sample", 0) or 0) or n
        return n

    def required_columns(self) -> list[str]:
        """The batch columns sample() reads (create_dataloader adds them to the columns read)."""
        return []

    # -- loading ------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        # Tables stay behind: each process loads its own on first use.
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_t_")}
        state["_loaded"] = False
        return state

    def ensure_loaded(self) -> None:
        """Load the tables once per process."""
        if not self._loaded:
            self.load()
            self._loaded = True

    @abstractmethod
    def load(self) -> None:
        """Read the tables into attributes whose names start with `_t_` (not pickled)."""

    # -- sampling -----------------------------------------------------------------------
    @abstractmethod
    def sample(self, batch: pa.RecordBatch, rng: np.random.Generator) -> SamplerOutput:
        """Sample items for `batch`."""

    def apply(self, batch: pa.RecordBatch, rng: np.random.Generator) -> SampledBatch | pa.RecordBatch:
        """What the dataset hands to the parser for `batch` (see the module docstring)."""
        self.ensure_loaded()
        out = self.sample(batch, rng)
        return SampledBatch(
            batch, out.negatives, out.hard_neg_indices, out.masked_neg_indices, self.force_base_data_group
        )


def take_rows(table: pa.Table, rows: np.ndarray) -> pa.RecordBatch:
    """Rows of a table as one record batch."""
    taken = table.take(pa.array(rows, pa.int64()))
    batches = taken.combine_chunks().to_batches()
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=table.schema)
    return batches[0]


def check_ids_found(rows: np.ndarray, ids: np.ndarray, valid: np.ndarray, column: str, table: str, what: str) -> None:
    """DataError naming the first id of `column` that is not in `table`."""
    missing = np.flatnonzero(valid & (rows < 0))
    if len(missing):
        raise DataError(
            f"column {column!r} holds id {ids[missing[0]]} (row {missing[0]}), which is not in the {what} {table!r}"
        )
