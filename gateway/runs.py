"""The runs the gateway knows, bounded: their ``run_start`` in memory and on disk.

A record is checked against the ``run_start`` of its run (``normalize.RunInfo``). At most
``MAX_RUNS_IN_MEMORY`` runs are kept in memory (least recently used forgotten first) and
``buffer.MAX_RUNS_STORED`` on disk; a run forgotten in memory is read back from disk when one
of its records comes. A record of a run the gateway does not know at all is not stored
unchecked: it is *held* (``buffer.HoldChange``) until its ``run_start`` comes, then checked and
stored; the hold is bounded (``buffer.HELD_MAX_BYTES``) and what it cannot keep becomes a dead
letter with its reason. So 10,000 distinct ``run_start`` messages, or records of runs that never
started, cost bounded memory and disk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from gateway.buffer import DiskBuffer
from gateway.normalize import Normalizer, run_info_from_payload

logger = logging.getLogger(__name__)

MAX_RUNS_IN_MEMORY = 64
"""Runs whose ``run_start`` is kept in memory."""

MAX_MISSING = 10_000
"""Unknown run ids remembered (to look each up on disk and log it once)."""


class RunKeeper:
    """Keeps ``normalizer.runs`` bounded and finds forgotten runs on disk."""

    def __init__(
        self, normalizer: Normalizer, buffer: DiskBuffer, max_runs: int = MAX_RUNS_IN_MEMORY
    ) -> None:
        self.normalizer = normalizer
        self.buffer = buffer
        self.max_runs = max_runs
        self._used: dict[str, int] = {}
        self._clock = 0
        self._missing: set[str] = set()
        self.unknown_runs = 0

    def known(self, run_id: str) -> bool:
        """Return whether the run's ``run_start`` is known (reading it back from disk)."""
        if run_id in self.normalizer.runs:
            return True
        if run_id in self._missing:
            return False
        payload = self.buffer.run_payload(run_id)
        if payload is not None:
            try:
                self.normalizer.runs[run_id] = run_info_from_payload(payload)
                return True
            except ValueError:
                logger.warning("stored run_start of %s is unreadable; its records are held", run_id)
        if len(self._missing) >= MAX_MISSING:
            self._missing.clear()
        self._missing.add(run_id)
        self.unknown_runs += 1
        if self.unknown_runs <= 20 or self.unknown_runs % 1000 == 0:  # not a flood of lines
            logger.warning(
                "records of run %r are held: its run_start has not been seen "
                "(%d unknown runs so far)",
                run_id,
                self.unknown_runs,
            )
        return False

    def learned(self, run_ids: Iterable[str]) -> None:
        """Note runs whose ``run_start`` just came."""
        self._missing.difference_update(run_ids)

    def used(self, run_ids: Iterable[str]) -> None:
        """Note runs that had records now; forget the least recently used beyond the bound."""
        self._clock += 1
        for run_id in run_ids:
            self._used[run_id] = self._clock
        runs = self.normalizer.runs
        if len(runs) <= self.max_runs:
            return
        by_age = sorted(runs, key=lambda r: self._used.get(r, 0))
        for run_id in by_age[: len(runs) - self.max_runs]:
            del runs[run_id]
            self._used.pop(run_id, None)
