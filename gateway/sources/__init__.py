"""Sources: they put ``RawMessage``s into the gateway's bounded intake queue."""
