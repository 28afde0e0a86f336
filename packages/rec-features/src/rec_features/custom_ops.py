"""The operator interface of custom_feature: third-party FG operators found by name in `rec.features`.

An operator is a class registered in the `rec.features` entry-point group under the name
`custom_feature.<operator_name>` (e.g. `custom_feature.EditDistance = "my_pkg.ops:EditDistance"`).
A config's `custom_feature { operator_name: "EditDistance" ... }` builds it once with the
config's `operator_params` and calls it on every batch.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rec_core.registry import registry

ENTRY_POINT_PREFIX = "custom_feature."


class CustomOperator:
    """Base class of custom_feature operators.

    `__init__(params)` receives `operator_params` as plain Python values. `__call__(inputs)`
    receives the feature's input columns (in `expression` order, all of one length) and returns
    one value per row: text or integers (or lists of them) for a feature with a bucketizer,
    numbers (or lists of `value_dim` numbers) for a dense one. Null means "no value" and takes
    the feature's `default_value`. Work on whole columns (pyarrow.compute, NumPy): the same
    call runs in training, offline FG and serving. Raise `InvalidFgInputError(feature, msg,
    row)` for bad input.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def __call__(self, inputs: list[pa.Array]) -> pa.Array:
        raise NotImplementedError


def load_operator(name: str) -> type[CustomOperator]:
    """The operator class registered as `custom_feature.<name>` (a PluginError lists what is installed)."""
    return registry("rec.features").get(f"{ENTRY_POINT_PREFIX}{name}")


class RegexReplace(CustomOperator):
    """Built-in operator: every match of `regex_pattern` (RE2 syntax) in the first input replaced by
    `replacement` (`\\1` refers to a group); other inputs are ignored."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.pattern = str(params.get("regex_pattern", ""))
        self.replacement = str(params.get("replacement", ""))
        if not self.pattern:
            raise ValueError("RegexReplace needs operator_params regex_pattern")

    def __call__(self, inputs: list[pa.Array]) -> pa.Array:
        return pc.replace_substring_regex(pc.cast(inputs[0], pa.string()), self.pattern, self.replacement)
