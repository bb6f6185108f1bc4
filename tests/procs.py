"""Processes seen through /proc (Linux): the children a command started, and whether a
process still runs. For tests that a killed command leaves nothing running."""

from __future__ import annotations

from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def children(pid: int, marker: bytes = b"") -> list[int]:
    """Running processes whose parent is ``pid`` and whose command line holds ``marker``."""
    out = []
    for entry in Path("/proc").glob("[0-9]*"):
        child = int(entry.name)
        fields = _stat(child)
        if fields is None or int(fields[1]) != pid or fields[0] == "Z":
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                out.append(child)
        except OSError:
            continue
    return out
