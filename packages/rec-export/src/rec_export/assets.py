"""Asset files of an export (vocab files, tokenizer models): copied in, and the configs that name them rewritten.

Each file a feature reads is copied as `<stem>_<md5><ext>`, and every config value naming it
(fg.json entries and pipeline.config feature configs) becomes that bare name with no
`asset_dir`. A loader points `asset_dir` at the export directory, wherever it lives.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from typing import Any

from rec_core.errors import ConfigError

ASSET_DIR = "asset_dir"


def _md5(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_assets(paths: Iterable[str], out_dir: str) -> dict[str, str]:
    """Copy each file to `out_dir` as `<stem>_<md5><ext>`; {normalised source path: new name}."""
    mapping: dict[str, str] = {}
    for path in paths:
        key = os.path.normpath(path)
        if key in mapping:
            continue
        if not os.path.isfile(path):
            raise ConfigError("feature_configs", f"asset file {path!r} read by a feature does not exist")
        stem, ext = os.path.splitext(os.path.basename(path))
        mapping[key] = f"{stem}_{_md5(path)}{ext}"
        shutil.copyfile(path, os.path.join(out_dir, mapping[key]))
    return mapping


def rewrite_asset_paths(node: Any, mapping: dict[str, str], asset_dir: str = "") -> bool:
    """Replace, in a JSON-like config tree, strings that resolve to a copied asset by its new name.

    A dict's `asset_dir` (inherited by nested dicts) resolves relative names, as features do;
    it is dropped where a name was replaced. Returns True when anything changed.
    """
    if isinstance(node, list):
        return any([rewrite_asset_paths(v, mapping, asset_dir) for v in node])
    if not isinstance(node, dict):
        return False
    here = node.get(ASSET_DIR) or asset_dir
    changed = False
    for key, value in node.items():
        if isinstance(value, str) and key != ASSET_DIR:
            resolved = os.path.normpath(value if os.path.isabs(value) or not here else os.path.join(here, value))
            if value and resolved in mapping:
                node[key] = mapping[resolved]
                changed = True
        elif rewrite_asset_paths(value, mapping, here):
            changed = True
    if changed:
        node.pop(ASSET_DIR, None)
    return changed


def point_assets_at(node: Any, export_dir: str) -> None:
    """Give every fg.json feature entry without an `asset_dir` the export directory as one."""
    if isinstance(node, list):
        for v in node:
            point_assets_at(v, export_dir)
    elif isinstance(node, dict):
        if "feature_type" in node and not node.get(ASSET_DIR):
            node[ASSET_DIR] = export_dir
        for v in node.values():
            point_assets_at(v, export_dir)
