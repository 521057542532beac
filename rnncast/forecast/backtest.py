"""Rolling-origin backtest: forecast the last N horizon-length windows of every series, score
the model and the naive and seasonal-naive baselines on the same windows, and say which
windows the model already saw in training. The model's forecasts are scored as `predict`
writes them: calibrated, then clipped at 0 where the model clips (`--clip`).

Window k (k = 1..N) of a series of length n forecasts positions [n - k*H, n - (k-1)*H) from
the lookback just before them. Per-series scores average that series' windows; overall scores
average the series (as the M4 competition does), ignoring NaN (a MASE whose history is flat).

A quantile model also gets, under "quantiles", each asked-for level's pinball loss (in the
data's units and scaled like MASE, averaged the same way) and the share of actual values
below it, and each central interval's coverage: the share of all actual values inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rnncast.data.series import SeriesSet
from rnncast.data.windows import backtest_origins
from rnncast.engine.models import Forecaster
from rnncast.errors import DataError
from rnncast.forecast import intervals, metrics
from rnncast.forecast.forecasting import Forecasts, Known, outputs_at, quantile_col

METHODS = ("model", "naive", "seasonal_naive")


@dataclass
class Backtest:
    """A backtest's JSON-able `report`, and its windows: window j forecasts flat positions
    `origins[j]` to `origins[j] + horizon - 1` of series `which[j]`, whose actual values are
    `targets[j]`; `forecasts[method][j]` says what each method forecast, and `outputs` holds
    the model's quantiles too."""

    report: dict[str, Any]
    which: np.ndarray
    origins: np.ndarray
    targets: np.ndarray
    forecasts: dict[str, np.ndarray]
    outputs: Forecasts | None = None


def run(
    network: Forecaster,
    series: SeriesSet,
    windows: int,
    cutoffs: dict[str, Any] | None = None,
    device: str = "cpu",
    widths: dict[str, float] | None = None,
    known: Known | None = None,
) -> Backtest:
    """Score the model and the baselines on the last `windows` horizons of every series (see
    the module docstring), keeping every window's actuals and forecasts (for plots);
    `cutoffs`: each series' training cut-off, by id; `widths`: a quantile model's interval
    calibration (`rnncast.forecast.intervals`); `known`: as `outputs_at` takes it."""
    lookback, horizon = network.lookback, network.horizon
    lengths = series.lengths
    counts = backtest_origins(lengths, lookback, horizon, windows)
    if not counts.any():
        raise DataError(
            f"no series in '{series.source}' is long enough for one backtest window: that "
            f"needs lookback {lookback} + horizon {horizon} = {lookback + horizon} values, the "
            f"longest has {int(lengths.max())}"
        )
    which = np.repeat(np.arange(len(series)), counts)  # series of each window
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    pos = lengths[which] - k * horizon  # first forecast position within the series
    origins = series.offsets[which] + pos  # ... and in the flat array
    targets = series.values[origins[:, None] + np.arange(horizon)[None, :]]
    m = series.axis.season_length
    outputs = intervals.apply(
        outputs_at(network, series, origins - lookback, device=device, known=known), widths or {}
    ).clipped(network.config.clip)  # what predict would write is what is scored
    forecasts = {
        "model": outputs.point,
        "naive": metrics.naive(series.values, origins, horizon),
        "seasonal_naive": metrics.seasonal_naive(
            series.values, series.offsets, origins, which, horizon, m
        ),
    }
    scale = metrics.seasonal_scales(series.values, series.offsets, origins, which, m)
    scores = {name: metrics.score(targets, f, scale) for name, f in forecasts.items()}

    seen = _in_training(series, which, pos, cutoffs)
    per_series = _per_series(series, which, counts, seen, scores)
    report = {
        "data": series.source,
        "horizon": horizon,
        "lookback": lookback,
        "windows": windows,
        "season_length": m,
        "series": int((counts > 0).sum()),
        "windows_scored": int(counts.sum()),
        "windows_in_training": int(seen.sum()),
        **_overall(per_series),
        "skipped_series": [str(series.ids[i]) for i in np.flatnonzero(counts == 0)],
        "per_series": per_series,
    }
    if network.config.quantiles:
        report["quantiles"] = _quantile_report(
            outputs, network.config.quantiles, targets, scale, which
        )
    return Backtest(report, which, origins, targets, forecasts, outputs)


