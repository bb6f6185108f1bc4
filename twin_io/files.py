"""Output files written whole or not at all: a failed write leaves the previous file as it was."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def written_whole(path: str | Path) -> Iterator[Path]:
    """Yield the path to write ``path``'s new content to: a temporary file beside it that
    replaces ``path`` when the block ends (``os.replace``, atomic), or is removed when it
    raises (a full disk, an interrupt), leaving ``path`` as it was. A device or pipe
    (``/dev/null``, ``/dev/stdout``) is written in place."""
    path = Path(path)
    if path.exists() and not path.is_file():
        yield path
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
