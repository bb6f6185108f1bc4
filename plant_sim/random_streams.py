"""Named, seeded random streams: one independent generator per entity and purpose.

Streams are seeded from ``(seed, name)``, not from creation order, so adding a station does not
shift any other station's draws and scenario variants share common random numbers.
"""

from __future__ import annotations

import random


class RandomStreams:
    """A factory of independent ``random.Random`` generators keyed by name."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def get(self, name: str) -> random.Random:
        """Return the stream called ``name`` (created on first use, then reused)."""
        stream = self._streams.get(name)
        if stream is None:
            # A str seed is hashed with SHA-512 by random.Random: stable across processes.
            stream = random.Random(f"{self.seed}:{name}")
            self._streams[name] = stream
        return stream
