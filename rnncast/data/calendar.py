"""Calendar features: where each time step falls in the day, the week or the year, as
cyclic inputs the network reads beside the values.

For a frequency with calendar cycles (`periods`: hourly data cycles through the day and the
week, daily data through the week and the year, monthly data through the year, ...), time
step a gets sin(2 pi a / P) and cos(2 pi a / P) for each period P, in steps. `a` counts steps
since 1970-01-01 on the data's wall clock (in UTC for steps shorter than a day in zoned
data; weeks, months and quarters on the calendar), so
that the same hour of the day, day of the week or month of the year always gets the same
features. They are known for the future too: the network reads those of the lookback with
the values, and the direct decoder those of the horizon.

Nothing is stored per value: each series' first step (`first_steps`) and each window's
phase (`window_phases`) give every window's features on the fly
(`rnncast.engine.batches.calendar_features`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnncast.data.series import SeriesSet
from rnncast.data.timeaxis import TimeAxis

DAYS_PER_YEAR = 365.2425


def periods(axis: TimeAxis) -> tuple[float, ...]:
    """The calendar cycles of `axis`, in steps; () where there are none (integer steps,
    yearly data, business days, steps that do not divide a day)."""
    if axis.kind != "datetime":
        return ()
    family, offset = axis.family, axis.offset
    if family in ("hourly", "minutely", "secondly"):
        day, step = 86_400 * 10**9, pd.Timedelta(offset).value  # nanoseconds
        if day % step:
            return ()
        return (day / step, 7 * day / step)
    if offset.n != 1:
        return ()
    return {
        "daily": (7.0, DAYS_PER_YEAR),
        "weekly": (DAYS_PER_YEAR / 7,),
        "monthly": (12.0,),
        "quarterly": (4.0,),
    }.get(family, ())


def first_steps(series: SeriesSet) -> np.ndarray:
    """The absolute step (see the module docstring) of each series' first value, int64;
    zeros where the frequency has no calendar cycles.

    Steps of a day or longer count on the wall clock (local dates). Shorter steps count in
    UTC when the times have a zone: their grid is regular in real time, so counting on the
    wall clock would shift by an hour across a daylight-saving change, and a window would
    get other features in training than when read from a later slice of the data."""
    axis = series.axis
    if not periods(axis):
        return np.zeros(len(series), dtype=np.int64)
    wall = pd.DatetimeIndex(series.starts)
    family = axis.family
    if wall.tz is not None:
        sub_daily = family in ("hourly", "minutely", "secondly")
        wall = (wall.tz_convert("UTC") if sub_daily else wall).tz_localize(None)
    if family == "monthly":
        return (wall.year.to_numpy() * 12 + wall.month.to_numpy() - 1).astype(np.int64)
    if family == "quarterly":
        return (wall.year.to_numpy() * 4 + (wall.month.to_numpy() - 1) // 3).astype(np.int64)
    days = wall.normalize().as_unit("s").asi8 // 86400
    if family == "weekly":
        return (days // 7).astype(np.int64)
    step = pd.Timedelta(axis.offset)
    unit = "s" if step % pd.Timedelta(1, unit="s") == pd.Timedelta(0) else "ns"
    ticks = wall.as_unit(unit).asi8
    return (ticks // (step // pd.Timedelta(1, unit=unit))).astype(np.int64)


def window_phases(
    steps: np.ndarray, offsets: np.ndarray, starts: np.ndarray, periods: tuple[float, ...]
) -> np.ndarray:
    """Each window's first step modulo each period: (len(starts), len(periods)) float32.
    `steps` from `first_steps`; `starts` are flat indices into the series' values."""
    series = np.searchsorted(offsets, starts, side="right") - 1
    absolute = steps[series] + (starts - offsets[series])
    return np.stack([np.mod(absolute, p) for p in periods], axis=1).astype(np.float32)
