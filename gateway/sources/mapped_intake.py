"""The intake seen through a JSON mapping: MQTT messages of other producers become records.

``MappedIntake`` stands in front of the gateway's intake for the MQTT source when
``mqtt_mapping`` is set (``gateway.json_map``): each message is translated into the twin's
payloads before it reaches the normalizer, so storage, exactly-once numbering and KPIs work
unchanged. A message that gives no record (already known state, counter unchanged) is
acknowledged at once; one that cannot be translated is a dead letter with the reason; one that
gives several records is acknowledged with the last of them (the intake keeps order).
"""

from __future__ import annotations

import logging
import queue
import time

from gateway.deadletter import DeadLetters
from gateway.json_map import JsonMapError, JsonTranslator
from gateway.normalize import RawMessage
from plant_sim import payloads

logger = logging.getLogger(__name__)


class MappedIntake:
    """A queue-like front of ``intake`` (``put`` only) that translates each message."""

    def __init__(
        self,
        intake: queue.Queue[RawMessage],
        translator: JsonTranslator,
        dead_letters: DeadLetters,
    ) -> None:
        self.intake = intake
        self.translator = translator
        self.dead_letters = dead_letters
        self._retry: dict[int, list[RawMessage]] = {}
        """Translations of the messages of a put the intake refused (by ``id``), reused when
        the source puts them again, so that no message is translated twice."""
        self.dead_lettered = 0

    def put(
        self, item: RawMessage | list[RawMessage], block: bool = True, timeout: float | None = None
    ) -> None:
        """Translate ``item`` (a message or a list) and put the result; ``queue.Full`` as the
        intake raises it (a retry of the same messages is not translated twice)."""
        raws = item if type(item) is list else [item]
        translated = {id(raw): self._retry.get(id(raw)) for raw in raws}
        for raw in raws:
            if translated[id(raw)] is None:
                translated[id(raw)] = self._translate(raw)
        out = [msg for raw in raws for msg in translated[id(raw)] or []]
        if not out:
            self._retry = {}
            return
        self._retry = {k: v for k, v in translated.items() if v is not None}
        self.intake.put(out if len(out) > 1 else out[0], block, timeout)
        self._retry = {}

    def _translate(self, raw: RawMessage) -> list[RawMessage]:
        received_ms = (raw.received_ns or time.time_ns()) // 1_000_000
        try:
            records = self.translator.translate(raw.topic or "", raw.payload, received_ms)
        except JsonMapError as exc:
            self.dead_letters.add(raw.source, raw.topic, f"mqtt_mapping: {exc}", raw.payload)
            self.dead_letters.flush()
            self.dead_lettered += 1
            records = []
        if not records:
            if raw.ack is not None:
                raw.ack()
            return []
        run = self.translator.records
        assert run is not None
        out = [
            RawMessage(
                raw.source,
                payloads.encode(rec, run.run_id, run.start_epoch_ms),
                None,
                False,
                raw.received_ns,
            )
            for rec in records
        ]
        out[-1].ack = raw.ack
        return out
