"""Rolling-origin backtest: forecast the last N horizon-length windows of every series, score
the model and the naive and seasonal-naive baselines on the same windows, and say which
windows the model already saw in training. The model's forecasts are scored as `predict`
writes them: calibrated, then clipped at 0 where the model clips (`--clip`).

Window k (k = 1..N) of a series of length n forecasts positions [n - k*H, n - (k-1)*H) from
the lookback just before them. Per-series scores average that series' windows; overall scores
average the series (as the M4 competition does), ignoring NaN (a MASE whose history is flat).

A window is in-sample when the model trained on some of its target times: its first one is
at or before the series' training cut-off (the end of the data it trained on, which the
model file records per series); out-of-sample when all come after it, or the model never
trained on the series; unknown when the model records no cut-offs. The report scores the
kinds apart too, under "by_sample", each averaged as the pooled scores are.

A quantile model also gets, under "quantiles", each asked-for level's pinball loss (in the
data's units and scaled like MASE, averaged the same way) and the share of actual values
below it, and each central interval's coverage: the share of all actual values inside it.

`forecasts_frame` lays every window out as rows, one per step, from the same arrays the
scores come from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rnncast.data.series import DEFAULT_ID, DEFAULT_TIME, SeriesSet
from rnncast.data.windows import backtest_origins
from rnncast.engine.models import Forecaster
from rnncast.errors import DataError
from rnncast.forecast import intervals, metrics
from rnncast.forecast.forecasting import FORECAST_COL, Forecasts, Known, outputs_at, quantile_col

METHODS = ("model", "naive", "seasonal_naive")
IN, OUT, UNKNOWN = "in-sample", "out-of-sample", "unknown"  # a window's kind, as files say it
SAMPLES = (OUT, IN, UNKNOWN)  # the report's order; its keys write '_' for '-'


@dataclass
class Backtest:
    """A backtest's JSON-able `report`, and its windows: window j forecasts flat positions
    `origins[j]` to `origins[j] + horizon - 1` of series `which[j]`, whose actual values are
    `targets[j]`; `forecasts[method][j]` says what each method forecast, and `outputs` holds
    the model's quantiles too (`levels`: those the model was asked for); `positions[j]`
    is the first forecast position within its series, `scales[j]` MASE's scale and
    `samples[j]` the window's kind (`IN`, `OUT` or `UNKNOWN`)."""

    report: dict[str, Any]
    which: np.ndarray
    origins: np.ndarray
    targets: np.ndarray
    forecasts: dict[str, np.ndarray]
    outputs: Forecasts | None = None
    positions: np.ndarray | None = None
    scales: np.ndarray | None = None
    samples: np.ndarray | None = None
    levels: tuple[float, ...] = ()


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

    samples = _samples(series, which, pos, cutoffs)
    report = {
        "data": series.source,
        "horizon": horizon,
        "lookback": lookback,
        "windows": windows,
        "season_length": m,
        **_scored(series, counts, samples, scores),
    }
    if network.config.quantiles:
        report["quantiles"] = _quantile_report(
            outputs, network.config.quantiles, targets, scale, which
        )
    return Backtest(report, which, origins, targets, forecasts, outputs, pos, scale, samples,
                    tuple(network.config.quantiles))  # fmt: skip


def _scored(series: SeriesSet, counts, samples, scores) -> dict[str, Any]:
    """The report's counts and scores: overall, by sample, per series."""
    seen = samples == IN
    per_series = _per_series(series, counts, seen, scores)
    return {
        "series": int((counts > 0).sum()),
        "windows_scored": int(counts.sum()),
        "windows_in_training": int(seen.sum()),
        **_overall(per_series),
        "by_sample": _by_sample(counts, samples, scores, per_series),
        "skipped_series": [str(series.ids[i]) for i in np.flatnonzero(counts == 0)],
        "per_series": per_series,
    }


FRAME_COLUMNS = ("cutoff", "step", "actual", FORECAST_COL, "naive", "seasonal_naive",
                 "mase_scale", "sample")  # fmt: skip


def forecasts_frame(result: Backtest, series: SeriesSet) -> pd.DataFrame:
    """Every window's every step, one row each, from the arrays the scores come from: the
    series id and the time (named as in a forecast file), the window's cut-off (the last
    time before it), the step (1 to horizon), the actual value, the model's forecast
    (`y_hat`) and quantiles (`q0.1`, ...), the naive and seasonal-naive forecasts, MASE's
    scale of the window (the mean absolute seasonal difference of the history before it)
    and the window's kind (`sample`: in-sample, out-of-sample or unknown)."""
    count, horizon = result.targets.shape
    order = np.lexsort((result.positions, result.which))  # by series, then oldest first
    rows = np.repeat(order, horizon)  # the window of each row
    step = np.tile(np.arange(horizon), count)
    firsts = series.starts[result.which]
    id_col, time_col = _frame_names(series, result.levels)
    columns = {
        id_col: pd.Series(series.ids).infer_objects().take(result.which[rows])
        .reset_index(drop=True),
        "cutoff": series.axis.at(firsts, result.positions - 1).take(rows),
        time_col: series.axis.at(firsts.take(rows), result.positions[rows] + step),
        "step": step + 1,
        "actual": result.targets[rows, step],
        FORECAST_COL: result.forecasts["model"][rows, step],
        **{quantile_col(q): result.outputs.at(q)[rows, step] for q in result.levels},
        "naive": result.forecasts["naive"][rows, step],
        "seasonal_naive": result.forecasts["seasonal_naive"][rows, step],
        "mase_scale": result.scales[rows],
        "sample": result.samples[rows],
    }  # fmt: skip
    return pd.DataFrame(columns)


