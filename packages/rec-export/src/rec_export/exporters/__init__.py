"""Built-in exporters, registered in the `rec.exporters` entry-point group like any plugin."""
