"""The twin's records over Sparkplug B: the node metric ``Twin/Record`` of each line's edge node.

The metrics of the births and DDATA (states, counters, process values) are what a SCADA host
shows; they cannot give back the records (part ids, planned cycle times, orders, shifts, the
run itself). So every record also travels as one value of the String node metric
``Twin/Record`` (``twin_io.sparkplug_payload.RECORD_METRIC``): its UNS JSON payload with the
record number ``n``, in NDATA of its line's edge node (plant-wide records: the first line's),
several per message. A gateway host application stores them exactly as the UNS path does.

Store and forward (Sparkplug 3.0): while an edge node is not born (its primary host is offline,
or it is disconnected) its records are held (at most ``MAX_HELD`` per node, the oldest dropped
first and counted) and sent after the next births, flagged ``is_historical``. Data are QoS 0:
what was sent to a host that had just died (before its STATE said so), or lost where a host saw
a ``seq`` gap and asked for a rebirth, is gone, so after new births the records sent in the last
``REPLAY_S`` seconds before go again; the host stores each record once (its number is its
identity).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from plant_sim import payloads
from plant_sim.live.layout import PlantLayout
from plant_sim.records import Record, RunStart
from twin_io.sparkplug_payload import RECORD_METRIC, DataType, metric

if TYPE_CHECKING:
    from plant_sim.live.sparkplug import SparkplugEdgeNode

logger = logging.getLogger(__name__)

MAX_HELD = 200_000
"""Records held per edge node while it is not born."""
PER_MESSAGE = 100
"""Records per NDATA."""
REPLAY_S = 10.0
"""Records sent this many seconds before a host went away are sent again when it is back."""


class RecordCarrier:
    """``Twin/Record`` of one edge node: registered before its first birth, then ``send``."""

    def __init__(self, node: SparkplugEdgeNode, max_held: int = MAX_HELD) -> None:
        self.node = node
        self.alias = node.add_node_metric(RECORD_METRIC, DataType.STRING, "")  # births: none
        self.held: deque[tuple[bytes, int]] = deque(maxlen=max_held)
        self.recent: deque[tuple[float, bytes, int]] = deque(maxlen=max_held)
        """Records sent lately: (monotonic time sent, payload, ts_ms)."""
        self.dropped = 0
        self.sent = 0
        self.forwarded = 0
        """Records sent after being held (``is_historical``)."""
        self.replayed = 0
        """Records held again because they were sent just before new births."""
        self._births = node.births
        node.after_birth = self.after_birth  # the node's births, then the held records

    def send(self, records: list[tuple[bytes, int]]) -> None:
        """Publish ``(payload, ts_ms)`` records in NDATA, after any held ones; hold them while
        the node is not born."""
        if not self._forward():
            self._hold(records)
            return
        self._publish(records, historical=False)
        now = time.monotonic()
        self.recent.extend((now, payload, ts_ms) for payload, ts_ms in records)

    def after_birth(self) -> None:
        """Right after the node's births: send what is held (also when no record comes)."""
        self._forward()

    def _forward(self) -> bool:
        """If the node is born: send the held records (after new births, the ones sent in the
        last ``REPLAY_S`` seconds too) and return True; else hold the recent ones, False."""
        node = self.node
        if not node.born:
            self._hold_recent()
            return False
        if node.births != self._births:
            self._births = node.births
            self._hold_recent()
        now = time.monotonic()
        recent = self.recent
        while recent and recent[0][0] < now - REPLAY_S:
            recent.popleft()
        if self.held:
            held, self.held = list(self.held), deque(maxlen=self.held.maxlen)
            logger.info("Sparkplug %s: %d held records sent", node.edge_node, len(held))
            self.forwarded += len(held)
            self._publish(held, historical=True)
            recent.extend((now, payload, ts_ms) for payload, ts_ms in held)
        return True

    def _hold_recent(self) -> None:
        """Hold the records sent lately again (a host that just died, or a gap, lost them)."""
        if self.recent:
            self.replayed += len(self.recent)
            again = [(payload, ts_ms) for _, payload, ts_ms in self.recent]
            self.recent.clear()
            self.held = deque(again + list(self.held), maxlen=self.held.maxlen)

    def _hold(self, records: list[tuple[bytes, int]]) -> None:
        free = self.held.maxlen - len(self.held)  # type: ignore[operator]
        if len(records) > free:
            self.dropped += len(records) - free
            logger.warning(
                "Sparkplug %s: %d held records dropped", self.node.edge_node, len(records) - free
            )
        self.held.extend(records)

    def _publish(self, records: list[tuple[bytes, int]], historical: bool) -> None:
        for i in range(0, len(records), PER_MESSAGE):
            chunk = records[i : i + PER_MESSAGE]
            metrics = []
            for payload, ts_ms in chunk:
                m = metric(self.alias, DataType.STRING, payload.decode(), ts_ms)
                m.is_historical = historical
                metrics.append(m)
            self.node.publish_data(metrics, chunk[-1][1])
        self.sent += len(records)


class RecordChannel:
    """Routes each record to its line's ``RecordCarrier`` with its number and run."""

    def __init__(self, layout: PlantLayout) -> None:
        self.carriers: dict[str, RecordCarrier] = {}
        self._line_of = {s.id: line.id for line in layout.lines for s in line.stations}
        self._first_line = layout.lines[0].id if layout.lines else None
        self.run_id: str | None = None

    def attach(self, line_id: str, node: SparkplugEdgeNode) -> None:
        """Give ``node`` (not yet born) the ``Twin/Record`` metric."""
        self.carriers[line_id] = RecordCarrier(node)

    def send(self, records: list[Record], first_n: int | None, start_epoch_ms: int) -> None:
        """Encode ``records`` (numbered from ``first_n``) and send each on its line's node."""
        out: dict[str, list[tuple[bytes, int]]] = {}
        for j, rec in enumerate(records):
            if isinstance(rec, RunStart):
                self.run_id = rec.run_id
            if self.run_id is None:
                continue  # no run yet: nothing a host could file it under
            line = self._line(rec)
            if line is None or line not in self.carriers:
                continue
            n = None if first_n is None else first_n + j
            ts_ms = payloads.epoch_ms(start_epoch_ms, rec.t)
            out.setdefault(line, []).append(
                (payloads.encode(rec, self.run_id, start_epoch_ms, n), ts_ms)
            )
        for line, batch in out.items():
            self.carriers[line].send(batch)

    def _line(self, rec: Record) -> str | None:
        line = getattr(rec, "line", None)
        if line is None:
            target = getattr(rec, "target", None)
            line = self._line_of.get(target) if target else None
        return line or self._first_line
