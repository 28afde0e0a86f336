"""`rec-tools add-feature-info`: apply a per-feature statistics table to a template config.

The table has TorchEasyRec's columns: `feature` (a feature name; a grouped sequence's
sub-feature is `<sequence_name>__<feature_name>`), `feature_info` (JSON with `embedding_dim`,
and `boundary` or `hash_bucket_size`) and `message` (a feature whose message contains
`DROP IT` is removed: from feature_configs, feature groups and sequence groups; a sequence
group left without sequence features goes, with the sequence encoders that read it).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

from rec_core.config import load_pipeline_config, save_message
from rec_core.errors import ConfigError, DataError
from rec_core.logging_utils import get_logger
from rec_tools.tables import read_batches

logger = get_logger(__name__)

DROP_MARK = "DROP IT"
COLUMNS = ("feature", "feature_info", "message")
SEQUENCE_SEPARATOR = "__"


@dataclass
class FeatureInfo:
    """The statistics table: info per feature name, and the names to drop."""

    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    drop: set[str] = field(default_factory=set)


def load_feature_info(path: str, reader_type: str | None = None) -> FeatureInfo:
    """Read the table; a feature_info cell that is not a JSON object is a DataError naming the row."""
    out = FeatureInfo()
    row = 0
    for batch in read_batches(path, COLUMNS, reader_type):
        for name, raw, message in zip(*(batch.column(c).to_pylist() for c in COLUMNS)):
            row += 1
            if not name:
                raise DataError(f"{path}: row {row}: empty feature name")
            try:
                info = json.loads(raw) if raw else {}
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: row {row} (feature {name!r}): feature_info is not JSON: {e}") from e
            if not isinstance(info, dict):
                raise DataError(f"{path}: row {row} (feature {name!r}): feature_info must be a JSON object, got {raw!r}")
            out.info[str(name)] = info
            if message and DROP_MARK in str(message):
                out.drop.add(str(name))
    return out


def _boundaries(value: Any, where: str) -> list[float]:
    items = value.split(",") if isinstance(value, str) else value
    try:
        return [float(v) for v in items]
    except (TypeError, ValueError) as e:
        raise DataError(f"{where}: boundary must be a list of numbers, got {value!r}") from e


def _apply(message: Any, info: dict[str, Any], name: str) -> None:
    """Set embedding_dim, then boundaries (from `boundary`) or else hash_bucket_size."""
    fields = message.DESCRIPTOR.fields_by_name
    updates: list[tuple[str, Any]] = []
    if "embedding_dim" in info:
        updates.append(("embedding_dim", int(info["embedding_dim"])))
    if "boundary" in info:
        updates.append(("boundaries", _boundaries(info["boundary"], f"feature {name!r}")))
    elif "hash_bucket_size" in info:
        updates.append(("hash_bucket_size", int(info["hash_bucket_size"])))
    for key, value in updates:
        if key not in fields:
            raise ConfigError(f"feature {name!r}", f"the table sets {key}, which {message.DESCRIPTOR.name} does not have")
        if key == "boundaries":
            message.ClearField("boundaries")
            message.boundaries.extend(value)
        else:
            setattr(message, key, value)
    logger.info("feature %s: %s", name, ", ".join(f"{k}={v}" for k, v in updates) or "nothing to set")


def update_feature_configs(config: Any, table: FeatureInfo) -> set[str]:
    """Drop and update feature_configs in place; returns the names of the non-sequence-group features kept."""
    kept_configs = []
    plain: set[str] = set()
    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        inner = getattr(fc, kind)
        if kind == "sequence_feature":
            subs = [s for s in inner.features if _qualified(inner, s) not in table.drop]
            for s in subs:
                _update_one(getattr(s, s.WhichOneof("feature")), _qualified(inner, s), table)
            if not subs:
                logger.info("drop sequence feature %s: all its features are dropped", inner.sequence_name)
                continue
            del inner.features[:]
            inner.features.extend(subs)
        else:
            if inner.feature_name in table.drop:
                logger.info("drop feature %s", inner.feature_name)
                continue
            _update_one(inner, inner.feature_name, table)
            plain.add(inner.feature_name)
        kept_configs.append(fc)
    del config.feature_configs[:]
    config.feature_configs.extend(kept_configs)
    return plain


def _qualified(sequence: Any, sub: Any) -> str:
    return f"{sequence.sequence_name}{SEQUENCE_SEPARATOR}{getattr(sub, sub.WhichOneof('feature')).feature_name}"


def _update_one(message: Any, name: str, table: FeatureInfo) -> None:
    if name in table.info:
        _apply(message, table.info[name], name)
    else:
        logger.warning("feature %s has no row in the feature-info table; left as it is", name)


def update_feature_groups(config: Any, drop: set[str], plain: set[str]) -> None:
    """Remove dropped names from groups and sequence groups; drop sequence groups with no sequence feature left."""
    for group in config.model_config.feature_groups:
        names = [n for n in group.feature_names if n not in drop]
        del group.feature_names[:]
        group.feature_names.extend(names)
        gone: set[str] = set()
        kept = []
        for sg in group.sequence_groups:
            sg_names = [n for n in sg.feature_names if n not in drop]
            if not any(n not in plain for n in sg_names):
                gone.add(sg.group_name or group.group_name)
                logger.info("drop sequence group %s: no sequence feature left", sg.group_name or group.group_name)
                continue
            del sg.feature_names[:]
            sg.feature_names.extend(sg_names)
            kept.append(sg)
        if not gone:
            continue
        del group.sequence_groups[:]
        group.sequence_groups.extend(kept)
        encoders = [e for e in group.sequence_encoders if _encoder_input(e, group.group_name) not in gone]
        del group.sequence_encoders[:]
        group.sequence_encoders.extend(encoders)


def _encoder_input(encoder: Any, group_name: str) -> str:
    inner = getattr(encoder, encoder.WhichOneof("seq_module"))
    return inner.input or group_name


def add_feature_info(template: str, output: str, table_path: str, reader_type: str | None = None) -> FeatureInfo:
    """Write `output`: the template config with the table applied; returns the table read."""
    table = load_feature_info(table_path, reader_type)
    config = load_pipeline_config(template)
    unknown = sorted(table.drop - _all_names(config))
    if unknown:
        logger.warning("features marked %r but not in the config: %s", DROP_MARK, unknown)
    plain = update_feature_configs(config, table)
    update_feature_groups(config, table.drop, plain)
    save_message(config, output)
    return table


def _all_names(config: Any) -> set[str]:
    out = set()
    for fc in config.feature_configs:
        inner = getattr(fc, fc.WhichOneof("feature"))
        if fc.WhichOneof("feature") == "sequence_feature":
            out |= {_qualified(inner, s) for s in inner.features}
        else:
            out.add(inner.feature_name)
    return out


def run(args: argparse.Namespace) -> None:
    """`rec-tools add-feature-info`."""
    table = add_feature_info(args.template_model_config_path, args.model_config_path, args.config_table_path, args.reader_type)
    print(f"{args.model_config_path}: {len(table.info)} feature(s) in the table, {len(table.drop)} dropped")
