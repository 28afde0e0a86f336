"""Predictor: load an export directory and score raw rows (FG from fg.json, then the model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rec_dist.scripted import ScriptedModel


class Predictor:
    """Scores raw input rows with an exported model; no training code is involved."""

    def __init__(self, export_dir: str, device: str = "cpu") -> None:
        self._model = ScriptedModel(export_dir, device=device)

    @property
    def input_columns(self) -> list[str]:
        """The raw input columns the model's features read."""
        return self._model.parser.feature_columns()

    def predict(self, rows: Sequence[Mapping[str, Any]] | pa.Table | pa.RecordBatch) -> dict[str, np.ndarray]:
        """Predictions (e.g. `probs`, `logits`) for a list of row dicts or an Arrow table."""
        table = rows if isinstance(rows, (pa.Table, pa.RecordBatch)) else pa.Table.from_pylist(list(rows))
        if isinstance(table, pa.Table):
            table = table.combine_chunks()
            table = table.to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], schema=table.schema)
        out = self._model.predict_arrow(table)
        return {k: v.cpu().numpy() for k, v in out.items()}

    def predict_parquet(self, path: str, batch_size: int = 8192) -> dict[str, np.ndarray]:
        """Predictions for every row of a Parquet file, concatenated."""
        parts: list[dict[str, np.ndarray]] = []
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=self.input_columns):
            parts.append(self.predict(batch))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
