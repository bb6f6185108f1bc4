"""InfluxDB 2.x / 3.x writes through influxdb-client's v2 write API (SYNCHRONOUS, no retries).

The gateway owns batching, retries and the disk buffer; the client is used only for one
synchronous request per batch, so its background batching (which drops data after its retries,
see performance.md) is never involved.
"""

from __future__ import annotations

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from gateway.errors import SinkUnavailableError
from gateway.sinks.base import classify_status


class InfluxV2Sink:
    """Writes to ``/api/v2/write`` with a token, an org and a bucket."""

    name = "v2"

    def __init__(
        self, url: str, token: str, org: str, bucket: str, timeout_s: float = 10.0
    ) -> None:
        self.url = url
        self.org = org
        self.bucket = bucket
        self._client = InfluxDBClient(
            url=url, token=token, org=org, timeout=int(timeout_s * 1000), retries=False
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def prepare(self) -> None:
        """Nothing to create: the bucket (2.x) exists or the database is made on write (3.x)."""

    def write(self, body: bytes) -> None:
        """Write one body; raises ``SinkError``."""
        try:
            self._write.write(
                bucket=self.bucket, org=self.org, record=body, write_precision=WritePrecision.NS
            )
        except ApiException as exc:
            text = (
                exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
            )
            raise classify_status(
                exc.status or 0, text, f"InfluxDB {self.url}/api/v2/write"
            ) from exc
        except (Urllib3Error, OSError) as exc:
            raise SinkUnavailableError(f"InfluxDB {self.url}/api/v2/write: {exc}") from exc

    def close(self) -> None:
        """Close the client."""
        self._write.close()
        self._client.close()
