"""Errors raised by feature generation."""

from rec_core.errors import DataError


class InvalidFgInputError(DataError):
    """An input column of a feature is missing or holds a value FG cannot read."""

    def __init__(self, feature: str, message: str, row: int | None = None) -> None:
        where = f" (row {row})" if row is not None else ""
        super().__init__(f"feature {feature!r}: {message}{where}")
        self.feature = feature
        self.row = row
