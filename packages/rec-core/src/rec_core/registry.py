"""A lazy plugin registry over Python entry points, one per group (rec.models, rec.readers, ...).

Built-in plugins are declared as entry points by rec's own packages, exactly as a third
party would declare theirs, so both are found, described and loaded the same way.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from rec_core.errors import PluginError
from rec_core.logging_utils import get_logger

logger = get_logger(__name__)

GROUPS = (
    "rec.models",
    "rec.features",
    "rec.readers",
    "rec.writers",
    "rec.samplers",
    "rec.exporters",
    "rec.losses",
    "rec.metrics",
)
# Distributions whose plugins stay on when REC_DISABLE_PLUGIN_AUTOLOAD=1: rec's own packages.
BUILTIN_DISTRIBUTIONS = frozenset(
    f"rec-{p}" for p in ("core", "features", "data", "models", "dist", "export", "tools")
)


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin comes from: its name, group, providing distribution, version and object path."""

    name: str
    group: str
    distribution: str
    version: str
    object_path: str


def _autoload_disabled() -> bool:
    return os.environ.get("REC_DISABLE_PLUGIN_AUTOLOAD", "").lower() in ("1", "true", "yes")


class Registry:
    """Plugins of one entry-point group, discovered on first use and imported only when asked for."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._entries: dict[str, tuple[PluginInfo, EntryPoint | None]] | None = None
        self._loaded: dict[str, Any] = {}
        self._local: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _discover(self) -> dict[str, tuple[PluginInfo, EntryPoint | None]]:
        if self._entries is not None:
            return self._entries
        found: dict[str, tuple[PluginInfo, EntryPoint | None]] = {}
        disabled = _autoload_disabled()
        for ep in entry_points(group=self.group):
            dist_name = ep.dist.name if ep.dist is not None else "<unknown>"
            version = ep.dist.version if ep.dist is not None else "?"
            if disabled and dist_name not in BUILTIN_DISTRIBUTIONS:
                continue
            info = PluginInfo(ep.name, self.group, dist_name, version, ep.value)
            if ep.name in found and found[ep.name][0].distribution != dist_name:
                other = found[ep.name][0]
                raise PluginError(
                    f"plugin name {ep.name!r} in group {self.group} is claimed by both "
                    f"{other.distribution} ({other.object_path}) and {dist_name} ({ep.value})"
                )
            found[ep.name] = (info, ep)
        self._entries = found
        return found

    def register(self, name: str, obj: Any) -> None:
        """Register an object under `name` in this process only (for tests and interactive use)."""
        with self._lock:
            self._local[name] = obj

    def names(self) -> list[str]:
        """Sorted names of every plugin in the group, importable or not."""
        return sorted(set(self._discover()) | set(self._local))

    def describe(self, name: str) -> PluginInfo:
        """Where the plugin `name` comes from, without importing it."""
        if name in self._local:
            obj = self._local[name]
            path = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"
            return PluginInfo(name, self.group, "<local>", "", path)
        entries = self._discover()
        if name not in entries:
            raise self._unknown(name)
        return entries[name][0]

    def get(self, name: str) -> Any:
        """Import and return the plugin `name`; an unknown name lists what is installed."""
        if name in self._local:
            return self._local[name]
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            entries = self._discover()
            if name not in entries:
                raise self._unknown(name)
            info, ep = entries[name]
            try:
                obj = ep.load()  # type: ignore[union-attr]
            except Exception as e:  # a broken plugin must name its distribution, not vanish
                raise PluginError(
                    f"plugin {name!r} ({self.group}) from {info.distribution} {info.version} "
                    f"failed to import {info.object_path}: {type(e).__name__}: {e}"
                ) from e
            self._loaded[name] = obj
            return obj

    def load_all(self) -> dict[str, Any]:
        """Import every plugin; ones that fail are logged with their distribution and skipped."""
        out = {}
        for name in self.names():
            try:
                out[name] = self.get(name)
            except PluginError as e:
                logger.warning("skipping plugin: %s", e)
        return out

    def _unknown(self, name: str) -> PluginError:
        installed = ", ".join(self.names()) or "(none)"
        return PluginError(f"unknown {self.group} plugin {name!r}; installed: {installed}")


_REGISTRIES: dict[str, Registry] = {}


def registry(group: str) -> Registry:
    """The process-wide registry of an entry-point group."""
    if group not in _REGISTRIES:
        _REGISTRIES[group] = Registry(group)
    return _REGISTRIES[group]
