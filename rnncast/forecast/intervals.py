"""Calibrating prediction intervals on held-out windows (split conformal, by width).

A quantile model's (q, 1 - q) interval is stretched or shrunk about the median by one factor
c, chosen on the validation windows so that the interval covers its nominal share there: for
each validation value, the factor that would just reach it is |y - median| over the
distance from the median to the interval's bound on y's side, and c is the conformal
quantile of those factors (the ceil((n + 1)(1 - alpha))-th smallest of n). Widths keep their
shape over the horizon; only their scale moves. Quantiles outside any pair are left as they
are, and all quantiles are sorted afterwards so that none cross.
"""

from __future__ import annotations

import math

import numpy as np

from rnncast.forecast.forecasting import Forecasts
from rnncast.forecast.metrics import central_intervals


def key(lower: float, upper: float) -> str:
    """How an interval is named in a model file: '0.1-0.9'."""
    return f"{lower:g}-{upper:g}"


def calibrate(outputs: Forecasts, targets: np.ndarray) -> dict[str, float]:
    """The width factor of each central interval of `outputs` (validation forecasts) that
    makes it cover its nominal share of `targets` (K, horizon)."""
    y = np.asarray(targets, dtype=np.float64)
    median = outputs.at(0.5).astype(np.float64)
    factors = {}
    for lower, upper in central_intervals(outputs.levels):
        lo, hi = outputs.at(lower), outputs.at(upper)
        reach = np.where(y >= median, hi - median, median - lo)
        need = np.abs(y - median)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(need == 0, 0.0, need / reach)  # reach 0, y off: inf
        ratio = np.sort(ratio[~np.isnan(ratio)].ravel())
        n = len(ratio)
        if n == 0:
            continue
        rank = min(n, math.ceil((n + 1) * (upper - lower)))
        factor = float(ratio[rank - 1])
        if math.isfinite(factor):
            factors[key(lower, upper)] = factor
    return factors


def level_factors(levels: tuple[float, ...], factors: dict[str, float]) -> list[float]:
    """The width factor each quantile level's distance from the median is multiplied by, as
    `apply` does (1 for the median and any level outside a calibrated interval): for the
    exported graph (`rnncast.forecast.graph`), which widens all levels at once."""
    by_level = dict.fromkeys(levels, 1.0)
    for lower, upper in central_intervals(levels):
        factor = factors.get(key(lower, upper))
        if factor is not None:
            by_level[lower] = by_level[upper] = factor
    return [by_level[level] for level in levels]


def apply(outputs: Forecasts, factors: dict[str, float]) -> Forecasts:
    """`outputs` with each calibrated interval's width scaled by its factor."""
    if outputs.quantiles is None or not factors:
        return outputs
    q = outputs.quantiles.astype(np.float64)
    median = q[..., outputs.levels.index(0.5)]
    for lower, upper in central_intervals(outputs.levels):
        factor = factors.get(key(lower, upper))
        if factor is None:
            continue
        for level in (lower, upper):
            j = outputs.levels.index(level)
            q[..., j] = median + factor * (q[..., j] - median)
    q = np.sort(q, axis=-1).astype(np.float32)
    return Forecasts(point=outputs.point, quantiles=q, levels=outputs.levels)
