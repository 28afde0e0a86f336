"""negative_sampler and negative_sampler_v2: weighted random item negatives, shared by a batch."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from rec_core.errors import DataError

from rec_data.paths import expand_input_path
from rec_data.samplers.base import BaseSampler, SamplerOutput, take_rows
from rec_data.samplers.tables import ItemTable, UserItemEdges, WeightedIndex, concat_ranges, edge_arrays, int_ids

# Rounds of vectorised redrawing before the rows still hitting a positive are drawn exactly.
_REJECTION_ROUNDS = 16


class NegativeSampler(BaseSampler):
    """`num_sample` items per batch (num_eval_sample outside training), drawn with replacement
    with probability proportional to the item table's weight column (e.g. item frequency).

    The negatives are shared by every row of the batch; items may repeat, and a batch's own
    positives may be drawn (as with GraphLearn's node-weight strategy).
    """

    config_name = "negative_sampler"

    def check_config(self) -> None:
        self.require("input_path", "item_id_field", "num_sample")
        if not self.attr_fields:
            self.require("attr_fields")

    def load(self) -> None:
        c = self.config
        self._t_items = ItemTable(
            c.input_path, self.attr_fields, attr_delimiter=c.attr_delimiter, field_delimiter=c.field_delimiter
        )
        self._t_draw = _weighted(self._t_items, self.field_path("input_path"))

    def sample(self, batch: pa.RecordBatch, rng: np.random.Generator) -> SamplerOutput:
        self.ensure_loaded()
        rows = self._t_draw.draw(rng, self.num_sample)
        typed = self._t_items.typed(batch.schema, self.multival_sep)
        return SamplerOutput(take_rows(typed, rows))


def _weighted(items: ItemTable, where: str) -> WeightedIndex:
    index = WeightedIndex(items.weights)
    if index.total <= 0:
        raise DataError(f"{items.path}: every weight in the item table ({where}) is zero; nothing can be sampled")
    return index


def owners_for(batch_rows: int, n: int) -> np.ndarray:
    """The batch row each of n user-conditioned negatives is drawn for: ceil(n / B) per row."""
    per_row = max(1, math.ceil(n / max(1, batch_rows)))
    return (np.arange(n) // per_row).astype(np.int64)


def draw_excluding(
    draw: WeightedIndex,
    weights: np.ndarray,
    owners: np.ndarray,
    user_index: np.ndarray,
    edges: UserItemEdges,
    rng: np.random.Generator,
    user_ids: np.ndarray,
) -> np.ndarray:
    """One item row per entry of `owners` (batch rows), never an item the owner's user has an edge to.

    Vectorised rejection: draw all, redraw the hits, a few rounds; what still hits (users with
    most of the weight in their positives) is drawn exactly from the complement.
    """
    users = user_index[owners]
    rows = draw.draw(rng, len(owners))
    for _ in range(_REJECTION_ROUNDS):
        hit = np.flatnonzero(edges.contains(users, rows))
        if not len(hit):
            return rows
        rows[hit] = draw.draw(rng, len(hit))
    hit = np.flatnonzero(edges.contains(users, rows))
    for u in np.unique(users[hit]):
        where = hit[users[hit] == u]
        w = weights.copy()
        w[edges.items_of(int(u))] = 0.0
        if w.sum() <= 0:
            uid = user_ids[owners[where[0]]]
            raise DataError(f"user {uid} has every item of the item table as a positive; no negative can be drawn")
        rows[where] = WeightedIndex(w).draw(rng, len(where))
    return rows


def user_positive_pairs(edges: UserItemEdges, user_index: np.ndarray, neg_rows: np.ndarray) -> np.ndarray:
    """int32 [M, 2], distinct, in no set order: every (batch row r, k) where sampled item row
    `neg_rows[k]` is a positive of row r's user (`user_index[r]`, -1: a user without edges).

    Looks each row's distinct positives up among the sampled rows, so the cost follows the
    rows' edge counts rather than B x N.
    """
    if not len(edges.keys) or not len(neg_rows):
        return np.empty((0, 2), np.int32)
    known = user_index >= 0
    user = np.where(known, user_index, 0)
    first = edges.key_offsets[user]
    count = np.where(known, edges.key_offsets[user + 1] - first, 0)
    row_of = np.repeat(np.arange(len(user_index)), count)
    positives = edges.keys[concat_ranges(first, count)] % edges.num_items
    drawn, inverse, copies = np.unique(neg_rows, return_inverse=True, return_counts=True)
    if edges.num_items <= 4 * len(positives):
        # item row -> index in `drawn` (-1: not drawn): with many positives per item, one
        # table-sized lookup is far faster than a binary search per positive
        which = np.full(edges.num_items, -1, np.int64)
        which[drawn] = np.arange(len(drawn))
        at = which[positives]
        hit = np.flatnonzero(at >= 0)
    else:
        at = np.minimum(np.searchsorted(drawn, positives), len(drawn) - 1)
        hit = np.flatnonzero(drawn[at] == positives)
    # the slots of each distinct drawn row, grouped by that row
    slots = np.argsort(inverse, kind="stable")
    n = copies[at[hit]]
    slot = slots[concat_ranges((np.cumsum(copies) - copies)[at[hit]], n)]
    return np.stack([np.repeat(row_of[hit], n), slot], axis=1).astype(np.int32)


class NegativeSamplerV2(BaseSampler):
    """Like negative_sampler, but a negative drawn for a batch row is never one of that row's
    user's positives (user → item edges of pos_edge_input_path).

    As in TorchEasyRec, ceil(num_sample / B) negatives are drawn per batch row and the first
    num_sample kept, so negative k was drawn for batch row k // ceil(num_sample / B); all
    negatives are still shared by the whole batch. The user table (user_input_path) must
    exist; positives come from the edge table alone. With `mask_user_positives` the output
    also lists every (row, negative) pair whose negative is a positive of the row's user
    (`masked_neg_indices`), for match models to leave out of that row's softmax.
    """

    config_name = "negative_sampler_v2"

    def check_config(self) -> None:
        self.require("user_input_path", "item_input_path", "pos_edge_input_path", "item_id_field", "user_id_field", "num_sample")
        if not self.attr_fields:
            self.require("attr_fields")

    def required_columns(self) -> list[str]:
        return [self.config.user_id_field]

    def load(self) -> None:
        c = self.config
        expand_input_path(c.user_input_path)  # a missing user table is an error, as in TorchEasyRec
        self._t_items = ItemTable(
            c.item_input_path, self.attr_fields, attr_delimiter=c.attr_delimiter, field_delimiter=c.field_delimiter
        )
        self._t_draw = _weighted(self._t_items, self.field_path("item_input_path"))
        src, dst, w = edge_arrays(c.pos_edge_input_path, c.field_delimiter, "positive edge table")
        self._t_pos = UserItemEdges.build(src, dst, w, self._t_items)

    def sample(self, batch: pa.RecordBatch, rng: np.random.Generator) -> SamplerOutput:
        self.ensure_loaded()
        ids, valid = int_ids(batch, self.config.user_id_field, self.config_name)
        users = self._t_pos.user_index(ids, valid)
        owners = owners_for(batch.num_rows, self.num_sample)
        rows = draw_excluding(self._t_draw, self._t_items.weights, owners, users, self._t_pos, rng, ids)
        typed = self._t_items.typed(batch.schema, self.multival_sep)
        masked = user_positive_pairs(self._t_pos, users, rows) if self.config.mask_user_positives else None
        return SamplerOutput(take_rows(typed, rows), masked_neg_indices=masked)
