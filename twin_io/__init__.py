"""The project's one place for talking to the outside: retries (``retry``), MQTT (``mqtt``),
Sparkplug B payloads (``sparkplug_payload``), InfluxDB (``influx``), the console that prints
tables (``console``) and child processes that end with their parent (``lifetime``). Line
protocol itself is encoded by ``plant_sim.telemetry_schema``."""
