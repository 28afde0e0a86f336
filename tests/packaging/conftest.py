"""Wheels and sdists of the seven rec packages, built once per test module, and fresh virtual environments."""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, run

PACKAGES = ("core", "features", "data", "models", "dist", "export", "tools")
# the root pyproject's [tool.uv] override-dependencies: torchrec asks for the CUDA fbgemm-gpu, which the
# packages replace with fbgemm-gpu-cpu
FBGEMM_OVERRIDE = "fbgemm-gpu; sys_platform == 'never'\n"


def uv(*args: str, timeout: int = 300) -> str:
    """Run uv; its stdout, or a failed assertion carrying its stderr."""
    exe = shutil.which("uv")
    if exe is None:
        pytest.skip("uv is not on PATH")
    result = run([exe, *args], timeout=timeout)
    assert result.returncode == 0, f"uv {' '.join(args)}\n{result.stderr[-3000:]}"
    return result.stdout


def project(name: str) -> dict:
    """The [project] table of packages/rec-<name>/pyproject.toml."""
    return tomllib.loads((ROOT / f"packages/rec-{name}/pyproject.toml").read_text())["project"]


def wheel_metadata(wheel: Path) -> str:
    """The METADATA file of a wheel."""
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        return z.read(name).decode()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the wheel and the sdist of every package, built from this checkout."""
    out = tmp_path_factory.mktemp("dist")
    for name in PACKAGES:
        uv("build", "--package", f"rec-{name}", "--out-dir", str(out), "--quiet")
    return out


def fresh_venv(path: Path) -> Path:
    """An empty virtual environment on this interpreter's Python; its python executable."""
    uv("venv", "--quiet", "--python", sys.executable, str(path))
    return path / "bin" / "python"


def install(python: Path, wheels: Path, requirement: str, overrides: Path | None = None) -> None:
    """Install one package from the built wheels (third-party requirements from the package index)."""
    extra = ["--overrides", str(overrides)] if overrides else []
    uv("pip", "install", "--quiet", "--python", str(python), "--find-links", str(wheels), *extra, requirement)


def installed(python: Path) -> dict[str, str]:
    """Distribution name -> version of everything installed in the environment of `python`."""
    lines = uv("pip", "freeze", "--python", str(python)).splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line)
