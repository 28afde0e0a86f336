"""Importing a rec package loads no TorchRec / FBGEMM (rec-core: not even torch, which it runs without), and
every rec console script answers --help without importing torch at all, so the CLIs answer at once."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import run
from tests.packaging.conftest import PACKAGES, project

HEAVY = ("torchrec", "fbgemm_gpu")
WITH_TORCH = ("torch", *HEAVY)

_PROBE = """
import importlib, json, sys
module, attr, heavy = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
target = importlib.import_module(module)
code = 0
if attr:
    sys.argv = ["prog", "--help"]
    try:
        getattr(target, attr)()
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "loaded": sorted(m for m in heavy if m in sys.modules)}))
"""


def _scripts() -> list:
    """(script, "module:function") of every [project.scripts] entry of the packages."""
    found = []
    for name in PACKAGES:
        found += [pytest.param(script, target, id=script) for script, target in project(name).get("scripts", {}).items()]
    return found


def _probe(module: str, attr: str, heavy: tuple[str, ...]) -> tuple[dict, str]:
    """What `module` (and then `module.attr` with --help) loaded of `heavy`, and the output."""
    result = run([sys.executable, "-c", _PROBE, module, attr, ",".join(heavy)], timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout


@pytest.mark.parametrize("name", PACKAGES)
def test_importing_a_package_loads_no_torchrec(name: str) -> None:
    heavy = WITH_TORCH if name == "core" else HEAVY
    assert _probe(f"rec_{name}", "", heavy)[0]["loaded"] == []


@pytest.mark.parametrize(("script", "target"), _scripts())
def test_console_script_help_loads_no_torch(script: str, target: str) -> None:
    module, attr = target.split(":")
    doc, out = _probe(module, attr, WITH_TORCH)
    assert doc["code"] in (0, None), f"{script} --help exited {doc['code']}"
    assert "usage:" in out
    assert doc["loaded"] == [], f"{script} --help imported {doc['loaded']}"
