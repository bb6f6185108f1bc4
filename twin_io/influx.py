"""The project's one place for talking to InfluxDB: writes, InfluxQL reads, version detection.

- ``InfluxV1Sink`` writes line protocol to ``/write`` (InfluxDB 1.x, and 2.x/3.x through their
  v1 compatibility); ``InfluxV2Sink`` to ``/api/v2/write`` through influxdb-client (SYNCHRONOUS,
  no retries: callers own batching and retries). Both implement ``Sink`` and raise
  ``InfluxUnavailableError`` (retry later), ``InfluxRejectedError`` (the lines are refused) or
  ``InfluxTooLargeError`` (split the body).
- ``write_lines`` writes a list of lines in batches (what-if results, one-shot writes).
- ``InfluxQL`` reads with InfluxQL on ``/query``: the one read path that 1.x, 2.x (with a DBRP
  mapping, ``ensure_dbrp``) and 3.x all answer.
- ``ping`` reads the server's version from ``/ping``; ``detect_api`` chooses v1 or v2 from it.

Line protocol itself is encoded by ``plant_sim.telemetry_schema``; retries use ``twin_io.retry``.
Every error message names the endpoint, with the password of a URL (``http://user:pw@...``)
shown as ``***`` (``hide_passwords``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from plant_sim.telemetry_schema import PRECISION, quote_ident
from twin_io.urls import bad_port, hide_passwords

logger = logging.getLogger(__name__)


class InfluxError(Exception):
    """InfluxDB cannot be used for now, or refused a statement; the message names the URL
    (never a password in it: ``hide_passwords``)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(hide_passwords(a) if isinstance(a, str) else a for a in args))


class InfluxUnavailableError(InfluxError):
    """Unreachable, slow or refusing for now (5xx, 429, auth, missing database): retry later."""


class InfluxRejectedError(InfluxError):
    """InfluxDB refused the lines themselves: retrying the same body cannot succeed."""


class InfluxTooLargeError(InfluxRejectedError):
    """InfluxDB refused the body for its size (HTTP 413): smaller bodies may be taken."""


class InfluxVersionError(InfluxError):
    """``/ping`` answered, but not with a version this project knows (1.x, 2.x, 3.x)."""


class Sink(Protocol):
    """Writes line protocol (nanosecond timestamps) to InfluxDB."""

    name: str

    def prepare(self) -> None:
        """Make the target ready (create the 1.x database); raises ``InfluxError``."""

    def write(self, body: bytes) -> None:
        """Write newline-separated lines; raises ``InfluxError`` (see the subclasses)."""

    def close(self) -> None:
        """Release connections."""


def classify_status(status: int, text: str, where: str) -> InfluxError:
    """Return the error for an HTTP error status of a write.

    400 and 422 (2.x: e.g. points outside the bucket's retention period) refuse lines of the
    body, 413 refuses the body for its size: a writer splits the batch in both cases and sets
    aside the lines refused alone. Everything else (5xx, 429, auth, 404, a 400 for a missing
    database) is retried.
    """
    message = f"{where}: HTTP {status}: {text.strip()[:300]}"
    if status == 413:
        return InfluxTooLargeError(message)
    if status == 422 or (status == 400 and "database not found" not in text):
        return InfluxRejectedError(message)
    return InfluxUnavailableError(message)


