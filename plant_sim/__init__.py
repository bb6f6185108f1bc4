"""The plant model: scenario schema, SimPy model (no I/O), records, and the shared contract."""
