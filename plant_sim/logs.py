"""Logging of every ``twin`` process: what a user needs at INFO, library chatter at DEBUG only.

httpx logs one INFO line per HTTP request (the gateway writes every second) and asyncua one per
session, subscription and socket; at INFO they drown the lines that say what happened, so
they are raised to WARNING unless the process runs at DEBUG (``twin -v``).
"""

from __future__ import annotations

import logging

NOISY = ("httpx", "httpcore", "asyncua")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def quiet_libraries(level: int) -> None:
    """Raise the noisy libraries to WARNING unless ``level`` is DEBUG."""
    for name in NOISY:
        logging.getLogger(name).setLevel(
            logging.NOTSET if level <= logging.DEBUG else logging.WARNING
        )


def configure(level: int = logging.INFO, fmt: str = FORMAT) -> None:
    """Set up the root logger on stderr at ``level`` and quiet the noisy libraries."""
    logging.basicConfig(level=level, format=fmt)
    quiet_libraries(level)
