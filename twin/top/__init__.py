"""``twin top``: a live terminal view of a running plant."""
