"""Semantic checks of a loaded pipeline config; every problem is reported with its field path."""

from __future__ import annotations

import difflib
import re

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from rec_core.errors import ConfigError
from rec_core.protos.pipeline_pb2 import EasyRecConfig

__all__ = ["check_pipeline_config", "feature_names"]

# Models that learn from embeddings alone and read no label column.
_LABEL_FREE_MODELS = {"sid_rqvae", "sid_rqkmeans"}
_PATH_PART = re.compile(r"^(\w+)(?:\[[^\]]*\])?$")


def _field_at(root: Descriptor, path: str) -> FieldDescriptor | None:
    """Descriptor of the field a FindInitializationErrors path such as `a[0].b.c` names."""
    desc: Descriptor | None = root
    fd = None
    for part in path.split("."):
        m = _PATH_PART.match(part)
        if desc is None or m is None:
            return None
        fd = desc.fields_by_name.get(m.group(1))
        if fd is None:
            return None
        desc = fd.message_type
    return fd


def _missing_required(config: EasyRecConfig) -> list[tuple[str, str]]:
    errors = []
    for path in config.FindInitializationErrors():
        fd = _field_at(config.DESCRIPTOR, path)
        # TorchEasyRec never enforces `required`; a declared default (e.g. group_type = DEEP,
        # dataset_type = OdpsDataset) is what it runs with, so only default-less ones are errors.
        if fd is not None and fd.has_default_value:
            continue
        errors.append((path, "required field is not set"))
    return errors


def feature_names(config: EasyRecConfig) -> dict[str, str]:
    """Every feature name a feature group may reference, mapped to the path that defines it.

    Grouped-sequence sub-features are referenced as `{sequence_name}__{feature_name}`.
    """
    names, _ = _collect_features(config)
    return names


def _collect_features(config: EasyRecConfig) -> tuple[dict[str, str], list[tuple[str, str]]]:
    names: dict[str, str] = {}
    errors: list[tuple[str, str]] = []

    def define(name: str, path: str) -> None:
        if name in names:
            errors.append((path, f'duplicate feature name "{name}", first defined at {names[name]}'))
        else:
            names[name] = path

    for i, fc in enumerate(config.feature_configs):
        base = f"feature_configs[{i}]"
        kind = fc.WhichOneof("feature")
        if kind is None:
            errors.append((base, "no feature type set (expected one of id_feature, raw_feature, ...)"))
            continue
        feat = getattr(fc, kind)
        if kind != "sequence_feature":
            if feat.feature_name:
                define(feat.feature_name, f"{base}.{kind}.feature_name")
            continue
        seq = feat.sequence_name
        for j, sub in enumerate(feat.features):
            sub_base = f"{base}.sequence_feature.features[{j}]"
            sub_kind = sub.WhichOneof("feature")
            if sub_kind is None:
                errors.append((sub_base, "no feature type set in sequence sub-feature"))
                continue
            sub_name = getattr(sub, sub_kind).feature_name
            if sub_name:
                define(f"{seq}__{sub_name}", f"{sub_base}.{sub_kind}.feature_name")
    return names, errors


def _unknown_feature(name: str, known: dict[str, str]) -> str:
    grouped = [k for k in known if k.endswith(f"__{name}")]
    close = grouped or difflib.get_close_matches(name, list(known), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    listing = ", ".join(sorted(known)) if known else "(none)"
    return f'unknown feature "{name}"; {hint}known features: {listing}'


def _check_groups(config: EasyRecConfig, known: dict[str, str]) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    seen_groups: dict[str, str] = {}
    for gi, group in enumerate(config.model_config.feature_groups):
        gpath = f"model_config.feature_groups[{gi}]"
        if group.group_name in seen_groups:
            errors.append((f"{gpath}.group_name", f'duplicate group name "{group.group_name}", first at {seen_groups[group.group_name]}'))
        else:
            seen_groups[group.group_name] = gpath
        for fi, name in enumerate(group.feature_names):
            if name not in known:
                errors.append((f"{gpath}.feature_names[{fi}]", _unknown_feature(name, known)))
        seq_group_names = []
        for si, sg in enumerate(group.sequence_groups):
            seq_group_names.append(sg.group_name or group.group_name)
            for fi, name in enumerate(sg.feature_names):
                if name not in known:
                    errors.append((f"{gpath}.sequence_groups[{si}].feature_names[{fi}]", _unknown_feature(name, known)))
        for ei, enc in enumerate(group.sequence_encoders):
            kind = enc.WhichOneof("seq_module")
            epath = f"{gpath}.sequence_encoders[{ei}]"
            if kind is None:
                errors.append((epath, "no sequence encoder set"))
                continue
            target = getattr(enc, kind).input
            if target not in seq_group_names:
                choices = ", ".join(seq_group_names) or "(no sequence_groups in this group)"
                errors.append((f"{epath}.{kind}.input", f'"{target}" is not a sequence group of {group.group_name}; expected one of: {choices}'))
    return errors


def _check_training(config: EasyRecConfig, for_training: bool) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if config.HasField("train_config"):
        tc = config.train_config
        has_steps, has_epochs = tc.HasField("num_steps"), tc.HasField("num_epochs")
        if has_steps and has_epochs:
            errors.append(("train_config.num_steps", "set exactly one of num_steps and num_epochs, not both"))
        elif for_training and not (has_steps or has_epochs):
            errors.append(("train_config.num_epochs", "set one of num_steps or num_epochs to train"))
    elif for_training:
        errors.append(("train_config", "required for training"))
    if for_training:
        if not config.HasField("data_config"):
            errors.append(("data_config", "required for training"))
        elif not config.data_config.label_fields and config.model_config.WhichOneof("model") not in _LABEL_FREE_MODELS:
            errors.append(("data_config.label_fields", "no label fields; training needs at least one label column"))
    return errors


def check_pipeline_config(config: EasyRecConfig, source: str | None = None, for_training: bool = False) -> None:
    """Raise ConfigError listing every problem, one `path: message` per line (the first names the first field)."""
    errors = _missing_required(config)
    if not config.HasField("model_config"):
        errors.append(("model_config", "missing; a pipeline config needs a model"))
    elif config.model_config.WhichOneof("model") is None:
        choices = ", ".join(f.name for f in config.model_config.DESCRIPTOR.oneofs_by_name["model"].fields)
        errors.append(("model_config", f"no model set; expected one of: {choices}"))
    known, feature_errors = _collect_features(config)
    errors += feature_errors
    errors += _check_groups(config, known)
    errors += _check_training(config, for_training)
    if not errors:
        return
    (path, message), rest = errors[0], errors[1:]
    if rest:
        message += "".join(f"\n{p}: {m}" for p, m in rest)
    err = ConfigError(path, message, source=source)
    err.errors = errors  # type: ignore[attr-defined]
    raise err
