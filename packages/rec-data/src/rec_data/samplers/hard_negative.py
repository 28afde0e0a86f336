"""hard_negative_sampler(_v2): random negatives plus each user's hard negatives from an edge table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rec_data.paths import expand_input_path
from rec_data.samplers.base import BaseSampler, SamplerOutput, take_rows
from rec_data.samplers.negative import _weighted, draw_excluding, owners_for
from rec_data.samplers.tables import ItemTable, UserItemEdges, concat_ranges, edge_arrays, int_ids


def pick_hard(
    edges: UserItemEdges, user_index: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to k hard-negative item rows per batch row: all of a user's edges when it has at most k,
    else k of them drawn without replacement with probability proportional to edge weight.

    Returns (item rows, batch row, slot), ordered by batch row then slot.
    """
    has = user_index >= 0
    rows = np.flatnonzero(has)
    if k <= 0 or not len(rows):
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    u = user_index[rows]
    starts = edges.offsets[u]
    lengths = edges.offsets[u + 1] - starts
    # Edge positions of every batch row's user, row after row.
    edge = concat_ranges(starts, lengths)
    owner = np.repeat(rows, lengths)
    # Weighted sampling without replacement: the k largest log(w) + Gumbel noise per row.
    with np.errstate(divide="ignore"):
        key = np.log(edges.weights[edge]) + rng.gumbel(size=len(edge))
    order = np.lexsort((-key, owner))
    owner, edge = owner[order], edge[order]
    # rank within the row, now that each row's edges are ordered by key
    slot = concat_ranges(np.zeros(len(lengths), np.int64), lengths)
    keep = slot < k
    return edges.items[edge[keep]], owner[keep], slot[keep]


class HardNegativeSampler(BaseSampler):
    """`num_sample` weighted random negatives (as negative_sampler) followed by up to
    `num_hard_sample` hard negatives per batch row: items of that row's user's edges in
    hard_neg_edge_input_path (all of them when there are at most num_hard_sample, else a
    weighted draw without replacement). `hard_neg_indices[i] = (batch row, slot)` of the
    i-th hard negative, which is row num_sample + i of the negatives.
    """

    config_name = "hard_negative_sampler"

    def check_config(self) -> None:
        self.require(
            "user_input_path", "item_input_path", "hard_neg_edge_input_path", "item_id_field", "user_id_field", "num_sample"
        )
        if not self.attr_fields:
            self.require("attr_fields")

    def required_columns(self) -> list[str]:
        return [self.config.user_id_field]

    def load(self) -> None:
        c = self.config
        expand_input_path(c.user_input_path)
        self._t_items = ItemTable(
            c.item_input_path, self.attr_fields, attr_delimiter=c.attr_delimiter, field_delimiter=c.field_delimiter
        )
        self._t_draw = _weighted(self._t_items, self.field_path("item_input_path"))
        src, dst, w = edge_arrays(c.hard_neg_edge_input_path, c.field_delimiter, "hard negative edge table")
        self._t_hard = UserItemEdges.build(src, dst, w, self._t_items)

    def random_rows(self, batch: pa.RecordBatch, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._t_draw.draw(rng, n)

    def sample(self, batch: pa.RecordBatch, rng: np.random.Generator) -> SamplerOutput:
        self.ensure_loaded()
        regular = self.random_rows(batch, rng, self.num_sample)
        ids, valid = int_ids(batch, self.config.user_id_field, self.config_name)
        hard_items, hard_rows, slots = pick_hard(
            self._t_hard, self._t_hard.user_index(ids, valid), int(self.config.num_hard_sample), rng
        )
        typed = self._t_items.typed(batch.schema, self.multival_sep)
        negatives = take_rows(typed, np.concatenate([regular, hard_items]))
        indices = np.stack([hard_rows, slots], axis=1).astype(np.int32)
        return SamplerOutput(negatives, hard_neg_indices=indices)


class HardNegativeSamplerV2(HardNegativeSampler):
    """hard_negative_sampler whose random negatives also avoid the user's positives
    (pos_edge_input_path), as negative_sampler_v2 draws them."""

    config_name = "hard_negative_sampler_v2"

    def check_config(self) -> None:
        super().check_config()
        self.require("pos_edge_input_path")

    def load(self) -> None:
        super().load()
        src, dst, w = edge_arrays(self.config.pos_edge_input_path, self.config.field_delimiter, "positive edge table")
        self._t_pos = UserItemEdges.build(src, dst, w, self._t_items)

    def random_rows(self, batch: pa.RecordBatch, rng: np.random.Generator, n: int) -> np.ndarray:
        ids, valid = int_ids(batch, self.config.user_id_field, self.config_name)
        users = self._t_pos.user_index(ids, valid)
        owners = owners_for(batch.num_rows, n)
        return draw_excluding(self._t_draw, self._t_items.weights, owners, users, self._t_pos, rng, ids)
