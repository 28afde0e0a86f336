"""The sampler tables (GraphLearn's text layout): items/nodes, users and edges.

Every table is delimited text (`field_delimiter`, default a tab) with an optional header
line such as `id:int64<TAB>weight:float<TAB>feature:string`; columns are taken by position:

- item / node table: id (int64), weight (float), feature (string: the attr_fields values
  joined by attr_delimiter);
- user table: id (int64), weight (float);
- edge table: src id (int64, user or tree leaf), dst id (int64, item or tree node),
  weight (float; optional, 1.0 when the file has two columns).

A path may be a comma-separated list of files, globs or directories (local or fsspec URLs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from rec_core.errors import DataError

from rec_data.paths import expand_input_path


def _first_line(path: str) -> str:
    with fsspec.open(path, "rt", encoding="utf-8") as f:
        return f.readline().rstrip("\r\n")


def _is_header(line: str, delimiter: str) -> bool:
    first = line.split(delimiter, 1)[0].strip()
    try:
        int(first)
    except ValueError:
        return bool(first)  # ids are integers: a word (`id:int64`, `userid`) is a header
    return False


def read_table(
    input_path: str,
    columns: list[tuple[str, pa.DataType]],
    *,
    delimiter: str = "\t",
    optional: tuple[str, ...] = (),
    what: str = "table",
) -> tuple[pa.Table, list[tuple[str, int, int]]]:
    """Read a sampler table; returns it and (file, first row, header lines) for error messages."""
    delimiter = delimiter or "\t"
    files = expand_input_path(input_path)
    tables = []
    origins = []
    row = 0
    for path in files:
        line = _first_line(path)
        if not line.strip():
            continue
        header = _is_header(line, delimiter)
        width = len(line.split(delimiter))
        present = [c for c in columns if c[0] not in optional] if width < len(columns) else columns
        if width < len(present):
            names = ", ".join(n for n, _ in present)
            raise DataError(
                f"{path}: the {what} has {width} column(s) separated by {delimiter!r}; expected {names}"
            )
        names = [n for n, _ in present] + [f"_extra{i}" for i in range(width - len(present))]
        handle = fsspec.open(path, "rb").open()
        try:
            table = pacsv.read_csv(
                handle,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=int(header)),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict(present),
                    include_columns=[n for n, _ in present],
                    strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as e:
            raise DataError(f"{path}: cannot read the {what}: {e}") from e
        finally:
            handle.close()
        for name, t in present:
            col = table.column(name)
            if col.null_count:
                first = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
                raise DataError(
                    f"{path}: line {first + 1 + int(header)}: the {what}'s column {name!r} ({t}) is empty"
                )
        for name, t in columns:
            if name not in table.column_names:
                table = table.append_column(name, pa.array(np.ones(table.num_rows), t))
        tables.append(table.select([n for n, _ in columns]))
        origins.append((path, row, int(header)))
        row += table.num_rows
    if not tables or row == 0:
        raise DataError(f"the {what} {input_path!r} has no rows")
    return pa.concat_tables(tables).combine_chunks(), origins


def _where(origins: list[tuple[str, int, int]], index: int) -> str:
    """`file: line N` for row `index` of a table read by read_table."""
    for path, start, header in reversed(origins):
        if index >= start:
            return f"{path}: line {index - start + 1 + header}"
    return "?"


def split_attrs(
    feature: pa.Array, attr_fields: list[str], delimiter: str, origins: list[tuple[str, int, int]], what: str
) -> dict[str, pa.Array]:
    """The attr_fields values (strings; "" → null) of a table's `feature` column."""
    delimiter = delimiter or ":"
    parts = pc.split_pattern(feature, delimiter)
    counts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(counts != len(attr_fields))
    if len(bad):
        i = int(bad[0])
        raise DataError(
            f"{_where(origins, i)}: the {what}'s feature {feature[i].as_py()!r} has {counts[i]} value(s) "
            f"split by attr_delimiter {delimiter!r}, but attr_fields names {len(attr_fields)}: "
            f"{', '.join(attr_fields)}"
        )
    out = {}
    for i, name in enumerate(attr_fields):
        values = pc.list_element(parts, i)
        out[name] = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    return out


