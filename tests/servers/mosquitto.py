"""Fixture for a real mosquitto on a free loopback port (to be written)."""
