"""tdm_sampler: layer-wise positives (the leaf's ancestors) and negatives for TDM training.

Tables (TorchEasyRec's tree tools write them):

- item_input_path, the node table: `id  weight  feature`, where feature joins the
  attr_fields values by attr_delimiter and attr_fields includes `tree_level` (the node's
  depth: 0 is the root, the leaves, whose ids are the item ids, are deepest). A node with
  a negative level (TorchEasyRec's id -1 helper row) is ignored.
- edge_input_path: `src_id  dst_id  weight` edges from a leaf to each of its ancestors
  below the root (or, equally accepted, from each node to its parent).
- predict_edge_input_path (parent → child) serves retrieval; training does not read it.

For a batch of B rows with leaf item ids (item_id_field), levels 1..L-1 in between root
and leaves, and `layer_num_sample[l]` negatives at level l (`layer_num_sample[0]`, the
root, must be 0):

- positives: each row's ancestor at every kept middle level (the leaf is the row itself);
- negatives: per row and kept level (the leaf level always kept), layer_num_sample[l]
  nodes of that level, drawn by node weight, distinct within the row and never the row's
  positive at that level;
- in training, with remain_ratio < 1, only round(remain_ratio × (L-1)) middle levels are
  kept per batch, chosen by probability_type: UNIFORM (equal), ARITHMETIC (∝ level),
  RECIPROCAL (∝ 1 / (L - level)). Evaluation keeps every level.

apply() returns one RecordBatch: the B rows, then the positives (row-major: batch row,
then level), then the negatives (batch row, level, draw), with the attr_fields columns
taken from the sampled nodes, every other column repeated from the row it belongs to,
and the label_fields set to 1 for positives and 0 for negatives. attr_fields that the
batch lacks (such as tree_level) are added as columns; on the B original rows they hold
the leaf's values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rec_core.errors import ConfigError, DataError

from rec_data.samplers.base import BaseSampler, SamplerOutput, check_ids_found, take_rows
from rec_data.samplers.tables import ItemTable, WeightedIndex, edge_arrays, int_ids

PROBABILITY_TYPES = ("UNIFORM", "ARITHMETIC", "RECIPROCAL")
LEVEL_FIELD = "tree_level"
_REJECTION_ROUNDS = 32


def _invalid(picks: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """[B, k] mask: the row's positive, or a repeat of an earlier pick in the row."""
    bad = picks == positives[:, None]
    order = np.argsort(picks, axis=1, kind="stable")
    ranked = np.take_along_axis(picks, order, axis=1)
    dup_sorted = np.zeros_like(bad)
    dup_sorted[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
    repeat = np.zeros_like(bad)
    np.put_along_axis(repeat, order, dup_sorted, axis=1)
    return bad | repeat


def _distinct_draw(
    draw: WeightedIndex, nodes: np.ndarray, positives: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """[B, k] node rows of one level: weighted, distinct within a row, never that row's positive."""
    b = len(positives)
    picks = nodes[draw.draw(rng, (b, k))]
    for _ in range(_REJECTION_ROUNDS):
        where = np.nonzero(_invalid(picks, positives))
        if not len(where[0]):
            return picks
        picks[where] = nodes[draw.draw(rng, len(where[0]))]
    # Rows still failing (a level with few nodes): draw them exactly, without replacement.
    weights = draw.weights
    for r in np.unique(np.nonzero(_invalid(picks, positives))[0]):
        p = np.where(nodes == positives[r], 0.0, weights)
        picks[r] = nodes[rng.choice(len(nodes), k, replace=False, p=p / p.sum())]
    return picks


class TDMSampler(BaseSampler):
    """Tree-structured positives and negatives per level for TDM (see the module docstring)."""

    config_name = "tdm_sampler"

    def check_config(self) -> None:
        self.require("item_input_path", "edge_input_path", "item_id_field")
        if LEVEL_FIELD not in self.attr_fields:
            raise ConfigError(
                self.field_path("attr_fields"),
                f"must include {LEVEL_FIELD!r} (first, as TorchEasyRec's tree tools write the node table)",
            )
        if not len(self.config.layer_num_sample):
            raise ConfigError(self.field_path("layer_num_sample"), "is required: negatives per tree level, root first")
        if self.config.layer_num_sample[0] != 0:
            raise ConfigError(self.field_path("layer_num_sample[0]"), "must be 0: the root level has no negatives")
        if self.probability_type not in PROBABILITY_TYPES:
            raise ConfigError(
                self.field_path("probability_type"),
                f"expected one of {', '.join(PROBABILITY_TYPES)}, got {self.config.probability_type!r}",
            )
        if not 0.0 <= self.config.remain_ratio <= 1.0:
            raise ConfigError(self.field_path("remain_ratio"), f"must be within [0, 1], got {self.config.remain_ratio}")

    @property
    def probability_type(self) -> str:
        return (self.config.probability_type or "UNIFORM").upper()

    def required_columns(self) -> list[str]:
        return [self.config.item_id_field]

    def load(self) -> None:
        c = self.config
        nodes = ItemTable(
            c.item_input_path, self.attr_fields, attr_delimiter=c.attr_delimiter,
            field_delimiter=c.field_delimiter, what="TDM node table",
        )
        try:
            levels = nodes.attrs[LEVEL_FIELD].cast(pa.int64()).fill_null(-1).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise DataError(f"{c.item_input_path}: the TDM node table's {LEVEL_FIELD} values are not integers: {e}") from e
        depth = int(levels.max())
        if depth < 1:
            raise DataError(f"{c.item_input_path}: the TDM tree has no level below the root")
        if len(c.layer_num_sample) != depth + 1:
            raise ConfigError(
                self.field_path("layer_num_sample"),
                f"has {len(c.layer_num_sample)} entries, but the tree in {c.item_input_path} has {depth + 1} levels (0..{depth})",
            )
        self._t_nodes = nodes
        self._t_levels = levels
        self._t_depth = depth
        self._t_level_nodes = [np.flatnonzero(levels == lv) for lv in range(depth + 1)]
        self._t_level_draw = []
        for lv, members in enumerate(self._t_level_nodes):
            need = int(c.layer_num_sample[lv])
            if need and len(members) <= need:
                raise ConfigError(
                    self.field_path(f"layer_num_sample[{lv}]"),
                    f"asks for {need} negatives, but level {lv} has {len(members)} node(s), one of them the positive",
                )
            w = nodes.weights[members]
            if need and (w > 0).sum() <= need:
                w = np.ones(len(members))  # too few weighted nodes to draw distinct ones: treat alike
            self._t_level_draw.append(WeightedIndex(w) if len(members) else None)
        self._t_ancestors = self._ancestors(nodes, levels, depth)

    def _ancestors(self, nodes: ItemTable, levels: np.ndarray, depth: int) -> np.ndarray:
        """[leaves, depth + 1] node rows: column l is the leaf's ancestor at level l (-1 unknown)."""
        c = self.config
        src, dst, _ = edge_arrays(c.edge_input_path, c.field_delimiter, "TDM edge table")
        src_rows, dst_rows = nodes.rows(src), nodes.rows(dst)
        ok = (src_rows >= 0) & (dst_rows >= 0)
        src_rows, dst_rows = src_rows[ok], dst_rows[ok]
        # (src row, dst level) → dst row: "the ancestor of node x at level l".
        flat = src_rows * (depth + 1) + levels[dst_rows]
        order = np.argsort(flat, kind="stable")
        all_keys, all_dst = flat[order], dst_rows[order]

        def up(x: np.ndarray, level: int) -> np.ndarray:
            k = x * (depth + 1) + level
            if not len(all_keys):
                return np.full(len(x), -1)
            pos = np.minimum(np.searchsorted(all_keys, k), len(all_keys) - 1)
            return np.where((x >= 0) & (all_keys[pos] == k), all_dst[pos], -1)

        leaves = self._t_level_nodes[depth]
        anc = np.full((len(leaves), depth + 1), -1, np.int64)
        anc[:, depth] = leaves
        for lv in range(depth - 1, 0, -1):
            direct = up(leaves, lv)
            via_child = up(anc[:, lv + 1], lv)
            anc[:, lv] = np.where(direct >= 0, direct, via_child)
        roots = self._t_level_nodes[0]
        anc[:, 0] = roots[0] if len(roots) else -1
        return anc

    def kept_levels(self, rng: np.random.Generator) -> np.ndarray:
        """The middle levels (1..L-1) this batch trains on."""
        middle = np.arange(1, self._t_depth)
        ratio = float(self.config.remain_ratio)
        if self.mode != "train" or ratio >= 1.0 or not len(middle):
            return middle
        k = int(round(ratio * len(middle)))
        k = max(1, k) if ratio > 0 else 0
        if self.probability_type == "ARITHMETIC":
            p = middle.astype(np.float64)
        elif self.probability_type == "RECIPROCAL":
            p = 1.0 / (self._t_depth - middle)
        else:
            p = np.ones(len(middle))
        return np.sort(rng.choice(middle, k, replace=False, p=p / p.sum()))

    def sample(self, batch: pa.RecordBatch, rng: np.random.Generator) -> SamplerOutput:
        self.ensure_loaded()
        field = self.config.item_id_field
        ids, valid = int_ids(batch, field, self.config_name)
        if not valid.all():
            raise DataError(f"column {field!r} has a null item id at row {int(np.flatnonzero(~valid)[0])}; TDM needs the leaf of every row")
        leaves = self._t_level_nodes[self._t_depth]
        node_rows = self._t_nodes.rows(ids)
        check_ids_found(node_rows, ids, valid, field, self.config.item_input_path, "TDM node table")
        pos = np.minimum(np.searchsorted(leaves, node_rows), len(leaves) - 1)
        not_leaf = leaves[pos] != node_rows
        if not_leaf.any():
            i = int(np.flatnonzero(not_leaf)[0])
            raise DataError(f"column {field!r} holds id {ids[i]} (row {i}), which is not a leaf of the TDM tree")
        anc = self._t_ancestors[pos]
        b = batch.num_rows
        kept = self.kept_levels(rng)
        pos_nodes = anc[:, kept]  # [B, K]
        if (pos_nodes < 0).any():
            r, k = np.argwhere(pos_nodes < 0)[0]
            raise DataError(
                f"item {ids[r]} has no ancestor at level {kept[k]} in the TDM edge table {self.config.edge_input_path!r}"
            )
        neg_parts, neg_row_parts, neg_level_parts = [], [], []
        for lv in [*kept.tolist(), self._t_depth]:
            k = int(self.config.layer_num_sample[lv])
            if not k:
                continue
            picks = _distinct_draw(self._t_level_draw[lv], self._t_level_nodes[lv], anc[:, lv], k, rng)
            neg_parts.append(picks)
            neg_row_parts.append(np.repeat(np.arange(b)[:, None], k, axis=1))
            neg_level_parts.append(np.full((b, k), lv))
        if neg_parts:
            # Row-major over (batch row, level, draw).
            negs = np.concatenate(neg_parts, axis=1).reshape(-1)
            neg_rows = np.concatenate(neg_row_parts, axis=1).reshape(-1)
            neg_levels = np.concatenate(neg_level_parts, axis=1).reshape(-1)
        else:
            negs = neg_rows = neg_levels = np.empty(0, np.int64)
        typed = self._t_nodes.typed(batch.schema, self.multival_sep)
        return SamplerOutput(
            negatives=take_rows(typed, negs),
            positives=take_rows(typed, pos_nodes.reshape(-1)),
            pos_rows=np.repeat(np.arange(b), len(kept)),
            pos_levels=np.tile(kept, b),
            neg_rows=neg_rows,
            neg_levels=neg_levels,
            hard_neg_indices=None,
        )

    def leaf_rows(self, batch: pa.RecordBatch) -> np.ndarray:
        ids, _ = int_ids(batch, self.config.item_id_field, self.config_name)
        return self._t_nodes.rows(ids)

    def apply(self, batch: pa.RecordBatch, rng: np.random.Generator) -> pa.RecordBatch:
        """The expanded batch [B rows | positives | negatives] (see the module docstring)."""
        self.ensure_loaded()
        out = self.sample(batch, rng)
        assert out.positives is not None and out.pos_rows is not None and out.neg_rows is not None
        typed = self._t_nodes.typed(batch.schema, self.multival_sep)
        leaf_attrs = take_rows(typed, self.leaf_rows(batch))
        parts = {"pos": (out.positives, out.pos_rows, 1), "neg": (out.negatives, out.neg_rows, 0)}
        names = list(batch.schema.names) + [a for a in self.attr_fields if a not in batch.schema.names]
        columns = []
        for name in names:
            if name in batch.schema.names:
                head = batch.column(name)
            else:
                head = leaf_attrs.column(name)
            pieces = [head]
            for sampled, rows, label in parts.values():
                if name in self.attr_fields:
                    piece = sampled.column(name)
                elif name in self.label_fields:
                    piece = pa.array(np.full(len(rows), label)).cast(head.type)
                else:
                    piece = head.take(pa.array(rows, pa.int64()))
                pieces.append(piece.cast(head.type))
            columns.append(pa.concat_arrays(pieces))
        return pa.record_batch(columns, names=names)
