"""overlap_feature: how a query's terms occur in a title (ratios, containment, position, proximity)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_features.bucketize import BOUNDARIES_ORDER
from rec_features.features.bucketized import BucketizedFeature
from rec_features.tokens import offsets, position_in_row, row_of, segment_reduce
from rec_features.values import FeatureValues

METHODS = (
    "query_common_ratio", "title_common_ratio", "is_contain", "is_equal", "index_of",
    "proximity_min_cover", "proximity_min_dist", "proximity_max_dist", "proximity_avg_dist",
)


class _Terms:
    """Query and title terms of a batch as integer ids (equal text, equal id), ragged by row."""

    def __init__(self, query: tuple[pa.Array, np.ndarray], title: tuple[pa.Array, np.ndarray]) -> None:
        (q_tokens, self.q_len), (t_tokens, self.t_len) = query, title
        both = pa.chunked_array([pc.cast(q_tokens, pa.string()), pc.cast(t_tokens, pa.string())], pa.string())
        ids = np.asarray(pc.dictionary_encode(both).combine_chunks().indices, np.int64)
        self.q_ids, self.t_ids = ids[: len(q_tokens)], ids[len(q_tokens) :]
        self.q_rows, self.t_rows = row_of(self.q_len), row_of(self.t_len)
        self.q_off, self.t_off = offsets(self.q_len), offsets(self.t_len)
        width = np.int64(max(len(ids), 1))
        # (row, term) as one integer: membership of a term in the other side of the same row
        self.q_in_title = np.isin(self.q_rows * width + self.q_ids, self.t_rows * width + self.t_ids)
        self.t_in_query = np.isin(self.t_rows * width + self.t_ids, self.q_rows * width + self.q_ids)

    @property
    def rows(self) -> int:
        return len(self.q_len)

    def phrase_starts(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows and start positions where the whole query occurs contiguously in the title."""
        q_len, t_len = self.q_len.astype(np.int64), self.t_len.astype(np.int64)
        counts = np.where(q_len > 0, np.maximum(t_len - q_len + 1, 0), 0)
        rows, starts = row_of(counts), position_in_row(counts)
        alive = np.ones(len(rows), bool)
        for j in range(int(q_len.max()) if len(q_len) else 0):
            check = alive & (j < q_len[rows])
            idx = np.flatnonzero(check)
            r = rows[idx]
            alive[idx] = self.t_ids[self.t_off[r] + starts[idx] + j] == self.q_ids[self.q_off[r] + j]
        return rows[alive], starts[alive]

    def min_cover(self) -> np.ndarray:
        """Per row, the shortest title span holding every distinct query term found in the title (0: none)."""
        width = np.int64(max(int(self.q_ids.max(initial=0)) + 1, 1))
        pairs = np.unique(self.q_rows[self.q_in_title] * width + self.q_ids[self.q_in_title])
        pair_rows, pair_terms = pairs // width, pairs % width
        span = self.t_len[pair_rows].astype(np.int64)
        pair_of, pos = row_of(span), position_in_row(span)
        title_idx = self.t_off[pair_rows[pair_of]] + pos
        never = np.int64(self.t_len.max(initial=0)) + 1
        at = np.where(self.t_ids[title_idx] == pair_terms[pair_of], pos, never)
        # next occurrence at or after each position: a suffix minimum that restarts at every pair
        step = never + 1
        rank = (len(pairs) - 1 - pair_of)[::-1]
        nxt = (np.minimum.accumulate(at[::-1] - rank * step) + rank * step)[::-1]
        end = np.full(len(self.t_ids), -1, np.int64)
        np.maximum.at(end, title_idx, nxt)
        has_terms = np.bincount(pair_rows, minlength=self.rows) > 0
        cover = np.where((end >= 0) & (end < never), end - position_in_row(self.t_len) + 1, np.iinfo(np.int64).max)
        best = np.full(self.rows, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(best, self.t_rows, cover)
        return np.where(has_terms, best, 0).astype(np.float64)

    def hit_gaps(self, how: str) -> np.ndarray:
        """min | max | mean distance between consecutive title positions holding query terms (0 if < 2)."""
        rows = self.t_rows[self.t_in_query]
        pos = position_in_row(self.t_len)[self.t_in_query]
        same = rows[1:] == rows[:-1]
        gaps = (pos[1:] - pos[:-1])[same].astype(np.float64)
        return segment_reduce(gaps, np.bincount(rows[1:][same], minlength=self.rows), how)


class OverlapFeature(BucketizedFeature):
    """Compares the terms of `query` and `title` (split on `separator`, or list columns) by `method`:

    query_common_ratio / title_common_ratio: share of query (title) terms found in the other side;
    is_equal: same term sequence; is_contain: the query occurs as a contiguous phrase in the title;
    index_of: its first start position (-1: absent); proximity_min_cover: shortest title span
    holding every query term the title has; proximity_min/max/avg_dist: distances between
    consecutive title positions holding query terms. Empty sides give 0 (index_of: -1).
    """

    config_name = "overlap_feature"
    computes_numbers = True
    bucket_order = BOUNDARIES_ORDER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.method not in METHODS:
            raise ConfigError(self.field_path("method"), f"unknown method {self.config.method!r}; expected one of {', '.join(METHODS)}")

    @property
    def input_expressions(self) -> list[str]:
        return [self.config.query, self.config.title]

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        separator = self.config.separator or "\x1d"
        query, title = (self.input_tokens(self.column(columns, name), separator, "") for name in self.inputs)
        terms = _Terms(query, title)
        return self.numeric_output(self.measure(terms).reshape(-1, 1))

    def measure(self, t: _Terms) -> np.ndarray:
        """The configured method's value for every row."""
        method, n = self.config.method, t.rows
        with np.errstate(divide="ignore", invalid="ignore"):
            if method == "query_common_ratio":
                return np.nan_to_num(np.bincount(t.q_rows[t.q_in_title], minlength=n) / t.q_len)
            if method == "title_common_ratio":
                return np.nan_to_num(np.bincount(t.t_rows[t.t_in_query], minlength=n) / t.t_len)
        if method == "is_equal":
            return self._equal(t)
        if method in ("is_contain", "index_of"):
            rows, starts = t.phrase_starts()
            found = np.bincount(rows, minlength=n) > 0
            if method == "is_contain":
                return found.astype(np.float64)
            first = np.full(n, np.iinfo(np.int64).max, np.int64)
            np.minimum.at(first, rows, starts)
            return np.where(found, first, -1).astype(np.float64)
        if method == "proximity_min_cover":
            return t.min_cover()
        return t.hit_gaps({"proximity_min_dist": "min", "proximity_max_dist": "max", "proximity_avg_dist": "mean"}[method])

    @staticmethod
    def _equal(t: _Terms) -> np.ndarray:
        same_len = (t.q_len == t.t_len) & (t.q_len > 0)
        keep = same_len[t.q_rows]
        idx = t.t_off[t.q_rows[keep]] + position_in_row(t.q_len)[keep]
        differ = np.bincount(t.q_rows[keep][t.t_ids[idx] != t.q_ids[keep]], minlength=t.rows)
        return (same_len & (differ == 0)).astype(np.float64)

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("overlap_feature", "float")
        out.update(query=c.query, title=c.title, method=c.method, separator=c.separator or "\x1d")
        return out
