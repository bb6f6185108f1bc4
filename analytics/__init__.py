"""ISO 22400 KPIs, loss analysis, bottlenecks and what-if studies over plain record streams."""
