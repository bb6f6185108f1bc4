"""The ``twin`` command line: the composition root that wires the packages together.

scenario YAML ──► plant_sim (SimPy model, no I/O) ──► records
    batch: EventLog (JSONL) ─────────────────────────────► analytics (KPIs, what-if)
    live:  paced clock ─► OPC UA server / MQTT ─► gateway ─► InfluxDB ─► analytics ─► Grafana
"""
