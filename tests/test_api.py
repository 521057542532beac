from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from rnncast import api, artifact
from rnncast.data.build import from_frame
from rnncast.data.readers import load
from rnncast.data.series import SeriesSet
from rnncast.errors import ConfigError, DataError
from rnncast.settings import ModelConfig, ReadOptions, TrainConfig, WindowConfig
from tests.conftest import make_long


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
    window, model = api.resolve_shapes(_series(freq), ModelConfig())
    assert (window.lookback, window.horizon, model.segment) == (lookback, horizon, segment)
    assert window.val_size == horizon
    assert window.lookback % model.segment == 0


def test_integer_steps_and_explicit_values():
    series = from_frame(pd.DataFrame({"y": range(100)}))
    window, model = api.resolve_shapes(series, ModelConfig())
    assert (window.lookback, window.horizon, model.segment) == (32, 10, 4)
    window, model = api.resolve_shapes(_series("h"), ModelConfig(), horizon=24, lookback=100)
    assert (window.lookback, window.horizon, model.segment) == (100, 24, 20)
    window, model = api.resolve_shapes(_series("h"), ModelConfig(), horizon=24, segment=5)
    assert (window.lookback, model.segment) == (75, 5)


def test_lookback_and_segment_must_agree():
    with pytest.raises(ConfigError) as e:
        api.resolve_shapes(_series("h"), ModelConfig(), lookback=50, segment=24)
    assert str(e.value) == "--lookback 50 is not a multiple of --segment 24: use 48 or 72"
    with pytest.raises(ConfigError) as e:
        api.resolve_shapes(_series("h"), ModelConfig(), lookback=10, segment=24)
    assert str(e.value) == "--lookback 10 is not a multiple of --segment 24: use 24"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    path = folder / "series.csv"
    make_long(n_series=2, length=150).to_csv(path, index=False)
    series = load(path)
    window = WindowConfig(lookback=24, horizon=6, val_size=6)
    model = ModelConfig(hidden_size=8, num_layers=1, segment=4)
    config = TrainConfig(max_epochs=1, epoch_size=64, batch_size=32, device="cpu")
    trained, _ = api.fit(series, window, model, config, ReadOptions(), str(path))
    return trained, path


def test_predict_horizon_limits(bundle):
    trained, _ = bundle
    series = api.load_data_for(trained, None)
    assert len(api.predict(trained, series, 3, "cpu")) == 2 * 3
    with pytest.raises(ConfigError) as e:
        api.predict(trained, series, 7, "cpu")
    assert str(e.value) == (
        "--horizon 7 is beyond what the model was trained for (6): use 1 to 6, or retrain with "
        "--horizon 7"
    )


def test_evaluate_reports_the_fingerprint_match(bundle):
    trained, _ = bundle
    report = api.evaluate(trained, api.load_data_for(trained, None), 2, "cpu")
    assert report["data_fingerprint_matches_training"] is True
    assert report["windows_in_training"] == report["windows_scored"] == 4
    with pytest.raises(ConfigError) as e:
        api.evaluate(trained, api.load_data_for(trained, None), 0, "cpu")
    assert str(e.value) == "--windows must be at least 1, got 0"


def test_other_frequency_is_refused(bundle, tmp_path):
    trained, _ = bundle
    daily = tmp_path / "daily.csv"
    make_long(n_series=2, length=60, freq="D").to_csv(daily, index=False)
    with pytest.raises(DataError) as e:
        api.load_data_for(trained, str(daily))
    assert str(e.value) == (
        f"'{daily}' has daily ('D') times but the model was trained on hourly ('h') data: give "
        "data like the model's training data"
    )
    steps = tmp_path / "steps.csv"
    pd.DataFrame({"y": range(50)}).to_csv(steps, index=False)
    with pytest.raises(DataError) as e:
        api.load_data_for(trained, str(steps))
    assert str(e.value) == (
        f"'{steps}' is laid out as values without times (series columns y), but the model was "
        "trained on data laid out as long (id 'unique_id', time 'ds', value 'y'): give data "
        "laid out like the training data"
    )
    zoned = tmp_path / "zoned.parquet"
    frame = make_long(n_series=2, length=60)
    frame["ds"] = frame["ds"].dt.tz_localize("Europe/Paris")
    frame.to_parquet(zoned)
    with pytest.raises(DataError) as e:
        api.load_data_for(trained, str(zoned))
    assert str(e.value) == (
        f"'{zoned}' has times in time zone Europe/Paris but the model was trained on times "
        "without a time zone: give data like the model's training data"
    )


