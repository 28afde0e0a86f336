"""MkDocs hook: generates the config reference and the example tutorials, and fills in CLI help
and plugin tables, on every build, so none of it is committed or goes stale.

In a page, `<!-- rec:cli DIST -->` becomes the `--help` of every command DIST installs and
`<!-- rec:plugins DIST -->` the plugins DIST registers. In mkdocs.yml's nav, the entry
"Config reference" becomes the generated reference pages and the "Tutorials" section gets one
subsection per examples directory.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from recdocs import cli_help, config_reference, plugins, tutorials

CONFIG_NAV_TITLE = "Config reference"
TUTORIALS_NAV_TITLE = "Tutorials"
_MARKER = re.compile(r"<!-- rec:(cli|plugins) ([\w-]+) -->")
_RENDERERS = {"cli": cli_help.render, "plugins": plugins.render}

_generated: dict[str, str] = {}


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Generate the pages and put them into the navigation."""
    docs_dir = Path(config.docs_dir)
    reference = config_reference.generate()
    guides = tutorials.generate(docs_dir.parent, docs_dir)
    _generated.clear()
    _generated.update(reference)
    _generated.update(guides)
    for entry in config.nav or []:
        if not isinstance(entry, dict):
            continue
        if CONFIG_NAV_TITLE in entry:
            entry[CONFIG_NAV_TITLE] = list(reference)
        if TUTORIALS_NAV_TITLE in entry:
            entry[TUTORIALS_NAV_TITLE] = [*_as_list(entry[TUTORIALS_NAV_TITLE]), *tutorials.nav(guides)]
    return config


def _as_list(value: object) -> list:
    return list(value) if isinstance(value, list) else [value]


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages to the site."""
    for src_uri, content in _generated.items():
        files.append(File.generated(config, src_uri, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace the CLI-help and plugin-table markers with what the installed packages declare."""
    return _MARKER.sub(lambda m: _RENDERERS[m.group(1)](m.group(2)), markdown)
