"""Generators for the rec documentation site: config reference, example tutorials, CLI help, plugin tables."""
