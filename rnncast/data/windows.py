"""Sliding windows over many series held in one flat array, and time-based splits.

A window is named by the flat index of its first value: the window starting at `s` is
`values[s : s + width]`. Training and forecasting take every such window as a strided view
of the flat values (`tensor.unfold(0, width, 1)`, no copies) and gather a batch by indexing
that view with a few starts. Window starts never cross from one series into the next, and
are computed here for all series at once (no per-window or per-series Python loop).

Training holds a split as `Ranges`, a first start and a count per series, not one entry per
window: 100,000 series of 1,000 steps have some 80 million windows, which as int64 starts
alone would take more memory than the values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnncast.data.series import SeriesSet
from rnncast.errors import DataError
from rnncast.settings import CLI, Spelling, WindowConfig


@dataclass(frozen=True)
class Ranges:
    """Windows of many series: series i has `count[i]` windows, starting at the flat indices
    `first[i]`, `first[i] + 1`, ... Window number j counts them series by series."""

    first: np.ndarray  # (S,) int64
    count: np.ndarray  # (S,) int64, >= 0

    @classmethod
    def between(cls, offsets: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Ranges:
        """Starts `offsets[i] + k` for every k in [lo[i], hi[i]]; none where hi < lo."""
        lo = np.asarray(lo, dtype=np.int64)
        count = np.maximum(np.asarray(hi, dtype=np.int64) - lo + 1, 0)
        return cls(np.asarray(offsets[:-1], dtype=np.int64) + lo, count)

    def __len__(self) -> int:
        return int(self.count.sum())

    def before(self) -> np.ndarray:
        """(S + 1,) int64: the windows of all earlier series, then the total."""
        return np.concatenate([[0], np.cumsum(self.count)]).astype(np.int64)

    def starts(self) -> np.ndarray:
        """Every window's flat start, in window-number order. Vectorised: one arange."""
        total = len(self)
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        return np.arange(total, dtype=np.int64) + np.repeat(
            self.first - self.before()[:-1], self.count
        )


def ranged_starts(offsets: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Flat start indices `offsets[i] + k` for every series i and every k in [lo[i], hi[i]].

    Series with hi < lo contribute nothing. Vectorised: one arange over the total count.
    """
    return Ranges.between(offsets, lo, hi).starts()


def split_ranges(offsets: np.ndarray, window: WindowConfig) -> tuple[Ranges, Ranges]:
    """Training and validation windows, split by time within each series.

    The last `val_size` values of each series are held out: training windows end before
    them; validation windows forecast inside them (with their lookback reaching back into
    the training part). With `val_size == horizon` that is one validation window per series.
    """
    n = np.diff(offsets)
    w, v = window.width, window.val_size
    train = Ranges.between(offsets, np.zeros_like(n), n - v - w)
    if v == 0:
        return train, Ranges.between(offsets, np.zeros_like(n), np.full_like(n, -1))
    return train, Ranges.between(offsets, np.maximum(n - v - window.lookback, 0), n - w)


def split_windows(offsets: np.ndarray, window: WindowConfig) -> tuple[np.ndarray, np.ndarray]:
    """`split_ranges` as the flat start of every window."""
    train, val = split_ranges(offsets, window)
    return train.starts(), val.starts()


def last_starts(offsets: np.ndarray, lookback: int) -> np.ndarray:
    """Flat start of each series' final lookback window (the input of a forecast)."""
    return np.asarray(offsets[1:], dtype=np.int64) - lookback


def backtest_origins(lengths: np.ndarray, lookback: int, horizon: int, windows: int) -> np.ndarray:
    """How many of the last `windows` horizon-length test windows fit each series.

    Window k (k = 1..windows) forecasts positions [n - k*horizon, n - (k-1)*horizon) from
    the lookback before it; it fits when n - k*horizon >= lookback.
    """
    return np.clip((np.asarray(lengths) - lookback) // horizon, 0, windows)


def check_lengths(series: SeriesSet, window: WindowConfig, spell: Spelling = CLI) -> None:
    """Every series must hold at least one window; some series must leave training windows.
    The messages name options as `spell` does."""
    need = window.width
    count, names = series.shorter_than(need)
    if count:
        raise DataError(
            f"{count} series {'is' if count == 1 else 'are'} shorter than lookback "
            f"{window.lookback} + horizon {window.horizon} = {need} values: {names}; "
            f"pass a smaller {spell.name('lookback')}, or {spell('skip_short')} to leave "
            "them out"
        )
    if not (series.lengths >= need + window.val_size).any():
        longest = int(series.lengths.max())
        raise DataError(
            f"no series is long enough to train on: the longest has {longest} values but "
            f"lookback {window.lookback} + horizon {window.horizon} + validation "
            f"{window.val_size} needs {need + window.val_size}; pass a smaller "
            f"{spell.name('lookback')} or {spell.name('val_size')}"
        )
