"""Every command of docs/getting-started.md runs, in order, as a user would run it.

The commands run in a scratch directory that links `examples/` from the repository, so their
outputs (experiments/...) land there and nothing is written into the repository; uv is
pointed at the repository's project (`UV_PROJECT`) and told to leave its lock alone
(`UV_FROZEN`). `rec-serve` is started in the background and stopped at the end.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs/getting-started.md"
DOC_PORT = "8080"
_FENCE = re.compile(r"^```(bash|python)\n(.*?)^```", re.S | re.M)
_LAUNCHER_VARS = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK"}


def commands(markdown: str) -> list[tuple[str, str]]:
    """(language, command) for each bash command (continuations joined) and each python block."""
    out: list[tuple[str, str]] = []
    for lang, body in _FENCE.findall(markdown):
        if lang == "python":
            out.append((lang, body))
            continue
        logical = body.replace("\\\n", " ")
        for line in logical.splitlines():
            line = " ".join(line.split())
            if line and not line.startswith("#"):
                out.append((lang, line))
    return out


def test_commands_are_extracted_with_continuations() -> None:
    text = "x\n```bash\n# note\nuv run a \\\n  --b c\nuv run d\n```\n```text\nskip\n```\n```python\nprint(1)\n```\n"
    assert commands(text) == [("bash", "uv run a --b c"), ("bash", "uv run d"), ("python", "print(1)\n")]


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _wait_healthy(port: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"rec-serve exited with {server.returncode}:\n{server.stdout.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"rec-serve did not answer /health within {timeout:.0f} s")


@pytest.mark.slow
@pytest.mark.dist
@pytest.mark.timeout(1800)  # about a dozen process starts, one of them torchrun
def test_getting_started_commands_run(tmp_path: Path) -> None:
    steps = commands(GUIDE.read_text())
    assert any(c.startswith("uv run rec-train") for _, c in steps), "the guide lost its training command"
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_VARS}
    env.update(UV_PROJECT=str(ROOT), UV_FROZEN="1", NO_MKDOCS_2_WARNING="1")
    port = _free_port()  # the guide's port may be taken on a shared machine
    server: subprocess.Popen | None = None
    try:
        for lang, command in steps:
            if lang == "python":
                args, stdin = ["uv", "run", "python", "-"], command
            else:
                args, stdin = shlex.split(command.replace(DOC_PORT, port)), None
            if args[:3] == ["uv", "run", "rec-serve"]:
                server = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True, start_new_session=True)
                _wait_healthy(port, server, timeout=120)
                continue
            result = subprocess.run(args, cwd=tmp_path, env=env, input=stdin, capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, (
                f"`{command}` failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
            if args[0] == "curl":
                assert '"probs"' in result.stdout, f"`{command}` answered {result.stdout!r}"
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    assert (tmp_path / "experiments/quickstart_deepfm/train_eval_result_v2.txt").is_file()
    assert list((tmp_path / "experiments/quickstart_pred").glob("*.parquet"))
    assert any((tmp_path / "experiments/quickstart_2ranks").glob("model.ckpt-*"))
