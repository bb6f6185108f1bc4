"""The project's one MQTT client stack: paho-mqtt 2.x through its public API only.

- ``MqttOptions``: where and how to connect (URL, user/password, TLS files), shared by
  ``twin sim`` and ``twin gateway`` under the same option names; secrets never printed.
  ``BrokerAccess``: the same fields unchecked (its base), which the twin's publisher settings
  extend; ``options()`` checks them.
- ``make_client``: a configured paho ``Client`` (TLS, credentials, limits).
- ``NetworkLoop``: one thread that alone drives a paho client through the external-loop API
  (``loop_read``/``loop_write``/``loop_misc`` after its own ``select``) and reconnects with the
  project's backoff (``twin_io.retry``). Its owner hands work to the client at each turn
  (``on_turn``: publishes, acknowledgements), so ``publish`` and ``ack`` only queue packets and
  one ``loop_write`` sends them; no wake-up byte per message, as ``loop_start`` would write.
"""

from __future__ import annotations

import asyncio
import logging
import select
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from twin_io.retry import Backoff
from twin_io.urls import bad_port, hide_passwords

logger = logging.getLogger(__name__)

TLS_SCHEMES = ("mqtts", "ssl")
PLAIN_SCHEMES = ("mqtt", "tcp")
READ_BURST = 2000  # packets read per turn at most (a turn also writes acks and publishes)


class MqttConfigError(ValueError):
    """Options that cannot work; the message names the option and never shows a secret."""


@dataclass(frozen=True, slots=True)
class BrokerAccess:
    """The connection part of a client's settings (the ``--mqtt-*`` options), unchecked until
    ``options()`` builds the ``MqttOptions`` (raises ``MqttConfigError``)."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def options(self) -> MqttOptions:
        """The checked connection options (raises ``MqttConfigError``)."""
        return MqttOptions(**{f.name: getattr(self, f.name) for f in fields(BrokerAccess)})

    def __repr__(self) -> str:
        """The fields (of subclasses too) with the URL's password redacted, no password."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        values["url"] = hide_passwords(self.url)
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in values.items())})"


@dataclass(frozen=True, slots=True, repr=False)  # BrokerAccess's repr: no secret shown
class MqttOptions(BrokerAccess):
    """Broker URL (``mqtt://`` or ``mqtts://``), credentials and TLS files, checked.

    ``username``/``password`` override those in the URL. TLS (``mqtts://``, default port 8883)
    verifies the broker against ``ca_file`` (default: the system's CAs); ``cert_file`` and
    ``key_file`` present a client certificate.
    """

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        scheme = parts.scheme.lower()
        if scheme not in TLS_SCHEMES + PLAIN_SCHEMES or not parts.hostname:
            raise MqttConfigError(
                f"mqtt_url {hide_passwords(self.url)!r}: expected "
                "mqtt://[user[:pass]@]host[:port] or mqtts://... for TLS"
            )
        if bad_port(self.url):  # 0 would silently become the default port
            raise MqttConfigError(f"mqtt_url {hide_passwords(self.url)!r}: bad port")
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise MqttConfigError(f"mqtt_{name} {path}: no such file")
        if self.key_file is not None and self.cert_file is None:
            raise MqttConfigError("mqtt_key_file needs mqtt_cert_file (the client certificate)")
        if (self.ca_file or self.cert_file) and not self.tls:
            raise MqttConfigError(
                f"mqtt_ca_file/mqtt_cert_file need TLS: use mqtts:// in mqtt_url "
                f"({hide_passwords(self.url)})"
            )

    @property
    def tls(self) -> bool:
        """True for ``mqtts://``."""
        return urlsplit(self.url).scheme.lower() in TLS_SCHEMES

    @property
    def host(self) -> str:
        """The broker's host name."""
        return urlsplit(self.url).hostname or "localhost"

    @property
    def port(self) -> int:
        """The broker's port (1883, 8883 with TLS, unless given)."""
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    @property
    def endpoint(self) -> str:
        """``mqtt(s)://host:port`` without credentials, for messages."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def credentials(self) -> tuple[str | None, str | None]:
        """``(username, password)``: the options first, then the URL's."""
        parts = urlsplit(self.url)
        user = self.username or (unquote(parts.username) if parts.username else None)
        password = self.password
        if password is None and parts.password is not None:
            password = unquote(parts.password)
        return user, password


