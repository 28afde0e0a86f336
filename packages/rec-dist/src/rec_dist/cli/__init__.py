"""Console scripts of rec-dist: rec-train, rec-eval, rec-predict."""
