"""Exporters are plugins: built-ins and a third party's, found through the `rec.exporters` entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rec_core.errors import PluginError
from rec_core.registry import registry
from rec_export.acc import AccConfig
from rec_export.exporter import export
from rec_export.testing import check_exporter

THIRD_PARTY = '''
"""A third party's exporter: TorchScript frozen for inference (weights folded in as constants)."""
import os
import torch
from rec_export.exporters.base import Exporter, load_fbgemm_ops


class FrozenExporter(Exporter):
    name = "frozen"

    def export(self, job):
        from torchrec.fx import symbolic_trace

        scripted = torch.jit.script(symbolic_trace(job.wrapper)).eval()
        torch.jit.freeze(scripted).save(os.path.join(job.out_dir, "frozen.pt"))
        return {"FROZEN": "1"}

    @classmethod
    def load_runner(cls, export_dir, device, acc):
        load_fbgemm_ops()
        return torch.jit.load(os.path.join(export_dir, "frozen.pt"), map_location=device)
'''


def test_builtins_are_registered_through_entry_points() -> None:
    exporters = registry("rec.exporters")
    assert {"torchscript", "aot", "trt"} <= set(exporters.names())
    assert exporters.describe("torchscript").distribution == "rec-export"


def test_an_unknown_exporter_lists_the_installed_ones(project: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="installed: .*torchscript"):
        export(str(project["config"]), str(tmp_path / "x"), exporter="onnx", acc=AccConfig(quant_emb=""))
    assert not (tmp_path / "x").exists()


def test_the_torchscript_exporter_conforms(project: dict[str, Path], tmp_path: Path) -> None:
    check_exporter("torchscript", str(project["config"]), str(tmp_path / "ts"), pq.read_table(project["data"]).slice(0, 100))


@pytest.mark.slow  # a fresh interpreter imports torch and TorchRec
def test_a_third_party_exporter_plugs_in_through_its_distribution(project: dict[str, Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "frozen_exporter").mkdir(parents=True)
    (site / "frozen_exporter" / "__init__.py").write_text(THIRD_PARTY)
    info = site / "frozen_exporter-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: frozen-exporter\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[rec.exporters]\nfrozen = frozen_exporter:FrozenExporter\n")
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(site)!r})
        import pyarrow.parquet as pq
        from rec_export.testing import check_exporter
        rows = pq.read_table({str(project['data'])!r}).slice(0, 50)
        predictor = check_exporter("frozen", {str(project['config'])!r}, {str(tmp_path / 'out')!r}, rows)
        print("ACC", predictor.acc["EXPORTER"], predictor.acc["FROZEN"])
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ACC frozen 1" in result.stdout
    assert (tmp_path / "out" / "frozen.pt").is_file()
