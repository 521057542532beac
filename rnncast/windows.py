"""Sliding windows over many series held in one flat array, and time-based splits.

A window is named by the flat index of its first value: the window starting at `s` is
`values[s : s + width]`. Training and forecasting take every such window as a strided view
of the flat values (`tensor.unfold(0, width, 1)`, no copies) and gather a batch by indexing
that view with a few starts. Window starts never cross from one series into the next, and
are computed here for all series at once (no per-window or per-series Python loop).
"""

from __future__ import annotations

import numpy as np

from rnncast.config import WindowConfig


def ranged_starts(offsets: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Flat start indices `offsets[i] + k` for every series i and every k in [lo[i], hi[i]].

    Series with hi < lo contribute nothing. Vectorised: one arange over the total count.
    """
    lo = np.asarray(lo, dtype=np.int64)
    count = np.maximum(np.asarray(hi, dtype=np.int64) - lo + 1, 0)
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    base = np.asarray(offsets[:-1], dtype=np.int64) + lo
    before = np.cumsum(count) - count  # windows of all earlier series
    return np.arange(total, dtype=np.int64) + np.repeat(base - before, count)


def split_windows(offsets: np.ndarray, window: WindowConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation window starts, split by time within each series.

    The last `val_size` values of each series are held out: training windows end before
    them; validation windows forecast inside them (with their lookback reaching back into
    the training part). With `val_size == horizon` that is one validation window per series.
    """
    n = np.diff(offsets)
    w, v = window.width, window.val_size
    zeros = np.zeros_like(n)
    train = ranged_starts(offsets, zeros, n - v - w)
    if v == 0:
        return train, np.zeros(0, dtype=np.int64)
    val = ranged_starts(offsets, np.maximum(n - v - window.lookback, 0), n - w)
    return train, val


def last_starts(offsets: np.ndarray, lookback: int) -> np.ndarray:
    """Flat start of each series' final lookback window (the input of a forecast)."""
    return np.asarray(offsets[1:], dtype=np.int64) - lookback


def backtest_origins(lengths: np.ndarray, lookback: int, horizon: int, windows: int) -> np.ndarray:
    """How many of the last `windows` horizon-length test windows fit each series.

    Window k (k = 1..windows) forecasts positions [n - k*horizon, n - (k-1)*horizon) from
    the lookback before it; it fits when n - k*horizon >= lookback.
    """
    return np.clip((np.asarray(lengths) - lookback) // horizon, 0, windows)
