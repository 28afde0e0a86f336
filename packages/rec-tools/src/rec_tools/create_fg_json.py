"""`rec-tools create-fg-json`: fg.json for a pipeline config, with the files it reads beside it.

The document comes from rec_features.fg_json (what `rec-fg create-json` and exports write).
Every file a feature reads (vocab files, tokenizer models; `BaseFeature.assets()`) is copied
into the output directory under its own name, and the entries naming it are pointed at that
copy, so the directory is self-contained.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from typing import Any

from rec_core.config import load_pipeline_config
from rec_core.errors import ConfigError
from rec_core.fs import atomic_write
from rec_core.logging_utils import get_logger

logger = get_logger(__name__)

FG_JSON = "fg.json"
ASSET_DIR = "asset_dir"
# fg.json keys that bucketize a feature's value; tokenizers keep their vocab_file
BUCKETIZE_KEYS = ("hash_bucket_size", "num_buckets", "boundaries", "vocab_list", "vocab_dict", "vocab_file", "default_bucketize_value")
_TOKENIZERS = ("tokenize_feature", "sequence_tokenize_feature")


def feature_entries(node: Any) -> list[dict[str, Any]]:
    """Every feature entry (a dict with `feature_type`) in an fg.json document, grouped ones included."""
    if isinstance(node, list):
        return [e for v in node for e in feature_entries(v)]
    if not isinstance(node, dict):
        return []
    own = [node] if "feature_type" in node else []
    return own + [e for v in node.values() if isinstance(v, (list, dict)) for e in feature_entries(v)]


def remove_bucketizers(document: dict[str, Any]) -> None:
    """Drop the bucketize keys of every entry, so FG emits values before bucketizing."""
    for entry in feature_entries(document):
        if entry["feature_type"] not in _TOKENIZERS:
            for key in BUCKETIZE_KEYS:
                entry.pop(key, None)


def localize_assets(document: dict[str, Any], assets: list[str], out_dir: str) -> list[str]:
    """Copy each asset still named by an entry into out_dir and name it by its file name there.

    Returns the file names written; two different files with one name are a ConfigError.
    """
    by_path = {os.path.normpath(os.path.abspath(p)): p for p in assets}
    written: dict[str, str] = {}
    for entry in feature_entries(document):
        base = entry.get(ASSET_DIR, "")
        changed = False
        for node in [entry] + [v for v in entry.values() if isinstance(v, dict)]:
            for key, value in list(node.items()):
                if key == ASSET_DIR or not isinstance(value, str) or not value:
                    continue
                resolved = value if os.path.isabs(value) or not base else os.path.join(base, value)
                source = by_path.get(os.path.normpath(os.path.abspath(resolved)))
                if source is None:
                    continue
                name = os.path.basename(source)
                if written.setdefault(name, source) != source:
                    raise ConfigError("feature_configs", f"assets {written[name]!r} and {source!r} share the file name {name!r}")
                node[key] = name
                changed = True
        if changed:
            entry.pop(ASSET_DIR, None)
    for name, source in written.items():
        if not os.path.isfile(source):
            raise ConfigError("feature_configs", f"asset file {source!r} read by a feature does not exist")
        shutil.copyfile(source, os.path.join(out_dir, name))
    return sorted(written)


def create_fg_json(pipeline_config_path: str, fg_output_dir: str, reserves: list[str], remove_bucketizer: bool) -> str:
    """Write `<fg_output_dir>/fg.json` (+ assets) for a pipeline config; returns the fg.json path."""
    from rec_features.features import FG_NORMAL, create_features
    from rec_features.fg_json import create_fg_json as fg_document

    config = load_pipeline_config(pipeline_config_path)
    # fg.json describes FG from raw inputs whatever mode the training data is in (as rec-fg create-json)
    features = create_features(config.feature_configs, FG_NORMAL, config.data_config.fg_encoded_multival_sep)
    document = fg_document(features)
    if reserves:
        document["reserves"] = reserves
    if remove_bucketizer:
        remove_bucketizers(document)
    os.makedirs(fg_output_dir, exist_ok=True)
    copied = localize_assets(document, [a for f in features for a in f.assets()], fg_output_dir)
    path = os.path.join(fg_output_dir, FG_JSON)
    with atomic_write(path) as f:
        json.dump(document, f, indent=2, ensure_ascii=False)
    logger.info("wrote %s (%d features, assets: %s)", path, len(feature_entries(document)), copied or "none")
    return path


def run(args: argparse.Namespace) -> None:
    """`rec-tools create-fg-json`."""
    reserves = [c.strip() for c in args.reserves.split(",") if c.strip()]
    print(create_fg_json(args.pipeline_config_path, args.fg_output_dir, reserves, args.remove_bucketizer))
