"""Error types shared by every rec package; each names what is wrong and where."""


class RecError(Exception):
    """Base class for errors a user can act on; CLIs print them as one line and exit non-zero."""


class ConfigError(RecError):
    """A pipeline config is invalid; the message names the field path and what was expected."""

    def __init__(self, path: str, message: str, source: str | None = None) -> None:
        self.path = path
        self.source = source
        where = f"{source}: " if source else ""
        field = f"{path}: " if path else ""
        super().__init__(f"{where}{field}{message}")


class DataError(RecError):
    """Input data is missing or malformed; the message names the file, column or row."""


class CheckpointError(RecError):
    """A checkpoint is missing or unreadable."""


class PluginError(RecError):
    """A plugin cannot be found or loaded; the message lists what is installed."""