def test_missing_training_data(bundle, tmp_path):
    trained, _ = bundle
    moved = artifact.Artifact(
        **{**trained.__dict__, "data_path": "gone.csv", "data_abspath": str(tmp_path / "gone.csv")}
    )
    with pytest.raises(DataError) as e:
        api.load_data_for(moved, None)
    assert str(e.value) == (
        "the training data recorded in the model ('gone.csv') no longer exists: pass DATA"
    )


def test_hold_out_drops_the_last_steps_of_each_series():
    series = from_frame(make_long(n_series=3, length=50, lengths=[50, 30, 20]))
    kept = api.hold_out(series, 6)
    assert list(kept.lengths) == [44, 24, 14]
    for i in range(3):
        assert (kept.series(i) == series.series(i)[:-6]).all()
    assert list(kept.ends) == list(series.ends - pd.Timedelta(hours=6))
    assert api.hold_out(series, 0) is series
    with pytest.raises(DataError) as e:
        api.hold_out(series, 20)
    assert (
        str(e.value)
        == "--holdout 20 leaves nothing of series 's2' (20 values): hold out fewer steps"
    )


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


def test_shapes_must_be_positive():
    for name in ("horizon", "lookback", "segment"):
        with pytest.raises(ConfigError) as e:
            api.resolve_shapes(_series("h"), ModelConfig(), **{name: 0})
        assert str(e.value) == f"--{name} must be at least 1, got 0"


def test_leave_out_short_series():
    series = from_frame(make_long(n_series=3, length=60, lengths=[60, 20, 10]))
    kept, note = api.leave_out_short(series, 30, "lookback 24 + horizon 6 = 30 values")
    assert kept.ids.tolist() == ["s0"] and kept.lengths.tolist() == [60]
    np.testing.assert_array_equal(kept.values, series.series(0))
    assert kept.ends[0] == series.ends[0]
    assert note == (
        "--skip-short: left out 2 series shorter than lookback 24 + horizon 6 = 30 values: "
        "'s1' (20), 's2' (10)"
    )
    assert api.leave_out_short(series, 10, "x") == (series, None)
    with pytest.raises(DataError) as e:
        api.leave_out_short(series, 61, "lookback 55 + horizon 6 = 61 values")
    assert str(e.value) == (
        "every series is shorter than lookback 55 + horizon 6 = 61 values ('s0' (60), "
        "'s1' (20), 's2' (10)): pass a smaller --lookback"
    )


def test_predict_data_must_have_the_models_time_column(tmp_path):
    wide = tmp_path / "wide.csv"
    frame = pd.DataFrame({"month": pd.date_range("2000-01", periods=80, freq="MS"),
                          "a": np.arange(80.0), "b": np.arange(80.0) * 2})  # fmt: skip
    frame.to_csv(wide, index=False)
    series = load(wide)
    window, model = api.resolve_shapes(series, ModelConfig(hidden_size=4), horizon=6)
    trained, _ = api.fit(series, window, model, TrainConfig(max_steps=1, ensemble=1))
    renamed = tmp_path / "renamed.csv"
    frame.rename(columns={"month": "Month"}).to_csv(renamed, index=False)
    with pytest.raises(DataError) as e:
        api.load_data_for(trained, str(renamed))
    assert str(e.value) == (
        f"'{renamed}' has its times in column 'Month', the model's training data in 'month': "
        "name the column 'month', or retrain"
    )
    fewer = tmp_path / "fewer.csv"
    frame[["month", "a"]].to_csv(fewer, index=False)  # series are data, not schema
    assert api.load_data_for(trained, str(fewer)).ids.tolist() == ["a"]


