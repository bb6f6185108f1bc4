"""Sparkplug edge nodes under a DDATA flood: publish rate and how fast they act on NCMD/STATE.

Run: ``python bench/bench_sparkplug.py [--seconds 10] [--speed 20000] [--repeat 3]`` (needs
/usr/sbin/mosquitto, mosquitto_sub and mosquitto_pub). ``twin sim --mqtt-format sparkplug`` of
the bottling line runs as fast as it can (speed 20,000 is far ahead of what the model does, so
the run is behind the clock all the time: the flood of the failing tests). A ``mosquitto_sub``
in its own process timestamps every Sparkplug message. Every 0.5 s a ``mosquitto_pub`` (its own
process) sends an NCMD ``Node Control/Rebirth`` to line1; the latency is the time from that
send until the subscriber sees the NBIRTH it causes (the edge node reads the NCMD, publishes
NBIRTH and six DBIRTHs). Printed: DDATA+NDATA messages/s received, rebirth latency median and
max, and how many rebirth requests got no NBIRTH within 5 s; medians over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plant_sim.live.runner import LiveRunner  # noqa: E402
from plant_sim.live.service import LiveConfig, serve_live  # noqa: E402
from plant_sim.live.sparkplug import REBIRTH  # noqa: E402
from plant_sim.live.sparkplug_sink import SparkplugSettings  # noqa: E402
from plant_sim.scenario import load_scenario  # noqa: E402
from tests.servers.mosquitto import Mosquitto, mosquitto_binary  # noqa: E402
from twin_io.sparkplug_payload import DataType, Payload, metric  # noqa: E402

SCENARIO = ROOT / "scenarios" / "bottling_line.yaml"
NCMD_TOPIC = "spBv1.0/acme_plant1_bottling/NCMD/line1"
MISSED_S = 5.0  # a rebirth request with no NBIRTH within this is counted as missed


def one_run(seconds: float, speed: float, port: int, url: str, work: Path) -> dict[str, float]:
    """One live run; returns the data rate, the rebirth latencies and the misses."""
    out = work / "sub.txt"
    conn = ["-h", "127.0.0.1", "-p", str(port), "-q", "1"]
    with out.open("wb") as sink:
        sub = subprocess.Popen(
            ["mosquitto_sub", *conn, "-t", "spBv1.0/#", "-F", "%U %t"],
            stdout=sink,
            stderr=subprocess.DEVNULL,
        )
    cmd = Payload(timestamp=1)
    cmd.metrics.append(metric(0, DataType.BOOLEAN, True, 1, REBIRTH))
    body = work / "rebirth.bin"
    body.write_bytes(cmd.SerializeToString())
    sent: list[float] = []
    config = LiveConfig(
        speed=speed, seed=4, opcua=None, mqtt=None, sparkplug=SparkplugSettings(url=url)
    )

    async def drive() -> None:
        ready: asyncio.Queue[LiveRunner] = asyncio.Queue()
        task = asyncio.create_task(
            serve_live(
                load_scenario(SCENARIO), config, on_ready=ready.put_nowait, handle_signals=False
            )
        )
        runner = await ready.get()
        await asyncio.sleep(1.0)  # births and the start-up burst
        end = time.time() + seconds
        while time.time() < end:
            sent.append(time.time())
            await asyncio.to_thread(
                subprocess.run,
                ["mosquitto_pub", *conn, "-t", NCMD_TOPIC, "-f", str(body)],
                check=True,
            )
            await asyncio.sleep(0.5)
        runner.stop()
        await task

    t0 = time.time()
    asyncio.run(drive())
    t1 = time.time()
    time.sleep(MISSED_S)  # what is still on its way
    sub.terminate()
    sub.wait(10)
    lines = [ln.split(" ", 1) for ln in out.read_text().splitlines() if " " in ln]
    seen = [(float(ts), topic.split("/")[2]) for ts, topic in lines]
    data = [ts for ts, kind in seen if kind in ("DDATA", "NDATA") and t0 + 1.0 <= ts <= t1]
    nbirths = sorted(ts for ts, kind in seen if kind == "NBIRTH")
    latencies, missed = [], 0
    for ts in sent:
        nxt = next((b for b in nbirths if b >= ts), None)
        if nxt is None or nxt - ts > MISSED_S:
            missed += 1
        else:
            latencies.append(nxt - ts)
    span = (max(data) - min(data)) if len(data) > 1 else 1.0
    return {
        "data_per_s": len(data) / span,
        "latency_median_ms": statistics.median(latencies) * 1e3 if latencies else float("nan"),
        "latency_max_ms": max(latencies) * 1e3 if latencies else float("nan"),
        "missed": missed,
        "requests": len(sent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=20_000.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    binary = mosquitto_binary()
    if binary is None or not shutil.which("mosquitto_sub") or not shutil.which("mosquitto_pub"):
        sys.exit("needs mosquitto, mosquitto_sub and mosquitto_pub")
    import paho.mqtt

    print(f"paho-mqtt {paho.mqtt.__version__}, load {os.getloadavg()[0]:.1f} at start")
    runs = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-spb-") as tmp:
            broker = Mosquitto(binary, Path(tmp))
            broker.start()
            try:
                r = one_run(args.seconds, args.speed, broker.port, broker.url, Path(tmp))
            finally:
                broker.stop()
        runs.append(r)
        print(
            f"run {i + 1}: {r['data_per_s']:,.0f} DDATA+NDATA/s; rebirth latency median "
            f"{r['latency_median_ms']:.0f} ms, max {r['latency_max_ms']:.0f} ms; "
            f"{r['missed']:.0f} of {r['requests']:.0f} requests without NBIRTH in {MISSED_S:g} s"
        )
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"median of {len(runs)}: {med['data_per_s']:,.0f} DDATA+NDATA/s; rebirth latency "
        f"median {med['latency_median_ms']:.0f} ms, max {med['latency_max_ms']:.0f} ms; "
        f"missed {med['missed']:.0f}; load {os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()
