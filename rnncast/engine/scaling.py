"""Normalisation of input windows and its inverse on the forecasts.

'window' (the default) standardises each input window by its own mean and standard
deviation, and applies the same statistics to the window's target and, inverted, to the
forecast. Because nothing is fitted to a particular series, a model can forecast series it
never saw. 'series' centres each window on its own mean but divides it by its series'
standard deviation over the training data (`series_units`; the model file keeps it, and a
series the model never saw takes it from the history it is given), so all windows of a series
are weighed in the loss in the one unit, as MSE on data z-scored per series weighs errors:
calm windows are not blown up to the size of busy ones. 'none' leaves values as they are.

The scale has a floor, so that a flat stretch (a sensor stuck on one value, a shop closed for
a week) does not blow its targets up: at least `floor` (per window, typically a fraction of
the series' typical window spread, see `series_floors`), at least 0.1% of the window's mean
level, and 1 when all of these are 0 (a window of zeros), so forecasts stay finite. Windows
of logarithms (`--transform log`) have no level to take 0.1% of (a log's size depends on the
data's units): their least scale is 0.001 itself, a change of 0.1%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

REL_LEVEL_FLOOR = 1e-3


@dataclass
class Stats:
    """Per-window location and scale, each (B, 1)."""

    loc: torch.Tensor
    scale: torch.Tensor


def fit(
    x: torch.Tensor, method: str, floor: torch.Tensor | None = None, logs: bool = False
) -> Stats:
    """Statistics of each row of `x` (B, L) for `method` ('window', 'series' or 'none');
    `floor` (B,) or (B, 1) is the least scale of each row ('series': its scale, which
    `series_floors` gives for that method); `logs`: the rows are logarithms of the values."""
    if method == "none":
        ones = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
        return Stats(loc=torch.zeros_like(ones), scale=ones)
    if method not in ("window", "series"):
        raise ValueError(f"unknown scaling '{method}'")
    if method == "series" and floor is None:
        raise ValueError("scaling 'series' needs each row's series scale as `floor`")
    # Statistics of x in units of a power of two near its row's largest |value| (exact),
    # scaled back: squares of float32 values above ~1.8e19 would overflow, and float32 data
    # may hold values up to 3.4e38.
    big = _power_of_two(x.abs().amax(dim=1, keepdim=True))
    unit = x / big
    loc = unit.mean(dim=1, keepdim=True) * big
    std = (
        unit.std(dim=1, keepdim=True, unbiased=False) * big
        if x.shape[1] > 1 and method == "window"
        else torch.zeros_like(loc)
    )
    level = torch.full_like(loc, REL_LEVEL_FLOOR) if logs else REL_LEVEL_FLOOR * loc.abs()
    scale = torch.maximum(std, level)
    if floor is not None:
        scale = torch.maximum(scale, floor.reshape(-1, 1).to(scale.dtype))
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return Stats(loc=loc, scale=scale)


SPREAD_CHUNK = 1 << 22  # values per group of series in `typical_spread`


def typical_spread(
    values: np.ndarray, offsets: np.ndarray, width: int, logs: bool = False
) -> np.ndarray:
    """Each series' mean standard deviation over its consecutive (non-overlapping) chunks of
    `width` values (the whole series when it is shorter): the spread of a typical window
    (`logs`: of the values' logarithms, taken a group at a time).

    Vectorised over groups of whole series of about `SPREAD_CHUNK` values, so that the
    working copies stay small however long the flat array is; values are centred on their
    series' mean first so that sums of squares keep their precision.
    """
    x = np.asarray(values, dtype=np.float32)
    offsets = np.asarray(offsets, dtype=np.int64)
    if len(offsets) < 2:
        return np.zeros(0)
    parts, i = [], 0
    while i < len(offsets) - 1:  # series i .. j - 1, at least one
        j = max(int(np.searchsorted(offsets, offsets[i] + SPREAD_CHUNK, side="right")) - 1, i + 1)
        a, b = offsets[i], offsets[j]
        group = np.log(x[a:b]) if logs else x[a:b]
        parts.append(_typical_spread(group, offsets[i : j + 1] - a, width))
        i = j
    return np.concatenate(parts)


def _typical_spread(x: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    lengths = np.diff(offsets)
    n_series = len(lengths)
    if n_series == 0:
        return np.zeros(0)
    mean = np.add.reduceat(x, offsets[:-1], dtype=np.float64) / np.maximum(lengths, 1)
    d = x - np.repeat(mean.astype(np.float32), lengths)
    # Each series in units of a power of two at least its largest |deviation| (exact), so
    # that squares cannot overflow float32 (values above ~1.8e19 would).
    unit = np.ones(n_series)
    if len(d):
        biggest = np.maximum.reduceat(np.abs(d), np.minimum(offsets[:-1], len(d) - 1))
        biggest[lengths == 0] = 0
        unit = _power_of_two(torch.from_numpy(biggest.astype(np.float64))).numpy()
        d /= np.repeat(unit.astype(np.float32), lengths)
    size = np.maximum(np.minimum(width, lengths), 1)
    chunks = lengths // size
    first = np.cumsum(chunks) - chunks
    k = np.arange(int(chunks.sum()), dtype=np.int64) - np.repeat(first, chunks)
    csize = np.repeat(size, chunks)
    starts = np.repeat(offsets[:-1], chunks) + k * csize
    edges = np.stack([starts, starts + csize], axis=1).ravel()
    if len(edges) and edges[-1] == len(d):
        edges = edges[:-1]  # reduceat runs the last segment to the end of the array
    s1 = np.add.reduceat(d, edges, dtype=np.float64)[::2] if len(edges) else np.zeros(0)
    np.square(d, out=d)
    s2 = np.add.reduceat(d, edges, dtype=np.float64)[::2] if len(edges) else np.zeros(0)
    series = np.repeat(np.arange(n_series), chunks)
    std = np.sqrt(np.maximum(s2 / csize - (s1 / csize) ** 2, 0.0)) * unit[series]
    total = np.bincount(series, weights=std, minlength=n_series)
    return total / np.maximum(chunks, 1)


def _power_of_two(magnitude: torch.Tensor) -> torch.Tensor:
    """2**k with k = ceil(log2(magnitude)), at most 2**127 (float32's largest), and 1 where
    the magnitude is 0: dividing by it is exact, and leaves every |value| at most 2."""
    exponent = torch.ceil(torch.log2(magnitude.clamp_min(1e-30))).clamp(-100, 127)
    return torch.where(magnitude > 0, torch.exp2(exponent), torch.ones_like(magnitude))


def series_floors(
    values: np.ndarray,
    offsets: np.ndarray,
    width: int,
    fraction: float,
    method: str = "window",
    logs: bool = False,
) -> np.ndarray:
    """The scale floor of each series (float32): `fraction` of its typical window spread;
    for `method` 'series', its standard deviation over all its values, which is then the
    scale of its windows. `logs`: of the values' logarithms (`--transform log`)."""
    if method == "series":
        return series_units(values, offsets, logs)
    return (fraction * typical_spread(values, offsets, width, logs)).astype(np.float32)


def series_units(values: np.ndarray, offsets: np.ndarray, logs: bool = False) -> np.ndarray:
    """Each series' standard deviation over all its values (`logs`: their logarithms)
    (float32): its unit under 'series' scaling."""
    # one chunk as long as the longest series: the whole-series std
    longest = int(np.diff(np.asarray(offsets, dtype=np.int64)).max(initial=1))
    return typical_spread(values, offsets, longest, logs).astype(np.float32)


def window_floors(floors: np.ndarray, offsets: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The floor of each window starting at flat index `starts[k]`: its series' floor."""
    return floors[np.searchsorted(offsets, starts, side="right") - 1]


def transform(x: torch.Tensor, stats: Stats) -> torch.Tensor:
    return (x - stats.loc) / stats.scale


def inverse(y: torch.Tensor, stats: Stats) -> torch.Tensor:
    """Forecasts (B, H) back in the data's units; (B, H, levels) quantiles alike."""
    if y.dim() == 3:
        return y * stats.scale.unsqueeze(-1) + stats.loc.unsqueeze(-1)
    return y * stats.scale + stats.loc


def standardise_channels(x: torch.Tensor) -> torch.Tensor:
    """Covariate windows (B, L, C), each channel of each window standardised by its own
    mean and standard deviation (1 where a channel is flat)."""
    b, length, c = x.shape
    rows = x.transpose(1, 2).reshape(b * c, length)
    stats = fit(rows, "window")
    return transform(rows, stats).reshape(b, c, length).transpose(1, 2)
