"""Predictor: score raw rows with an export (FG from its fg.json, then the model).

Imports neither TorchRec nor rec's training packages, so a service can depend on rec-export
alone. Safe to call from several threads: a call keeps all of its state to itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from rec_core.errors import DataError
from rec_export.packing import pack, pack_feature
from rec_export.runtime import ExportedModel
from rec_export.tile import is_user_feature
from rec_features.dag import FeatureGraph

Rows = Sequence[Mapping[str, Any]] | pa.Table | pa.RecordBatch


def to_table(rows: Rows) -> pa.Table:
    """Rows (dicts, or Arrow data) as an Arrow table; a clear error for rows Arrow cannot read."""
    if isinstance(rows, pa.Table):
        return rows
    if isinstance(rows, pa.RecordBatch):
        return pa.Table.from_batches([rows])
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DataError(f"row {i}: expected an object of column values, got {type(row).__name__}")
    try:
        return pa.Table.from_pylist(list(rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise DataError(f"rows cannot be read as columns: {e}") from e


class Predictor:
    """Scores raw input rows with an exported model (any exporter: TorchScript, AOTInductor, ...)."""

    def __init__(self, export_dir: str, device: str = "cpu") -> None:
        self._model = ExportedModel(export_dir, device)
        self._features = self._model.emitted
        self._user = [f for f in self._features if is_user_feature(f)]
        self._user_graph = FeatureGraph(self._user) if self._user else None
        self.tiled = int(self._model.acc.get("INPUT_TILE", "0")) > 0

    @property
    def input_columns(self) -> list[str]:
        """The raw input columns the model's features read."""
        return self._model.graph.input_columns()

    @property
    def user_columns(self) -> list[str]:
        """The input columns of user-side features (sent once per request with INPUT_TILE)."""
        return self._user_graph.input_columns() if self._user_graph else []

    @property
    def acc(self) -> dict[str, Any]:
        """The export's model_acc.json (exporter, quantization, tiling)."""
        return dict(self._model.acc)

    def unknown_columns(self, names: Sequence[str]) -> list[str]:
        """The names in `names` that no feature reads."""
        known = set(self.input_columns)
        return [n for n in names if n not in known]

    def model_inputs(self, rows: Rows, user: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """The flat tensors the exported model receives for the rows (FG applied): the same
        `feature.values` / `.lengths` / dense values a training batch's `Batch.to_dict()` holds."""
        table = to_table(rows)
        if table.num_rows == 0:
            raise DataError("no rows to score")
        if user:
            for name, value in user.items():
                if name in table.column_names:
                    raise DataError(f"column {name!r} is given both for the user and in the rows")
                column = to_table([{name: value}]).column(0)
                table = table.append_column(name, pa.repeat(column[0], table.num_rows).cast(column.type))
        columns = {name: table.column(name).combine_chunks() for name in table.column_names}
        inputs = pack(self._features, self._model.graph.compute(columns, table.num_rows))
        if user and self.tiled and self._user_graph is not None:
            user_table = to_table([dict(user)])
            user_columns = {n: user_table.column(n).combine_chunks() for n in user_table.column_names}
            user_values = self._user_graph.compute(user_columns, 1)
            weights = any(k.endswith(".weights") for k in inputs)
            for f in self._user:
                inputs.update(pack_feature(f, user_values[f.name], weights))
        return inputs

    def predict(self, rows: Rows, user: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Predictions (e.g. `probs`, `logits`) for the rows; `user` holds columns shared by every row.

        With `user`, its columns join every row for FG; an INPUT_TILE export then receives the
        user features once instead of once per row.
        """
        out = self._model(self.model_inputs(rows, user))
        return {k: v.detach().cpu().numpy() for k, v in out.items()}

    def predict_parquet(self, path: str, batch_size: int = 8192) -> dict[str, np.ndarray]:
        """Predictions for every row of a Parquet file, concatenated."""
        parts = [self.predict(batch) for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=self.input_columns)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