def cast_attr(values: pa.Array, target: pa.DataType, multival_sep: str) -> pa.Array:
    """String attr values as `target` (numbers parsed; lists split on multival_sep)."""
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return values.cast(target)
    if pa.types.is_list(target) or pa.types.is_large_list(target):
        lists = pc.split_pattern(values, multival_sep)
        return lists.cast(pa.list_(target.value_type)).cast(target)
    return values.cast(target)


@dataclass
class WeightedIndex:
    """Draws positions 0..n-1 with probability proportional to `weights` (cumulative-sum search)."""

    weights: np.ndarray
    cdf: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, np.float64)
        if len(w) and (not np.all(np.isfinite(w)) or w.min() < 0):
            raise ValueError("weights must be finite and non-negative")
        self.cdf = np.cumsum(w)

    @property
    def total(self) -> float:
        return float(self.cdf[-1]) if len(self.cdf) else 0.0

    def draw(self, rng: np.random.Generator, size: Any) -> np.ndarray:
        """Positions drawn with replacement, shaped `size`."""
        if self.total <= 0:
            raise ValueError("every weight is zero")
        u = rng.random(size) * self.total
        return np.minimum(np.searchsorted(self.cdf, u, side="right"), len(self.cdf) - 1)


class ItemTable:
    """An item (or TDM node) table: ids, weights and the attr_fields values, looked up by id."""

    def __init__(
        self,
        input_path: str,
        attr_fields: list[str],
        *,
        attr_delimiter: str = ":",
        field_delimiter: str = "\t",
        what: str = "item table",
    ) -> None:
        table, origins = read_table(
            input_path,
            [("id", pa.int64()), ("weight", pa.float64()), ("feature", pa.string())],
            delimiter=field_delimiter,
            what=what,
        )
        self.path = input_path
        self.what = what
        self.ids = table.column("id").to_numpy()
        weights = table.column("weight").to_numpy()
        if not np.all(np.isfinite(weights)) or (len(weights) and weights.min() < 0):
            i = int(np.flatnonzero(~np.isfinite(weights) | (weights < 0))[0])
            raise DataError(f"{_where(origins, i)}: the {what}'s weight {weights[i]} is negative or not finite")
        self.weights = weights
        self.attr_fields = list(attr_fields)
        self.attrs = split_attrs(table.column("feature").combine_chunks(), self.attr_fields, attr_delimiter, origins, what)
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]
        dup = np.flatnonzero(self._sorted[1:] == self._sorted[:-1])
        if len(dup):
            raise DataError(f"{input_path}: the {what} lists id {self._sorted[dup[0]]} more than once")
        self._typed: dict[tuple[Any, ...], pa.Table] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Row positions of `ids` in the table; -1 where an id is not in it."""
        if not len(self._sorted):
            return np.full(len(ids), -1, np.int64)
        pos = np.minimum(np.searchsorted(self._sorted, ids), len(self._sorted) - 1)
        found = self._sorted[pos] == ids
        return np.where(found, self._order[pos], -1)

    def typed(self, schema: pa.Schema | None, multival_sep: str = "\x03") -> pa.Table:
        """The attrs as a table, each column cast to its type in `schema` when the column is there."""
        targets = tuple(
            (n, schema.field(n).type if schema is not None and n in schema.names else pa.string())
            for n in self.attr_fields
        )
        if targets not in self._typed:
            columns = {}
            for name, target in targets:
                try:
                    columns[name] = cast_attr(self.attrs[name], target, multival_sep)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
                    raise DataError(
                        f"{self.path}: the {self.what}'s attr {name!r} cannot be read as {target} "
                        f"(the input data's type for that column): {e}"
                    ) from e
            self._typed[targets] = pa.table(columns)
        return self._typed[targets]


def edge_arrays(input_path: str, field_delimiter: str, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(src ids, dst ids, weights) of an edge table."""
    table, _ = read_table(
        input_path,
        [("src", pa.int64()), ("dst", pa.int64()), ("weight", pa.float64())],
        delimiter=field_delimiter,
        optional=("weight",),
        what=what,
    )
    return table.column("src").to_numpy(), table.column("dst").to_numpy(), table.column("weight").to_numpy()


