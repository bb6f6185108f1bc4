"""The project's one place for talking to the outside: retries (``retry``), MQTT (``mqtt``) and
InfluxDB (``influx``). Line protocol itself is encoded by ``plant_sim.telemetry_schema``."""
