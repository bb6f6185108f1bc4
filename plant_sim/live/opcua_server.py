"""The live twin's OPC UA server (asyncua): Machinery-style variables plus one event per record.

``TwinOpcUaServer(layout, settings, commands)`` is an async context manager. ``publish(records)``
writes the variables a record changes (with the record's simulation time as SourceTimestamp) and
emits a ``TwinRecordEventType`` event whose ``Payload`` is ``payloads.encode(record)``, from the
Server object (every record) and from the record's station, line or Simulator object.
Methods (InjectFailure, ClearFailure, SetSpeedFactor) validate their arguments and answer
``BadInvalidArgument`` otherwise.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.event_generator import EventGenerator

from plant_sim import naming
from plant_sim.live import commands as cmds
from plant_sim.live import opcua_shelf
from plant_sim.live.layout import PlantLayout
from plant_sim.live.machinery_model import DI_URI, MACHINERY_URI, load_machinery
from plant_sim.live.opcua_apply import RecordWriter
from plant_sim.live.opcua_space import TwinSpace, build_space
from plant_sim.records import Record
from twin_io.urls import bad_port

logger = logging.getLogger(__name__)
VT = ua.VariantType


class OpcUaError(RuntimeError):
    """The OPC UA server cannot start or run; the message names the endpoint and what to do."""


@dataclass(frozen=True, slots=True)
class OpcUaSettings:
    """Endpoint, namespace and security of the server (anonymous, no security by default)."""

    endpoint: str = "opc.tcp://0.0.0.0:4840/twin/"
    namespace_uri: str = naming.NAMESPACE_URI
    users: Mapping[str, str] = field(default_factory=dict)  # username -> password
    allow_anonymous: bool = True
    encrypt: bool = False  # offer Basic256Sha256 SignAndEncrypt with a generated certificate
    allow_unencrypted: bool = True  # with encrypt: keep the NoSecurity endpoint too
    cert_dir: Path | None = None  # where the generated key/certificate live (default: ./.twin-pki)
    server_name: str = "Smart Factory Twin"
    #: Where asyncua's standard address space is cached (``opcua_shelf``); ``None``: not cached.
    cache_dir: Path | None = field(default_factory=opcua_shelf.default_cache_dir)


def security_notes(settings: OpcUaSettings) -> list[tuple[int, str]]:
    """(log level, text): what a NoSecurity endpoint exposes with these settings.

    Passwords in plain text are a warning; anonymous method calls (the demo's default) are
    said at INFO. See docs/security.md.
    """
    out = []
    if settings.users:
        out.append(
            (
                logging.WARNING,
                "user names and passwords travel in plain text on the NoSecurity endpoint; "
                "use --opcua-encrypt --opcua-encrypt-only",
            )
        )
    if settings.allow_anonymous:
        out.append(
            (
                logging.INFO,
                "anonymous clients may call the methods (SetSpeedFactor, InjectFailure, "
                "ClearFailure); lock it down with --no-opcua-anonymous and users",
            )
        )
    return out


class _UserManager:
    """Username/password check; anonymous sessions only if allowed."""

    def __init__(self, users: Mapping[str, str], allow_anonymous: bool) -> None:
        self._users = dict(users)
        self._anonymous = allow_anonymous

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is None:  # anonymous token (X509 user tokens are not offered)
            return User(role=UserRole.User) if self._anonymous else None
        if username is not None and self._users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


class TwinOpcUaServer:
    """OPC UA server for one plant layout."""

    def __init__(
        self,
        layout: PlantLayout,
        settings: OpcUaSettings | None = None,
        commands: cmds.CommandHandler | None = None,
    ) -> None:
        self.layout = layout
        self.settings = settings or OpcUaSettings()
        self._commands = commands
        self.mqtt_stats: Any = None  # the MQTT publisher's MqttStats, shown on the Simulator
        self._server: Server | None = None
        self.space: TwinSpace | None = None
        self._writer: RecordWriter | None = None

    @property
    def endpoint_url(self) -> str:
        """The endpoint clients connect to."""
        return self.settings.endpoint

    async def __aenter__(self) -> TwinOpcUaServer:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Build the address space and listen; raise ``OpcUaError`` if the port is taken."""
        s = self.settings
        if (problem := endpoint_problem(s.endpoint)) is not None:
            raise OpcUaError(f"OPC UA endpoint {problem}")
        url = urlparse(s.endpoint)
        _check_port_free(url.hostname or "0.0.0.0", url.port or 0, s.endpoint)
        started = time.perf_counter()
        server = await self._new_server()
        server.set_endpoint(s.endpoint)
        server.set_server_name(s.server_name)
        await server.set_application_uri("urn:smart-factory-twin:server")
        await self._setup_security(server)
        # stable indices: the plant ns=2 and Machinery ns=3 as before the NodeSets were loaded
        for uri in (s.namespace_uri, MACHINERY_URI, DI_URI):
            await server.register_namespace(uri)
        model = await load_machinery(server)
        self.space = await build_space(server, self.layout, s.namespace_uri, model)
        self._writer = RecordWriter(server, self.space, await self._event_generators(server))
        await self._add_methods(server)
        try:
            await server.start()
        except OSError as exc:
            raise OpcUaError(_port_message(s.endpoint, exc)) from exc
        self._server = server
        logger.info(
            "OPC UA server listening on %s (namespace %s), %d stations, started in %.1f s",
            s.endpoint,
            s.namespace_uri,
            len(self.layout.stations),
            time.perf_counter() - started,
        )

    async def _new_server(self) -> Server:
        """An initialised asyncua server, its standard address space from the cache if any."""
        s = self.settings
        server = Server(user_manager=_UserManager(s.users, s.allow_anonymous))
        try:
            await opcua_shelf.init_server(server, s.cache_dir)
        except opcua_shelf.ShelfWriteError as exc:
            logger.warning("%s; starting without it", exc)
            server = Server(user_manager=_UserManager(s.users, s.allow_anonymous))
            await server.init()
        return server

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    def set_run(self, run_id: str, start_epoch_ms: int, scenario: str = "") -> None:
        """Tell the server which run it serves (used to encode event payloads)."""
        self._require_writer().set_run(run_id, start_epoch_ms, scenario)

    async def publish(self, records: Sequence[Record], first_n: int | None = None) -> None:
        """Apply ``records`` (in order) to the variables and emit one event per record.

        ``first_n``: the run's number of ``records[0]`` (``runner.RecordSink``), put in payloads.
        """
        await self._require_writer().publish(records, first_n)

    async def set_clock(self, sim_time: float, speed: float, lag_s: float) -> None:
        """Update the Simulator object's clock and status variables."""
        dropped = self.mqtt_stats.dropped_qos0 if self.mqtt_stats is not None else 0
        notice = getattr(self._commands, "notice", "")
        await self._require_writer().set_clock(sim_time, speed, lag_s, dropped, notice)

    @property
    def records_published(self) -> int:
        """Number of records emitted as events so far."""
        return self._writer.records if self._writer else 0

    @property
    def values_written(self) -> int:
        """Number of variable values written so far."""
        return self._writer.writes if self._writer else 0

    def _require_writer(self) -> RecordWriter:
        if self._writer is None:
            raise OpcUaError("OPC UA server is not started")
        return self._writer

    async def _setup_security(self, server: Server) -> None:
        s = self.settings
        tokens: list[type] = []
        if s.allow_anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        if s.users:
            tokens.append(ua.UserNameIdentityToken)
        if not tokens:
            raise OpcUaError("OPC UA: anonymous access is off and no users are configured")
        server.set_identity_tokens(tokens)
        policies = [ua.SecurityPolicyType.NoSecurity]
        if s.encrypt:
            key, cert = await ensure_certificate(s.cert_dir or Path(".twin-pki"))
            await server.load_certificate(str(cert))
            await server.load_private_key(str(key))
            policies = [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
            if s.allow_unencrypted:
                policies.append(ua.SecurityPolicyType.NoSecurity)
        server.set_security_policy(policies)
        if ua.SecurityPolicyType.NoSecurity in policies:
            for level, text in security_notes(s):
                logger.log(level, "OPC UA %s: %s", s.endpoint, text)

    async def _event_generators(self, server: Server) -> dict[ua.NodeId, EventGenerator]:
        assert self.space is not None
        space = self.space
        etype = space.record_event_type
        sources = [ua.NodeId(ua.ObjectIds.Server), space.simulator.node, space.machines]
        sources += [v.node for v in space.stations.values()]
        sources += [v.node for v in space.lines.values()]
        gens: dict[ua.NodeId, EventGenerator] = {}
        for node in sources:
            gens[node] = await server.get_event_generator(etype, node)
        return gens

    async def _add_methods(self, server: Server) -> None:
        assert self.space is not None
        idx = self.space.idx
        sim = server.get_node(self.space.simulator.node)
        result = [_arg("Result", VT.String, "What was done")]
        await sim.add_method(
            ua.NodeId("Simulator.SetSpeedFactor", idx),
            ua.QualifiedName("SetSpeedFactor", idx),
            self._m_set_speed,
            [_arg("Speed", VT.Double, "1 = real time, 60 = a minute a second")],
            result,
        )
        inject_args = [
            _arg("Station", VT.String, "Station id"),
            _arg("DurationS", VT.Double, "Failure duration in simulated seconds (> 0)"),
            _arg("Reason", VT.String, "Reason recorded with the DOWN state"),
        ]
        await sim.add_method(
            ua.NodeId("Simulator.InjectFailure", idx),
            ua.QualifiedName("InjectFailure", idx),
            self._m_inject,
            inject_args,
            result,
        )
        await sim.add_method(
            ua.NodeId("Simulator.ClearFailure", idx),
            ua.QualifiedName("ClearFailure", idx),
            self._m_clear,
            [_arg("Station", VT.String, "Station id")],
            result,
        )
        for sid, svars in self.space.stations.items():
            node = server.get_node(svars.node)
            base = svars.node.Identifier
            await node.add_method(
                ua.NodeId(f"{base}.InjectFailure", idx),
                ua.QualifiedName("InjectFailure", idx),
                self._station_method(sid, inject=True),
                inject_args[1:],
                result,
            )
            await node.add_method(
                ua.NodeId(f"{base}.ClearFailure", idx),
                ua.QualifiedName("ClearFailure", idx),
                self._station_method(sid, inject=False),
                [],
                result,
            )

    def _station_method(self, station: str, *, inject: bool) -> Any:
        """The station's own method: the caller's arguments without the Station argument."""

        async def call(parent: ua.NodeId, *args: ua.Variant) -> ua.CallMethodResult:
            if inject:
                return await self._inject(station, args, offset=0)
            bad = _check_args(args, [])
            if bad:
                return bad
            return await self._run(lambda: cmds.clear_failure(station, self.layout.stations), 0, 0)

        return call

    async def _m_set_speed(self, parent: ua.NodeId, *args: ua.Variant) -> ua.CallMethodResult:
        bad = _check_args(args, [VT.Double])
        if bad:
            return bad
        return await self._run(lambda: cmds.set_speed(args[0].Value), 0)

    async def _m_inject(self, parent: ua.NodeId, *args: ua.Variant) -> ua.CallMethodResult:
        bad = _check_args(args, [VT.String, VT.Double, VT.String], optional_last=True)
        if bad:
            return bad
        return await self._inject(args[0].Value, args[1:], offset=1)

    async def _inject(
        self, station: str, args: Sequence[ua.Variant], *, offset: int
    ) -> ua.CallMethodResult:
        """InjectFailure with ``args`` = (DurationS, [Reason]) at ``offset`` in the call.

        ``offset`` is 1 for the Simulator's method (Station comes first) and 0 for a station's
        own method, so ``InputArgumentResults`` matches the caller's arguments.
        """
        if offset == 0:
            bad = _check_args(args, [VT.Double, VT.String], optional_last=True)
            if bad:
                return bad
        duration = args[0].Value
        reason = args[1].Value if len(args) > 1 else "injected"
        stations = self.layout.stations

        def build() -> cmds.Command:
            if offset:
                try:
                    cmds._station(station, stations)
                except cmds.CommandError as exc:
                    raise _ArgError(0, str(exc)) from exc
            try:
                return cmds.inject_failure(station, duration, reason, stations)
            except cmds.CommandError as exc:
                index = 1 if str(exc).startswith("reason") else 0
                raise _ArgError(index + offset, str(exc)) from exc

        return await self._run(build, None, nargs=len(args) + offset)

    async def _m_clear(self, parent: ua.NodeId, *args: ua.Variant) -> ua.CallMethodResult:
        bad = _check_args(args, [VT.String])
        if bad:
            return bad
        return await self._run(lambda: cmds.clear_failure(args[0].Value, self.layout.stations), 0)

    async def _run(self, build: Any, bad_index: int | None, nargs: int = 1) -> ua.CallMethodResult:
        res = ua.CallMethodResult()
        res.InputArgumentResults = [ua.StatusCode() for _ in range(nargs)]
        try:
            command = build()
        except _ArgError as exc:
            return _invalid(res, exc.index, str(exc))
        except cmds.CommandError as exc:
            return _invalid(res, bad_index or 0, str(exc))
        if self._commands is None:
            res.StatusCode = ua.StatusCode(ua.StatusCodes.BadNotSupported)
            return res
        try:
            text = await self._commands.execute(command)
        except cmds.CommandError as exc:
            return _invalid(res, bad_index or 0, str(exc))
        res.OutputArguments = [ua.Variant(text, VT.String)]
        return res


class _ArgError(ValueError):
    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def _invalid(res: ua.CallMethodResult, index: int, message: str) -> ua.CallMethodResult:
    logger.warning("OPC UA method call rejected: %s", message)
    res.StatusCode = ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
    if index < len(res.InputArgumentResults):
        res.InputArgumentResults[index] = ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
    return res


def _check_args(
    args: Sequence[ua.Variant], types: list[ua.VariantType], *, optional_last: bool = False
) -> ua.CallMethodResult | None:
    """Return a Bad result if the count or a type is wrong (numbers may be any numeric type)."""
    res = ua.CallMethodResult()
    minimum = len(types) - 1 if optional_last else len(types)
    if len(args) < minimum:
        res.StatusCode = ua.StatusCode(ua.StatusCodes.BadArgumentsMissing)
        return res
    if len(args) > len(types):
        res.StatusCode = ua.StatusCode(ua.StatusCodes.BadTooManyArguments)
        return res
    results = []
    for arg, vtype in zip(args, types, strict=False):
        ok = arg.VariantType == vtype or (vtype == VT.Double and arg.VariantType in _NUMERIC)
        results.append(ua.StatusCode() if ok else ua.StatusCode(ua.StatusCodes.BadTypeMismatch))
    if all(r.is_good() for r in results):
        return None
    res.StatusCode = ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
    res.InputArgumentResults = results
    return res


_NUMERIC = {
    VT.Float,
    VT.Int16,
    VT.Int32,
    VT.Int64,
    VT.UInt16,
    VT.UInt32,
    VT.UInt64,
    VT.Byte,
    VT.SByte,
}


def _arg(name: str, vtype: ua.VariantType, description: str) -> ua.Argument:
    arg = ua.Argument()
    arg.Name = name
    arg.DataType = ua.NodeId(vtype.value)
    arg.ValueRank = ua.ValueRank.Scalar
    arg.Description = ua.LocalizedText(description)
    return arg


def endpoint_problem(endpoint: str) -> str | None:
    """What is wrong with a server endpoint (``opc.tcp://HOST:PORT/PATH``, port 1..65535), or
    ``None``."""
    url = urlparse(endpoint)
    if url.scheme != "opc.tcp" or not url.hostname or bad_port(endpoint) or not url.port:
        return f"{endpoint!r}: use opc.tcp://HOST:PORT/PATH with a port of 1..65535"
    return None


def _check_port_free(host: str, port: int, endpoint: str) -> None:
    """Fail early with a clear message if ``host:port`` cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise OpcUaError(_port_message(endpoint, exc)) from exc


def _port_message(endpoint: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"OPC UA endpoint {endpoint}: the port is already in use; stop the other "
            "server or choose another port with --opcua-endpoint"
        )
    return f"OPC UA endpoint {endpoint}: cannot listen ({exc.strerror or exc})"


async def ensure_certificate(cert_dir: Path) -> tuple[Path, Path]:
    """Return (key, certificate) paths in ``cert_dir``, generating a self-signed pair if needed."""
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    cert_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at start-up
    key, cert = cert_dir / "server-key.pem", cert_dir / "server-cert.der"
    await setup_self_signed_certificate(
        key,
        cert,
        "urn:smart-factory-twin:server",
        socket.gethostname(),
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        {
            "countryName": "DE",
            "organizationName": "Smart Factory Twin",
            "commonName": "smart-factory-twin",
        },
    )
    return key, cert
