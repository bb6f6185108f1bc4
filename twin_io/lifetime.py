"""Child processes that do not outlive their parent: on Linux the kernel sends the child
SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), even by SIGKILL; elsewhere nothing.

Used by ``twin demo``'s servers (as a ``preexec_fn``) and by ``twin whatif``'s worker
processes (as the pool's initializer), so a killed command leaves nothing running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> None:
    """Have this process sent SIGTERM when its parent dies; with ``parent_pid``, exit at once
    if that parent has died already (before the request was made)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)
