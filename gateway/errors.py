"""Exceptions of the gateway; no library exception escapes the package.

GatewayError
 ├── SettingsError            a setting is missing or wrong (names the setting)
 └── SourceError              an OPC UA server or MQTT broker cannot be used (names the endpoint)

SinkError = twin_io.influx.InfluxError: InfluxDB did not take a batch
      ├── SinkUnavailableError   retryable: unreachable, timeout, 5xx, 429, auth, missing database
      └── SinkRejectedError      not retryable: the server refused the lines themselves
           │                     (400; 422 from 2.x, e.g. points outside the retention period)
           └── SinkTooLargeError the body is too large (413): split it; a line alone too large
                                 is refused
"""

from __future__ import annotations

from twin_io.influx import (
    InfluxError,
    InfluxRejectedError,
    InfluxTooLargeError,
    InfluxUnavailableError,
)


class GatewayError(Exception):
    """Base of every gateway error."""


class SettingsError(GatewayError):
    """A setting is missing or wrong; the message names it."""


class SourceError(GatewayError):
    """A source cannot be used; the message names the endpoint."""


# InfluxDB errors are those of the one InfluxDB module, under the gateway's names
SinkError = InfluxError
SinkUnavailableError = InfluxUnavailableError
SinkRejectedError = InfluxRejectedError
SinkTooLargeError = InfluxTooLargeError
