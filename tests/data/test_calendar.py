"""Calendar features: the right cycles per frequency, phases that match the timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnncast.data import calendar
from rnncast.data.build import from_frame
from rnncast.data.series import SeriesSet
from rnncast.data.timeaxis import TimeAxis
from rnncast.engine import loop
from rnncast.forecast.forecasting import outputs_at
from rnncast.settings import ModelConfig, TrainConfig, WindowConfig


@pytest.mark.parametrize(
    ("axis", "periods"),
    [
        (TimeAxis("datetime", "h"), (24.0, 168.0)),
        (TimeAxis("datetime", "2h"), (12.0, 84.0)),
        (TimeAxis("datetime", "5h"), ()),  # does not divide a day
        (TimeAxis("datetime", "15min"), (96.0, 672.0)),
        (TimeAxis("datetime", "D"), (7.0, 365.2425)),
        (TimeAxis("datetime", "W-SUN"), (365.2425 / 7,)),
        (TimeAxis("datetime", "MS"), (12.0,)),
        (TimeAxis("datetime", "QS-JAN"), (4.0,)),
        (TimeAxis("datetime", "YS-JAN"), ()),
        (TimeAxis("datetime", "B"), ()),
        (TimeAxis("integer"), ()),
    ],
)
def test_periods_by_frequency(axis, periods):
    assert calendar.periods(axis) == pytest.approx(periods)


def _series(freq: str, starts: list[str], n: int = 40) -> SeriesSet:
    frames = [
        pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range(s, periods=n, freq=freq), "y": 1.0})
        for i, s in enumerate(starts)
    ]
    return from_frame(pd.concat(frames, ignore_index=True))


@pytest.mark.parametrize(
    ("freq", "starts", "cycle"),
    [
        ("h", ["2024-03-05 07:00", "1999-12-31 22:00"], lambda t: t.hour),
        ("D", ["2024-03-05", "2023-01-01"], lambda t: t.day_of_week),
        ("MS", ["2024-03-01", "1987-11-01"], lambda t: t.month),
        ("QS", ["2024-04-01", "2001-10-01"], lambda t: t.quarter),
    ],
)
def test_phases_follow_the_timestamps(freq, starts, cycle):
    """Windows whose first times are at the same point of the shortest cycle (hour of the
    day, weekday, month, quarter) have equal phases, others different ones, and phases
    advance one step per step."""
    series = _series(freq, starts)
    periods = calendar.periods(series.axis)
    steps = calendar.first_steps(series)
    flat = np.arange(len(series.values))
    phases = calendar.window_phases(steps, series.offsets, flat, periods)
    first = np.searchsorted(series.offsets, flat, side="right") - 1
    pos = flat - series.offsets[first]
    times = series.axis.at(series.starts[first], pos)
    keys = np.asarray(cycle(times))
    for key in np.unique(keys):
        same = phases[keys == key, 0]
        np.testing.assert_allclose(same, same[0], atol=1e-3)
    assert len(np.unique(np.round(phases[:, 0], 3))) == len(np.unique(keys))
    if freq == "h":  # the week: same hour of the same weekday, same phase
        week = np.asarray(times.hour + 24 * times.day_of_week)
        for key in np.unique(week):
            np.testing.assert_allclose(phases[week == key, 1], phases[week == key, 1][0], atol=1e-3)
    step = np.diff(phases[: series.offsets[1], 0]) % periods[0]
    np.testing.assert_allclose(step, 1.0, atol=1e-3)


def test_zoned_sub_daily_times_count_in_utc_and_agree_across_daylight_saving():
    times = pd.date_range("2024-01-01 00:00", "2024-07-31 23:00", freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame({"ds": times, "y": 1.0})
    whole = from_frame(frame)
    july = from_frame(frame[frame.ds >= pd.Timestamp("2024-07-01", tz="Europe/Berlin")])
    assert calendar.first_steps(whole)[0] % 24 == 23  # local midnight, 23:00 UTC in winter
    periods = calendar.periods(whole.axis)
    k = len(whole.values) - len(july.values)  # the first July value, in the whole series
    a = calendar.window_phases(calendar.first_steps(whole), whole.offsets, np.array([k]), periods)
    b = calendar.window_phases(calendar.first_steps(july), july.offsets, np.array([0]), periods)
    np.testing.assert_array_equal(a, b)


def test_daily_zoned_times_use_local_dates():
    days = pd.date_range("2024-03-25", periods=20, freq="D", tz="Europe/Berlin")
    local = from_frame(pd.DataFrame({"ds": days, "y": 1.0}))
    naive = from_frame(pd.DataFrame({"ds": days.tz_localize(None), "y": 1.0}))
    assert calendar.first_steps(local)[0] == calendar.first_steps(naive)[0]


def test_no_cycles_no_steps():
    yearly = from_frame(pd.DataFrame({"ds": pd.date_range("1950", periods=9, freq="YS"),
                                           "y": 1.0}))  # fmt: skip
    assert calendar.periods(yearly.axis) == ()
    np.testing.assert_array_equal(calendar.first_steps(yearly), [0])
    assert calendar.periods(TimeAxis("datetime", "100ms")) == (864000.0, 6048000.0)
    assert calendar.periods(TimeAxis("datetime", "7s")) == ()


def test_calendar_features_let_the_model_see_what_the_window_cannot():
    """Daily noise with +10 on Mondays, forecast from a 2-day window: without the calendar the
    network cannot tell a Monday is next (5 times in 7 no Monday is in the window)."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2020-01-06", periods=700, freq="D")
    y = rng.normal(0, 1, len(days)) + 10 * (days.day_of_week == 0)
    series = from_frame(pd.DataFrame({"ds": days, "y": y}))
    window = WindowConfig(lookback=2, horizon=1, val_size=0)
    config = TrainConfig(max_steps=150, batch_size=64, lr=1e-2, device="cpu")
    errors = {}
    for periods in ((), calendar.periods(series.axis)):
        model = ModelConfig(hidden_size=16, segment=1, dropout=0.0, calendar=periods,
                            scaling="none")  # fmt: skip
        net = loop.fit(series, window, model, config).network
        starts = np.arange(0, 698)
        pred = outputs_at(net, series, starts).point
        errors[bool(periods)] = np.abs(pred[:, 0] - series.values[starts + 2]).mean()
    assert errors[True] < 0.5 * errors[False], errors
