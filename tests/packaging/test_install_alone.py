"""Each package builds a wheel and an sdist, and installs into an empty environment with only what it declares.

The wheels come from `uv build` of this checkout; third-party requirements come from the package index
(uv's cache makes them quick when the workspace is synced).
"""

from __future__ import annotations

import json
import math
import sys
import tarfile
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from packaging.requirements import Requirement

from rec_core.config import load_pipeline_config, save_message
from tests.conftest import QUICKSTART, ROOT, rec, run
from tests.packaging.conftest import (
    FBGEMM_OVERRIDE,
    PACKAGES,
    fresh_venv,
    install,
    installed,
    project,
    wheel_metadata,
)

pytestmark = pytest.mark.slow

EXPORT_CLOSURE = {f"rec-{name}" for name in ("core", "features", "data", "models", "dist", "export")}


def _artifacts(built: Path, name: str) -> tuple[Path, Path]:
    version = project(name)["version"]
    return built / f"rec_{name}-{version}-py3-none-any.whl", built / f"rec_{name}-{version}.tar.gz"


def _rec_packages(python: Path) -> dict[str, str]:
    return {dist: v for dist, v in installed(python).items() if dist.startswith("rec-")}


@pytest.mark.parametrize("name", PACKAGES)
def test_wheel_and_sdist_carry_the_version_and_inter_package_ranges(built: Path, name: str) -> None:
    wheel, sdist = _artifacts(built, name)
    assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in built.iterdir())
    meta = wheel_metadata(wheel)
    assert f"\nVersion: {project(name)['version']}\n" in meta
    requires = {line.removeprefix("Requires-Dist: ") for line in meta.splitlines() if line.startswith("Requires-Dist: rec-")}
    declared = {str(Requirement(d)) for d in project(name)["dependencies"] if d.startswith("rec-")}
    assert {str(Requirement(r)) for r in requires} == declared
    for req in map(Requirement, requires):
        # each range admits the version of the package it names, as built from this checkout
        assert req.specifier.contains(project(req.name.removeprefix("rec-"))["version"]), f"rec-{name}: {req}"


@pytest.mark.parametrize("name", PACKAGES)
def test_wheel_holds_every_source_file_and_console_script(built: Path, name: str) -> None:
    wheel, sdist = _artifacts(built, name)
    src = ROOT / f"packages/rec-{name}/src"
    sources = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next((z.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")), "")
    # protos, generated _pb2 modules, stubs and py.typed included; `uv build` makes the wheel from the sdist
    assert sources <= names, sorted(sources - names)
    assert f"rec_{name.replace('-', '_')}/py.typed" in names
    for script, target in project(name).get("scripts", {}).items():
        assert f"{script} = {target}" in entry_points
    with tarfile.open(sdist) as t:
        top = f"rec_{name}-{project(name)['version']}"
        assert {f"{top}/pyproject.toml", f"{top}/README.md"} <= set(t.getnames())


def test_rec_core_installs_alone_and_validates_a_config(built: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    install(python, built, "rec-core")
    packages = installed(python)
    assert _rec_packages(python) == {"rec-core": project("core")["version"]}
    assert not {"torch", "torchrec", "fbgemm-gpu-cpu", "pyarrow"} & set(packages), sorted(packages)

    bin_dir = python.parent
    result = run([str(bin_dir / "rec-config"), "validate", "--pipeline_config_path", str(QUICKSTART)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"OK: {QUICKSTART}" in result.stdout
    helped = run([str(bin_dir / "rec-config"), "--help"], cwd=tmp_path)
    assert helped.returncode == 0 and "validate" in helped.stdout, helped.stderr


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quickstart DeepFM trained for a few steps and exported, with the workspace environment."""
    tmp = tmp_path_factory.mktemp("export")
    config = load_pipeline_config(str(QUICKSTART))
    config.train_input_path = str(ROOT / config.train_input_path)
    config.eval_input_path = str(ROOT / config.eval_input_path)
    config.model_dir = str(tmp / "model")
    config.train_config.ClearField("num_epochs")
    config.train_config.num_steps = 5
    config.eval_config.num_steps = 1
    config.data_config.num_workers = 0
    save_message(config, str(tmp / "pipeline.config"))
    trained = rec("rec_dist.cli.train", "--pipeline_config_path", str(tmp / "pipeline.config"))
    assert trained.returncode == 0, trained.stderr[-3000:]
    exported = rec("rec_export.cli", "--pipeline_config_path", str(tmp / "pipeline.config"), "--export_dir", str(tmp / "out"))
    assert exported.returncode == 0, exported.stderr[-3000:]
    return tmp / "out"


_PREDICT = """
import json, sys
import rec_export
from rec_export import Predictor
rows = json.loads(sys.argv[2])
predictions = Predictor(sys.argv[1]).predict(rows)
loaded = sorted(m for m in ("torchrec", "rec_dist", "rec_models", "rec_data") if m in sys.modules)
print(json.dumps({"module": rec_export.__file__, "loaded": loaded, "predictions": {k: v.tolist() for k, v in predictions.items()}}))
"""


def test_rec_export_installs_with_its_requirements_only_and_serves_an_export(
    built: Path, export_dir: Path, tmp_path: Path
) -> None:
    python = fresh_venv(tmp_path / "venv")
    overrides = tmp_path / "overrides.txt"
    overrides.write_text(FBGEMM_OVERRIDE)
    install(python, built, "rec-export", overrides)
    packages = installed(python)
    assert set(_rec_packages(python)) == EXPORT_CLOSURE
    assert {"torch", "torchrec", "fbgemm-gpu-cpu"} <= set(packages) and "fbgemm-gpu" not in packages

    bin_dir = python.parent
    for script in ("rec-export", "rec-serve"):
        helped = run([str(bin_dir / script), "--help"], cwd=tmp_path)
        assert helped.returncode == 0 and "--export_dir" in helped.stdout, helped.stderr
    # the console scripts of the packages rec-export brought along work too
    for script in ("rec-config", "rec-fg", "rec-data", "rec-train", "rec-eval", "rec-predict", "rec-list-distcp-param"):
        helped = run([str(bin_dir / script), "--help"], cwd=tmp_path)
        assert helped.returncode == 0 and "usage:" in helped.stdout, f"{script}: {helped.stderr[-2000:]}"

    rows = pq.read_table(ROOT / "examples/quickstart/data/eval.parquet").drop(["clk"]).slice(0, 4).to_pylist()
    result = run([str(python), "-c", _PREDICT, str(export_dir), json.dumps(rows)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(doc["module"]).is_relative_to(tmp_path / "venv")  # the installed wheel, not the workspace
    assert doc["loaded"] == []  # rec-export README: Predictor needs neither TorchRec nor the training packages
    probs = doc["predictions"]["probs"]
    assert len(probs) == len(rows) and all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in probs), doc


def test_rec_tools_installs_with_its_requirements_only(built: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    overrides = tmp_path / "overrides.txt"
    overrides.write_text(FBGEMM_OVERRIDE)
    install(python, built, "rec-tools", overrides)
    assert set(_rec_packages(python)) == EXPORT_CLOSURE - {"rec-export"} | {"rec-tools"}
    helped = run([str(python.parent / "rec-tools"), "--help"], cwd=tmp_path)
    assert helped.returncode == 0 and "tdm-retrieval" in helped.stdout, helped.stderr[-2000:]
