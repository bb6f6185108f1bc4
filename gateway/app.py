"""The gateway: wires sources, ingest, the disk buffer, the writer and the metrics together."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.buffer import SOURCE_CODES, DiskBuffer
from gateway.deadletter import DeadLetters
from gateway.errors import GatewayError, SettingsError, SinkUnavailableError
from gateway.ingest import Ingest, Intake
from gateway.json_map import JsonTranslator, load_json_mapping
from gateway.normalize import Normalizer, RawMessage, run_info_from_payload
from gateway.runs import MAX_RUNS_IN_MEMORY
from gateway.sequencer import Sequencer
from gateway.settings import GatewaySettings
from gateway.sink import make_sink
from gateway.sources.machinery import MachinerySource
from gateway.sources.mapped_intake import MappedIntake
from gateway.sources.mqtt import MqttSource
from gateway.sources.opcua import OpcUaSource
from gateway.sources.sparkplug import SparkplugSource
from gateway.stats import Stats
from gateway.writer import METRICS_SOURCE, Writer
from twin_io.influx import InfluxVersionError, Sink, detect_api
from twin_io.stop_signals import install_process_stop, process_stop_requested

logger = logging.getLogger(__name__)
INTAKE_SIZE = 20_000


class Gateway:
    """OPC UA and MQTT into InfluxDB; ``start()``, then ``stop()`` (or ``run_forever()``)."""

    def __init__(self, settings: GatewaySettings, sink: Sink | None = None) -> None:
        self.settings = settings
        self.stats = Stats()
        data = Path(settings.data_dir)
        try:
            self.buffer = DiskBuffer(
                data / "buffer.sqlite", settings.buffer_max_records, settings.buffer_fsync
            )
            self.dead_letters = DeadLetters(
                data / "dead_letters.jsonl", settings.dead_letter_max_bytes
            )
        except (OSError, sqlite3.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise SettingsError(
                f"setting data_dir (TWIN_DATA_DIR): {data}: cannot keep the buffer there ({reason})"
            ) from exc
        self.intake: queue.Queue[RawMessage] = Intake(maxsize=INTAKE_SIZE)
        self.sink = sink
        self.sources: list[MqttSource | OpcUaSource] = []
        self.ingest: Ingest | None = None
        self.writer: Writer | None = None
        self.mapped_intake: MappedIntake | None = None
        self._stopped = threading.Event()
        self._metrics_thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Open the sink, restore state, start the stages and the sources."""
        s = self.settings
        data = Path(s.data_dir)
        if self.sink is None:
            self.sink = make_sink(s, self._choose_api())
        try:
            self.sink.prepare()
        except SinkUnavailableError as exc:
            if s.require_endpoints:
                raise GatewayError(f"{exc} (setting influx_url, TWIN_INFLUX_URL)") from exc
            logger.warning("%s; buffering until it answers", exc)
        self.writer = Writer(
            self.buffer,
            self.sink,
            self.stats,
            self.dead_letters,
            s.batch_size,
            s.flush_interval_s,
            (s.retry_initial_s, s.retry_max_s),
            self._space_freed,
        )
        self.ingest = Ingest(
            self.intake,
            self.buffer,
            self._restore_normalizer(),
            self._restore_sequencer(),
            self.dead_letters,
            self.stats,
            s.buffer_full_policy == "block",
            self.writer.wake.set,
            max_batch=s.batch_size,
        )
        self.stats.buffered = len(self.buffer)
        self.writer.start()
        self.ingest.start()
        if s.mqtt_url:
            if s.mqtt_format == "sparkplug":
                births = data / "sparkplug_births.json"
                spb = SparkplugSource(s, self.intake, self.dead_letters, births, self.stats)
                self.sources.append(spb)
            elif s.mqtt_mapping is None:
                self.sources.append(MqttSource(s, self.intake))
            else:  # other producers' topics: without the twin's topic filter
                mapped = MqttSource(*self._mapped_mqtt(s))
                mapped.record_levels_only = False
                self.sources.append(mapped)
        if s.opcua_endpoint:
            opcua_cls = MachinerySource if s.opcua_mapping else OpcUaSource
            self.sources.append(opcua_cls(s, self.intake))
        try:
            for source in self.sources:
                if process_stop_requested():  # asked to stop while an earlier one connected
                    break
                source.start(require=s.require_endpoints)
        except GatewayError:
            self.stop(drain_s=0)
            raise
        self._metrics_thread = threading.Thread(
            target=self._metrics_loop, name="gateway-metrics", daemon=True
        )
        self._metrics_thread.start()
        logger.info(
            "gateway started: %d records buffered, sink %s", len(self.buffer), self.sink.name
        )

    def stop(self, drain_s: float = 5.0) -> None:
        """Stop sources, commit what was received, write what can be written in ``drain_s``."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        for source in self.sources:
            source.stop()
        if self.ingest is not None:
            deadline = time.monotonic() + max(drain_s, 1.0)
            while (
                (not self.intake.empty() or self.ingest.holding())
                and time.monotonic() < deadline
                and self.ingest.is_alive()
            ):
                time.sleep(0.02)
            self.ingest.stop()
            self.ingest.join(timeout=10)
        if self._metrics_thread is not None:
            self._metrics_thread.join(timeout=5)
            self.report_metrics(log=False)  # the final counters, drained with the data
        if self.writer is not None:
            self.writer.stop(drain_s)
            self.writer.join(timeout=drain_s + 15)
        logger.info("gateway stopped: %s", self.stats.summary())
        if self.sink is not None:
            self.sink.close()
        self.dead_letters.close()
        self.buffer.close()

    def run_forever(self, on_started: Callable[[], None] | None = None) -> None:
        """Run until SIGINT or SIGTERM (or a stage fails), then stop; ``on_started`` after start.

        A signal that came before (``stop_signals``, installed at process start) or during the
        start-up stops the gateway as soon as it can: before starting, or right after.
        """
        stop = install_process_stop()
        if stop.is_set():
            logger.info("stop requested during start-up: the gateway does not start")
            self.stop(drain_s=0)
            return
        self.start()
        if on_started is not None:
            on_started()
        try:
            while not stop.wait(0.5):
                failed = self.failure()
                if failed is not None:
                    raise GatewayError(f"gateway stage failed: {failed!r}") from failed
        finally:
            self.stop()

    def failure(self) -> BaseException | None:
        """Return the error that stopped a stage, if any."""
        for stage in (self.ingest, self.writer):
            if stage is not None and stage.error is not None:
                return stage.error
        return None

    # ------------------------------------------------------------ helpers

    def _choose_api(self) -> str:
        s = self.settings
        if s.influx_api != "auto":
            return s.influx_api
        token = s.influx_token.get_secret_value() if s.influx_token else None
        try:
            api, version = detect_api(s.influx_url, token, timeout_s=min(s.influx_timeout_s, 5.0))
        except InfluxVersionError as exc:
            raise SettingsError(
                f"setting influx_api (TWIN_INFLUX_API): {exc}; set it to v1 or v2"
            ) from exc
        except SinkUnavailableError as exc:
            cached = self.buffer.get_meta("influx_api")
            if cached and not s.require_endpoints:
                logger.warning("%s; using the API detected before: %s", exc, cached)
                return cached
            raise GatewayError(
                f"{exc} (setting influx_url, TWIN_INFLUX_URL); start InfluxDB, or set "
                "influx_api and require_endpoints=false to buffer until it answers"
            ) from exc
        logger.info("InfluxDB %s at %s: using the %s write API", version, s.influx_url, api)
        self.buffer.set_meta("influx_api", api)
        return api

    def _mapped_mqtt(self, s: GatewaySettings) -> tuple[GatewaySettings, Any]:
        """Settings and intake of an MQTT source that ingests JSON under ``mqtt_mapping``."""
        assert s.mqtt_mapping is not None
        mapping = load_json_mapping(s.mqtt_mapping)
        self.mapped_intake = MappedIntake(
            self.intake, JsonTranslator(mapping, s.mqtt_url or ""), self.dead_letters
        )
        if s.mqtt_topics == ["#"]:  # subscribe to what the mapping reads, not the whole broker
            s = s.model_copy(update={"mqtt_topics": [mapping.topic_filter]})
        return s, self.mapped_intake

    def _restore_normalizer(self) -> Normalizer:
        runs = {}
        for run_id, payload in self.buffer.runs(limit=MAX_RUNS_IN_MEMORY):
            try:
                runs[run_id] = run_info_from_payload(payload)
            except ValueError:
                logger.warning("stored run_start of %s is unreadable; ignored", run_id)
        return Normalizer(runs)

    def _restore_sequencer(self) -> Sequencer:
        sequencer = Sequencer()
        for series, state in self.buffer.seq_states():
            sequencer.load(series, state)
        return sequencer

    def _space_freed(self) -> None:
        if self.ingest is not None:
            self.ingest.space_freed()

    def _metrics_loop(self) -> None:
        interval = self.settings.metrics_interval_s
        while not self._stopped.wait(interval):
            self.report_metrics()

    def report_metrics(self, log: bool = True) -> None:
        """Buffer ``gateway_stats`` points (store-and-forwarded like data); log a summary.

        Data first: the points are left out (and the log says so) unless one ingest batch of
        room (at most half the buffer) is left after them, so they never displace records nor
        take the space ingest waits for.
        """
        s = self.settings
        now_ms = int(time.time() * 1000)
        for source in self.sources:
            if isinstance(source, MqttSource):
                self.stats.broker_dropped = source.broker_dropped
        lines = self.stats.lines(s.gateway_name, now_ms)
        chunk = (now_ms, SOURCE_CODES[METRICS_SOURCE] * len(lines), lines)
        room = min(s.batch_size, s.buffer_max_records // 2)
        if not self.buffer.append_if_room(chunk, keep_free=room):
            logger.warning("buffer full: these gateway_stats points are not stored (data first)")
        self.stats.buffered = len(self.buffer)
        if log:
            logger.info("gateway: %s", self.stats.summary())
        if self.writer is not None:
            self.writer.wake.set()
