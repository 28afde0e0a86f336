"""Ragged: one vector of numbers per row, stored padded as [rows, width] with per-row lengths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class ShapeError(ValueError):
    """Two per-row vectors of different lengths met without a fill value; `row` is the first such row."""

    def __init__(self, message: str, row: int) -> None:
        super().__init__(message)
        self.row = row


@dataclass
class Ragged:
    """data [rows, width] float64 (entries past a row's length are ignored) and lengths [rows]."""

    data: np.ndarray
    lengths: np.ndarray

    @staticmethod
    def scalar(values: np.ndarray) -> Ragged:
        """One number per row."""
        values = np.asarray(values, np.float64).reshape(-1, 1)
        return Ragged(values, np.ones(len(values), np.int64))

    @staticmethod
    def from_flat(values: np.ndarray, lengths: np.ndarray) -> Ragged:
        """From flat values and per-row counts."""
        lengths = np.asarray(lengths, np.int64)
        width = max(int(lengths.max()) if len(lengths) else 0, 1)
        data = np.full((len(lengths), width), np.nan)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        starts = np.cumsum(lengths) - lengths
        data[rows, np.arange(len(rows)) - starts[rows]] = values
        return Ragged(data, lengths)

    @property
    def mask(self) -> np.ndarray:
        """True for the entries inside each row's length."""
        return np.arange(self.data.shape[1])[None, :] < self.lengths[:, None]


def _widen(v: Ragged, width: int, fill: float) -> np.ndarray:
    """[rows, width]: one-element rows repeated (broadcast), entries past a row's length set to `fill`."""
    data = v.data
    if data.shape[1] < width:
        data = np.pad(data, ((0, 0), (0, width - data.shape[1])), constant_values=np.nan)
    data = data[:, :width]
    one = (v.lengths == 1)[:, None]
    data = np.where(one, data[:, :1], data)
    beyond = (np.arange(width)[None, :] >= v.lengths[:, None]) & ~one
    return np.where(beyond, fill, data)


def align(values: list[Ragged], fill: float | None) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-row vectors brought to one shape for elementwise work.

    A one-element row broadcasts over the others; rows of unequal lengths are padded with
    `fill`, or are a ShapeError when `fill` is None. Returns the widened arrays and the lengths.
    """
    lengths = values[0].lengths
    for v in values[1:]:
        la, lb = lengths, v.lengths
        unequal = (la != lb) & (la != 1) & (lb != 1)
        if unequal.any() and fill is None:
            row = int(np.flatnonzero(unequal)[0])
            raise ShapeError(f"vectors of {int(la[row])} and {int(lb[row])} values (set fill_missing to pad)", row)
        lengths = np.where(la == 1, lb, np.where(lb == 1, la, np.maximum(la, lb)))
    width = max(int(lengths.max()) if len(lengths) else 0, 1)
    pad = np.nan if fill is None else fill
    return [_widen(v, width, pad) for v in values], lengths