def _frame_names(series: SeriesSet, levels: tuple[float, ...]) -> tuple[str, str]:
    """The id and time columns' names: the data's, as a forecast file has them, unless one
    is taken by a column of the backtest's own (then `unique_id` and `ds`)."""
    schema = series.schema
    taken = {*FRAME_COLUMNS, *(quantile_col(q) for q in levels)}
    if schema.id_col in taken or schema.time_col in taken:
        return DEFAULT_ID, DEFAULT_TIME
    return schema.id_col, schema.time_col


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


def _samples(series: SeriesSet, which, pos, cutoffs) -> np.ndarray:
    """Each window's kind: `IN` where its first forecast time is at or before the series'
    training cut-off (the model saw those values while training), `OUT` after it or for a
    series the model did not train on, `UNKNOWN` for all when no cut-offs are known."""
    if not cutoffs:
        return np.full(len(which), UNKNOWN, dtype=object)
    keys = [str(i) for i in series.ids]
    known = np.array([key in cutoffs for key in keys])
    seen = np.zeros(len(which), dtype=bool)
    if known.any():
        seen = known[which] & _before_cutoff(series, which, pos, [cutoffs.get(k) for k in keys])
    return np.where(seen, IN, OUT).astype(object)


def _before_cutoff(series: SeriesSet, which, pos, cut: list[Any]) -> np.ndarray:
    """Whether each window's first forecast time is at or before its series' `cut` (None:
    no cut-off)."""
    first_time = series.axis.at(series.starts[which], pos)
    if series.axis.kind == "datetime":
        aware = series.starts.tz is not None  # compare instants in UTC when times have zones
        cut_times = pd.DatetimeIndex(pd.to_datetime(pd.Series(cut, dtype=object), utc=aware))
        if aware:
            first_time = first_time.tz_convert("UTC")
        return np.asarray(first_time <= cut_times[which])
    cut_int = np.array([int(c) if c is not None else np.iinfo(np.int64).min for c in cut])
    return np.asarray(first_time) <= cut_int[which]


def _per_series(series, counts, seen, scores) -> list[dict[str, Any]]:
    ends = np.cumsum(counts)
    return [
        {
            "id": _plain(series.ids[i]),
            "windows": int(counts[i]),
            "in_training": int(seen[ends[i] - counts[i] : ends[i]].sum()),
            **row,
        }
        for i, row in _series_scores(counts, scores).items()
    ]


def _series_scores(counts, scores, mask=None) -> dict[int, dict[str, Any]]:
    """Each series' scores averaged over its windows (those `mask` picks), by series index;
    series without such windows left out."""
    out = {}
    ends = np.cumsum(counts)
    for i in np.flatnonzero(counts):
        sl = slice(int(ends[i] - counts[i]), int(ends[i]))
        pick = np.ones(int(counts[i]), dtype=bool) if mask is None else mask[sl]
        if pick.any():
            out[int(i)] = {
                name: {metric: _nanmean(scores[name][metric][sl][pick])
                       for metric in metrics.METRICS}
                for name in METHODS
            }  # fmt: skip
    return out


def _by_sample(counts, samples, scores, per_series) -> dict[str, Any]:
    """The scores of the out-of-sample and the in-sample windows apart (and of the unknown
    ones, where there are any), each averaged as the pooled ones (`_overall`)."""
    out = {}
    for kind in SAMPLES:
        mask = samples == kind
        if kind == UNKNOWN and not mask.any():
            continue
        # every window: the pooled scores themselves, to the last bit
        rows = per_series if mask.all() else list(_series_scores(counts, scores, mask).values())
        out[kind.replace("-", "_")] = {
            "windows": int(mask.sum()),
            "series": len(rows),
            **_overall(rows),
        }
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


def per_step(result: Backtest) -> dict[str, list[float | None]]:
    """The model's MAE, sMAPE and MASE at each step of the horizon (step 1 first), averaged
    as the overall scores are (each series' windows, then the series, MASE with the scales
    the overall scores used): the mean over the steps is the overall score where no value is
    missing."""
    y = np.asarray(result.targets, dtype=np.float64)
    yhat = np.asarray(result.forecasts["model"], dtype=np.float64)
    scale = result.scales
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
