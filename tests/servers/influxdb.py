"""Fixture for a real influxdb on a free loopback port (to be written)."""
