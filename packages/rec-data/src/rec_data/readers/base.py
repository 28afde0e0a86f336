"""BaseReader: input files → splits → record batches of exactly batch_size rows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from rec_core.errors import DataError
from rec_core.logging_utils import get_logger

from rec_data.paths import expand_input_path
from rec_data.readers.batching import cost_rebatch, rebatch, shuffle_rebatch
from rec_data.readers.splits import Split, assign_splits, check_enough_splits

logger = get_logger(__name__)


class BaseReader(ABC):
    """Reads the files named by an input path; plans its splits when built, so errors show early.

    Instances are picklable (paths, splits and schema only) and go to DataLoader workers.

    A plugin reader (entry-point group `rec.readers`) subclasses this, sets `kind`,
    `split_unit` and the file `extensions` it claims, and implements `_plan` and
    `read_split`; batching, shuffling, cost-aware cutting and the work split come from here.
    """

    kind: str = ""
    split_unit: str = "split"
    # File name endings (lower case, with the dot) this reader is chosen for by default.
    extensions: tuple[str, ...] = ()

    def __init__(
        self,
        input_path: str,
        *,
        columns: Sequence[str] | None = None,
        batch_size: int = 1024,
        drop_remainder: bool = False,
        shuffle_buffer_size: int = 32,
        sample_cost_field: str | None = None,
        batch_cost_size: int | None = None,
    ) -> None:
        if batch_size <= 0:
            raise DataError(f"batch_size must be positive, got {batch_size}")
        if batch_cost_size is not None and batch_cost_size <= 0:
            raise DataError(f"batch_cost_size must be positive, got {batch_cost_size}")
        if (sample_cost_field is None) != (batch_cost_size is None):
            raise DataError("sample_cost_field and batch_cost_size go together: give both or neither")
        self.input_path = input_path
        self.batch_size = int(batch_size)
        self.drop_remainder = drop_remainder
        self.shuffle_buffer_size = int(shuffle_buffer_size)
        self.sample_cost_field = sample_cost_field
        self.batch_cost_size = batch_cost_size
        self.files = expand_input_path(input_path)
        # The file whose schema the reader follows (set by _plan; later files are held to it).
        self.schema_source = self.files[0]
        wanted = list(columns) if columns is not None else None
        if wanted is not None and sample_cost_field and sample_cost_field not in wanted:
            wanted.append(sample_cost_field)
        self._schema, self._splits = self._plan(wanted)
        if not self._splits:
            shown = ", ".join(self.files[:3]) + (f", ... ({len(self.files)} in all)" if len(self.files) > 3 else "")
            raise DataError(f"input {input_path!r} is empty: no rows in the file(s) it matched: {shown}")
        if sample_cost_field:
            check_column_type(self, sample_cost_field, "numeric", "data_config.sample_cost_field")

    @classmethod
    def from_data_config(cls, data_config: Any, input_path: str, **kwargs: Any) -> BaseReader:
        """Build the reader for `input_path` with the options of a DataConfig (None: defaults).

        `kwargs` are the common options create_reader computes (columns, batch_size,
        drop_remainder, shuffle_buffer_size, cost fields). Readers with format options of
        their own (CSV delimiter, header, ...) override this to read them from data_config.
        """
        return cls(input_path, **kwargs)

    @abstractmethod
    def _plan(self, columns: list[str] | None) -> tuple[pa.Schema, list[Split]]:
        """Check every file, return the output schema and the splits."""

    @abstractmethod
    def read_split(self, split: Split) -> Iterator[pa.RecordBatch]:
        """The rows of one split as record batches of any size, with the output schema."""

    def read_splits(self, splits: Sequence[Split]) -> Iterator[pa.RecordBatch]:
        """The rows of several splits in order (readers may override to share work between them)."""
        for split in splits:
            yield from self.read_split(split)

    @property
    def schema(self) -> pa.Schema:
        """The schema of the batches this reader yields (requested columns only)."""
        return self._schema

    @property
    def splits(self) -> list[Split]:
        """Every split of the input, in file order."""
        return list(self._splits)

    def num_files(self) -> int:
        """How many files the input path matched."""
        return len(self.files)

    def num_rows(self) -> int | None:
        """The total row count when known without reading the data (Parquet), else None."""
        counts = [s.num_rows for s in self._splits]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[misc]

    def check_readers(self, world_size: int, num_workers: int, allow_idle: bool = False) -> None:
        """Raise unless every one of world_size × num_workers readers gets at least one split.

        With `allow_idle`, log a warning instead: the readers without a split yield nothing.
        """
        check_enough_splits(
            self._splits, self.split_unit, world_size, num_workers, self.input_path, allow_idle=allow_idle
        )

    def worker_splits(
        self, reader_id: int, num_readers: int, rng: np.random.Generator | None = None
    ) -> list[Split]:
        """The splits that reader `reader_id` of `num_readers` reads (shuffled when given an rng)."""
        return assign_splits(self._splits, num_readers, rng)[reader_id]

    def to_batches(
        self,
        worker_id: int = 0,
        num_workers: int = 1,
        *,
        shuffle: bool = False,
        seed: int = 0,
        epoch: int = 0,
    ) -> Iterator[pa.RecordBatch]:
        """Batches of exactly batch_size rows from this worker's share of the input.

        With `shuffle`, the split assignment and order change per (seed, epoch) alike on every
        process, and rows are mixed through a buffer of shuffle_buffer_size batches.
        """
        if not 0 <= worker_id < num_workers:
            raise DataError(f"worker_id {worker_id} is outside 0..{num_workers - 1}")
        plan_rng = np.random.default_rng([seed, epoch]) if shuffle else None
        mine = self.worker_splits(worker_id, num_workers, plan_rng)
        raw = self.read_splits(mine)
        cost = self.sample_cost_field is not None
        if shuffle:
            # Each worker mixes rows with its own stream, still reproducible from (seed, epoch).
            rows_rng = np.random.default_rng([seed, epoch, worker_id, num_workers])
            raw = shuffle_rebatch(
                raw, self.batch_size, self.shuffle_buffer_size, rows_rng, self.drop_remainder and not cost
            )
        if cost:
            return cost_rebatch(
                raw, self.sample_cost_field, self.batch_cost_size, self.drop_remainder, source=self.input_path  # type: ignore[arg-type]
            )
        if shuffle:
            return raw
        return rebatch(raw, self.batch_size, self.drop_remainder)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self.to_batches()


def select_columns(available: Sequence[str], columns: list[str] | None, path: str) -> list[str]:
    """The columns to read from a file, raising a DataError naming the file when one is missing."""
    if columns is None:
        return list(available)
    have = set(available)
    missing = [c for c in columns if c not in have]
    if missing:
        raise DataError(
            f"{path}: column {missing[0]!r} not found"
            + (f" (nor {', '.join(map(repr, missing[1:]))})" if len(missing) > 1 else "")
            + f"; the file has columns: {', '.join(available)}"
        )
    return columns


def conform(batch: pa.RecordBatch, schema: pa.Schema, path: str) -> pa.RecordBatch:
    """`batch` with the columns and types of `schema` (files may differ, e.g. int32 vs int64)."""
    batch = batch.select(schema.names)
    if batch.schema.equals(schema):
        return batch
    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
        for field in schema:
            have = batch.schema.field(field.name).type
            if have.equals(field.type):
                continue
            try:
                batch.column(field.name).cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as col_error:
                raise DataError(
                    f"{path}: column {field.name!r} has type {have}, which cannot be read as "
                    f"{field.type} (the type the reader's schema gives it): {col_error}"
                ) from e
        raise DataError(f"{path}: rows do not match the reader's schema: {e}") from e


def _type_family(t: pa.DataType) -> Any:
    """What must agree between files for a column to be read as one type (int32 ~ int64, ...)."""
    if pa.types.is_dictionary(t):
        return _type_family(t.value_type)
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", lambda _: False)(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_map(t):
        return ("map", _type_family(t.key_type), _type_family(t.item_type))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return ("list", _type_family(t.value_type))
    return str(t)


def types_compatible(a: pa.DataType, b: pa.DataType) -> bool:
    """Whether a column of type `a` in one file can be read as type `b` of another."""
    fa, fb = _type_family(a), _type_family(b)
    return fa == fb or "null" in (fa, fb)


def check_file_schema(file_schema: pa.Schema, schema: pa.Schema, path: str, first_path: str) -> None:
    """Raise a DataError naming the file and column when `file_schema` cannot hold `schema`'s columns."""
    select_columns(file_schema.names, schema.names, path)
    for field in schema:
        have = file_schema.field(field.name).type
        if not types_compatible(have, field.type):
            raise DataError(
                f"{path}: column {field.name!r} has type {have}, but {first_path} has it as "
                f"{field.type}; every file of an input must agree on a column's type"
            )


_EXPECTED = {
    "numeric": (lambda t: _type_family(t) == "number", "a number"),
    "numeric_or_list": (
        lambda t: _type_family(t) in ("number", ("list", "number")),
        "a number (or a list of numbers)",
    ),
}


def check_column_type(reader: BaseReader, column: str, expected: str, what: str) -> None:
    """Raise a DataError naming the file and column when `column` is not of the `expected` kind."""
    if column not in reader.schema.names:
        return
    test, wording = _EXPECTED[expected]
    t = reader.schema.field(column).type
    if not test(t):
        raise DataError(
            f"{reader.schema_source}: column {column!r} has type {t}, but {what} needs {wording}"
        )
