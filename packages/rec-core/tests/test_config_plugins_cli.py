"""`rec-config plugins`: installed plugins by group, with distribution and version, none imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from rec_core.registry import GROUPS

REC_CONFIG = str(Path(sys.executable).parent / "rec-config")
# importing the module would fail the listing: proof that the command only reads metadata
BROKEN_MODULE = 'raise RuntimeError("plugin module imported")\n'


def _distribution(site: Path, name: str, entry_points: str) -> None:
    """A minimal installed distribution `name` 2.5.1 with the given entry_points.txt."""
    module = name.replace("-", "_")
    (site / f"{module}.py").write_text(BROKEN_MODULE)
    info = site / f"{module}-2.5.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 2.5.1\n")
    (info / "entry_points.txt").write_text(entry_points.format(module=module))


def _rec_config(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    inherited = {k: v for k, v in os.environ.items() if k != "REC_DISABLE_PLUGIN_AUTOLOAD"}
    full_env = {**inherited, "PYTHONPATH": str(site), **env}
    return subprocess.run([REC_CONFIG, "plugins", *args], capture_output=True, text=True, timeout=60, env=full_env)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    _distribution(tmp_path, "acme-rec", "[rec.models]\nAcmeNet = {module}:AcmeNet\n\n[rec.samplers]\nacme = {module}:Sampler\n")
    return tmp_path


def test_lists_every_group_with_distribution_and_version(site: Path) -> None:
    result = _rec_config(site)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if not line.startswith(" ")] == [f"{g}:" for g in GROUPS]
    models = lines[lines.index("rec.models:") + 1 : lines.index("rec.features:")]
    assert any(line.split() == ["AcmeNet", "acme-rec", "2.5.1", "(acme_rec:AcmeNet)"] for line in models), models
    assert any(line.split() == ["DeepFM", "rec-models", version("rec-models"), "(rec_models.models.deepfm:DeepFM)"] for line in models)
    assert "acme" in result.stdout.split("rec.samplers:")[1].split("rec.exporters:")[0]


def test_imports_no_plugin_module_nor_the_training_stack() -> None:
    code = (
        "import sys; from rec_core.cli.config_cli import main; assert main(['plugins']) == 0; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'rec_models', 'rec_data', 'rec_export'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_json_for_chosen_groups(site: Path) -> None:
    result = _rec_config(site, "--group", "rec.samplers", "--group", "rec.models", "--format", "json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert list(listing) == ["rec.samplers", "rec.models"]
    assert {"name": "AcmeNet", "distribution": "acme-rec", "version": "2.5.1", "object": "acme_rec:AcmeNet"} in listing["rec.models"]


def test_autoload_off_hides_third_party_plugins(site: Path) -> None:
    result = _rec_config(site, "--group", "rec.models", REC_DISABLE_PLUGIN_AUTOLOAD="1")
    assert result.returncode == 0, result.stderr
    assert "DeepFM" in result.stdout and "AcmeNet" not in result.stdout


def test_a_name_two_distributions_claim_is_one_error_naming_both(site: Path) -> None:
    _distribution(site, "other-rec", "[rec.models]\nAcmeNet = {module}:Net\n")
    result = _rec_config(site, "--group", "rec.models")
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err.startswith("error: plugin name 'AcmeNet' in group rec.models is claimed by both") and "\n" not in err
    assert "acme-rec" in err and "other-rec" in err


def test_unknown_group_is_a_usage_error(site: Path) -> None:
    result = _rec_config(site, "--group", "rec.nothing")
    assert result.returncode == 2 and "invalid choice: 'rec.nothing'" in result.stderr
