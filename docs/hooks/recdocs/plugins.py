"""Tables of the plugins a distribution registers, read from its installed entry points."""

from __future__ import annotations

from importlib.metadata import distribution

PLUGIN_GROUP_PREFIX = "rec."


def plugin_groups(dist_name: str) -> dict[str, list[tuple[str, str]]]:
    """rec.* entry-point group -> sorted (name, object path) the distribution registers."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for ep in distribution(dist_name).entry_points:
        if ep.group.startswith(PLUGIN_GROUP_PREFIX):
            groups.setdefault(ep.group, []).append((ep.name, ep.value))
    return {g: sorted(v) for g, v in sorted(groups.items())}


def render(dist_name: str) -> str:
    """Markdown: one table per entry-point group the distribution registers plugins in."""
    groups = plugin_groups(dist_name)
    if not groups:
        return f"`{dist_name}` registers no plugins."
    lines: list[str] = []
    for group, entries in groups.items():
        lines += [f"`{group}`:", "", "| name | object |", "| --- | --- |"]
        lines += [f"| `{name}` | `{value}` |" for name, value in entries]
        lines.append("")
    return "\n".join(lines)
