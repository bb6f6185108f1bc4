"""The project's one place for talking to the outside: retries (``retry``), MQTT (``mqtt``),
Sparkplug B payloads (``sparkplug_payload``), InfluxDB (``influx``) and the console
that prints tables (``console``). Line protocol itself is
encoded by ``plant_sim.telemetry_schema``."""
