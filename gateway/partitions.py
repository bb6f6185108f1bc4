"""Partitioned gateway: one gateway process per group of MQTT topic filters.

One gateway process is bound by the GIL to about one core. ``mqtt_partitions`` runs one child
gateway per group instead, each with its own persistent MQTT session (client id ``<id>-p<k>``),
its own disk buffer (``<data_dir>/p<k>``) and metrics tag (``<gateway_name>-p<k>``). Nothing is
shared between them, so each keeps the no-loss guarantees of a single gateway.

A series (measurement + tags) lives on one station or line topic, so topic filters keep every
series in one partition, where the sequencer numbers it. Each partition must know the run's
``run_start`` to normalise records: a partition whose filters do not reach ``_plant/run`` also
subscribes to ``+/+/+/_plant/run``. Every partition then stores the same run_start point, which
InfluxDB keeps once (same series, timestamp and fields).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Sequence
from itertools import combinations, product
from multiprocessing.sharedctypes import SynchronizedArray
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from gateway.errors import GatewayError, SettingsError
from gateway.settings import GatewaySettings
from gateway.topic_filters import overlaps
from twin_io.lifetime import die_with_parent
from twin_io.stop_signals import install_process_stop

logger = logging.getLogger(__name__)

RUN_FILTER = "+/+/+/_plant/run"
"""The run_start topic of every plant (``<enterprise>/<site>/<area>/_plant/run``)."""

_COUNT_PERIOD_S = 0.05


def partition_settings(settings: GatewaySettings) -> list[GatewaySettings]:
    """Return the settings of each partition; raises ``SettingsError`` naming the setting."""
    groups = settings.mqtt_partitions
    if len(groups) < 2:
        raise SettingsError("setting mqtt_partitions (TWIN_MQTT_PARTITIONS): give two or more")
    if settings.mqtt_url is None:
        raise SettingsError("setting mqtt_partitions (TWIN_MQTT_PARTITIONS): needs mqtt_url")
    if settings.opcua_endpoint is not None:
        raise SettingsError(
            "setting mqtt_partitions (TWIN_MQTT_PARTITIONS): partitions split MQTT topics; "
            "run OPC UA in a gateway of its own (opcua_endpoint is set)"
        )
    _refuse_shared_topics(groups)
    out = []
    for k, group in enumerate(groups):
        topics = list(group)
        if not any(overlaps(f, RUN_FILTER) for f in topics):
            topics.append(RUN_FILTER)  # an overlapping second filter would deliver copies
        out.append(
            settings.model_copy(
                update={
                    "mqtt_partitions": [],
                    "mqtt_topics": topics,
                    "mqtt_client_id": f"{settings.mqtt_client_id}-p{k}",
                    "data_dir": Path(settings.data_dir) / f"p{k}",
                    "gateway_name": f"{settings.gateway_name}-p{k}",
                }
            )
        )
    return out


def _refuse_shared_topics(groups: Sequence[Sequence[str]]) -> None:
    """Refuse filters of two partitions that can match one topic: both would store its records."""
    for (i, group_a), (j, group_b) in combinations(enumerate(groups), 2):
        for a, b in product(group_a, group_b):
            if overlaps(a, b):
                raise SettingsError(
                    f"setting mqtt_partitions (TWIN_MQTT_PARTITIONS): {a!r} of partition {i} "
                    f"and {b!r} of partition {j} match the same topics"
                )


def _run_partition(
    settings: GatewaySettings,
    index: int,
    counts: SynchronizedArray,
    ready: EventType,
    log_level: int,
    parent_pid: int,
) -> None:
    """Child process: run one gateway until SIGTERM, publishing its records out in ``counts``.
    It gets that SIGTERM (a clean stop) when the parent gateway dies, however it dies: an
    orphan would go on taking its topics under the client id a restarted gateway uses."""
    # before the gateway's imports, a SIGTERM while starting is a clean stop (this module and
    # its settings are loaded before: a SIGTERM in those first 0.1 s ends the child at once,
    # before it took anything)
    install_process_stop()
    die_with_parent(parent_pid)
    import threading

    from gateway.app import Gateway
    from plant_sim.gc_pause import tune_for_streaming
    from plant_sim.logs import configure

    configure(log_level, f"%(asctime)s %(levelname)s p{index} %(name)s: %(message)s")
    tune_for_streaming()
    try:
        gateway = Gateway(settings)
    except SettingsError as exc:  # e.g. a data_dir it cannot write
        logger.error("partition p%d: %s", index, exc)
        sys.exit(2)

    def count() -> None:
        counts[index] = gateway.stats.snapshot().get("mqtt", {}).get("records_out", 0)

    def publish_counts() -> None:
        while True:
            count()
            time.sleep(_COUNT_PERIOD_S)

    threading.Thread(target=publish_counts, name="partition-counts", daemon=True).start()
    try:
        gateway.run_forever(on_started=ready.set)
    except SettingsError as exc:
        logger.error("partition p%d: %s", index, exc)
        sys.exit(2)
    except GatewayError as exc:
        logger.error("partition p%d: %s", index, exc)
        sys.exit(1)
    count()


class PartitionedGateway:
    """Runs one gateway process per partition; ``start()``, then ``stop()`` or ``run_forever()``."""

    def __init__(self, partitions: Sequence[GatewaySettings]) -> None:
        self.partitions = list(partitions)
        self._ctx = mp.get_context("spawn")
        self._counts: SynchronizedArray = self._ctx.Array("q", len(self.partitions), lock=False)
        self._procs: list[mp.process.BaseProcess] = []

    def start(self, timeout_s: float = 60.0) -> None:
        """Start every partition's process; return once each has started its gateway.

        Counts start again from zero: ``records_out`` is of this start.

        Raises ``GatewayError`` if a partition exits first (its error is in its log) or does
        not start within ``timeout_s``.
        """
        self._procs = []
        self._counts[:] = [0] * len(self.partitions)
        readies = []
        for k, settings in enumerate(self.partitions):
            ready = self._ctx.Event()
            proc = self._ctx.Process(
                target=_run_partition,
                args=(
                    settings,
                    k,
                    self._counts,
                    ready,
                    logging.getLogger().getEffectiveLevel(),
                    os.getpid(),
                ),
                name=f"gateway-p{k}",
            )
            proc.start()
            self._procs.append(proc)
            readies.append(ready)
            logger.info(
                "partition p%d (pid %d): topics %s, data %s",
                k,
                proc.pid,
                ", ".join(settings.mqtt_topics),
                settings.data_dir,
            )
        deadline = time.monotonic() + timeout_s
        while not all(r.is_set() for r in readies):
            failed = self.failed()
            if failed is not None or time.monotonic() > deadline:
                self.stop()
                what = f"exited with code {failed[1]}" if failed else "did not start in time"
                late = [i for i, r in enumerate(readies) if not r.is_set()]
                k = failed[0] if failed else late[0]
                if failed is not None and failed[1] == 2:  # a setting it could not use
                    raise SettingsError(f"partition p{k} {what} (bad setting, see its log)")
                raise GatewayError(f"partition p{k} {what}")
            time.sleep(0.02)
        logger.info("%d gateway partitions started", len(self._procs))

    def pids(self) -> list[int]:
        """Process ids of the partitions started last."""
        return [proc.pid for proc in self._procs if proc.pid is not None]

    def records_out(self) -> list[int]:
        """Records each partition has stored, from MQTT (updated every 50 ms)."""
        return list(self._counts)

    def failed(self) -> tuple[int, int] | None:
        """Return ``(partition, exit code)`` of a partition that has exited, if any."""
        for k, proc in enumerate(self._procs):
            if proc.exitcode is not None:
                return k, proc.exitcode
        return None

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask every partition to stop (SIGTERM: it drains like a single gateway) and wait."""
        for proc in self._procs:
            if proc.exitcode is None:
                proc.terminate()
        deadline = time.monotonic() + timeout_s
        for proc in self._procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.exitcode is None:
                logger.warning("partition %s did not stop in %.0f s; killed", proc.name, timeout_s)
                proc.kill()
                proc.join(5)
        logger.info("partitions stopped: records stored %s", self.records_out())

    def run_forever(self) -> None:
        """Run until SIGINT or SIGTERM; a partition that exits stops the others (GatewayError)."""
        stop = install_process_stop()
        if stop.is_set():
            logger.info("stop requested during start-up: the partitions do not start")
            return
        self.start()
        try:
            while not stop.is_set():
                failed = self.failed()
                if failed is not None:
                    k, code = failed
                    raise GatewayError(f"partition p{k} exited with code {code}; stopping the rest")
                time.sleep(0.2)
        finally:
            self.stop()
