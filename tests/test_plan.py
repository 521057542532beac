"""Planning a training run: the settings chosen from the data, held-out steps, series
too short for the window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnncast import plan
from rnncast.data.build import from_frame
from rnncast.data.series import SeriesSet
from rnncast.errors import ConfigError, DataError
from rnncast.settings import ModelConfig, ReadOptions, TrainRequest, WindowConfig
from tests.conftest import make_long, make_sales, shapes


def _series(freq: str, n: int = 200) -> SeriesSet:
    return from_frame(make_long(n_series=1, length=n, freq=freq))


@pytest.mark.parametrize(
    ("freq", "lookback", "horizon", "segment"),
    [
        ("h", 144, 48, 24),
        ("D", 42, 14, 7),
        ("W-SUN", 40, 13, 5),
        ("MS", 60, 18, 12),
        ("QS", 24, 8, 4),
        ("YS", 18, 6, 3),
    ],
)
def test_defaults_follow_the_frequency(freq, lookback, horizon, segment):
    window, model = shapes(_series(freq), ModelConfig())
    assert (window.lookback, window.horizon, model.segment) == (lookback, horizon, segment)
    # a tail for up to 256 validation windows, at most a tenth of the 200 values
    assert window.val_size == max(horizon, 20)
    assert window.lookback % model.segment == 0


@pytest.mark.parametrize(
    ("horizon", "series", "shortest", "val_size"),
    [
        (48, 414, 700, 48),  # M4 Hourly: 414 windows with one horizon each
        (48, 7, 17420, 84),  # ETTh1: 7 series x 37 windows
        (18, 1, 144, 18),  # air passengers: a tenth is less than a horizon
        (8, 12, 200, 20),  # US macro: a tenth of the shortest
        (14, 30, 600, 22),  # 30 daily series: 30 x 9 windows
    ],
)
def test_the_validation_tail_aims_for_256_windows(horizon, series, shortest, val_size):
    assert plan.default_val_size(horizon, series, shortest) == val_size


def test_integer_steps_and_explicit_values():
    series = from_frame(pd.DataFrame({"y": range(100)}))
    window, model = shapes(series, ModelConfig())
    assert (window.lookback, window.horizon, model.segment) == (32, 10, 4)
    window, model = shapes(_series("h"), ModelConfig(), horizon=24, lookback=100)
    assert (window.lookback, window.horizon, model.segment) == (100, 24, 20)
    window, model = shapes(_series("h"), ModelConfig(), horizon=24, segment=5)
    assert (window.lookback, model.segment) == (75, 5)


def test_lookback_and_segment_must_agree():
    with pytest.raises(ConfigError) as e:
        shapes(_series("h"), ModelConfig(), lookback=50, segment=24)
    assert str(e.value) == "--lookback 50 is not a multiple of --segment 24: use 48 or 72"
    with pytest.raises(ConfigError) as e:
        shapes(_series("h"), ModelConfig(), lookback=10, segment=24)
    assert str(e.value) == "--lookback 10 is not a multiple of --segment 24: use 24"


def test_hold_out_drops_the_last_steps_of_each_series():
    series = from_frame(make_long(n_series=3, length=50, lengths=[50, 30, 20]))
    kept = plan.hold_out(series, 6)
    assert list(kept.lengths) == [44, 24, 14]
    for i in range(3):
        assert (kept.series(i) == series.series(i)[:-6]).all()
    assert list(kept.ends) == list(series.ends - pd.Timedelta(hours=6))
    assert plan.hold_out(series, 0) is series
    with pytest.raises(DataError) as e:
        plan.hold_out(series, 20)
    assert (
        str(e.value)
        == "--holdout 20 leaves nothing of series 's2' (20 values): hold out fewer steps"
    )


def test_held_out_steps_keep_their_future_covariates():
    """The future-known covariates of the steps held out are known: they stay, as steps
    after each series' last value, and the plan counts the columns."""
    frame = make_long(n_series=2, length=50, lengths=[50, 30])
    frame["price"] = np.arange(len(frame), dtype=float)
    series = from_frame(frame, ReadOptions(future_covariates=("price",)))
    kept = plan.hold_out(series, 6)
    assert kept.ahead.tolist() == [6, 6] and kept.known is series.known
    np.testing.assert_array_equal(kept.known_at_values()[:, 0], np.r_[0:44, 50:74])
    made = plan.make(TrainRequest(future_covariates=("price",), horizon=6, holdout=6), series)
    assert (made.model.future_covariate_count, made.model.covariate_count) == (1, 0)


def test_shapes_must_be_positive():
    for name in ("horizon", "lookback", "segment"):
        with pytest.raises(ConfigError) as e:
            shapes(_series("h"), ModelConfig(), **{name: 0})
        assert str(e.value) == f"--{name} must be at least 1, got 0"


