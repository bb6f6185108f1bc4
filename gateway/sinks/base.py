"""The sink interface: write one body of line protocol, or raise a ``SinkError``."""

from __future__ import annotations

from typing import Protocol


class Sink(Protocol):
    """Writes line protocol (nanosecond timestamps) to InfluxDB."""

    name: str

    def prepare(self) -> None:
        """Make the target ready (create the 1.x database); raises ``SinkError``."""

    def write(self, body: bytes) -> None:
        """Write newline-separated lines; raises ``SinkUnavailableError``/``SinkRejectedError``."""

    def close(self) -> None:
        """Release connections."""


def classify_status(status: int, text: str, where: str) -> Exception:
    """Return the ``SinkError`` for an HTTP error status.

    400 and 422 (2.x: e.g. points outside the bucket's retention period) refuse lines of the
    body, 413 refuses the body for its size: the writer splits the batch in both cases and sets
    aside the lines refused alone. Everything else (5xx, 429, auth, 404, a 400 for a missing
    database) is retried.
    """
    from gateway.errors import SinkRejectedError, SinkTooLargeError, SinkUnavailableError

    message = f"{where}: HTTP {status}: {text.strip()[:300]}"
    if status == 413:
        return SinkTooLargeError(message)
    if status == 422 or (status == 400 and "database not found" not in text):
        return SinkRejectedError(message)
    return SinkUnavailableError(message)
