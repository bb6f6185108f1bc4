"""Fixtures of the gateway tests (the real servers come from tests/servers/)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from tests.gateway.helpers import BROKER_CONF
from tests.servers.mosquitto import Mosquitto


@pytest.fixture(autouse=True)
def _quiet_http_logs() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("asyncua").setLevel(logging.WARNING)


@pytest.fixture
def broker(mosquitto_factory: Callable[..., Mosquitto]) -> Iterator[Mosquitto]:
    """A Mosquitto configured as the gateway needs it (queue limits raised, QoS 0 queued)."""
    yield mosquitto_factory(extra_conf=BROKER_CONF)
