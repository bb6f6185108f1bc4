"""``twin demo``: the live pipeline without Docker."""
