"""InfluxDB over HTTP for the analytics service: InfluxQL reads on ``/query``, v2 set-up helpers.

``/query`` with InfluxQL is the one read path that InfluxDB 1.x, 2.x (v1 compatibility, needs a
DBRP mapping) and 3.x all answer, so reads use nothing else. Writes go through the gateway's
``InfluxV1Sink`` (``/write``, same reach); see ``analytics.service.writer``.
``ensure_dbrp`` creates the database/retention-policy mapping on 2.x (``/api/v2/dbrps``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

logger = logging.getLogger(__name__)


class InfluxError(Exception):
    """InfluxDB cannot be used for now, or refused a statement; the message names the URL."""


@dataclass(frozen=True, slots=True)
class InfluxConfig:
    """Where and how to reach InfluxDB (the same settings serve 1.x, 2.x and 3.x)."""

    url: str
    database: str = "twin"
    token: str | None = None
    username: str | None = None
    password: str | None = None
    org: str | None = None
    timeout_s: float = 30.0

    def headers(self) -> dict[str, str]:
        """Return the auth header (``Authorization: Token ...``) when a token is set."""
        return {"Authorization": f"Token {self.token}"} if self.token else {}


class InfluxQL:
    """A small InfluxQL client: ``query(statement)`` returns the decoded JSON results."""

    def __init__(self, config: InfluxConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        auth = httpx.BasicAuth(config.username, config.password or "") if config.username else None
        self._client = httpx.Client(
            base_url=config.url.rstrip("/"),
            headers=config.headers(),
            auth=auth,
            timeout=config.timeout_s,
            transport=transport,
        )

    def query(self, statement: str, chunk_size: int = 10_000) -> list[dict[str, Any]]:
        """Run one read statement; return the answer's JSON documents (one per chunk).

        Raises ``InfluxError`` naming the endpoint for transport errors, HTTP errors and
        statement errors.
        """
        params = {
            "db": self.config.database,
            "q": statement,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": str(chunk_size),
        }
        where = f"InfluxDB {self.config.url}/query"
        try:
            resp = self._client.get("/query", params=params)
        except httpx.HTTPError as exc:
            raise InfluxError(f"{where}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise InfluxError(f"{where}: HTTP {resp.status_code}: {resp.text.strip()[:300]}")
        docs = [orjson.loads(line) for line in resp.content.splitlines() if line.strip()]
        for doc in docs:
            if "error" in doc:
                raise InfluxError(f"{where}: {doc['error']}")
            for result in doc.get("results", []):
                if "error" in result:
                    raise InfluxError(f"{where}: {result['error']} (in: {statement[:200]})")
        return docs

    def rows(self, statement: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(measurement, row)`` of a statement's answer; tags are merged into rows."""
        for doc in self.query(statement):
            yield from rows_of(doc)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


def rows_of(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(measurement, row)`` from one ``/query`` JSON document."""
    for result in doc.get("results", []):
        for series in result.get("series", []) or []:
            columns = series["columns"]
            tags = series.get("tags") or {}
            for values in series.get("values", []) or []:
                row = dict(zip(columns, values, strict=True))
                row.update(tags)
                yield series["name"], row


def server_version(config: InfluxConfig) -> str:
    """Return the server's version from ``/ping`` (``""`` when it does not say)."""
    try:
        resp = httpx.get(
            f"{config.url.rstrip('/')}/ping", headers=config.headers(), timeout=config.timeout_s
        )
    except httpx.HTTPError as exc:
        raise InfluxError(f"InfluxDB {config.url}/ping: {type(exc).__name__}: {exc}") from exc
    return resp.headers.get("X-Influxdb-Version", "")


def ensure_dbrp(
    config: InfluxConfig, bucket: str | None = None, transport: httpx.BaseTransport | None = None
) -> bool:
    """Map database ``config.database`` (retention policy ``autogen``) to a 2.x bucket.

    Returns True when a mapping was created, False when one existed. Needs ``org`` and a token;
    ``bucket`` defaults to the database name. Raises ``InfluxError`` naming what is missing.
    """
    if not config.org or not config.token:
        raise InfluxError("ensure_dbrp: InfluxDB 2.x needs an org and a token")
    bucket = bucket or config.database
    with httpx.Client(
        base_url=config.url.rstrip("/"),
        headers=config.headers(),
        timeout=config.timeout_s,
        transport=transport,
    ) as client:
        found = _get(client, "/api/v2/dbrps", {"org": config.org, "db": config.database})
        if found.get("content"):
            return False
        buckets = _get(client, "/api/v2/buckets", {"org": config.org, "name": bucket})
        if not buckets.get("buckets"):
            raise InfluxError(f"InfluxDB {config.url}: no bucket {bucket!r} in org {config.org!r}")
        body = {
            "bucketID": buckets["buckets"][0]["id"],
            "database": config.database,
            "retention_policy": "autogen",
            "default": True,
            "org": config.org,
        }
        resp = client.post("/api/v2/dbrps", json=body)
        if resp.status_code not in (200, 201):
            raise InfluxError(
                f"InfluxDB {config.url}/api/v2/dbrps: HTTP {resp.status_code}: {resp.text[:300]}"
            )
    logger.info("created DBRP mapping %s/autogen -> bucket %s", config.database, bucket)
    return True


def _get(client: httpx.Client, path: str, params: dict[str, str]) -> dict[str, Any]:
    try:
        resp = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise InfluxError(f"InfluxDB {client.base_url}{path}: {exc}") from exc
    if resp.status_code != 200:
        raise InfluxError(f"InfluxDB {client.base_url}{path}: HTTP {resp.status_code}")
    data: dict[str, Any] = resp.json()
    return data
