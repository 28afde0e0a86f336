"""Entry-point plugins are discovered, described, loaded lazily and reported clearly when broken."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rec_core.errors import PluginError
from rec_core.registry import Registry, registry


def _fake_distribution(root: Path, dist: str, entries: dict[str, str], module: str, source: str) -> None:
    """A real installed distribution as importlib.metadata finds it: dist-info + a module on sys.path."""
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = ["[rec.test_plugins]"] + [f"{k} = {v}" for k, v in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    (root / f"{module}.py").write_text(source)


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("fake_plugin")]:
        del sys.modules[name]


def test_discovers_describes_and_loads_lazily(plugin_path: Path) -> None:
    _fake_distribution(plugin_path, "acme-recs", {"Tower": "fake_plugin_a:Tower"}, "fake_plugin_a", "class Tower:\n    pass\n")
    reg = Registry("rec.test_plugins")
    assert reg.names() == ["Tower"]
    info = reg.describe("Tower")
    assert (info.distribution, info.version, info.object_path) == ("acme-recs", "1.2.3", "fake_plugin_a:Tower")
    assert "fake_plugin_a" not in sys.modules  # describing does not import
    assert reg.get("Tower").__name__ == "Tower"


def test_unknown_name_lists_what_is_installed(plugin_path: Path) -> None:
    _fake_distribution(plugin_path, "acme-recs", {"Tower": "fake_plugin_b:Tower"}, "fake_plugin_b", "class Tower: pass\n")
    with pytest.raises(PluginError, match=r"unknown rec.test_plugins plugin 'Towr'; installed: Tower"):
        Registry("rec.test_plugins").get("Towr")


def test_two_distributions_claiming_one_name_is_an_error(plugin_path: Path) -> None:
    _fake_distribution(plugin_path / "a", "acme-one", {"Tower": "fake_plugin_c:Tower"}, "fake_plugin_c", "class Tower: pass\n")
    _fake_distribution(plugin_path / "b", "acme-two", {"Tower": "fake_plugin_d:Tower"}, "fake_plugin_d", "class Tower: pass\n")
    sys.path[:0] = [str(plugin_path / "a"), str(plugin_path / "b")]
    try:
        with pytest.raises(PluginError, match="acme-one.*acme-two|acme-two.*acme-one"):
            Registry("rec.test_plugins").names()
    finally:
        sys.path.remove(str(plugin_path / "a"))
        sys.path.remove(str(plugin_path / "b"))


def test_broken_plugin_names_its_distribution_and_is_skipped_by_load_all(plugin_path: Path) -> None:
    _fake_distribution(plugin_path, "acme-broken", {"Bad": "fake_plugin_e:Bad"}, "fake_plugin_e", "raise ImportError('no cuda here')\n")
    reg = Registry("rec.test_plugins")
    with pytest.raises(PluginError, match=r"'Bad' .* from acme-broken 1.2.3 failed to import .*no cuda here"):
        reg.get("Bad")
    assert reg.load_all() == {}


def test_autoload_can_be_disabled_for_third_parties(plugin_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(plugin_path, "acme-recs", {"Tower": "fake_plugin_f:Tower"}, "fake_plugin_f", "class Tower: pass\n")
    monkeypatch.setenv("REC_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert Registry("rec.test_plugins").names() == []


def test_builtin_models_register_like_third_parties() -> None:
    info = registry("rec.models").describe("DeepFM")
    assert info.distribution == "rec-models"
    assert info.object_path == "rec_models.models.deepfm:DeepFM"


def test_autoload_off_keeps_only_recs_own_distributions(plugin_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a third party may well name its package rec-something; it is still a third party
    _fake_distribution(plugin_path, "rec-plugin-x", {"Tower": "fake_plugin_g:Tower"}, "fake_plugin_g", "class Tower: pass\n")
    monkeypatch.setenv("REC_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert Registry("rec.test_plugins").names() == []
