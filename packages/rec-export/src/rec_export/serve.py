"""`rec-serve`: a Predictor behind HTTP, on the standard library's threading server.

POST /predict takes `{"rows": [{column: value, ...}, ...]}` (and, optionally, `"user": {...}`:
columns shared by every row, sent once) and answers `{"predictions": {output: [...]}}` in row
order. GET /health answers `{"status": "ok", ...}`. Bad requests get a 4xx with
`{"error": "..."}`: malformed JSON or rows, unknown columns (400), a body over
--max_body_bytes or more rows than --max_rows (413). Each request is handled on its own thread
with nothing kept between requests.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from rec_core.errors import RecError
from rec_core.logging_utils import get_logger

if TYPE_CHECKING:  # annotations only: `rec-serve --help` reads the defaults below without loading torch
    from rec_export.predictor import Predictor

logger = get_logger(__name__)

DEFAULT_MAX_BODY_BYTES = 8 << 20
DEFAULT_MAX_ROWS = 4096


class RequestError(Exception):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_request(body: bytes, predictor: Predictor, max_rows: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The rows and user columns of a /predict body, or a RequestError saying what is wrong."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RequestError(400, f"body is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise RequestError(400, 'expected a JSON object {"rows": [{column: value, ...}, ...]}')
    rows, user = doc["rows"], doc.get("user")
    if not rows:
        raise RequestError(400, "rows is empty")
    if len(rows) > max_rows:
        raise RequestError(413, f"{len(rows)} rows is over the limit of {max_rows} per request")
    if user is not None and not isinstance(user, dict):
        raise RequestError(400, "user must be an object of column values")
    names: dict[str, None] = dict.fromkeys(user or {})
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise RequestError(400, f"rows[{i}] is not an object of column values")
        names.update(dict.fromkeys(row))
    unknown = predictor.unknown_columns(list(names))
    if unknown:
        raise RequestError(400, f"unknown column(s) {unknown}; the model reads {predictor.input_columns}")
    return rows, user


class PredictHandler(BaseHTTPRequestHandler):
    """One HTTP request; configured per server by `make_handler`."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a client may stall while sending a request
    predictor: Predictor
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_rows: int = DEFAULT_MAX_ROWS

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path != "/health":
            self._send(404, {"error": f"no such path {self.path!r}; use GET /health or POST /predict"})
            return
        acc = self.predictor.acc
        self._send(200, {"status": "ok", "exporter": acc.get("EXPORTER"), "input_columns": self.predictor.input_columns})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/predict":
            self._send(404, {"error": f"no such path {self.path!r}; use POST /predict"})
            return
        try:
            body = self._read_body()
            rows, user = parse_request(body, self.predictor, self.max_rows)
            try:
                predictions = self.predictor.predict(rows, user=user)
            except RecError as e:
                raise RequestError(400, str(e)) from None
        except RequestError as e:
            self._send(e.status, {"error": str(e)})
            return
        except Exception as e:  # a bug must not take the server down; the client learns it failed
            logger.exception("predict failed")
            self._send(500, {"error": f"internal error: {type(e).__name__}: {e}"})
            return
        self._send(200, {"predictions": {k: v.tolist() for k, v in predictions.items()}})

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise RequestError(411, "a Content-Length header is required")
        if int(length) > self.max_body_bytes:
            self.close_connection = True  # the unread body must not be taken for the next request
            raise RequestError(413, f"body of {length} bytes is over the limit of {self.max_body_bytes}")
        return self.rfile.read(int(length))


def make_server(predictor: Predictor, host: str, port: int, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                max_rows: int = DEFAULT_MAX_ROWS) -> ThreadingHTTPServer:
    """A threading HTTP server for `predictor` (port 0 picks a free one; see server.server_address)."""
    handler = type("Handler", (PredictHandler,), {"predictor": predictor, "max_body_bytes": max_body_bytes, "max_rows": max_rows})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(predictor: Predictor, host: str, port: int, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
          max_rows: int = DEFAULT_MAX_ROWS) -> None:
    """Serve until SIGINT/SIGTERM; prints the address once listening."""
    server = make_server(predictor, host, port, max_body_bytes, max_rows)
    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    bound_host, bound_port = server.server_address[:2]
    print(f"serving on http://{bound_host}:{bound_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    from rec_export.cli import serve_main

    sys.exit(serve_main())
