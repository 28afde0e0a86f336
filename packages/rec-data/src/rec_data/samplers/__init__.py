"""Samplers: negative, negative v2, hard negative (v1/v2) and TDM, run inside each DataLoader worker.

`create_sampler(data_config, mode)` builds the one DataConfig's `sampler` oneof names,
looked up by that name in the `rec.samplers` registry (built-ins register there too). See
`rec_data.samplers.base` for what the parser receives.
"""

from __future__ import annotations

from typing import Any

from rec_data.samplers.base import BaseSampler, SampledBatch, SamplerOutput

__all__ = ["BaseSampler", "SampledBatch", "SamplerOutput", "create_sampler", "sampler_name"]


def sampler_name(data_config: Any) -> str | None:
    """The sampler oneof field a DataConfig sets (e.g. "negative_sampler"), or None."""
    which = getattr(data_config, "WhichOneof", None)
    return which("sampler") if which is not None else None


def create_sampler(
    data_config: Any, mode: str = "train", *, name: str | None = None, config: Any = None
) -> BaseSampler | None:
    """The sampler of `data_config` (None when it sets none).

    `name` and `config` pick a sampler plugin and its config message directly (for samplers
    the DataConfig oneof cannot name).
    """
    from rec_data.plugins import SAMPLERS, get

    name = name or sampler_name(data_config)
    if name is None:
        return None
    cls = get(SAMPLERS, name)
    if config is None:
        config = getattr(data_config, name)
    return cls(config, data_config=data_config, mode=mode)