def test_leave_out_short_series():
    series = from_frame(make_long(n_series=3, length=60, lengths=[60, 20, 10]))
    kept, note = plan.leave_out_short(series, 30, "lookback 24 + horizon 6 = 30 values")
    assert kept.ids.tolist() == ["s0"] and kept.lengths.tolist() == [60]
    np.testing.assert_array_equal(kept.values, series.series(0))
    assert kept.ends[0] == series.ends[0]
    assert note == (
        "--skip-short: left out 2 series shorter than lookback 24 + horizon 6 = 30 values: "
        "'s1' (20), 's2' (10)"
    )
    assert plan.leave_out_short(series, 10, "x") == (series, None)
    with pytest.raises(DataError) as e:
        plan.leave_out_short(series, 61, "lookback 55 + horizon 6 = 61 values")
    assert str(e.value) == (
        "every series is shorter than lookback 55 + horizon 6 = 61 values ('s0' (60), "
        "'s1' (20), 's2' (10)): pass a smaller --lookback"
    )


def test_ensembles_read_lookbacks_of_3_5_and_7_horizons():
    long = _series("h", 1000)
    window, model = shapes(long, ModelConfig(), ensemble=3)
    assert (window.lookbacks, window.lookback, model.segment) == ((144, 240, 336), 144, 24)
    assert [window.member(k).lookback for k in range(4)] == [144, 240, 336, 144]
    assert window.longest == 336 and window.member(1).lookbacks == ()
    window, _ = shapes(long, ModelConfig(), ensemble=4)
    assert window.lookbacks == (144, 240, 336, 144)
    # one network, or a lookback given: one lookback, as before
    assert shapes(long, ModelConfig(), ensemble=1)[0].lookbacks == ()
    assert shapes(long, ModelConfig(), lookback=96, ensemble=3)[0] == WindowConfig(96, 48, 100)
    # shorter series: at most half of what is left after horizon and validation (600 - 96)
    window, _ = shapes(_series("h", 600), ModelConfig(), ensemble=3)
    assert window.lookbacks == (144, 240, 240)
    # too short for more: the 3 x horizon rule for every member
    assert shapes(_series("h", 300), ModelConfig(), ensemble=3)[0].lookbacks == ()


def test_given_lookbacks():
    window, model = shapes(_series("h"), ModelConfig(), lookbacks=(48, 72), ensemble=3)
    assert (window.lookbacks, window.lookback, model.segment) == ((48, 72), 48, 24)
    window, model = shapes(_series("h"), ModelConfig(), lookbacks=(40, 60))
    assert model.segment == 20  # the largest segment up to 24 dividing every lookback
    with pytest.raises(ConfigError) as e:
        shapes(_series("h"), ModelConfig(), lookbacks=(48, 50), segment=24)
    assert str(e.value) == "--lookbacks 50 is not a multiple of --segment 24: use 48 or 72"
    with pytest.raises(ConfigError) as e:
        shapes(_series("h"), ModelConfig(), lookback=48, lookbacks=(48, 72))
    assert str(e.value) == (
        "give --lookback (every member) or --lookbacks (one per member), not both"
    )
    with pytest.raises(ConfigError) as e:
        shapes(_series("h"), ModelConfig(), lookbacks=(48, 0))
    assert str(e.value) == "--lookbacks must be at least 1, got 0"


def test_a_plan_holds_out_resolves_and_leaves_out_as_asked():
    from rnncast.settings import TrainRequest

    series = from_frame(make_long(n_series=3, length=100, lengths=[100, 100, 35]))
    request = TrainRequest(horizon=6, lookback=24, segment=6, holdout=10, skip_short=True)
    made = plan.make(request, series)
    assert made.series.lengths.tolist() == [90, 90]  # held out, then 's2' (25) left out
    assert made.holdout == 10  # recorded, for what a tracked run logs
    assert (made.window.lookback, made.window.horizon, made.model.segment) == (24, 6, 6)
    assert made.model.transform == "log" and made.train == request.configs()[2]
    assert made.model.clip == "zero"  # said nothing of: the logs' forecasts are above 0
    assert made.notes == (
        ("info", "holding out the last 10 steps of each series for 'rnncast evaluate'"),
        ("info", "modelling the log of the values, since every one is above 0; forecasts "
                 "will need histories above 0 too (--transform none models the values as they "
                 "are)"),
        ("warning", "--skip-short: left out 1 series shorter than lookback 24 + horizon 6 = 30 "
                    "values: 's2' (25)"),
    )  # fmt: skip
    assert made.resolved() == {"horizon": 6, "lookback": 24, "lookbacks": None, "val_size": 6,
                               "segment": 6, "transform": "log", "clip": "zero"}  # fmt: skip


