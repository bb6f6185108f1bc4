"""Exceptions of the gateway; no library exception escapes the package.

GatewayError
 ├── SettingsError            a setting is missing or wrong (names the setting)
 ├── SourceError              an OPC UA server or MQTT broker cannot be used (names the endpoint)
 └── SinkError                InfluxDB did not take a batch
      ├── SinkUnavailableError   retryable: unreachable, timeout, 5xx, 429, auth, missing database
      └── SinkRejectedError      not retryable: the server refused the lines themselves
           │                     (400; 422 from 2.x, e.g. points outside the retention period)
           └── SinkTooLargeError the body is too large (413): split it; a line alone too large
                                 is refused
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every gateway error."""


class SettingsError(GatewayError):
    """A setting is missing or wrong; the message names it."""


class SourceError(GatewayError):
    """A source cannot be used; the message names the endpoint."""


class SinkError(GatewayError):
    """InfluxDB did not take a batch."""


class SinkUnavailableError(SinkError):
    """InfluxDB is unreachable, slow or refusing for now: keep the batch and retry."""


class SinkRejectedError(SinkError):
    """InfluxDB refused the lines themselves: retrying the same body cannot succeed."""


class SinkTooLargeError(SinkRejectedError):
    """InfluxDB refused the body for its size (HTTP 413): smaller bodies may be taken."""