def ping(url: str, token: str | None = None, timeout_s: float = 5.0) -> str:
    """Return the server's version from ``/ping`` (``""`` when it does not say).

    Raises ``InfluxUnavailableError`` naming the URL when the server does not answer.
    """
    url = url.rstrip("/")
    headers = {"Authorization": f"Token {token}"} if token else {}
    try:
        resp = httpx.get(f"{url}/ping", headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise InfluxUnavailableError(f"InfluxDB {url}/ping: {type(exc).__name__}: {exc}") from exc
    version = resp.headers.get("X-Influxdb-Version", "")
    if not version and resp.headers.get("content-type", "").startswith("application/json"):
        try:
            version = str(resp.json().get("version", ""))
        except ValueError:
            version = ""
    if resp.status_code >= 400 and not version:
        raise InfluxUnavailableError(f"InfluxDB {url}/ping: HTTP {resp.status_code}")
    return version


def detect_api(url: str, token: str | None = None, timeout_s: float = 5.0) -> tuple[str, str]:
    """Return ``(api, version)``: ``v1`` for InfluxDB 1.x, ``v2`` for 2.x and 3.x.

    Reads the ``X-Influxdb-Version`` header of ``/ping`` (3.x may need the token for it).
    Raises ``InfluxUnavailableError`` when the server does not answer and
    ``InfluxVersionError`` when it does not say a known version.
    """
    version = ping(url, token, timeout_s)
    major = version.lstrip("vV")[:1]
    if major == "1":
        return "v1", version
    if major in ("2", "3"):
        return "v2", version
    raise InfluxVersionError(
        f"cannot tell the InfluxDB version at {url} (X-Influxdb-Version {version!r})"
    )


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
            raise InfluxUnavailableError(f"InfluxDB {self.url}/query: {exc}") from exc
        if resp.status_code >= 300 or "error" in resp.text[:200]:
            logger.info(
                "CREATE DATABASE %s not done: HTTP %s %s",
                self.database,
                resp.status_code,
                resp.text[:200],
            )

    def write(self, body: bytes) -> None:
        """Write one body; raises ``InfluxError``."""
        try:
            resp = self._client.post("/write", params=self._params, content=body)
        except httpx.HTTPError as exc:
            raise InfluxUnavailableError(
                f"InfluxDB {self.url}/write: {type(exc).__name__}: {exc}"
            ) from exc
        if resp.status_code != 204:
            if "database not found" in resp.text:
                self.prepare()
            raise classify_status(resp.status_code, resp.text, f"InfluxDB {self.url}/write")

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


class InfluxV2Sink:
    """Writes to ``/api/v2/write`` with a token, an org and a bucket."""

    name = "v2"

    def __init__(
        self, url: str, token: str, org: str, bucket: str, timeout_s: float = 10.0
    ) -> None:
        self.url = url
        self.org = org
        self.bucket = bucket
        from influxdb_client import InfluxDBClient  # imported here: only 2.x/3.x writes need it
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._client = InfluxDBClient(
            url=url, token=token, org=org, timeout=int(timeout_s * 1000), retries=False
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def prepare(self) -> None:
        """Nothing to create: the bucket (2.x) exists or the database is made on write (3.x)."""

    def write(self, body: bytes) -> None:
        """Write one body; raises ``InfluxError``."""
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            self._write.write(
                bucket=self.bucket, org=self.org, record=body, write_precision=WritePrecision.NS
            )
        except ApiException as exc:
            text = (
                exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
            )
            raise classify_status(
                exc.status or 0, text, f"InfluxDB {self.url}/api/v2/write"
            ) from exc
        except (Urllib3Error, OSError) as exc:
            raise InfluxUnavailableError(f"InfluxDB {self.url}/api/v2/write: {exc}") from exc

    def close(self) -> None:
        """Close the client."""
        self._write.close()
        self._client.close()


def write_lines(
    lines: Sequence[str],
    url: str,
    database: str,
    *,
    precision: str = "ms",
    token: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float = 10.0,
    batch: int = 5000,
) -> int:
    """POST ``lines`` to ``{url}/write?db=...&precision=...`` in batches; return lines written.

    No retries (one-shot writes). Raises ``InfluxError`` naming the endpoint when the server
    refuses or cannot be reached.
    """
    endpoint = f"{url.rstrip('/')}/write"
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Token {token}"
    params = {"db": database, "precision": precision}
    with httpx.Client(transport=transport, timeout=timeout_s) as client:
        for start in range(0, len(lines), batch):
            body = "\n".join(lines[start : start + batch]).encode("utf-8")
            try:
                resp = client.post(endpoint, params=params, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise InfluxUnavailableError(
                    f"{endpoint}: {exc.__class__.__name__}: {exc}"
                ) from exc
            if resp.status_code >= 300:
                kind = type(classify_status(resp.status_code, resp.text, endpoint))
                raise kind(
                    f"{endpoint} (db={database}) answered {resp.status_code}: "
                    f"{resp.text.strip()[:300]}"
                )
    return len(lines)


def settings_problem(url: str, database: str) -> tuple[str, str] | None:
    """Return ``(option, problem)`` for an InfluxDB URL that is not http(s) with a host, or
    an empty database name (``--influx-url``, ``--influx-database``); ``None`` if both can work."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "--influx-url", f"{hide_passwords(url)!r} is not an http(s) URL with a host"
    if bad_port(url):
        return "--influx-url", f"{hide_passwords(url)!r}: the port must be 1..65535"
    if not database.strip():
        return "--influx-database", "the database name is empty"
    return None


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
    return ping(config.url, config.token, config.timeout_s)


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