def int_ids(batch: pa.RecordBatch, column: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(int64 ids, valid mask) of an id column of the batch (integers, or strings of integers)."""
    if column not in batch.schema.names:
        raise DataError(f"the {what} needs column {column!r}, which the batch lacks; columns: {', '.join(batch.schema.names)}")
    col = batch.column(column)
    valid = ~col.is_null().to_numpy(zero_copy_only=False)
    if not (pa.types.is_integer(col.type) or pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise DataError(f"column {column!r} has type {col.type}, but the {what} needs integer ids")
    try:
        ids = col.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise DataError(f"column {column!r} holds ids that are not integers, as the {what} needs: {e}") from e
    return ids, valid


@dataclass
class UserItemEdges:
    """User → item edges, indexed for membership tests and per-user item lists."""

    users: np.ndarray  # sorted unique user ids
    offsets: np.ndarray  # edges of users[i] are rows offsets[i]:offsets[i+1]
    items: np.ndarray  # item table rows, grouped by user
    weights: np.ndarray
    num_items: int
    keys: np.ndarray  # sorted, distinct user_index * num_items + item row of every edge
    key_offsets: np.ndarray  # users[i]'s distinct edges are keys[key_offsets[i]:key_offsets[i+1]]

    @classmethod
    def build(cls, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, items: ItemTable) -> UserItemEdges:
        rows = items.rows(dst)
        keep = rows >= 0  # an edge to an item outside the item table can never be drawn anyway
        src, rows, weight = src[keep], rows[keep], weight[keep]
        order = np.lexsort((rows, src))
        src, rows, weight = src[order], rows[order], weight[order]
        starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]]) if len(src) else np.empty(0, np.int64)
        users = src[starts]
        offsets = np.append(starts, len(src)).astype(np.int64)
        rows = rows.astype(np.int64)
        # Sorted (user, item) keys for membership tests; the edges are sorted that way already.
        keys = np.repeat(np.arange(len(users)), np.diff(offsets)) * len(items) + rows
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
        key_offsets = np.searchsorted(keys, np.arange(len(users) + 1) * len(items))
        return cls(users, offsets, rows, weight, len(items), keys, key_offsets)

    def user_index(self, ids: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Index into `users` of each id; -1 for ids without edges (or invalid)."""
        if not len(self.users):
            return np.full(len(ids), -1, np.int64)
        pos = np.minimum(np.searchsorted(self.users, ids), len(self.users) - 1)
        return np.where(valid & (self.users[pos] == ids), pos, -1)

    def contains(self, user_index: np.ndarray, item_rows: np.ndarray) -> np.ndarray:
        """Whether (user, item) is an edge, elementwise (user_index -1: never)."""
        keys = self.keys
        if not len(keys):
            return np.zeros(np.shape(item_rows), bool)
        k = user_index * self.num_items + item_rows
        pos = np.minimum(np.searchsorted(keys, k), len(keys) - 1)
        return (user_index >= 0) & (keys[pos] == k)

    def items_of(self, user_index: int) -> np.ndarray:
        """Item rows of one user's edges."""
        if user_index < 0:
            return np.empty(0, np.int64)
        return self.items[self.offsets[user_index] : self.offsets[user_index + 1]]


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """arange(s, s + n) for every (s, n) of `starts` and `lengths`, concatenated."""
    lengths = np.asarray(lengths, np.int64)
    return np.repeat(np.asarray(starts, np.int64) - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum())
