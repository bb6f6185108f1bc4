"""The ``twin`` command line: the composition root that wires the packages together.

scenario YAML ──► plant_sim (SimPy model, no I/O) ──► records
    batch: record batches ─► log writer (JSONL / Parquet) + KPI columns ─► analytics
    live:  paced clock ─► OPC UA server / MQTT ─► gateway ─► InfluxDB ─► analytics ─► Grafana
"""

import os

# numpy's OpenBLAS keeps its worker threads spinning for 2**28 cycles (about 0.1 s of a core)
# after each threaded call, e.g. a dot product of more than 10,000 values (the KPIs'
# time-weighted means): 0.1-0.15 s CPU of a 30-day `twin kpi`. 2**4 cycles lets them sleep at
# once: the same threads and the same split of the work, so the same results. OpenBLAS reads it
# when numpy loads, hence here, before any command imports numpy; a value already set wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
