"""Pictures of forecasts for people: history, forecast and, in a backtest, the actual values
and the seasonal-naive baseline, for a few series, one panel each (matplotlib, headless).

Which series: those named (`--plot-series`), else a handful chosen to show the range: in a
backtest the best, the worst and evenly between by the model's MASE; for a forecast, series
spread over the range of levels (smallest to largest mean). The file is written atomically,
in the format its extension names (.png, .svg or .pdf).
"""

from __future__ import annotations

import difflib
import warnings
from typing import Any

import numpy as np
import pandas as pd

from rnncast.data.series import SeriesSet
from rnncast.errors import ConfigError
from rnncast.forecast.backtest import Backtest
from rnncast.forecast.forecasting import FORECAST_COL, quantile_col
from rnncast.forecast.metrics import central_intervals

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
SHOWN = 4  # series drawn when none are named
CONTEXT_HORIZONS = 4  # history drawn before a forecast, in horizons


def pick_series(
    series: SeriesSet, named: tuple[str, ...] = (), scores: np.ndarray | None = None
) -> list[int]:
    """Indices of the series to draw: `named` ones (checked), else `SHOWN` of them spread
    by `scores` (one per series, lower is better; NaN for series without one) or by level."""
    ids = [str(i) for i in series.ids]
    if named:
        where = {name: k for k, name in enumerate(ids)}
        for name in named:
            if name not in where:
                close = difflib.get_close_matches(name, ids, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
                raise ConfigError(
                    f"--plot-series '{name}' is not a series of '{series.source}' (series: "
                    f"{shown}): {hint}name series of the data"
                )
        return [where[name] for name in named]
    if scores is None:
        lengths = np.maximum(series.lengths, 1)
        scores = np.add.reduceat(np.abs(series.values), series.offsets[:-1]) / lengths
    order = [int(i) for i in np.argsort(scores, kind="stable") if np.isfinite(scores[i])]
    if len(order) <= SHOWN:
        return order
    spots = np.linspace(0, len(order) - 1, SHOWN).round().astype(int)
    return [order[s] for s in spots]


def require_matplotlib() -> None:
    """Fail early, with the fix, where matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--plot needs matplotlib, which is not installed: pip install 'rnncast[plot]'"
        ) from None


def model_mase(series: SeriesSet, report: dict[str, Any]) -> np.ndarray:
    """The model's MASE of each series in a backtest report (NaN where it has none)."""
    mase = {row["id"]: row["model"]["mase"] for row in report["per_series"]}
    values = [mase.get(_plain(i)) for i in series.ids]
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def forecast_figure(
    series: SeriesSet,
    forecast: pd.DataFrame,
    picks: list[int],
    fmt: str,
    title: str,
    quantiles: tuple[float, ...] = (),
) -> bytes:
    """History and forecast of the series `picks`, with the central intervals among the
    model's `quantiles`; `forecast` as `predict` writes it. The image in format `fmt` (png,
    svg or pdf)."""
    schema = series.schema
    panels = []
    for i in picks:
        rows = forecast[forecast[schema.id_col].astype(str) == str(series.ids[i])]
        horizon = len(rows)
        history = _history(series, i, series.lengths[i], CONTEXT_HORIZONS * horizon)
        times = _naive(pd.Index(rows[schema.time_col]))
        lines = [("forecast", times, rows[FORECAST_COL].to_numpy(), "C0", "-")]
        bands = [
            (lo, hi, times, rows[quantile_col(lo)].to_numpy(), rows[quantile_col(hi)].to_numpy())
            for lo, hi in central_intervals(quantiles)
        ]
        panels.append((str(series.ids[i]), history, lines, bands))
    return _render(panels, fmt, title)


def backtest_figure(
    series: SeriesSet, result: Backtest, picks: list[int], fmt: str, title: str
) -> bytes:
    """The latest backtest window of each series `picks`: history, actuals, the model's and
    seasonal naive's forecasts, with their MASE in the panel's title."""
    horizon = result.targets.shape[1]
    scores = {row["id"]: row for row in result.report["per_series"]}
    panels = []
    for i in picks:
        windows = np.flatnonzero(result.which == i)
        if not len(windows):
            continue  # too short for a backtest window: nothing to draw
        j = windows[np.argmax(result.origins[windows])]
        start = int(result.origins[j] - series.offsets[i])  # position of the first forecast
        history = _history(series, i, start, CONTEXT_HORIZONS * horizon)
        times = _times(series, i, np.arange(start, start + horizon))
        lines = [
            ("actual", times, result.targets[j], "0.1", "-"),
            ("forecast", times, result.forecasts["model"][j], "C0", "-"),
            ("seasonal naive", times, result.forecasts["seasonal_naive"][j], "C1", "--"),
        ]
        out = result.outputs
        bands = [
            (lo, hi, times, out.at(lo)[j], out.at(hi)[j])
            for lo, hi in (central_intervals(out.levels) if out is not None else [])
        ]
        row = scores.get(_plain(series.ids[i]), {})
        label = str(series.ids[i])
        model, base = (row.get(k, {}).get("mase") for k in ("model", "seasonal_naive"))
        if model is not None and base is not None:
            label += f": MASE {model:.2f} (seasonal naive {base:.2f})"
        panels.append((label, history, lines, bands))
    return _render(panels, fmt, title)


def _history(series: SeriesSet, i: int, end: int, context: int) -> tuple[Any, np.ndarray]:
    """Times and values of series i's positions [end - context, end)."""
    start = max(0, end - context)
    positions = np.arange(start, end)
    return _times(series, i, positions), series.series(i)[start:end]


def _times(series: SeriesSet, i: int, positions: np.ndarray) -> Any:
    return _naive(series.axis.at(series.starts[[i] * len(positions)], positions))


def _naive(times: Any) -> Any:
    """Zoned times as the wall-clock times of their zone (matplotlib would draw them in UTC)."""
    return times.tz_localize(None) if getattr(times, "tz", None) is not None else times


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _render(panels: list, fmt: str, title: str) -> bytes:
    with warnings.catch_warnings():  # matplotlib's advice on layout and units is not for users
        warnings.simplefilter("ignore")
        return _draw(panels, fmt, title)


def _draw(panels: list, fmt: str, title: str) -> bytes:
    import io

    from matplotlib.figure import Figure

    if not panels:
        raise ConfigError("no series to plot: none of those chosen has a backtest window")
    fig = Figure(figsize=(10, 0.6 + 2.4 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (label, (times, values), lines, bands) in zip(axes, panels, strict=True):
        ax.plot(times, values, color="0.45", lw=1.1, label="history")
        for k, (lo, hi, t, low, high) in enumerate(bands):  # widest first, lightest
            ax.fill_between(t, low, high, color="C0", alpha=0.12 + 0.1 * k, lw=0,
                            label=f"{(hi - lo):.0%} interval")  # fmt: skip
        for name, t, y, colour, style in lines:
            if len(times):  # start each line at the last value seen, so lines join
                t, y = [times[-1], *list(t)], [values[-1], *list(y)]
            ax.plot(t, y, color=colour, ls=style, lw=1.7 if name == "forecast" else 1.2,
                    label=name)  # fmt: skip
        if len(times):
            ax.axvline(times[-1], color="0.7", lw=0.8, ls=":")
        ax.set_title(label, loc="left", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8, ncols=6, frameon=False)
    fig.suptitle(title, fontsize=11)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=110)
    return buffer.getvalue()