def _overall(per_series: list[dict[str, Any]]) -> dict[str, Any]:
    """Each method's scores averaged over the series (as M4 does), and the model's ratio to
    each baseline's."""
    overall = {
        name: {
            metric: _nanmean([s[name][metric] for s in per_series]) for metric in metrics.METRICS
        }
        for name in METHODS
    }
    skill = {
        f"vs_{base}": {
            metric: _ratio(overall["model"][metric], overall[base][metric])
            for metric in metrics.METRICS
        }
        for base in ("naive", "seasonal_naive")
    }
    return {"overall": overall, "skill": skill}


def _quantile_report(outputs: Forecasts, asked, targets, scale, which) -> dict[str, Any]:
    """Pinball loss and calibration of each asked-for level; coverage of each interval."""
    levels = {}
    for q in asked:
        forecast = outputs.at(q)
        loss = metrics.pinball(targets, forecast, q)
        levels[quantile_col(q)] = {
            "level": q,
            "pinball": _series_mean(loss, which),
            "scaled_pinball": _series_mean(metrics.scaled(loss, scale), which),
            "below": float((targets <= forecast).mean()),
        }
    intervals = {
        f"{round((hi - lo) * 100, 6):g}%": {
            "lower": lo,
            "upper": hi,
            "coverage": metrics.coverage(targets, outputs.at(lo), outputs.at(hi)),
        }
        for lo, hi in metrics.central_intervals(asked)
    }
    return {"levels": levels, "intervals": intervals}


def _series_mean(per_window: np.ndarray, which: np.ndarray) -> float | None:
    """Mean over series of each series' mean over its windows, ignoring NaN (as METRICS)."""
    ok = np.isfinite(per_window)
    sums = np.bincount(which[ok], weights=per_window[ok])
    counts = np.bincount(which[ok], minlength=len(sums))
    return _nanmean(sums[counts > 0] / counts[counts > 0])


def _in_training(series: SeriesSet, which, pos, cutoffs) -> np.ndarray:
    """True for windows whose first forecast time is at or before the series' training
    cut-off (the model saw those values while training)."""
    if not cutoffs:
        return np.zeros(len(which), dtype=bool)
    keys = [str(i) for i in series.ids]
    known = np.array([key in cutoffs for key in keys])
    if not known.any():
        return np.zeros(len(which), dtype=bool)
    first_time = series.axis.at(series.starts[which], pos)
    cut = [cutoffs.get(key) for key in keys]
    if series.axis.kind == "datetime":
        aware = series.starts.tz is not None  # compare instants in UTC when times have zones
        cut_times = pd.DatetimeIndex(pd.to_datetime(pd.Series(cut, dtype=object), utc=aware))
        if aware:
            first_time = first_time.tz_convert("UTC")
        return known[which] & np.asarray(first_time <= cut_times[which])
    cut_int = np.array([int(c) if c is not None else np.iinfo(np.int64).min for c in cut])
    return known[which] & (np.asarray(first_time) <= cut_int[which])


def _per_series(series, which, counts, seen, scores) -> list[dict[str, Any]]:
    out = []
    ends = np.cumsum(counts)
    for i in np.flatnonzero(counts):
        sl = slice(int(ends[i] - counts[i]), int(ends[i]))
        row: dict[str, Any] = {
            "id": _plain(series.ids[i]),
            "windows": int(counts[i]),
            "in_training": int(seen[sl].sum()),
        }
        for name in METHODS:
            row[name] = {metric: _nanmean(scores[name][metric][sl]) for metric in metrics.METRICS}
        out.append(row)
    return out


def _nanmean(values) -> float | None:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if len(arr) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or not math.isfinite(b):
        return None
    return a / b


def _plain(value: Any) -> Any:
    """NumPy scalars as Python ones, so the report is JSON-able."""
    return value.item() if isinstance(value, np.generic) else value


def per_step(result: Backtest, series: SeriesSet) -> dict[str, list[float | None]]:
    """The model's MAE, sMAPE and MASE at each step of the horizon (step 1 first), averaged
    as the overall scores are (each series' windows, then the series): the mean over the
    steps is the overall score where no value is missing. `series`: the data backtested."""
    y = np.asarray(result.targets, dtype=np.float64)
    yhat = np.asarray(result.forecasts["model"], dtype=np.float64)
    m = result.report["season_length"]
    scale = metrics.seasonal_scales(series.values, series.offsets, result.origins, result.which,
                                    m)  # fmt: skip
    errors = np.abs(y - yhat)  # (windows, horizon)
    terms = {
        "mae": errors,
        "smape": metrics.smape(y[..., None], yhat[..., None]),  # each value's own term
        "mase": metrics.scaled(errors, scale[:, None]),
    }
    return {
        name: [_series_mean(at[:, h], result.which) for h in range(at.shape[1])]
        for name, at in terms.items()
    }
