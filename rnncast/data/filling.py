"""Filling missing values in many series at once (`--fill`), without a loop per series.

The values are on a regular time grid, series after series in one flat array (series i at
`offsets[i]:offsets[i + 1]`), with NaN where a value is missing: a missing or infinite value
in the data, or a step the data skips. Methods:

- `ffill`: the last value before (a stuck meter reads on);
- `interpolate`: a straight line between the values either side, the last value after the
  final one;
- `zero`: 0 (no row means nothing sold).

`ffill` and `interpolate` have nothing to fill from before a series' first value: those
leading steps are dropped, so the series starts at its first value.
"""

from __future__ import annotations

import numpy as np

from rnncast.settings import FILLS


def fill_missing(
    values: np.ndarray, offsets: np.ndarray, method: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill the NaN of every series by `method`; returns (values, offsets, dropped), where
    `dropped[i]` counts the leading steps of series i removed for want of a value before."""
    if method not in FILLS[1:]:
        raise ValueError(f"unknown fill method '{method}'")
    values = np.asarray(values, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    if method == "zero":
        return np.where(np.isnan(values), 0.0, values), offsets, np.zeros_like(lengths)
    n = len(values)
    at = np.arange(n)
    valid = ~np.isnan(values)
    codes = np.repeat(np.arange(len(lengths)), lengths)
    first, end = offsets[:-1][codes], offsets[1:][codes]  # each position's series bounds
    before = np.maximum.accumulate(np.where(valid, at, -1))  # last valid index at or before
    keep = before >= first  # a value at or before, in the same series
    out = values.copy()
    out[keep] = values[before[keep]]  # ffill; valid positions map to themselves
    if method == "interpolate":
        after = np.minimum.accumulate(np.where(valid, at, n)[::-1])[::-1]  # next valid index
        inner = keep & ~valid & (after < end)
        lo, hi = before[inner], after[inner]
        weight = (at[inner] - lo) / (hi - lo)
        out[inner] = values[lo] + weight * (values[hi] - values[lo])
    kept = np.bincount(codes[keep], minlength=len(lengths))
    new_offsets = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)
    return out[keep], new_offsets, lengths - kept