def test_ensembles_read_lookbacks_of_3_5_and_7_horizons():
    long = _series("h", 1000)
    window, model = api.resolve_shapes(long, ModelConfig(), members=3)
    assert (window.lookbacks, window.lookback, model.segment) == ((144, 240, 336), 144, 24)
    assert [window.member(k).lookback for k in range(4)] == [144, 240, 336, 144]
    assert window.longest == 336 and window.member(1).lookbacks == ()
    window, _ = api.resolve_shapes(long, ModelConfig(), members=4)
    assert window.lookbacks == (144, 240, 336, 144)
    # one network, or a lookback given: one lookback, as before
    assert api.resolve_shapes(long, ModelConfig(), members=1)[0].lookbacks == ()
    assert api.resolve_shapes(long, ModelConfig(), lookback=96, members=3)[0] == WindowConfig(
        96, 48, 48
    )
    # shorter series: at most half of what is left after horizon and validation (600 - 96)
    window, _ = api.resolve_shapes(_series("h", 600), ModelConfig(), members=3)
    assert window.lookbacks == (144, 240, 240)
    # too short for more: the 3 x horizon rule for every member
    assert api.resolve_shapes(_series("h", 300), ModelConfig(), members=3)[0].lookbacks == ()


def test_given_lookbacks():
    window, model = api.resolve_shapes(_series("h"), ModelConfig(), lookbacks=(48, 72), members=3)
    assert (window.lookbacks, window.lookback, model.segment) == ((48, 72), 48, 24)
    window, model = api.resolve_shapes(_series("h"), ModelConfig(), lookbacks=(40, 60))
    assert model.segment == 20  # the largest segment up to 24 dividing every lookback
    with pytest.raises(ConfigError) as e:
        api.resolve_shapes(_series("h"), ModelConfig(), lookbacks=(48, 50), segment=24)
    assert str(e.value) == "--lookbacks 50 is not a multiple of --segment 24: use 48 or 72"
    with pytest.raises(ConfigError) as e:
        api.resolve_shapes(_series("h"), ModelConfig(), lookback=48, lookbacks=(48, 72))
    assert str(e.value) == (
        "give --lookback (every member) or --lookbacks (one per member), not both"
    )
    with pytest.raises(ConfigError) as e:
        api.resolve_shapes(_series("h"), ModelConfig(), lookbacks=(48, 0))
    assert str(e.value) == "--lookbacks must be at least 1, got 0"


def test_quantile_models_calibrate_their_intervals_on_validation():
    from rnncast import forecast

    series = from_frame(make_long(n_series=3, length=200))
    model = ModelConfig(hidden_size=8, segment=4, quantiles=(0.1, 0.9))
    config = TrainConfig(max_epochs=2, epoch_size=128, batch_size=64, device="cpu", ensemble=1)
    window, model = api.resolve_shapes(series, model, 12)
    bundle, _ = api.fit(series, window, model, config)
    factor = bundle.intervals["0.1-0.9"]
    assert factor > 0
    frame = api.predict(bundle, series, device="cpu")
    raw = forecast.forecast_frame(bundle.network(), series)  # without the calibration
    np.testing.assert_allclose(
        frame["q0.9"] - frame["y_hat"], factor * (raw["q0.9"] - raw["y_hat"]), rtol=1e-4
    )
    point = api.fit(series, window, dataclasses.replace(model, quantiles=()), config)[0]
    assert point.intervals == {}


