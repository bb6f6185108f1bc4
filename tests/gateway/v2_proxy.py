"""A documented translation of InfluxDB's v2 write API onto a real 1.x server, for tests.

InfluxDB 1.8 serves ``/api/v2/write`` itself ("forward compatibility": ``bucket=db/rp``,
token ``user:password``); the Debian 1.6.7 here does not. This proxy does what 1.8 does:

- ``POST /api/v2/write?org=&bucket=<db>[/<rp>]&precision=`` with ``Authorization: Token u:p``
  becomes ``POST /write?db=<db>&rp=<rp>&precision=&u=&p=`` with the same body;
- errors come back as v2 JSON ``{"code", "message"}`` with the upstream status;
- ``/ping`` is forwarded and answers ``X-Influxdb-Version: 2.7.0 (v2 proxy)``.

Optionally it also refuses what a 2.x server refuses, with 2.x's statuses and messages:

- ``max_body_bytes``: a larger body is refused whole with ``413`` (2.x's
  ``max-http-request-size``), nothing written;
- ``retention_start_ns``: points older than this are outside the bucket's retention period;
  the other lines are written and the answer is ``422`` ``partial write: points beyond
  retention policy dropped=N`` (what 2.x does).

Every v2 request is recorded in ``requests`` (path, query, headers) for assertions.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx


class V2Proxy:
    """Runs the translation on ``http://127.0.0.1:<port>`` in a thread."""

    def __init__(
        self,
        upstream: str,
        max_body_bytes: int | None = None,
        retention_start_ns: int | None = None,
    ) -> None:
        self.upstream = upstream
        self.max_body_bytes = max_body_bytes
        self.retention_start_ns = retention_start_ns
        self.refused: dict[int, int] = {}  # status -> requests refused with it
        self.requests: list[dict] = []
        self._http = httpx.Client(timeout=30)  # keep-alive to the real server
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                if urlsplit(self.path).path == "/ping":
                    proxy._ping(self)
                else:
                    self.send_error(404)

            do_HEAD = do_GET  # noqa: N815

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if urlsplit(self.path).path == "/api/v2/write":
                    proxy._write(self, body)
                else:
                    self.send_error(404)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _ping(self, handler: BaseHTTPRequestHandler) -> None:
        try:
            status = httpx.get(f"{self.upstream}/ping", timeout=5).status_code
        except httpx.HTTPError:
            status = 503
        handler.send_response(status)
        handler.send_header("X-Influxdb-Version", "2.7.0 (v2 proxy)")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _write(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()}
        if len(self.requests) < 100:
            self.requests.append({"query": query, "headers": dict(handler.headers)})
        db, _, rp = query.get("bucket", "").partition("/")
        params = {"db": db, "precision": query.get("precision", "ns")}
        if rp:
            params["rp"] = rp
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Token ") and ":" in auth:
            params["u"], params["p"] = auth[len("Token ") :].split(":", 1)
        if self.max_body_bytes is not None and len(body) > self.max_body_bytes:
            self._refuse(handler, 413, "request too large", "points batch is too large")
            return
        dropped = 0
        if self.retention_start_ns is not None:
            kept = [
                ln
                for ln in body.split(b"\n")
                if ln.strip() and int(ln[ln.rfind(b" ") + 1 :]) >= self.retention_start_ns
            ]
            dropped = len([ln for ln in body.split(b"\n") if ln.strip()]) - len(kept)
            body = b"\n".join(kept)
        try:
            if body:
                resp = self._http.post(f"{self.upstream}/write", params=params, content=body)
                status, text = resp.status_code, resp.text
            else:
                status, text = 204, ""
        except httpx.HTTPError as exc:
            status, text = 503, json.dumps({"error": str(exc)})
        if status == 204 and dropped:
            self._refuse(
                handler,
                422,
                "unprocessable entity",
                "failure writing points to database: partial write: "
                f"points beyond retention policy dropped={dropped}",
            )
            return
        if status == 204:
            handler.send_response(status)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        message = json.loads(text).get("error", text) if text.startswith("{") else text
        self._refuse(handler, status, "invalid" if status == 400 else "unavailable", message)

    def _refuse(
        self, handler: BaseHTTPRequestHandler, status: int, code: str, message: str
    ) -> None:
        self.refused[status] = self.refused.get(status, 0) + 1
        out = json.dumps({"code": code, "message": message})
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(out)))
        handler.end_headers()
        handler.wfile.write(out.encode())
