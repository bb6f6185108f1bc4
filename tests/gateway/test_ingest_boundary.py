"""The ingest stage's per-record boundary: an unexpected error in one record is a dead letter."""

from __future__ import annotations

from pathlib import Path

from gateway.buffer import DiskBuffer
from gateway.deadletter import DeadLetters, read_dead_letters
from gateway.ingest import Ingest, Intake
from gateway.normalize import Accepted, Normalizer, RawMessage, Rejected
from gateway.sequencer import Sequencer
from gateway.stats import Stats
from plant_sim import payloads
from plant_sim.records import PartDone, RunStart

START = 1_767_571_200_000
POISON = b'{"poison": true}'


class _FaultyNormalizer(Normalizer):
    """A normaliser with a defect for one payload (fault injection: the stage must go on)."""

    def normalize(self, raw: RawMessage) -> Accepted | Rejected:
        if raw.payload == POISON:
            raise OverflowError("cannot convert float infinity to integer")
        return super().normalize(raw)


def test_an_unexpected_error_in_one_record_is_a_dead_letter_and_the_rest_is_stored(
    tmp_path: Path,
) -> None:
    buffer = DiskBuffer(tmp_path / "buffer.sqlite", 1000)
    letters = DeadLetters(tmp_path / "dead_letters.jsonl", 1 << 20)
    stats = Stats()
    ingest = Ingest(
        Intake(100), buffer, _FaultyNormalizer(), Sequencer(), letters, stats, False, lambda: None
    )
    acked: list[int] = []
    good = [PartDone(float(i), "l1", "s1", f"p{i}", "x", None, "good", 1.0, 1.0) for i in range(3)]
    run = RunStart(
        0.0, "r", "test", 1, START, None, "e", "s", "a", [{"line": "l1", "stations": ["s1"]}]
    )
    bodies = [
        payloads.encode(run, "r", START),
        payloads.encode(good[0], "r", START),
        POISON,
        *(payloads.encode(r, "r", START) for r in good[1:]),
    ]
    topics = ["e/s/a/_plant/run", *["e/s/a/l1/s1/part"] * (len(bodies) - 1)]
    items = [
        RawMessage("mqtt", body, topic, ack=lambda i=i: acked.append(i))
        for i, (body, topic) in enumerate(zip(bodies, topics, strict=True))
    ]
    ingest.process(items)
    letters.close()
    assert len(buffer) == 4 and acked == [0, 1, 2, 3, 4]  # the run_start and 3 parts
    assert stats.snapshot()["mqtt"]["dead_lettered"] == 1
    [letter] = read_dead_letters(tmp_path / "dead_letters.jsonl")
    assert (
        letter["reason"]
        == "gateway: unexpected OverflowError: cannot convert float infinity to integer"
    )
    assert letter["payload"] == POISON.decode()
    buffer.close()