def test_id_embedding_learns_each_series_and_knows_new_ones():
    from rnncast import forecast

    series = from_frame(make_long(n_series=3, length=200))
    model = ModelConfig(hidden_size=8, segment=4, id_embedding=4)
    config = TrainConfig(max_epochs=2, epoch_size=128, batch_size=64, device="cpu", ensemble=1)
    window, model = api.resolve_shapes(series, model, 12)
    assert model.ids == 3
    bundle, _ = api.fit(series, window, model, config)
    table = bundle.weights[0]["id_table.weight"]
    assert table.shape == (4, 4) and not table[1:].eq(0).all() and table[0].eq(0).all()
    renamed = make_long(n_series=3, length=200)
    renamed["unique_id"] = renamed["unique_id"].replace({"s1": "new"})
    other = from_frame(renamed)
    np.testing.assert_array_equal(forecast.id_codes(bundle.series_ids, other), [1, 0, 3])
    result = api.run_backtest(bundle, series, 1, "cpu")  # evaluate reads the ids too
    starts = result.origins - bundle.window.lookback
    want = forecast.forecast_at(bundle.network(), series.values, series.offsets, starts,
                                codes=np.arange(1, 4))  # fmt: skip
    np.testing.assert_array_equal(result.forecasts["model"], want)
    a = api.predict(bundle, series, device="cpu")
    b = api.predict(bundle, other, device="cpu")
    assert (a.y_hat.to_numpy()[:12] == b.y_hat.to_numpy()[:12]).all()  # s0: same row
    assert not np.allclose(a.y_hat.to_numpy()[12:24], b.y_hat.to_numpy()[12:24])  # s1 -> new


def test_past_covariates_reach_the_network():
    """y follows yesterday's value of a random driver: with the driver as a covariate the
    next value is predictable, without it it is not."""
    rng = np.random.default_rng(0)
    frames = []
    for i in range(2):
        driver = rng.normal(0, 1, 600)
        y = 3 * np.roll(driver, 1) + rng.normal(0, 0.1, 600)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": np.arange(600), "y": y,
                                    "driver": driver}))  # fmt: skip
    frame = pd.concat(frames, ignore_index=True)
    config = TrainConfig(max_steps=200, batch_size=64, lr=1e-2, device="cpu", ensemble=1)
    losses = {}
    for covariates in ((), ("driver",)):
        options = ReadOptions(covariates=covariates)
        series = from_frame(frame, options)
        window, model = api.resolve_shapes(series, ModelConfig(hidden_size=16, segment=1), 1, 8)
        assert model.covariate_count == len(covariates)
        bundle, results = api.fit(series, window, model, config, options)
        losses[covariates] = results[0].best_val_loss
        assert len(api.predict(bundle, series, device="cpu")) == 2
    assert losses[("driver",)] < 0.3 * losses[()], losses


def test_series_scaling_keeps_each_training_series_unit():
    from rnncast import forecast

    frame = make_long(n_series=3, length=200)
    series = from_frame(frame)
    model = ModelConfig(hidden_size=8, segment=4, scaling="series")
    config = TrainConfig(max_epochs=1, epoch_size=64, batch_size=64, device="cpu", ensemble=1)
    window, model = api.resolve_shapes(series, model, 12)
    bundle, _ = api.fit(series, window, model, config)
    assert model.transform == "log"  # the units are those of what the network reads
    want = [np.log(series.series(i)).std() for i in range(3)]
    np.testing.assert_allclose(bundle.units, want, rtol=1e-5)
    # predict from the last lookback alone forecasts as from the whole history: the unit
    # is training's, not the recent stretch's
    recent = from_frame(frame.groupby("unique_id").tail(window.lookback))
    np.testing.assert_array_equal(
        api.predict(bundle, recent, device="cpu").y_hat.to_numpy(),
        api.predict(bundle, series, device="cpu").y_hat.to_numpy(),
    )
    result = api.run_backtest(bundle, series, 2, "cpu")  # evaluate uses them too
    starts = result.origins - window.lookback
    np.testing.assert_array_equal(
        result.forecasts["model"],
        forecast.forecast_at(
            bundle.network(), series.values, series.offsets, starts, units=bundle.units
        ),
    )
    window_model = dataclasses.replace(model, scaling="window")
    assert len(api.fit(series, window, window_model, config)[0].units) == 0
