"""Accuracy metrics and baseline forecasts, as small pure NumPy functions.

Metrics take actuals and forecasts of shape (..., horizon) and return one value per
forecast window (the last axis is averaged). Definitions follow the M4 competition:

- sMAPE = mean of 200 |y - ŷ| / (|y| + |ŷ|), a term with 0 / 0 counting as 0;
- MASE  = mean |y - ŷ| divided by the in-sample mean |y_t - y_{t-m}| of the history before
  the forecast origin (m the seasonal period; m = 1 when the history is too short).

Quantile forecasts: the pinball loss of level q, mean of max(q (y - ŷ_q), (q - 1)(y - ŷ_q)),
also scaled like MASE; the coverage of an interval is the share of actual values inside it.
"""

from __future__ import annotations

import numpy as np

METRICS = ("mae", "rmse", "smape", "mase")


def mae(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    return np.mean(np.abs(y - yhat), axis=-1)


def rmse(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((y - yhat) ** 2, axis=-1))


def smape(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    num = 200.0 * np.abs(y - yhat)
    den = np.abs(y) + np.abs(yhat)
    terms = np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)
    return np.mean(terms, axis=-1)


def mase(y: np.ndarray, yhat: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """MAE over the in-sample seasonal-naive scale; NaN where the scale is 0 (flat history)."""
    return scaled(mae(y, yhat), scale)


def seasonal_scales(
    values: np.ndarray, offsets: np.ndarray, origins: np.ndarray, series: np.ndarray, m: int
) -> np.ndarray:
    """MASE's scale of the history before each origin: the mean |y_t - y_{t-m}| over that
    history (m = 1 when the history holds m values or fewer; NaN for fewer than 2 values).

    `origins` are flat indices into `values` (the first forecast position) and `series` the
    series each belongs to. One cumulative sum over the flat array answers every origin.
    """
    values = np.asarray(values, dtype=np.float64)
    first = np.asarray(offsets)[series]
    history = np.asarray(origins) - first
    lag = np.where(history > m, m, 1)  # m = 1 for short histories
    out = np.full(len(origins), np.nan)
    for value in np.unique(lag):
        diffs = np.zeros(len(values))
        diffs[value:] = np.abs(values[value:] - values[:-value])
        csum = np.concatenate([[0.0], np.cumsum(diffs)])
        use = (lag == value) & (history > value)
        total = csum[origins[use]] - csum[first[use] + value]
        out[use] = total / (history[use] - value)
    return out


def naive(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The last value before each origin, repeated over the horizon: (len(origins), horizon)."""
    return np.repeat(np.asarray(values)[origins - 1][:, None], horizon, axis=1)


def seasonal_naive(
    values: np.ndarray,
    offsets: np.ndarray,
    origins: np.ndarray,
    series: np.ndarray,
    horizon: int,
    m: int,
) -> np.ndarray:
    """The last full season before each origin, repeated; naive where the history is
    shorter than one season."""
    values = np.asarray(values)
    j = np.arange(horizon)
    idx = origins[:, None] - m + (j[None, :] % m)
    short = (origins - offsets[series]) < m
    idx[short] = (origins[short] - 1)[:, None]
    return values[idx]


def score(y: np.ndarray, yhat: np.ndarray, scale: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric for each window: {'mae': (K,), 'rmse': (K,), 'smape': (K,), 'mase': (K,)}."""
    y = np.asarray(y, dtype=np.float64)
    yhat = np.asarray(yhat, dtype=np.float64)
    return {
        "mae": mae(y, yhat),
        "rmse": rmse(y, yhat),
        "smape": smape(y, yhat),
        "mase": mase(y, yhat, scale),
    }


def pinball(y: np.ndarray, yhat_q: np.ndarray, level: float) -> np.ndarray:
    """Pinball loss of the level-`level` quantile forecasts, one value per window."""
    err = np.asarray(y, dtype=np.float64) - np.asarray(yhat_q, dtype=np.float64)
    return np.mean(np.maximum(level * err, (level - 1) * err), axis=-1)


def scaled(err: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per-window errors over MASE's in-sample scale; NaN where the scale is 0."""
    scale = np.asarray(scale, dtype=np.float64)
    return np.divide(err, scale, out=np.full(np.shape(err), np.nan), where=scale > 0)


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """The share of the actual values (all windows and steps) within [lower, upper]."""
    y = np.asarray(y, dtype=np.float64)
    inside = (y >= lower) & (y <= upper)
    return float(inside.mean()) if inside.size else float("nan")


def central_intervals(levels: tuple[float, ...]) -> list[tuple[float, float]]:
    """The central intervals among quantile levels: pairs (q, 1 - q) with q < 0.5 that are
    both in `levels`, widest first."""
    have = {round(q, 9): q for q in levels}
    return [
        (q, have[round(1 - q, 9)]) for q in sorted(levels) if q < 0.5 and round(1 - q, 9) in have
    ]
