"""Console entry points of rec-core."""
