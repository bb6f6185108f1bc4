"""Gateway: OPC UA and MQTT telemetry into InfluxDB, with store-and-forward."""
