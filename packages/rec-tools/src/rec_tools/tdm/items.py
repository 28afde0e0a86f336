"""The item table the TDM tree tools read, and where they write the tree."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError, DataError
from rec_tools.tables import read_batches
from rec_tools.tdm.tree import LEVEL_FIELD, Tree, write_serving_tree, write_tables


def split_fields(value: str | None) -> list[str]:
    """A comma list of column names (None or "" for none)."""
    return [f.strip() for f in (value or "").split(",") if f.strip()]


@dataclass
class Items:
    """Distinct items (the first row of each id wins) with the columns the tree needs."""

    table: pa.Table
    item_id_field: str
    attr_fields: list[str]
    raw_attr_fields: list[str]

    @property
    def ids(self) -> np.ndarray:
        """[K] int64 item ids."""
        return self.table.column(self.item_id_field).to_numpy()

    def _columns(self, names: list[str], order: np.ndarray, target: pa.DataType, fill: object, what: str) -> dict[str, np.ndarray]:
        """Columns `names` cast to `target`, nulls filled, items in `order`."""
        taken = self.table.take(pa.array(order))
        out = {}
        for name in names:
            try:
                values = taken.column(name).cast(target).fill_null(fill)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise DataError(f"{what} {name!r} cannot be read as {target}: {e}") from e
            out[name] = np.asarray(values.to_pylist(), object) if target == pa.string() else values.to_numpy()
        return out

    def attrs(self, order: np.ndarray) -> dict[str, np.ndarray]:
        """The attr fields as strings ("" for null), items in `order`."""
        return self._columns(self.attr_fields, order, pa.string(), "", "attr field")

    def raw_attrs(self, order: np.ndarray) -> dict[str, np.ndarray]:
        """The raw attr fields as floats (null: 0), items in `order`."""
        return self._columns(self.raw_attr_fields, order, pa.float64(), 0.0, "raw attr field")


def read_items(path: str, item_id_field: str, columns: list[str], attr_fields: list[str], raw_attr_fields: list[str], reader_type: str | None = None) -> Items:
    """The distinct items of `path` with `columns` (besides the id, attrs and raw attrs)."""
    if LEVEL_FIELD in attr_fields + raw_attr_fields or item_id_field in attr_fields + raw_attr_fields:
        raise ConfigError("--attr_fields", f"{LEVEL_FIELD!r} and the item id lead every node's feature already; list only item attributes")
    wanted = list(dict.fromkeys([item_id_field, *columns, *attr_fields, *raw_attr_fields]))
    table = pa.Table.from_batches(list(read_batches(path, wanted, reader_type)))
    ids = table.column(item_id_field)
    if not (pa.types.is_integer(ids.type) or pa.types.is_string(ids.type)):
        raise DataError(f"{path}: column {item_id_field!r} has type {ids.type}; TDM item ids are integers")
    table = table.filter(pc.is_valid(ids))
    try:
        table = table.set_column(table.schema.get_field_index(item_id_field), item_id_field, table.column(item_id_field).cast(pa.int64()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise DataError(f"{path}: column {item_id_field!r} holds ids that are not integers: {e}") from e
    if not table.num_rows:
        raise DataError(f"{path}: no item ids in column {item_id_field!r}")
    _, first = np.unique(table.column(item_id_field).to_numpy(), return_index=True)
    table = table.take(pa.array(np.sort(first)))
    return Items(table.combine_chunks(), item_id_field, attr_fields, raw_attr_fields)


def save_tree(tree: Tree, args: argparse.Namespace) -> list[str]:
    """Write the tables and the serving tree where the arguments say; returns the paths written."""
    tables_dir = args.node_edge_output_file or args.tree_output_dir
    if not tables_dir:
        raise ConfigError("--tree_output_dir", "give --tree_output_dir or --node_edge_output_file")
    paths = list(write_tables(tree, tables_dir, args.attr_delimiter).values())
    if args.tree_output_dir:
        paths.append(write_serving_tree(tree, args.tree_output_dir))
    return paths


def report(tree: Tree, paths: list[str]) -> None:
    """Print what was written and the sampler settings the tree needs."""
    print(*paths, sep="\n")
    print(f"levels: {tree.depth + 1} (layer_num_sample needs {tree.depth + 1} entries); leaves: {len(tree.leaf_rows())}")


def check_n_cluster(n_cluster: int) -> None:
    """--n_cluster must allow a tree."""
    if n_cluster < 2:
        raise ConfigError("--n_cluster", f"must be at least 2, got {n_cluster}")