def make_client(
    options: MqttOptions,
    client_id: str,
    *,
    clean_session: bool,
    manual_ack: bool = False,
    max_inflight: int = 20,
    max_queued: int = 0,
) -> mqtt.Client:
    """Return a paho client (MQTT 3.1.1) set up with ``options``; nothing is connected yet."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    user, password = options.credentials()
    if user:
        client.username_pw_set(user, password)
    if options.tls:
        try:
            client.tls_set(
                ca_certs=str(options.ca_file) if options.ca_file else None,
                certfile=str(options.cert_file) if options.cert_file else None,
                keyfile=str(options.key_file) if options.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        except (ssl.SSLError, OSError) as exc:
            raise MqttConfigError(f"MQTT TLS files: {exc}") from exc
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(max_queued)
    # paho writes inline in publish()/ack() unless an external loop registered for writes;
    # NetworkLoop writes the queued packets itself, once per turn
    client.on_socket_register_write = _no_op
    client.on_socket_unregister_write = _no_op
    return client


def _no_op(_client: mqtt.Client, _userdata: Any, _sock: Any) -> None:
    """``on_socket_(un)register_write``: nothing to register, the loop asks ``want_write``."""


async def wait_event(event: threading.Event, timeout_s: float, step_s: float = 0.02) -> bool:
    """Wait in an event loop until a thread sets ``event``; False after ``timeout_s``.

    Unlike ``asyncio.to_thread(event.wait, timeout_s)``, cancelling it (Ctrl-C cancels
    ``asyncio.run``'s task) returns at once: the worker thread of ``to_thread`` cannot be
    interrupted, and ``asyncio.run`` waits for it before it returns, so the process stayed up
    for the rest of the timeout.
    """
    deadline = time.monotonic() + timeout_s
    while not event.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(step_s, left))
    return True


def wait_drained(
    busy: Callable[[], bool], deadline: float, give_up: threading.Event, step_s: float = 0.005
) -> bool:
    """Wait (in a worker thread) until ``busy()`` is false; stop waiting at ``deadline``
    (``time.monotonic()``) or as soon as ``give_up`` is set. Return ``not busy()``.

    The one shutdown drain of the twin's MQTT clients (the UNS publisher, each Sparkplug edge
    node): a second SIGINT/SIGTERM while it waits sets ``give_up`` (``give_up()`` of the sinks,
    ``plant_sim.live.service``), so the process stops at once and reports what is left.
    """
    while busy() and not give_up.is_set() and time.monotonic() < deadline:
        time.sleep(step_s)
    return not busy()


class NetworkLoop:
    """Drives one paho client in a thread of its own; reconnects with backoff.

    ``on_turn(client)`` runs on that thread before every network turn, connected or not; it
    returns True when it handed work to the client (the turn then does not wait). ``reading``
    (a ``threading.Event``, set by default) clears to stop taking messages.
    """

    def __init__(
        self,
        client: mqtt.Client,
        options: MqttOptions,
        *,
        keepalive_s: int,
        backoff: Backoff,
        on_turn: Callable[[mqtt.Client], bool],
        name: str,
    ) -> None:
        self.client = client
        self.options = options
        self.keepalive_s = keepalive_s
        self.backoff = backoff
        self.on_turn = on_turn
        self.name = name
        self.connected = threading.Event()
        self.reading = threading.Event()
        self.reading.set()
        self.last_error = ""
        self.messages_read = 0  # on_message calls (a read burst ends when none came)
        self._stop = threading.Event()
        self._attempted = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread; it connects (``connect_async``) and keeps reconnecting."""
        handler = self.client.on_message
        if handler is not None:

            def counted(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
                self.messages_read += 1
                handler(client, userdata, msg)

            self.client.on_message = counted
        self._wrap_connection_callbacks()
        self.client.connect_async(self.options.host, self.options.port, self.keepalive_s)
        self._stop.clear()
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def wait_first_attempt(self, timeout_s: float) -> bool:
        """Wait until the first attempt connected or failed; True if connected."""
        self._attempted.wait(timeout_s)
        return self.connected.is_set()

    @property
    def attempted(self) -> threading.Event:
        """Set once the first connection attempt connected or failed."""
        return self._attempted

    async def first_attempt(self, timeout_s: float) -> bool:
        """``wait_first_attempt`` for an event loop: a cancellation (Ctrl-C) ends it at once."""
        await wait_event(self._attempted, timeout_s)
        return self.connected.is_set()

    def _wrap_connection_callbacks(self) -> None:
        on_connect, on_disconnect = self.client.on_connect, self.client.on_disconnect

        def connected(
            client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
        ) -> None:
            if reason.is_failure:
                self.last_error = f"refused: {reason}"
            else:
                self.connected.set()
            self._attempted.set()
            if on_connect is not None:
                on_connect(client, userdata, flags, reason, props)

        def disconnected(
            client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
        ) -> None:
            self.connected.clear()
            if on_disconnect is not None:
                on_disconnect(client, userdata, flags, reason, props)

        self.client.on_connect = connected
        self.client.on_disconnect = disconnected

    def stop(self, timeout_s: float = 10.0) -> None:
        """One last turn, disconnect (no last will) and end the thread."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)

    def _main(self) -> None:
        client = self.client
        while not self._stop.is_set():
            try:
                client.reconnect()
            except (OSError, ssl.SSLError) as exc:
                self.last_error = str(exc) or type(exc).__name__
                self._attempted.set()
                self._idle(self.backoff.next_delay())
                continue
            rc = mqtt.MQTT_ERR_SUCCESS
            while rc == mqtt.MQTT_ERR_SUCCESS and not self._stop.is_set():
                busy = self.on_turn(client)
                rc = self._pump(0.0 if busy else 0.01)
                if self.connected.is_set():
                    self.backoff.reset()
            if self._stop.is_set():
                break
            self.connected.clear()
            self._idle(self.backoff.next_delay())
        self.on_turn(client)
        if client.socket() is not None:
            client.disconnect()
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and self._pump(0.05) == mqtt.MQTT_ERR_SUCCESS:
                pass
        self.connected.clear()

    def _idle(self, seconds: float) -> None:
        """While disconnected: keep taking work (publishes queue in paho) until ``seconds``."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            if not self.on_turn(self.client):
                self._stop.wait(0.01)

    def _pump(self, timeout: float) -> mqtt.MQTTErrorCode:
        """One turn: write what is queued, wait up to ``timeout`` for the socket, read a burst
        of packets, keep-alive. What ``Client.loop`` does, without its wake-up socket pair."""
        client = self.client
        sock = client.socket()
        if sock is None:
            return mqtt.MQTT_ERR_NO_CONN
        if client.want_write():
            rc = client.loop_write()
            if rc != mqtt.MQTT_ERR_SUCCESS or client.socket() is None:
                return rc or mqtt.MQTT_ERR_NO_CONN
        tls_pending = sock.pending() if hasattr(sock, "pending") else 0
        reading = self.reading.is_set()
        try:
            readable, writable, _ = select.select(
                [sock] if reading else [],
                [sock] if client.want_write() else [],
                [],
                0.0 if tls_pending and reading else timeout,
            )
        except (OSError, TypeError, ValueError):  # closed meanwhile
            return mqtt.MQTT_ERR_CONN_LOST
        if reading and (readable or tls_pending):
            rc = self._read_burst()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return rc
        if writable:
            rc = client.loop_write()
            if rc != mqtt.MQTT_ERR_SUCCESS or client.socket() is None:
                return rc or mqtt.MQTT_ERR_NO_CONN
        return client.loop_misc()

    def _read_burst(self) -> mqtt.MQTTErrorCode:
        """Read packets while they keep coming (paho's ``loop_read`` may take just one)."""
        client = self.client
        for _ in range(READ_BURST):
            before = self.messages_read
            rc = client.loop_read()
            if rc != mqtt.MQTT_ERR_SUCCESS or client.socket() is None:
                return rc or mqtt.MQTT_ERR_NO_CONN
            if self.messages_read == before:
                break  # nothing more to read now (or a packet that was no message)
        return mqtt.MQTT_ERR_SUCCESS
