"""Reusable network modules."""
