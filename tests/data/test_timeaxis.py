"""The time axis: frequency families and defaults, grid positions, future timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnncast.data.build import from_frame
from rnncast.data.timeaxis import TimeAxis, infer_datetime_freq, parse_freq
from rnncast.errors import ConfigError


@pytest.mark.parametrize(
    ("freq", "family", "season", "horizon"),
    [
        ("h", "hourly", 24, 48),
        ("2h", "hourly", 12, 48),
        ("30min", "minutely", 48, 48),
        ("15min", "minutely", 96, 96),
        ("D", "daily", 7, 14),
        ("B", "business-daily", 5, 10),
        ("W-SUN", "weekly", 52, 13),
        ("W-MON", "weekly", 52, 13),
        ("MS", "monthly", 12, 18),
        ("ME", "monthly", 12, 18),
        ("QS", "quarterly", 4, 8),
        ("QE-DEC", "quarterly", 4, 8),
        ("YS", "yearly", 1, 6),
    ],
)
def test_family_season_length_and_default_horizon(freq, family, season, horizon):
    axis = TimeAxis("datetime", freq=freq)
    assert axis.family == family
    assert axis.season_length == season
    assert axis.default_horizon == horizon


@pytest.mark.parametrize("step", [1, 7])
def test_integer_axis_has_no_season_and_horizon_10(step):
    axis = TimeAxis("integer", step=step)
    assert axis.family == "integer"
    assert axis.season_length == 1
    assert axis.default_horizon == 10


def test_describe_and_dict_round_trip():
    for axis in (TimeAxis("datetime", freq="W-SUN"), TimeAxis("integer", step=5)):
        assert TimeAxis.from_dict(axis.to_dict()) == axis
    assert TimeAxis("datetime", freq="MS").describe() == "monthly ('MS')"
    assert TimeAxis("integer").describe() == "integer steps"
    assert TimeAxis("integer", step=5).describe() == "integer steps of 5"


def test_parse_freq():
    assert parse_freq("W-SUN").freqstr == "W-SUN"
    assert parse_freq("15min") == pd.Timedelta(minutes=15)


@pytest.mark.parametrize("freq", ["fortnightly", "", "M"])  # 'M' is gone in pandas 3
def test_parse_freq_bad_alias(freq):
    with pytest.raises(ConfigError, match=None) as e:
        parse_freq(freq)
    assert str(e.value) == (
        f"--freq '{freq}' is not a pandas frequency: use e.g. h, 15min, D, B, W-SUN, MS, QS, YS"
    )


@pytest.mark.parametrize("freq", ["0D", "-1h"])
def test_parse_freq_rejects_steps_that_do_not_move_forward(freq):
    with pytest.raises(ConfigError, match=None) as e:
        parse_freq(freq)
    assert str(e.value) == (
        f"--freq '{freq}' does not step forward in time: use a positive frequency, e.g. h, "
        "15min, D, W-SUN, MS"
    )


def test_infer_datetime_freq():
    assert infer_datetime_freq(pd.date_range("2024-01-01", periods=5, freq="MS")).freqstr == "MS"
    assert infer_datetime_freq(pd.date_range("2024-01-01", periods=2, freq="D")) is None
    assert infer_datetime_freq(pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-04"])) is None


# ---- positions against a naive loop -----------------------------------------------------


def naive_positions(axis: TimeAxis, times: list, first: np.ndarray, codes: np.ndarray):
    """Walk each series one grid step at a time from its first time."""
    step = axis.step if axis.kind == "integer" else axis.offset
    out = []
    for i, t in enumerate(times):
        t0 = times[first[codes[i]]]
        if axis.kind == "datetime" and not step.is_on_offset(t0):
            out.append(-1)
            continue
        cur, k = t0, 0
        while cur < t:
            cur, k = cur + step, k + 1
        out.append(k if cur == t else -1)
    return np.array(out)


def random_series(rng, start, step, n_series: int, nudge):
    """Sorted times per series on a grid of `step`, with gaps and a few off-grid times."""
    times, codes = [], []
    for s in range(n_series):
        origin = start + int(rng.integers(0, 20)) * step
        k = np.sort(rng.choice(60, size=int(rng.integers(1, 12)), replace=False))
        for j in k:
            t = origin + int(j) * step
            if rng.random() < 0.1:
                t = t + nudge  # between this grid time and the next
            times.append(t)
            codes.append(s)
    codes = np.array(codes)
    first = np.searchsorted(codes, np.arange(n_series))
    return times, first, codes


@pytest.mark.parametrize(
    ("freq", "tz", "nudge"),
    [
        ("h", None, pd.Timedelta(minutes=7)),
        ("15min", None, pd.Timedelta(minutes=1)),
        ("D", None, pd.Timedelta(hours=5)),
        ("h", "Europe/Berlin", pd.Timedelta(minutes=30)),  # fixed delta across DST
        ("MS", None, pd.Timedelta(days=3)),  # calendar grid
        ("W-SUN", None, pd.Timedelta(days=1)),
        ("D", "Europe/Berlin", pd.Timedelta(hours=5)),  # days of 23 and 25 hours
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_positions_match_a_naive_loop(freq, tz, nudge, seed):
    rng = np.random.default_rng(seed)
    axis = TimeAxis("datetime", freq=freq)
    start = pd.Timestamp("2024-01-01" if freq == "MS" else "2024-01-07", tz=tz)  # on the grid
    times, first, codes = random_series(rng, start, axis.offset, 6, nudge)
    got = axis.positions(pd.DatetimeIndex(times), first, codes)
    assert got.tolist() == naive_positions(axis, times, first, codes).tolist()


def test_positions_flag_a_series_that_starts_off_the_calendar_grid():
    axis = TimeAxis("datetime", freq="MS")
    times = pd.DatetimeIndex(["2024-01-01", "2024-02-01", "2024-01-15", "2024-02-15"])
    got = axis.positions(times, np.array([0, 2]), np.array([0, 0, 1, 1]))
    assert got.tolist() == [0, 1, -1, -1]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("step", [1, 3])
def test_integer_positions_match_a_naive_loop(seed, step):
    rng = np.random.default_rng(seed)
    axis = TimeAxis("integer", step=step)
    times, first, codes = random_series(rng, -40, step, 6, 1 if step > 1 else 0)
    got = axis.positions(pd.Index(times), first, codes)
    assert got.tolist() == naive_positions(axis, times, first, codes).tolist()


# ---- future times against pd.date_range -------------------------------------------------


@pytest.mark.parametrize(
    ("freq", "tz", "lasts"),
    [
        ("h", None, ["2024-01-01 05:00", "2024-12-31 23:00"]),
        ("D", None, ["2024-02-27", "2023-12-30"]),
        ("MS", None, ["2024-01-01", "2023-11-01"]),
        ("W-SUN", None, ["2024-01-07", "2024-12-29"]),
        ("h", "Europe/Berlin", ["2024-03-30 23:00", "2024-10-26 22:00"]),  # over both DST days
        ("D", "Europe/Berlin", ["2024-03-29", "2024-10-26"]),
        ("QS", None, ["2024-10-01", "2023-01-01"]),
    ],
)
def test_future_matches_date_range(freq, tz, lasts):
    axis = TimeAxis("datetime", freq=freq)
    last = pd.DatetimeIndex([pd.Timestamp(t, tz=tz) for t in lasts])
    got = axis.future(last, 30)
    expected = [t for x in last for t in pd.date_range(x, periods=31, freq=freq)[1:]]
    assert list(got) == expected
    assert got.tz == last.tz
    stepped = axis.at(last.repeat(30), np.tile(np.arange(1, 31), len(last)))
    assert got.equals(stepped) and got.dtype == stepped.dtype  # the fixed-step shortcut too


@pytest.mark.parametrize("freq", ["h", "MS"])
def test_at_with_arbitrary_steps(freq):
    axis = TimeAxis("datetime", freq=freq)
    origins = pd.DatetimeIndex(["2024-01-01", "2024-03-01", "2024-01-01"])
    steps = np.array([0, 5, 13])
    got = axis.at(origins, steps)
    expected = [
        pd.date_range(o, periods=k + 1, freq=freq)[-1] for o, k in zip(origins, steps, strict=True)
    ]
    assert list(got) == expected


def test_integer_future_and_at():
    axis = TimeAxis("integer", step=5)
    assert axis.future(pd.Index([10, -3]), 3).tolist() == [15, 20, 25, 2, 7, 12]
    assert axis.at(pd.Index([0, 100]), np.array([0, 4])).tolist() == [0, 120]


@pytest.mark.parametrize(
    ("freq", "tz", "origins"),
    [
        ("MS", None, ["2024-01-01 00:00", "2024-03-01 05:00"]),
        ("D", "Europe/Berlin", ["2024-03-30 00:00", "2024-03-30 09:30"]),
        ("W-SUN", None, ["2024-01-07 00:00", "2024-01-14 12:00"]),
    ],
)
def test_series_at_different_clock_times_each_keep_their_own(freq, tz, origins):
    axis = TimeAxis("datetime", freq=freq)
    origins = pd.DatetimeIndex([pd.Timestamp(t, tz=tz) for t in origins])
    got = axis.future(origins, 4)
    expected = [t for x in origins for t in pd.date_range(x, periods=5, freq=freq)[1:]]
    assert list(got) == expected
    times = pd.DatetimeIndex(expected)
    got = axis.positions(times, np.array([0, 4]), np.repeat([0, 1], 4))
    assert got.tolist() == [0, 1, 2, 3] * 2


def test_dates_beyond_the_nanosecond_range():
    frame = pd.DataFrame({"year": [str(y) for y in range(2200, 2300)], "v": range(100)})
    series = from_frame(frame)
    assert series.axis.freq == "YS-JAN"
    assert series.axis.future(series.ends, 2).year.tolist() == [2300, 2301]
    hourly = pd.DataFrame(
        {"t": pd.date_range("2300-01-01", periods=50, freq="h").astype(str), "v": range(50)}
    )
    series = from_frame(hourly)
    assert str(series.axis.future(series.ends, 1)[0]) == "2300-01-03 02:00:00"
