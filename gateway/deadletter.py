"""Dead letters: messages the gateway set aside, one JSON object per line, with the reason.

``<data_dir>/dead_letters.jsonl`` holds ``{"at", "source", "topic", "reason", "size",
"payload"}``; the payload is kept as UTF-8 text (invalid bytes replaced) and cut at 4 KiB.
The file is rotated to ``dead_letters.jsonl.1`` at ``max_bytes``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import orjson

logger = logging.getLogger(__name__)
KEEP_PAYLOAD_BYTES = 4096


class DeadLetters:
    """Appends rejected messages to a JSONL file; thread-safe."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._file = path.open("ab")

    def add(self, source: str, topic: str | None, reason: str, payload: bytes | str) -> None:
        """Record one rejected message (call ``flush`` before acknowledging it)."""
        raw = payload.encode(errors="replace") if isinstance(payload, str) else payload
        entry = {
            "at": round(time.time() * 1000),
            "source": source,
            "topic": topic,
            "reason": reason,
            "size": len(raw),
            "payload": raw[:KEEP_PAYLOAD_BYTES].decode(errors="replace"),
        }
        with self._lock:
            self._file.write(orjson.dumps(entry) + b"\n")
        logger.debug("dead letter from %s (%s): %s", source, topic, reason)

    def flush(self) -> None:
        """Push written entries to the file and rotate it when it is too large."""
        with self._lock:
            self._file.flush()
            if self._file.tell() >= self.max_bytes:
                self._file.close()
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                self._file = self.path.open("ab")

    def close(self) -> None:
        """Flush and close the file."""
        with self._lock:
            self._file.flush()
            self._file.close()


def read_dead_letters(path: Path) -> list[dict]:
    """Return the entries of a dead-letter file (for tests and tools)."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