def test_the_series_left_out_are_fields_of_the_warning_for_a_machine_log():
    series = from_frame(make_long(n_series=3, length=60, lengths=[60, 20, 10]))
    _, note = plan.leave_out_short(series, 30, "lookback 24 + horizon 6 = 30 values")
    assert note.fields == {"kind": "left_out_short", "left_out": 2, "need": 30,
                           "series": ["s1", "s2"]}  # fmt: skip


def test_what_reading_found_is_kept_as_read_options():
    from rnncast.settings import TrainRequest

    series = from_frame(make_long(n_series=1, length=60))
    series.read_as = {"dayfirst": True, "sep": ";", "target": ("y",)}
    made = plan.make(TrainRequest(horizon=6, target=("y",), sep="|"), series)
    assert (made.read.dayfirst, made.read.sep, made.read.target) == (True, "|", ("y",))


def test_a_plan_says_when_the_ensembles_lookbacks_were_cut_to_fit():
    from rnncast.settings import PYTHON, TrainRequest

    made = plan.make(TrainRequest(ensemble=3), _series("h", 300))
    assert made.window.lookbacks == () and made.window.lookback == 144
    assert made.notes[0] == ("info", (
        "ensemble: every member reads lookback 144, not 144, 240, 336 (3, 5, 7 x horizon in "
        "turn): a lookback is kept to half of what the shortest series (300 values) leaves "
        "after horizon 48 and validation 48, and to at least 3 x horizon; pass --lookbacks to "
        "choose them"
    ))  # fmt: skip
    made = plan.make(TrainRequest(ensemble=3), _series("h", 600), PYTHON)
    assert made.notes[0][1].startswith(
        "ensemble: the members read lookbacks 144, 240, 240, not 144, 240, 336 (3, 5, 7 x "
    )
    assert made.notes[0][1].endswith("; pass lookbacks to choose them")
    for request, n in ((TrainRequest(ensemble=3, lookback=48), 200), (TrainRequest(), 1000),
                       (TrainRequest(ensemble=1), 200),
                       (TrainRequest(ensemble=2, lookbacks=(48, 72)), 200)):  # fmt: skip
        notes = plan.make(request, _series("h", n)).notes
        assert not any(text.startswith("ensemble") for _, text in notes), request


def test_more_lookbacks_than_members_are_refused():
    from rnncast.settings import PYTHON, TrainRequest

    with pytest.raises(ConfigError) as e:
        plan.make(TrainRequest(lookbacks=(48, 72, 96), ensemble=2), _series("h"))
    assert str(e.value) == (
        "--lookbacks gives 3 lookbacks for --ensemble 2 (one per member): give at most 2, or "
        "pass --ensemble 3"
    )
    with pytest.raises(ConfigError) as e:
        plan.make(TrainRequest(lookbacks=(48, 72), ensemble=1), _series("h"), PYTHON)
    assert str(e.value) == (
        "lookbacks gives 2 lookbacks for ensemble=1 (one per member): give at most 1, or pass "
        "ensemble=2"
    )


def test_clip_auto_clips_at_zero_data_never_below_zero_and_says_so_where_it_matters():
    from rnncast.settings import PYTHON, TrainRequest

    sales = from_frame(make_sales(n_series=2, length=100))
    said = ("info", "clipping forecasts at 0, since no training value is below 0 (--clip none "
                    "lets them go below)")  # fmt: skip
    made = plan.make(TrainRequest(horizon=7), sales)
    assert (made.model.transform, made.model.clip) == ("none", "zero")  # zeros: no logs
    assert said in made.notes and made.resolved()["clip"] == "zero"
    made = plan.make(TrainRequest(horizon=7), sales, PYTHON)
    assert made.notes[-1][1].endswith("(clip='none' lets them go below)")
    for request, series, clip in (
        (TrainRequest(horizon=7, clip="none"), sales, "none"),  # asked: nothing to say
        (TrainRequest(horizon=7, clip="zero"), sales, "zero"),
        (TrainRequest(horizon=6), _series("h"), "zero"),  # logs: above 0 anyway
    ):
        made = plan.make(request, series)
        assert made.model.clip == clip
        assert not any("clipping" in text for _, text in made.notes), request
    assert said in plan.make(TrainRequest(horizon=6, transform="none"), _series("h")).notes
    below = make_long(n_series=1, length=100)
    below.loc[3, "y"] = -0.5
    made = plan.make(TrainRequest(horizon=6), from_frame(below))
    assert made.model.clip == "none" and not any("clipping" in t for _, t in made.notes)
