"""The documentation site: it builds without a warning, and its generated pages follow the code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs/hooks"))

from recdocs import cli_help, config_reference, plugins, tutorials  # noqa: E402


@pytest.mark.slow
def test_site_builds_strict_without_warnings(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "WARNING" not in log, log
    assert "EasyRecConfig" in (site / "config/pipeline/index.html").read_text()
    for example in tutorials.find_examples(ROOT):
        assert (site / example.src_uri.removesuffix(".md") / "index.html").is_file(), example.path
    assert "--pipeline_config_path" in (site / "packages/rec-dist/index.html").read_text()
    assert "rec_models.models.deepfm:DeepFM" in (site / "packages/rec-models/index.html").read_text()


def test_config_reference_covers_every_field_of_the_root_and_its_details() -> None:
    pages = config_reference.generate()
    pipeline = pages["config/pipeline.md"]
    for field in config_reference.root_descriptor().fields:
        assert f"| `{field.name}` | {field.number} |" in pipeline
    feature = pages["config/feature.md"]
    assert "| `id_feature` | 1 | [`IdFeature`](#rec-protos-idfeature) | optional |  | `feature` |" in feature
    assert "Oneof `feature`: set at most one of" in feature
    assert "Sharding / kernel restrictions for an embedding table." in feature  # a .proto comment
    model = pages["config/model.md"]
    assert "| `group_type` | 3 | [`FeatureGroupType`](#rec-protos-featuregrouptype) | required | `DEEP` |" in model
    assert "| `WIDE` |" in model  # enum values are listed
    assert "| `vocab_dict` | 8 | map&lt;`string`, `uint64`&gt; | map |" in feature


def test_config_reference_links_resolve_to_generated_sections() -> None:
    pages = config_reference.generate()
    anchors = {(uri.rsplit("/", 1)[1], a) for uri, text in pages.items() for a in _anchors(text)}
    for uri, text in pages.items():
        page = uri.rsplit("/", 1)[1]
        for target, anchor in _links(text):
            assert (target or page, anchor) in anchors, f"{uri}: dangling link {target}#{anchor}"


def _anchors(text: str) -> list[str]:
    return [line.split("{ #", 1)[1].split(" }", 1)[0] for line in text.splitlines() if "{ #" in line]


def _links(text: str) -> list[tuple[str, str]]:
    import re

    return re.findall(r"\]\(([\w.]*)#([\w-]+)\)", text)


def test_a_new_example_config_gets_a_tutorial_page(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "examples/newset").mkdir(parents=True)
    text = (ROOT / "examples/quickstart/deepfm.config").read_text()
    header = "# A new example.\n# Data:\n#   rec-data synth --pipeline_config_path x --num_rows 10 --output y\n"
    (repo / "examples/newset/wide.config").write_text(header + text)
    pages = tutorials.generate(repo, ROOT / "docs")
    page = pages["tutorials/newset/wide.md"]
    assert "- Model: `DeepFM`" in page
    assert "uv run rec-data synth --pipeline_config_path x --num_rows 10 --output y" in page
    assert "uv run rec-train --pipeline_config_path examples/newset/wide.config" in page
    assert "| [wide.config](wide.md) | A new example. |" in pages["tutorials/newset/index.md"]
    assert tutorials.nav(pages) == [{"examples/newset": ["tutorials/newset/index.md", "tutorials/newset/wide.md"]}]


def test_an_easyrec_example_is_converted_before_training(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "examples/easyrec", repo / "examples/easyrec")
    page = tutorials.generate(repo, ROOT / "docs")["tutorials/easyrec/deepfm.md"]
    assert "uv run rec-tools convert-easyrec --easyrec_config_path examples/easyrec/deepfm.config" in page


def test_cli_help_comes_from_the_parsers_the_commands_build() -> None:
    help_by_prog = dict(cli_help.help_texts(cli_help.console_scripts("rec-dist")["rec-train"]))
    assert "--edit_config_json" in help_by_prog["rec-train"]
    tools = dict(cli_help.help_texts(cli_help.console_scripts("rec-tools")["rec-tools"]))
    assert "--easyrec_config_path" in tools["rec-tools convert-easyrec"]


def test_plugin_tables_list_the_registered_entry_points() -> None:
    groups = plugins.plugin_groups("rec-data")
    assert ("ParquetReader", "rec_data.readers.parquet:ParquetReader") in groups["rec.readers"]
    assert plugins.render("rec-dist") == "`rec-dist` registers no plugins."
