"""The FG graph: a feature with `feature:<name>` inputs reads other features' outputs, so it runs after them.

FG_DAG resolves every `feature:` input from the named feature and refuses a name that is not
one; FG_NORMAL does the same when the feature exists and otherwise reads a column of that name
(pyfg's per-feature FG_NORMAL reads such inputs as columns). `const:<text>` inputs are the text
itself on every row. `stub_type` features are computed only for the features that read them and
are never part of the output. FG_NONE and FG_BUCKETIZE read one column per emitted feature, so
there is no graph to run (and stubs, having no column, are skipped).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_features import arrow_ops
from rec_features.features.base import FG_DAG, FG_NONE, FG_NORMAL, BaseFeature
from rec_features.values import FeatureValues


class FeatureGraph:
    """Features in an order where every feature comes after the features it reads."""

    def __init__(self, features: Sequence[BaseFeature], fg_mode: int | None = None) -> None:
        mode = fg_mode if fg_mode is not None else (features[0].fg_mode if features else FG_NONE)
        self.raw_inputs = mode in (FG_NORMAL, FG_DAG)
        self.emitted = [f for f in features if not f.stub_type]
        active = list(features) if self.raw_inputs else self.emitted
        by_name = {f.name: f for f in features}
        # consumer name -> {input column: the feature producing it}
        self.producers: dict[str, dict[str, BaseFeature]] = {}
        for f in active if self.raw_inputs else ():
            for side, name in f.side_inputs:
                if side != "feature":
                    continue
                producer = by_name.get(name)
                if producer is not None:
                    self.producers.setdefault(f.name, {})[name] = producer
                elif mode == FG_DAG:
                    raise ConfigError(
                        f"feature {f.name!r} input 'feature:{name}'", f"no feature is named {name!r}; features: {sorted(by_name)}"
                    )
        self.order = _topological_order(active, self.producers)
        self._read = {p.name for inputs in self.producers.values() for p in inputs.values()}

    def input_columns(self) -> list[str]:
        """The data columns the features read, each once, in first-use order."""
        cols: list[str] = []
        for f in self.order:
            if not self.raw_inputs:
                cols.extend(f.inputs)
                continue
            resolved = self.producers.get(f.name, {})
            for (side, _), column in zip(f.side_inputs, f.inputs):
                if side == "const" or (side == "feature" and column in resolved):
                    continue
                cols.append(column)
        return list(dict.fromkeys(cols))

    def compute(self, columns: dict[str, pa.Array], num_rows: int) -> dict[str, FeatureValues]:
        """Values of every emitted feature, in feature order."""
        values: dict[str, FeatureValues] = {}
        outputs: dict[str, pa.Array] = {}
        for f in self.order:
            inputs, sequence_inputs = self._inputs(f, columns, outputs, num_rows)
            values[f.name] = f.process(inputs, sequence_inputs)
            if f.name in self._read:
                outputs[f.name] = f.dag_value(inputs, values[f.name])
        return {f.name: values[f.name] for f in self.emitted}

    def _inputs(
        self, f: BaseFeature, columns: dict[str, pa.Array], outputs: dict[str, pa.Array], num_rows: int
    ) -> tuple[dict[str, pa.Array], set[str]]:
        if not self.raw_inputs:
            return columns, set()
        extra: dict[str, pa.Array] = {}
        sequence_inputs: set[str] = set()
        producers = self.producers.get(f.name, {})
        for side, name in f.side_inputs:
            if side == "const":
                extra[name] = pa.repeat(pa.scalar(name, pa.string()), num_rows)
            elif side == "feature" and name in producers:
                producer = producers[name]
                value = outputs[name]
                if producer.is_sequence and f.is_sequence:
                    sequence_inputs.add(name)
                elif producer.is_sequence:
                    value = flatten_rows(value)
                extra[name] = value
        return ({**columns, **extra} if extra else columns), sequence_inputs


def flatten_rows(col: pa.Array) -> pa.Array:
    """`list<list<T>>` as one `list<T>` per row (a sequence's values read by a non-sequence feature)."""
    if not (arrow_ops.is_list(col.type) and arrow_ops.is_list(col.type.value_type)):
        return col
    inner = pc.list_flatten(col)
    counts = np.asarray(pc.fill_null(pc.list_value_length(inner), 0), dtype=np.int64)
    parents = np.asarray(pc.list_parent_indices(col), dtype=np.int64)
    offsets = np.zeros(len(col) + 1, dtype=np.int32)
    np.cumsum(np.bincount(parents, weights=counts, minlength=len(col)).astype(np.int64), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pc.list_flatten(inner))


def _topological_order(features: Sequence[BaseFeature], producers: dict[str, dict[str, BaseFeature]]) -> list[BaseFeature]:
    """Producers before consumers, otherwise config order; a cycle is a ConfigError naming it."""
    position = {f.name: i for i, f in enumerate(features)}
    needs = {f.name: {p.name for p in producers.get(f.name, {}).values()} for f in features}
    waiting = {name: len(deps) for name, deps in needs.items()}
    readers: dict[str, list[str]] = {}
    for name, deps in needs.items():
        for dep in deps:
            readers.setdefault(dep, []).append(name)
    ready = [position[name] for name, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        f = features[heapq.heappop(ready)]
        order.append(f)
        for reader in readers.get(f.name, []):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, position[reader])
    if len(order) < len(features):
        stuck = [f.name for f in features if waiting[f.name] > 0]
        raise ConfigError("feature_configs", f"features read each other in a cycle: {_cycle(stuck, needs)}")
    return order


def _cycle(stuck: list[str], needs: dict[str, set[str]]) -> str:
    """`a -> b -> a`, where each feature reads the next; every stuck node leads into a cycle."""
    blocked = set(stuck)
    path = [stuck[0]]
    seen = {stuck[0]: 0}
    while True:
        nxt = min(d for d in needs[path[-1]] if d in blocked)
        if nxt in seen:
            return " -> ".join(path[seen[nxt] :] + [nxt])
        seen[nxt] = len(path)
        path.append(nxt)
