"""InfluxDB 1.x (and v1-compatible) writes: ``POST /write?db=&rp=&precision=ns`` over httpx."""

from __future__ import annotations

import logging

import httpx

from gateway.errors import SinkUnavailableError
from gateway.sinks.base import classify_status
from plant_sim.telemetry_schema import PRECISION, quote_ident

logger = logging.getLogger(__name__)


class InfluxV1Sink:
    """Writes to ``/write``; ``prepare`` issues ``CREATE DATABASE`` (idempotent on 1.x)."""

    name = "v1"

    def __init__(
        self,
        url: str,
        database: str,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.database = database
        self._params = {"db": database, "precision": PRECISION}
        if retention_policy:
            self._params["rp"] = retention_policy
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if token:
            headers["Authorization"] = f"Token {token}"
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._client = httpx.Client(base_url=url, headers=headers, auth=auth, timeout=timeout_s)

    def prepare(self) -> None:
        """Create the database (1.x); a server that refuses DDL (2.x, 3.x) is only logged."""
        try:
            resp = self._client.post(
                "/query", params={"q": f"CREATE DATABASE {quote_ident(self.database)}"}
            )
        except httpx.HTTPError as exc:
            raise SinkUnavailableError(f"InfluxDB {self.url}/query: {exc}") from exc
        if resp.status_code >= 300 or "error" in resp.text[:200]:
            logger.info(
                "CREATE DATABASE %s not done: HTTP %s %s",
                self.database,
                resp.status_code,
                resp.text[:200],
            )

    def write(self, body: bytes) -> None:
        """Write one body; raises ``SinkError``."""
        try:
            resp = self._client.post("/write", params=self._params, content=body)
        except httpx.HTTPError as exc:
            raise SinkUnavailableError(
                f"InfluxDB {self.url}/write: {type(exc).__name__}: {exc}"
            ) from exc
        if resp.status_code != 204:
            if "database not found" in resp.text:
                self.prepare()
            raise classify_status(resp.status_code, resp.text, f"InfluxDB {self.url}/write")

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
