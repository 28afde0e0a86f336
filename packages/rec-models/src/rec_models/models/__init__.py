"""The model zoo; each model registers under `rec.models` by its config message name."""
