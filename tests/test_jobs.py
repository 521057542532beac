"""The jobs: training from a plan, forecasting and backtesting with a model file, and the
rules a model applies to the data it is given."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from rnncast import jobs
from rnncast.data.build import from_frame
from rnncast.data.readers import load
from rnncast.errors import ConfigError, DataError
from rnncast.settings import ModelConfig, ReadOptions, TrainConfig, WindowConfig
from rnncast.store import artifact
from tests.conftest import fit, make_long, predicted, shapes


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    path = folder / "series.csv"
    make_long(n_series=2, length=150).to_csv(path, index=False)
    series = load(path)
    window = WindowConfig(lookback=24, horizon=6, val_size=6)
    model = ModelConfig(hidden_size=8, num_layers=1, segment=4)
    config = TrainConfig(max_epochs=1, epoch_size=64, batch_size=32, device="cpu")
    trained, _ = fit(series, window, model, config, ReadOptions(), str(path))
    return trained, path


def _evaluate(artifact, series, windows, device):
    return jobs.backtest(artifact, series, windows, device).report


def test_predict_horizon_limits(bundle):
    trained, _ = bundle
    series = jobs.load_data_for(trained, None)
    assert len(predicted(trained, series, 3)) == 2 * 3
    with pytest.raises(ConfigError) as e:
        predicted(trained, series, 7)
    assert str(e.value) == (
        "--horizon 7 is beyond what the model was trained for (6): use 1 to 6, or retrain with "
        "--horizon 7"
    )


def test_evaluate_reports_the_fingerprint_match(bundle):
    trained, _ = bundle
    report = _evaluate(trained, jobs.load_data_for(trained, None), 2, "cpu")
    assert report["data_fingerprint_matches_training"] is True
    assert report["windows_in_training"] == report["windows_scored"] == 4
    with pytest.raises(ConfigError) as e:
        _evaluate(trained, jobs.load_data_for(trained, None), 0, "cpu")
    assert str(e.value) == "--windows must be at least 1, got 0"


def test_a_model_without_cutoffs_backtests_windows_of_unknown_kind(bundle):
    """Every model file records each series' training cut-off; one that does not (written
    by hand) cannot say which windows it trained on."""
    trained, _ = bundle
    series = jobs.load_data_for(trained, None)
    result = jobs.backtest(dataclasses.replace(trained, cutoffs=[]), series, 2, "cpu")
    assert set(result.samples) == {"unknown"} and result.report["by_sample"]["unknown"][
        "windows"] == 4  # fmt: skip
    assert set(jobs.backtest(trained, series, 2, "cpu").samples) == {"in-sample"}


def test_other_frequency_is_refused(bundle, tmp_path):
    trained, _ = bundle
    daily = tmp_path / "daily.csv"
    make_long(n_series=2, length=60, freq="D").to_csv(daily, index=False)
    with pytest.raises(DataError) as e:
        jobs.load_data_for(trained, str(daily))
    assert str(e.value) == (
        f"'{daily}' has daily ('D') times but the model was trained on hourly ('h') data: give "
        "data like the model's training data"
    )
    steps = tmp_path / "steps.csv"
    pd.DataFrame({"y": range(50)}).to_csv(steps, index=False)
    with pytest.raises(DataError) as e:
        jobs.load_data_for(trained, str(steps))
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
        jobs.load_data_for(trained, str(zoned))
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
        jobs.load_data_for(moved, None)
    assert str(e.value) == (
        "the training data recorded in the model ('gone.csv') no longer exists: pass DATA"
    )


def test_predict_data_must_have_the_models_time_column(tmp_path):
    wide = tmp_path / "wide.csv"
    frame = pd.DataFrame({"month": pd.date_range("2000-01", periods=80, freq="MS"),
                          "a": np.arange(80.0), "b": np.arange(80.0) * 2})  # fmt: skip
    frame.to_csv(wide, index=False)
    series = load(wide)
    window, model = shapes(series, ModelConfig(hidden_size=4), horizon=6)
    trained, _ = fit(series, window, model, TrainConfig(max_steps=1, ensemble=1))
    renamed = tmp_path / "renamed.csv"
    frame.rename(columns={"month": "Month"}).to_csv(renamed, index=False)
    with pytest.raises(DataError) as e:
        jobs.load_data_for(trained, str(renamed))
    assert str(e.value) == (
        f"'{renamed}' has its times in column 'Month', the model's training data in 'month': "
        "name the column 'month', or retrain"
    )
    fewer = tmp_path / "fewer.csv"
    frame[["month", "a"]].to_csv(fewer, index=False)  # series are data, not schema
    assert jobs.load_data_for(trained, str(fewer)).ids.tolist() == ["a"]


def test_quantile_models_calibrate_their_intervals_on_validation():
    from rnncast.forecast import forecasting as forecast

    series = from_frame(make_long(n_series=3, length=200))
    model = ModelConfig(hidden_size=8, segment=4, quantiles=(0.1, 0.9))
    config = TrainConfig(max_epochs=2, epoch_size=128, batch_size=64, device="cpu", ensemble=1)
    window, model = shapes(series, model, horizon=12)
    bundle, _ = fit(series, window, model, config)
    factor = bundle.intervals["0.1-0.9"]
    assert factor > 0
    frame = predicted(bundle, series)
    starts = series.offsets[1:] - bundle.window.lookback
    raw = forecast.forecast_frame(series, forecast.outputs_at(bundle.network(), series, starts),
                                  bundle.model.quantiles)  # without the calibration  # fmt: skip
    np.testing.assert_allclose(
        frame["q0.9"] - frame["y_hat"], factor * (raw["q0.9"] - raw["y_hat"]), rtol=1e-4
    )
    point = fit(series, window, dataclasses.replace(model, quantiles=()), config)[0]
    assert point.intervals == {}


def test_id_embedding_learns_each_series_and_knows_new_ones():
    from rnncast.forecast import forecasting as forecast

    series = from_frame(make_long(n_series=3, length=200))
    model = ModelConfig(hidden_size=8, segment=4, id_embedding=4)
    config = TrainConfig(max_epochs=2, epoch_size=128, batch_size=64, device="cpu", ensemble=1)
    window, model = shapes(series, model, horizon=12)
    assert model.ids == 3
    bundle, _ = fit(series, window, model, config)
    table = bundle.weights[0]["id_table.weight"]
    assert table.shape == (4, 4) and not table[1:].eq(0).all() and table[0].eq(0).all()
    renamed = make_long(n_series=3, length=200)
    renamed["unique_id"] = renamed["unique_id"].replace({"s1": "new"})
    other = from_frame(renamed)
    known = forecast.Known.of(bundle.series_ids, bundle.units, other.ids)
    np.testing.assert_array_equal(known.codes, [1, 0, 3])
    result = jobs.backtest(bundle, series, 1, "cpu")  # evaluate reads the ids too
    starts = result.origins - bundle.window.lookback
    known = forecast.Known(codes=np.arange(1, 4))
    want = forecast.outputs_at(bundle.network(), series, starts, known=known).point
    np.testing.assert_array_equal(result.forecasts["model"], want)
    a = predicted(bundle, series)
    b = predicted(bundle, other)
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
        window, model = shapes(
            series, ModelConfig(hidden_size=16, segment=1), horizon=1, lookback=8
        )
        assert model.covariate_count == len(covariates)
        bundle, results = fit(series, window, model, config, options)
        losses[covariates] = results[0].best_val_loss
        assert len(predicted(bundle, series)) == 2
    assert losses[("driver",)] < 0.3 * losses[()], losses


def test_series_scaling_keeps_each_training_series_unit():
    from rnncast.forecast import forecasting as forecast

    frame = make_long(n_series=3, length=200)
    series = from_frame(frame)
    model = ModelConfig(hidden_size=8, segment=4, scaling="series")
    config = TrainConfig(max_epochs=1, epoch_size=64, batch_size=64, device="cpu", ensemble=1)
    window, model = shapes(series, model, horizon=12)
    bundle, _ = fit(series, window, model, config)
    assert model.transform == "log"  # the units are those of what the network reads
    want = [np.log(series.series(i)).std() for i in range(3)]
    np.testing.assert_allclose(bundle.units, want, rtol=1e-5)
    # predict from the last lookback alone forecasts as from the whole history: the unit
    # is training's, not the recent stretch's
    recent = from_frame(frame.groupby("unique_id").tail(window.lookback))
    np.testing.assert_array_equal(
        predicted(bundle, recent).y_hat.to_numpy(),
        predicted(bundle, series).y_hat.to_numpy(),
    )
    result = jobs.backtest(bundle, series, 2, "cpu")  # evaluate uses them too
    starts = result.origins - window.lookback
    np.testing.assert_array_equal(
        result.forecasts["model"],
        forecast.outputs_at(
            bundle.network(), series, starts, known=forecast.Known(units=bundle.units)
        ).point,
    )
    window_model = dataclasses.replace(model, scaling="window")
    assert len(fit(series, window, window_model, config)[0].units) == 0


def test_history_shorter_than_lookback():
    series = from_frame(make_long(n_series=2, length=30, lengths=[30, 20]))
    with pytest.raises(DataError) as e:
        jobs.check_history(series, 24)
    assert str(e.value) == (
        "1 series has fewer values than the model's lookback of 24: 's1' (20); give at least "
        "24 values per series, or pass --skip-short to leave them out"
    )


def test_predict_leaves_out_short_series_as_the_model_or_the_caller_says(tmp_path):
    from rnncast.settings import PYTHON

    frame = make_long(n_series=3, length=150, lengths=[150, 150, 20])
    series = from_frame(frame, ReadOptions(skip_short=True))
    window = WindowConfig(lookback=24, horizon=6, val_size=6)
    model = ModelConfig(hidden_size=4, segment=4)
    config = TrainConfig(max_steps=2, batch_size=16, device="cpu", ensemble=1)
    trained, _ = fit(series.subset(series.lengths >= 30), window, model, config,
                     ReadOptions(skip_short=True))  # fmt: skip
    heard = []
    done = jobs.predict(trained, series, device="cpu", warn=heard.append)
    assert sorted(done.frame.unique_id.unique()) == ["s0", "s1"] and len(done.series) == 2
    assert heard == [
        "--skip-short: left out 1 series shorter than the model's lookback of 24 values: 's2' (20)"
    ]
    with pytest.raises(DataError) as e:
        jobs.predict(trained, series, device="cpu", skip_short=False, spell=PYTHON)
    assert str(e.value).endswith("or pass skip_short=True to leave them out")
    heard.clear()
    jobs.predict(trained, series, device="cpu", spell=PYTHON, warn=heard.append)
    assert heard[0].startswith("skip_short: left out 1 series")


# ---- an update (--init-from) --------------------------------------------------------------


def _update(path, frame, spell=None, **options):
    """`jobs.updating` the model at `path` on `frame`, planned and trained as `rnncast train
    --init-from` does."""
    from rnncast import plan
    from rnncast.settings import CLI, TrainRequest

    request = TrainRequest.of(init_from=str(path), **options)
    request, source = jobs.updating(request, options, spell or CLI)
    series = jobs.read(frame, request.configs()[0])
    trained = jobs.train(plan.make(request, series), source=source)
    return trained.artifact, source


def test_an_update_follows_the_id_embedding_by_series_id(tmp_path):
    """Rows of the id table go with the series' ids: a known series keeps its row wherever
    it stands, a new one starts at the all-zero row of the series `predict` never saw."""
    import torch

    series = from_frame(make_long(n_series=3, length=200))
    model = ModelConfig(hidden_size=8, segment=4, id_embedding=4)
    config = TrainConfig(max_epochs=2, epoch_size=128, batch_size=64, device="cpu", ensemble=1)
    window, model = shapes(series, model, horizon=12, ensemble=1)
    source, _ = fit(series, window, model, config)
    artifact.save(source, tmp_path / "m.rnncast")
    frame = make_long(n_series=3, length=220)
    frame["unique_id"] = frame["unique_id"].replace({"s0": "z", "s1": "a"})  # s2 stays, 2 new
    frame = pd.concat([frame[frame.unique_id == "s2"], frame[frame.unique_id != "s2"]])
    updated, _ = _update(tmp_path / "m.rnncast", frame, lr=1e-12, max_epochs=1)
    assert updated.series_ids == ["s2", "z", "a"] and updated.model.ids == 3
    table, before = updated.weights[0]["id_table.weight"], source.weights[0]["id_table.weight"]
    assert torch.equal(table[[0, 1]], before[[0, 3]])  # the unknown row; s2's row, moved up
    assert not before[3].eq(0).all() and table[[2, 3]].eq(0).all()  # the new series
    assert updated.summary["best_epoch"] == [0]


def test_an_update_of_a_series_scaled_model_measures_the_units_on_the_new_data(tmp_path):
    series = from_frame(make_long(n_series=2, length=200))
    model = ModelConfig(hidden_size=8, segment=4, scaling="series")
    config = TrainConfig(max_epochs=1, epoch_size=64, batch_size=64, device="cpu", ensemble=1)
    window, model = shapes(series, model, horizon=12, ensemble=1)
    source, _ = fit(series, window, model, config)
    artifact.save(source, tmp_path / "m.rnncast")
    frame = make_long(n_series=3, length=260)
    updated, _ = _update(tmp_path / "m.rnncast", frame, max_epochs=1)
    new = from_frame(frame)
    want = [np.log(new.series(i)).std() for i in range(3)]
    np.testing.assert_allclose(updated.units, want, rtol=1e-5)
    assert updated.model.scaling == "series" and len(predicted(updated, new)) == 36


def test_an_update_names_python_keywords_from_python(tmp_path, bundle):
    from rnncast.settings import PYTHON

    trained, _ = bundle
    artifact.save(trained, tmp_path / "m.rnncast")
    with pytest.raises(ConfigError) as e:
        _update(tmp_path / "m.rnncast", make_long(n_series=2, length=150), PYTHON, segment=2)
    assert str(e.value) == (
        f"init_from='{tmp_path / 'm.rnncast'}' was trained with segment=4; segment=2 "
        "conflicts: drop segment or train from scratch"
    )
