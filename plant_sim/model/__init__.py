"""The SimPy plant model: pure simulation, no I/O, no wall clock."""
