"""The package dependency direction is enforced by import-linter."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is not installed in the test environment"
    return exe


def test_layer_contract_holds() -> None:
    result = subprocess.run([_lint_imports()], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_contract_catches_an_upward_import(tmp_path: Path) -> None:
    # A copy of rec_core that imports rec_dist must break the contract.
    bad = ROOT / "packages/rec-core/src/rec_core/_layer_probe.py"
    bad.write_text("import rec_dist  # noqa: F401\n")
    try:
        result = subprocess.run([_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    finally:
        bad.unlink()
    assert result.returncode != 0
    assert "rec_core._layer_probe -> rec_dist" in result.stdout
