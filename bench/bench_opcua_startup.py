"""Start-up time of the twin's OPC UA server with the DI, IA and Machinery NodeSets loaded.

Run: ``python bench/bench_opcua_startup.py [--repeat 5] [--scenario ...] [--cache warm|off]``.
Each run is a fresh Python process (nothing in memory) serving the scenario (default
plant_3lines); this process times, in wall seconds, ``ready``: from launching it until an
asyncua client has connected and browsed the standard ``Machines`` folder (every station
found). The child reports its phases: ``imports``, ``Server.init()`` (asyncua's standard
address space), loading the three NodeSets, building the twin's nodes and the whole
``TwinOpcUaServer.start()``. ``--cache warm`` (default) uses the address-space cache
(``plant_sim.live.opcua_shelf``) in a private directory, made by one run that is reported
apart (``first start``); ``--cache off`` starts without it. Prints the median and range.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHASES = ("ready", "imports", "server_init", "nodesets", "build_space", "start_total")


async def _serve(scenario_path: str, port: int, cache_dir: str | None) -> None:
    """Child: start the server, report the phases on stdout, serve until stdin closes."""
    from asyncua import Server

    from plant_sim.live import machinery_model, opcua_server
    from plant_sim.live.layout import PlantLayout
    from plant_sim.live.opcua_server import OpcUaSettings, TwinOpcUaServer
    from plant_sim.scenario import load_scenario

    times: dict[str, float] = {"imports": time.perf_counter() - _T0}
    real_init, real_load = Server.init, machinery_model.load_machinery
    real_build = opcua_server.build_space

    def timed(name: str, func):  # type: ignore[no-untyped-def]
        async def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            result = await func(*args, **kwargs)
            times[name] = time.perf_counter() - t0
            return result

        return wrapper

    Server.init = timed("server_init", real_init)  # type: ignore[method-assign]
    opcua_server.load_machinery = timed("nodesets", real_load)  # type: ignore[assignment]
    opcua_server.build_space = timed("build_space", real_build)  # type: ignore[assignment]
    layout = PlantLayout.from_scenario(load_scenario(scenario_path))
    settings = OpcUaSettings(
        endpoint=f"opc.tcp://127.0.0.1:{port}/twin/",
        cache_dir=Path(cache_dir) if cache_dir else None,
    )
    server = TwinOpcUaServer(layout, settings)
    t0 = time.perf_counter()
    await server.start()
    times["start_total"] = time.perf_counter() - t0
    times["stations"] = float(len(layout.stations))
    print(json.dumps(times), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop()


async def _browse_machines(port: int) -> int:
    """Connect and browse ``Machines``: the number of machines found."""
    from asyncua import Client, ua

    from plant_sim.live.machinery_model import MACHINERY_URI, MACHINES

    async with Client(f"opc.tcp://127.0.0.1:{port}/twin/") as client:
        machinery = await client.get_namespace_index(MACHINERY_URI)
        return len(await client.get_node(ua.NodeId(MACHINES, machinery)).get_children())


def _one_run(scenario: str, cache_dir: str | None) -> dict[str, float]:
    """Launch a server process, wait for its report, browse it; its times with ``ready``."""
    from tests.servers.mosquitto import free_port

    port = free_port()
    args = [sys.executable, __file__, "--child", str(port), "--scenario", scenario]
    args += ["--cache-dir", cache_dir] if cache_dir else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    child = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        report = json.loads(child.stdout.readline())
        found = asyncio.run(_browse_machines(port))
        report["ready"] = time.perf_counter() - t0
    finally:
        child.communicate("")
    if found != int(report["stations"]):
        raise SystemExit(f"browsed {found} machines, the scenario has {int(report['stations'])}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "plant_3lines.yaml"))
    parser.add_argument("--cache", choices=("warm", "off"), default="warm")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_serve(args.scenario, args.child, args.cache_dir))
        return
    with tempfile.TemporaryDirectory(prefix="bench-opcua-cache-") as cache:
        cache_dir = cache if args.cache == "warm" else None
        first = _one_run(args.scenario, cache_dir) if cache_dir else None
        runs = [_one_run(args.scenario, cache_dir) for _ in range(args.repeat)]
    print(f"{Path(args.scenario).name}: {int(runs[0]['stations'])} stations, {len(runs)} runs")
    print(f"address-space cache: {args.cache}; load average at the end: {os.getloadavg()[0]:.2f}")
    if first:
        print(f"  first start (makes the cache): ready {first['ready']:.2f} s")
    for phase in PHASES:
        values = [r[phase] for r in runs]
        print(
            f"  {phase:12s} median {statistics.median(values):5.2f} s"
            f"  (min {min(values):.2f}, max {max(values):.2f})"
        )


if __name__ == "__main__":
    main()
