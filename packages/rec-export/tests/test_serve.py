"""rec-serve: /predict and /health over loopback, 4xx for bad requests, correct under concurrent load."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from rec_export import Predictor
from rec_export.acc import AccConfig
from rec_export.exporter import export
from rec_export.serve import make_server


@pytest.fixture(scope="module")
def exported(project: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serve") / "e"
    export(str(project["config"]), str(out), acc=AccConfig(quant_emb=""))
    return out


@pytest.fixture(scope="module")
def server(exported: Path) -> Iterator[tuple[str, int]]:
    srv = make_server(Predictor(str(exported)), "127.0.0.1", 0, max_body_bytes=20_000, max_rows=50)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[0], srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def request(address: tuple[str, int], method: str, path: str, body: Any = None, raw: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(*address, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers=headers or {})
    response = conn.getresponse()
    status, doc = response.status, json.loads(response.read() or b"{}")
    conn.close()
    return status, doc


def _rows(project: dict[str, Path], start: int, n: int) -> list[dict]:
    return pq.read_table(project["data"]).drop(["clk"]).slice(start, n).to_pylist()


def test_health_and_predict(server: tuple[str, int], exported: Path, project: dict[str, Path]) -> None:
    status, doc = request(server, "GET", "/health")
    assert status == 200 and doc["status"] == "ok" and doc["exporter"] == "torchscript"
    rows = _rows(project, 0, 20)
    status, doc = request(server, "POST", "/predict", {"rows": rows})
    assert status == 200, doc
    expected = Predictor(str(exported)).predict(rows)
    np.testing.assert_allclose(doc["predictions"]["probs"], expected["probs"], atol=1e-6)
    user = {"user_id": 5, "age": 40.0}
    items = [{k: v for k, v in r.items() if k not in user} for r in rows]
    status, doc = request(server, "POST", "/predict", {"user": user, "rows": items})
    assert status == 200, doc
    np.testing.assert_allclose(doc["predictions"]["probs"], Predictor(str(exported)).predict([{**r, **user} for r in items])["probs"], atol=1e-6)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (json.dumps([1, 2]).encode(), 400, "expected a JSON object"),
        (json.dumps({"rows": []}).encode(), 400, "rows is empty"),
        (json.dumps({"rows": [1]}).encode(), 400, r"rows\[0\] is not an object"),
        (json.dumps({"rows": [{"user_id": 1, "colour": "red"}]}).encode(), 400, "unknown column.*colour"),
        (json.dumps({"rows": [{"user_id": 1}] * 51}).encode(), 413, "over the limit of 50"),
        (json.dumps({"rows": [{"user_id": 1, "item_id": "x" * 30_000}]}).encode(), 413, "over the limit of 20000"),
        (json.dumps({"rows": [{"user_id": 1}, {"user_id": [1, 2]}]}).encode(), 400, "cannot be read"),
        (json.dumps({"rows": [{"user_id": 1}]}).encode(), 400, "missing"),
        (json.dumps({"rows": [{"user_id": 1}], "user": [1]}).encode(), 400, "user must be an object"),
    ],
)
def test_bad_requests_get_a_4xx_and_the_server_keeps_serving(
    server: tuple[str, int], project: dict[str, Path], body: bytes, status: int, message: str
) -> None:
    got, doc = request(server, "POST", "/predict", raw=body, headers={"Content-Type": "application/json"})
    assert got == status and re.search(message, doc["error"]), doc
    ok, _ = request(server, "POST", "/predict", {"rows": _rows(project, 0, 2)})
    assert ok == 200


def test_wrong_paths_and_missing_length(server: tuple[str, int]) -> None:
    assert request(server, "GET", "/predict")[0] == 404
    assert request(server, "POST", "/health", {"rows": []})[0] == 404
    conn = http.client.HTTPConnection(*server, timeout=30)
    conn.putrequest("POST", "/predict")
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 411
    conn.close()


def test_concurrent_requests_each_get_their_own_rows_scores(
    server: tuple[str, int], exported: Path, project: dict[str, Path]
) -> None:
    predictor = Predictor(str(exported))
    batches = [_rows(project, 7 * i, 1 + i % 9) for i in range(40)]
    expected = [predictor.predict(rows)["probs"] for rows in batches]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda rows: request(server, "POST", "/predict", {"rows": rows}), batches))
    for (status, doc), want in zip(answers, expected):
        assert status == 200
        np.testing.assert_allclose(doc["predictions"]["probs"], want, atol=1e-6)


def test_console_script_serves_until_terminated(exported: Path, project: dict[str, Path]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rec_export.serve", "--export_dir", str(exported), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        match = re.match(r"serving on http://([\d.]+):(\d+)", line)
        assert match, line + proc.stderr.read()  # type: ignore[union-attr]
        address = (match.group(1), int(match.group(2)))
        assert request(address, "GET", "/health")[0] == 200
        assert request(address, "POST", "/predict", {"rows": _rows(project, 0, 3)})[0] == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
