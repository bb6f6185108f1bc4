"""InfluxDB writers: one ``Sink`` protocol, a v1 ``/write`` sink and a v2 influxdb-client sink."""

from gateway.sinks.base import Sink
from gateway.sinks.factory import detect_api, make_sink

__all__ = ["Sink", "detect_api", "make_sink"]
