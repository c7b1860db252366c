"""CooPy's widgets, one per module."""
