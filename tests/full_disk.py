"""Run ``twin`` in a process whose files cannot grow beyond a size (``RLIMIT_FSIZE``, Linux): a
write fails midway with ``EFBIG``, as on a full disk, whatever the code writes with."""

from __future__ import annotations

import resource
import subprocess
import sys


def twin_with_file_limit(args: list[str], limit: int) -> subprocess.CompletedProcess[str]:
    """Run ``python -m twin ARGS`` with files limited to ``limit`` bytes (Python ignores
    SIGXFSZ, so the write raises ``OSError``)."""

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "twin", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        preexec_fn=limit_files,
    )
