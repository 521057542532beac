"""The time axis of a data set: datetimes with a pandas frequency, or integer steps.

A `TimeAxis` turns times into grid positions (to find gaps and off-grid times) and grid
positions back into times (to stamp forecasts with real future timestamps), without a Python
loop per series. It also knows the frequency-based defaults: the seasonal period and the
forecast horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from rnncast.errors import ConfigError

# Frequency families, by the class name of the pandas offset. Horizons follow the M4
# competition (hourly 48, daily 14, weekly 13, monthly 18, quarterly 8, yearly 6).
_FAMILY_BY_OFFSET = {
    "Hour": "hourly",
    "Minute": "minutely",
    "Second": "secondly",
    "Milli": "secondly",
    "Micro": "secondly",
    "Nano": "secondly",
    "Day": "daily",
    "BusinessDay": "business-daily",
    "CustomBusinessDay": "business-daily",
    "Week": "weekly",
    "MonthBegin": "monthly",
    "MonthEnd": "monthly",
    "BusinessMonthBegin": "monthly",
    "BusinessMonthEnd": "monthly",
    "SemiMonthBegin": "semi-monthly",
    "SemiMonthEnd": "semi-monthly",
    "QuarterBegin": "quarterly",
    "QuarterEnd": "quarterly",
    "BQuarterBegin": "quarterly",
    "BQuarterEnd": "quarterly",
    "YearBegin": "yearly",
    "YearEnd": "yearly",
    "BYearBegin": "yearly",
    "BYearEnd": "yearly",
}
_SEASON = {
    "daily": 7,
    "business-daily": 5,
    "weekly": 52,
    "monthly": 12,
    "semi-monthly": 24,
    "quarterly": 4,
    "yearly": 1,
}
_HORIZON = {
    "hourly": 48,
    "daily": 14,
    "business-daily": 10,
    "weekly": 13,
    "monthly": 18,
    "semi-monthly": 12,
    "quarterly": 8,
    "yearly": 6,
}
INTEGER_HORIZON = 10
LOOKBACK_PER_HORIZON = 3


def parse_freq(freq: str) -> pd.DateOffset:
    """A pandas offset from a frequency string such as 'h', '15min', 'D', 'W-SUN', 'MS'."""
    try:
        offset = to_offset(freq)
    except (ValueError, TypeError):
        raise ConfigError(
            f"--freq '{freq}' is not a pandas frequency: use e.g. h, 15min, D, B, W-SUN, MS, QS, YS"
        ) from None
    if offset.n <= 0:  # a zero or backward step has no grid to check times against
        raise ConfigError(
            f"--freq '{freq}' does not step forward in time: use a positive frequency, e.g. h, "
            "15min, D, W-SUN, MS"
        )
    return offset


def infer_datetime_freq(times: pd.DatetimeIndex) -> pd.DateOffset | None:
    """The frequency of evenly spaced sorted times, or None when it cannot be inferred."""
    if len(times) < 3:
        return None
    try:
        return pd.DatetimeIndex(times, freq="infer").freq
    except ValueError:
        return None


@dataclass(frozen=True)
class TimeAxis:
    """How times advance: `kind` is 'datetime' (with `freq`) or 'integer' (with `step`).

    Data without any time column uses kind 'integer' with step 1 (row numbers).
    """

    kind: str
    freq: str | None = None
    step: int = 1
    tz: str | None = None  # the time zone of datetime times, None when they have none

    @property
    def offset(self) -> pd.DateOffset:
        assert self.freq is not None, "integer axes have no pandas offset"
        return to_offset(self.freq)

    @property
    def family(self) -> str:
        """'hourly', 'daily', ..., or 'integer' when the times are plain steps."""
        if self.kind == "integer":
            return "integer"
        return _FAMILY_BY_OFFSET.get(type(self.offset).__name__, "other")

    @property
    def season_length(self) -> int:
        """The seasonal period m used by MASE and seasonal naive (1 when there is none)."""
        family, n = self.family, (self.offset.n if self.kind == "datetime" else 1)
        if family == "hourly":
            return max(1, 24 // n) if 24 % n == 0 else 1
        if family == "minutely":
            per_day, per_hour = 1440 // n, 60 // n
            if 1440 % n:
                return 1
            return per_day if per_day <= 288 else max(1, per_hour)
        if family == "secondly":
            return 60 // n if n < 60 and 60 % n == 0 else 1
        return max(1, _SEASON.get(family, 1) // n) if family in _SEASON else 1

    @property
    def default_horizon(self) -> int:
        family = self.family
        if family in _HORIZON:
            return _HORIZON[family]
        if family in ("minutely", "secondly"):
            return max(self.season_length, 12)
        return INTEGER_HORIZON

    def describe(self) -> str:
        if self.kind == "datetime":
            return f"{self.family} ('{self.freq}')"
        return "integer steps" + (f" of {self.step}" if self.step != 1 else "")

    # ---- times -> grid positions --------------------------------------------------------

    def positions(self, times: pd.Index, first: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Grid position of every time relative to the first time of its series.

        `times` are sorted within each series; `codes[i]` is the series of row i and
        `first[s]` the row of series s's first time. Off-grid times get -1.
        """
        if self.kind == "integer":
            t = np.asarray(times, dtype=np.int64)
            delta = t - t[first][codes]
            pos = delta // self.step
            return np.where(delta % self.step == 0, pos, -1)
        times = pd.DatetimeIndex(times)
        fixed = self._fixed_step(times)
        if fixed is not None:
            ticks, delta, _ = fixed
            d = ticks - ticks[first][codes]
            return np.where(d % delta == 0, d // delta, -1)
        # Calendar steps (weeks, months, local days): one grid per clock time that series
        # start at, so that each series keeps its own clock time, as with fixed steps.
        anchor = _clock(times)[first][codes]
        at = np.full(len(times), -1, dtype=np.int64)
        for clock in np.unique(anchor):
            rows = np.flatnonzero(anchor == clock)
            starts = times[first[np.unique(codes[rows])]]
            grid = pd.date_range(starts.min(), times[rows].max(), freq=self.offset)
            at[rows] = grid.get_indexer(times[rows])
        pos = at - at[first][codes]
        return np.where((at >= 0) & (at[first][codes] >= 0), pos, -1)

    def fixed_step(self, zoned: bool) -> pd.Timedelta | None:
        """The length of every step when all have the same length (hours, minutes, ...,
        and days of times without a zone); None for calendar steps and integer axes."""
        if self.kind != "datetime":
            return None
        off = self.offset
        if isinstance(off, pd.offsets.Tick) or (type(off).__name__ == "Day" and not zoned):
            return pd.Timedelta(off)
        return None

    def _fixed_step(self, times: pd.DatetimeIndex) -> tuple[np.ndarray, int, str] | None:
        """When every step has the same length: the times as integer ticks, the step in
        ticks, and the tick unit (the times' own unit, finer only if the step needs it, so
        that dates outside 1677-2262 work). None for calendar steps."""
        step, unit = self.fixed_step(times.tz is not None), times.unit
        if step is None:
            return None
        if step % pd.Timedelta(1, unit=unit):
            unit = "ns"
        return times.as_unit(unit).asi8, int(step // pd.Timedelta(1, unit=unit)), unit

    # ---- grid positions -> times --------------------------------------------------------

    def at(self, origins: pd.Index, steps: np.ndarray) -> pd.Index:
        """The time `steps[i]` (>= 0) grid steps after `origins[i]`, for every i."""
        steps = np.asarray(steps, dtype=np.int64)
        if self.kind == "integer":
            return pd.Index(np.asarray(origins, dtype=np.int64) + steps * self.step)
        origins = pd.DatetimeIndex(origins)
        fixed = self._fixed_step(origins)
        if fixed is not None:
            ticks, delta, unit = fixed
            out = pd.DatetimeIndex((ticks + steps * delta).view(f"M8[{unit}]"))
            return out if origins.tz is None else out.tz_localize("UTC").tz_convert(origins.tz)
        clocks = _clock(origins)
        out = pd.Series(origins)
        for clock in np.unique(clocks):  # one grid per clock time, as in `positions`
            rows = np.flatnonzero(clocks == clock)
            sub, k = origins[rows], steps[rows]
            base = pd.date_range(sub.min(), sub.max(), freq=self.offset)
            grid = pd.date_range(sub.min(), periods=len(base) + int(k.max()) + 1, freq=self.offset)
            where = grid.get_indexer(sub)
            if (where < 0).any():  # a time not on the grid cannot be stepped from
                raise ValueError(f"time {sub[where < 0][0]} is not on the '{self.freq}' grid")
            out.iloc[rows] = grid[where + k]
        return pd.DatetimeIndex(out)

    def future(self, last: pd.Index, horizon: int) -> pd.Index:
        """The `horizon` times after each time in `last`, flattened series-major."""
        if self.kind == "datetime":  # fixed steps: one output-sized array, no repeated times
            last = pd.DatetimeIndex(last)
            fixed = self._fixed_step(last)
            if fixed is not None:
                ticks, delta, unit = fixed
                out = (ticks[:, None] + np.arange(1, horizon + 1) * delta).ravel()
                times = pd.DatetimeIndex(out.view(f"M8[{unit}]"))
                return times if last.tz is None else times.tz_localize("UTC").tz_convert(last.tz)
        steps = np.tile(np.arange(1, horizon + 1), len(last))
        return self.at(last.repeat(horizon), steps)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "freq": self.freq, "step": self.step, "tz": self.tz}

    @classmethod
    def from_dict(cls, data: dict) -> TimeAxis:
        return cls(
            kind=data["kind"],
            freq=data.get("freq"),
            step=int(data.get("step", 1)),
            tz=data.get("tz"),
        )

    def mismatch(self, other: TimeAxis) -> str | None:
        """Why data on `other` cannot be forecast by a model trained on this axis, or None."""
        if (self.kind, self.freq, self.step) != (other.kind, other.freq, other.step):
            return f"{other.describe()} times but the model was trained on {self.describe()} data"
        if (self.tz is None) != (other.tz is None):
            theirs = f"in time zone {other.tz}" if other.tz else "without a time zone"
            ours = f"in time zone {self.tz}" if self.tz else "without a time zone"
            return f"times {theirs} but the model was trained on times {ours}"
        return None


def _clock(times: pd.DatetimeIndex) -> np.ndarray:
    """Wall-clock time of day of each time, in ticks (the times' unit) since local midnight."""
    wall = times.tz_localize(None) if times.tz is not None else times
    return (wall - wall.normalize()).asi8
