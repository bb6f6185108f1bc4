"""Live twin throughput: OPC UA value updates/s, MQTT messages/s, and lag at speed 1 and 60.

Run: ``python bench/bench_live.py [--seconds 20] [--repeat 3]`` (needs /usr/sbin/mosquitto).
Prints medians over ``--repeat`` runs. Records come from a batch run of plant_3lines
(30 stations), so the model's own cost is outside the protocol numbers; the live runs include it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plant_sim.live.layout import PlantLayout  # noqa: E402
from plant_sim.live.mqtt_publisher import MqttPublisher, MqttSettings  # noqa: E402
from plant_sim.live.opcua_server import OpcUaSettings, TwinOpcUaServer  # noqa: E402
from plant_sim.live.service import LiveConfig, serve_live  # noqa: E402
from plant_sim.scenario import load_scenario  # noqa: E402
from plant_sim.simulation import run_batch  # noqa: E402
from tests.servers.mosquitto import Mosquitto, free_port, mosquitto_binary  # noqa: E402

SCENARIO = ROOT / "scenarios" / "plant_3lines.yaml"


async def opcua_rate(records: list, layout: PlantLayout) -> tuple[float, float]:
    """Return (value updates/s, records/s) of the OPC UA server, no subscriber."""
    srv = TwinOpcUaServer(layout, OpcUaSettings(endpoint=f"opc.tcp://127.0.0.1:{free_port()}/"))
    await srv.start()
    srv.set_run("bench", 0)
    t0 = time.perf_counter()
    await srv.publish(records)
    dt = time.perf_counter() - t0
    writes = srv.values_written
    await srv.stop()
    return writes / dt, len(records) / dt


async def mqtt_rate(records: list, layout: PlantLayout, url: str) -> float:
    """Return MQTT messages/s from the first publish until paho holds nothing unacknowledged."""
    pub = MqttPublisher(layout, MqttSettings(url=url, client_id=f"bench-{free_port()}"))
    await pub.start()
    t0 = time.perf_counter()
    await pub.publish(records)
    await pub.drain(120)
    dt = time.perf_counter() - t0
    sent = pub.stats.published
    await pub.stop()
    return sent / dt


async def live_lag(scenario: object, speed: float, seconds: float, url: str) -> tuple[float, float]:
    """Run live with both protocols for ``seconds`` wall; return (max lag s, records/s)."""
    config = LiveConfig(
        speed=speed, until_s=6 * 3600 + seconds * speed,
        opcua=OpcUaSettings(endpoint=f"opc.tcp://127.0.0.1:{free_port()}/"),
        mqtt=MqttSettings(url=url, client_id=f"bench-live-{free_port()}"),
    )
    # start at the first shift: skip the quiet night at full speed, then pace
    runners: list = []

    def ready(runner: object) -> None:
        runners.append(runner)
        runner.model.run(6 * 3600)  # type: ignore[attr-defined]

    t0 = time.perf_counter()
    stats = await serve_live(scenario, config, ready, handle_signals=False)  # type: ignore[arg-type]
    dt = time.perf_counter() - t0
    return stats.max_lag_s, stats.records / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    binary = mosquitto_binary()
    if binary is None:
        sys.exit("mosquitto is not installed")
    broker = Mosquitto(binary, Path(tempfile.mkdtemp()), ["max_queued_messages 0"])
    broker.start()
    scenario = load_scenario(SCENARIO)
    layout = PlantLayout.from_scenario(scenario)
    records = [r for r in run_batch(scenario, 8 * 3600).records if r.t >= 6 * 3600][:60_000]
    n_st = len(layout.stations)
    print(f"plant_3lines: {n_st} stations; {len(records)} records from the first shift")
    res: dict[str, list[float]] = {k: [] for k in ("ua", "uar", "mq", "lag1", "lag60", "r60")}
    try:
        for _ in range(args.repeat):
            ua_w, ua_r = asyncio.run(opcua_rate(records, layout))
            res["ua"].append(ua_w)
            res["uar"].append(ua_r)
            res["mq"].append(asyncio.run(mqtt_rate(records, layout, broker.url)))
            lag1, _ = asyncio.run(live_lag(scenario, 1, args.seconds, broker.url))
            lag60, r60 = asyncio.run(live_lag(scenario, 60, args.seconds, broker.url))
            res["lag1"].append(lag1)
            res["lag60"].append(lag60)
            res["r60"].append(r60)
    finally:
        broker.stop()
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"OPC UA value updates/s (no subscriber): {med['ua']:,.0f}  "
          f"({med['uar']:,.0f} records/s, each also an event)")
    print(f"MQTT messages/s (QoS 1 events, QoS 0 samples, until acked): {med['mq']:,.0f}")
    print(f"live speed 1, {n_st} stations, both protocols: max lag {med['lag1']:.3f} s")
    print(f"live speed 60, {n_st} stations, both protocols: max lag {med['lag60']:.3f} s, "
          f"{med['r60']:,.0f} records/s")


if __name__ == "__main__":
    main()
