"""The project's one place for talking to the outside: retries (``retry``), MQTT (``mqtt``),
Sparkplug B payloads (``sparkplug_payload``) and InfluxDB (``influx``). Line protocol itself is
encoded by ``plant_sim.telemetry_schema``."""
