"""Start-up time of the twin's OPC UA server with the DI, IA and Machinery NodeSets loaded.

Run: ``python bench/bench_opcua_startup.py [--repeat 5] [--scenario scenarios/plant_3lines.yaml]``.
Each run is a fresh Python process (nothing cached) that times, in wall seconds:
``Server.init()`` (asyncua's standard address space), loading the three NodeSets, building the
twin's address space for the scenario (stations as instances of the standard types), and the
whole ``TwinOpcUaServer.start()`` until it listens. Prints the median and range of each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHASES = ("server_init", "nodesets", "build_space", "start_total")


async def _one(scenario_path: str) -> dict[str, float]:
    from asyncua import Server

    from plant_sim.live import machinery_model, opcua_server
    from plant_sim.live.layout import PlantLayout
    from plant_sim.live.opcua_server import OpcUaSettings, TwinOpcUaServer
    from plant_sim.scenario import load_scenario
    from tests.servers.mosquitto import free_port

    times: dict[str, float] = {}
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
    server = TwinOpcUaServer(
        layout, OpcUaSettings(endpoint=f"opc.tcp://127.0.0.1:{free_port()}/twin/")
    )
    t0 = time.perf_counter()
    await server.start()
    times["start_total"] = time.perf_counter() - t0
    times["stations"] = float(len(layout.stations))
    await server.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "plant_3lines.yaml"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_one(args.scenario))))
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--scenario", args.scenario],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{Path(args.scenario).name}: {int(runs[0]['stations'])} stations, {len(runs)} runs")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores shared)")
    for phase in PHASES:
        values = [r[phase] for r in runs]
        print(
            f"  {phase:12s} median {statistics.median(values):5.2f} s"
            f"  (min {min(values):.2f}, max {max(values):.2f})"
        )


if __name__ == "__main__":
    main()
