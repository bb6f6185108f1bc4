"""The ``twin`` command line: the composition root that wires the packages together.

scenario YAML ──► plant_sim (SimPy model, no I/O) ──► records
    batch: record batches ─► log writer (JSONL / Parquet) + KPI columns ─► analytics
    live:  paced clock ─► OPC UA server / MQTT ─► gateway ─► InfluxDB ─► analytics ─► Grafana
"""
