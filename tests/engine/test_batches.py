"""The one window -> network-input recipe: batches of numbered windows, and training and
forecasting reading a window alike."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from rnncast.data import calendar
from rnncast.data.build import from_frame
from rnncast.data.windows import split_ranges, split_windows
from rnncast.engine import batches, loop, scaling
from rnncast.settings import ModelConfig, ReadOptions, TrainConfig, WindowConfig
from tests.conftest import make_long

WINDOW = WindowConfig(lookback=48, horizon=12, val_size=12)


def test_windows_are_found_per_series_as_if_listed_one_by_one():
    """A batch names windows by number; its starts, floors, calendar phases and ids are
    those of the explicit list of every window (as `split_windows` gives it)."""
    # 71 leaves no training window: lookback 48 + horizon 12 + validation 12 = 72
    s = from_frame(make_long(n_series=4, lengths=[90, 71, 75, 130]))
    train, _ = split_ranges(s.offsets, WINDOW)
    starts, _ = split_windows(s.offsets, WINDOW)
    assert len(train) == len(starts) and train.count[1] == 0
    floors = np.array([0.5, 1.5, 2.5, 3.5], dtype=np.float32)
    steps = calendar.first_steps(s)
    periods = calendar.periods(s.axis)
    windows = batches.Windows.of(torch.from_numpy(s.values), s.offsets, floors, WINDOW.width,
                                 steps=steps, periods=periods, codes=np.arange(1, 5))  # fmt: skip
    picked = torch.tensor([0, 5, len(starts) - 1, 29, 30, 31])
    batch = batches.Split.of(windows, train).batch(picked)
    at = starts[picked.numpy()]
    series_of = np.searchsorted(s.offsets, at, side="right") - 1
    want = s.values[at[:, None] + np.arange(WINDOW.width)]
    np.testing.assert_array_equal(batch.windows.numpy(), want)
    np.testing.assert_array_equal(batch.floors.numpy(), floors[series_of])
    np.testing.assert_array_equal(batch.ids.numpy(), series_of + 1)
    np.testing.assert_array_equal(
        batch.phases.numpy(), calendar.window_phases(steps, s.offsets, at, periods)
    )
    assert batch.covariates is None and len(periods) > 0


def test_logs_are_taken_as_windows_are_gathered():
    s = from_frame(make_long(n_series=2, length=80))
    floors = np.ones(2, dtype=np.float32)
    raw, logged = (
        batches.Windows.of(torch.from_numpy(s.values), s.offsets, floors, 10, logs=logs)
        for logs in (False, True)
    )
    series, starts = torch.tensor([0, 1]), torch.tensor([3, 85])
    np.testing.assert_allclose(logged.gather(series, starts).windows.numpy(),
                               np.log(raw.gather(series, starts).windows.numpy()))  # fmt: skip
    assert raw.gather(series, starts).ids is None  # no codes, no ids


def test_network_input_scales_the_target_by_the_lookback():
    windows = torch.arange(2 * 10, dtype=torch.float32).reshape(2, 10) ** 1.5
    batch = batches.Batch(windows, torch.zeros(2))
    given = batches.network_input(ModelConfig(), batch, 6, 4)
    stats = scaling.fit(windows[:, :6], "window", torch.zeros(2))
    torch.testing.assert_close(given.x[..., 0], scaling.transform(windows[:, :6], stats))
    torch.testing.assert_close(given.target, scaling.transform(windows[:, 6:], stats))
    assert given.future is None
    lookback_only = batches.network_input(
        ModelConfig(), batches.Batch(windows[:, :6], torch.zeros(2)), 6, 4
    )
    assert lookback_only.target is None
    torch.testing.assert_close(lookback_only.x, given.x)


def test_calendar_features_are_sines_and_cosines():
    phases = torch.tensor([[3.0, 30.0]])
    f = batches.calendar_features(phases, 2, torch.tensor([24.0, 168.0]))
    assert f.shape == (1, 2, 4)
    want = [math.sin(2 * math.pi * 4 / 24), math.sin(2 * math.pi * 31 / 168),
            math.cos(2 * math.pi * 4 / 24), math.cos(2 * math.pi * 31 / 168)]  # fmt: skip
    np.testing.assert_allclose(f[0, 1].numpy(), want, atol=1e-6)


def test_step_inputs_widen_each_step_with_covariates_then_calendar_features():
    config = ModelConfig(segment=4, calendar=(24.0, 168.0), covariate_count=2)
    phases = torch.tensor([[3.0, 50.0]] * 2)
    x, future = batches.step_inputs(config, torch.randn(2, 12), phases, 5, torch.randn(2, 12, 2))
    assert x.shape == (2, 12, 1 + 2 + 4) and future.shape == (2, 5, 4)


def test_step_inputs_put_future_covariates_after_the_past_ones_and_before_the_calendar():
    config = ModelConfig(segment=4, calendar=(24.0,), covariate_count=1, future_covariate_count=2)
    phases = torch.tensor([[3.0]] * 2)
    past, known = torch.randn(2, 12, 1), torch.randn(2, 12 + 5, 2)
    x, future = batches.step_inputs(config, torch.randn(2, 12), phases, 5, past, known)
    assert x.shape == (2, 12, 1 + 1 + 2 + 2) and future.shape == (2, 5, 2 + 2)
    torch.testing.assert_close(x[..., 1:2], past)
    torch.testing.assert_close(x[..., 2:4], known[:, :12])
    torch.testing.assert_close(future[..., :2], known[:, 12:])
    cycles = batches.calendar_features(phases, 17, torch.tensor([24.0]))
    torch.testing.assert_close(future[..., 2:], cycles[:, 12:])


def test_future_covariates_are_gathered_over_lookback_and_horizon_past_the_values():
    """A window of the lookback only (a forecast) reads the future covariates of its
    lookback and of the horizon after it, which run past its series' last value."""
    frame = _with_future_rows(make_long(n_series=2, length=30), 4)
    s = from_frame(frame, ReadOptions(future_covariates=("price",)))
    assert s.ahead.tolist() == [4, 4]
    known = batches.KnownCovariates.of(s.known, s.known_offsets, 10 + 4, torch.device("cpu"))
    windows = batches.Windows.of(torch.from_numpy(s.values), s.offsets, np.ones(2), 10,
                                 known=known)  # fmt: skip
    batch = windows.gather(torch.tensor([0, 1, 1]), torch.tensor([20, 30, 50]))
    prices = [frame.loc[frame.unique_id == i, "price"].to_numpy() for i in ("s0", "s1")]
    want = [prices[0][20:34], prices[1][0:14], prices[1][20:34]]
    np.testing.assert_allclose(batch.known.numpy()[..., 0], want)
    given = batches.network_input(ModelConfig(future_covariate_count=1), batch, 10, 4)
    standard = scaling.standardise_channels(batch.known)  # over lookback and horizon alike
    torch.testing.assert_close(given.x[..., 1:], standard[:, :10])
    torch.testing.assert_close(given.future, standard[:, 10:])


def _with_future_rows(frame: pd.DataFrame, steps: int, seed: int = 3) -> pd.DataFrame:
    """`frame` with a 'price' column and `steps` rows after each series' end: no value,
    a price."""
    rng = np.random.default_rng(seed)
    parts = []
    for _, rows in frame.groupby("unique_id", sort=False):
        times = pd.date_range(rows.ds.iloc[-1], periods=steps + 1, freq="h")[1:]
        after = pd.DataFrame({"unique_id": rows.unique_id.iloc[0], "ds": times, "y": np.nan})
        parts += [rows, after]
    out = pd.concat(parts, ignore_index=True)
    out["price"] = rng.uniform(1, 2, len(out)).round(3)
    return out


def _promo_series(future: bool = False) -> tuple:
    """Hourly long data with a covariate, for a model that reads everything a window can
    carry: logs, series scaling, covariates, calendar features, series ids (and `future`,
    a future covariate given 6 steps past every series' end)."""
    frame = make_long(n_series=3, length=150)
    frame["promo"] = (np.arange(len(frame)) % 7 == 0).astype(float)
    if not future:
        return from_frame(frame, ReadOptions(covariates=("promo",))), frame
    frame = _with_future_rows(frame, 6)
    options = ReadOptions(covariates=("promo",), future_covariates=("price",))
    return from_frame(frame, options), frame


@pytest.mark.parametrize(
    "scaling_method, future, decoder",
    [("window", False, "direct"), ("series", False, "direct"), ("window", True, "direct"),
     ("series", True, "parallel")],
)  # fmt: skip
def test_training_and_forecasting_read_a_window_alike(scaling_method, future, decoder):
    """The promise 'train and predict scale alike': the network's output on a batch of the
    training windows the loop builds, turned back by the batch's statistics, is the forecast
    `forecast.outputs_at` gives for the same windows."""
    from rnncast.forecast.forecasting import Known, outputs_at

    series, _ = _promo_series(future)
    window = WindowConfig(lookback=24, horizon=6, val_size=6)
    model = ModelConfig(hidden_size=8, segment=6, dropout=0.0, scaling=scaling_method,
                        transform="log", calendar=calendar.periods(series.axis),
                        id_embedding=3, ids=3, covariate_count=1, decoder=decoder,
                        future_covariate_count=int(future))  # fmt: skip
    config = TrainConfig(max_steps=3, batch_size=16, device="cpu")
    network = loop.fit(series, window, model, config).network
    split, _ = loop._splits(series, window, model, config, torch.device("cpu"))  # as fit's
    units = scaling.series_units(series.values, series.offsets, logs=True)
    picked = torch.tensor([0, 40, len(split) - 1])
    batch = split.batch(picked)
    given = batches.network_input(model, batch, 24, 6)
    with torch.no_grad():
        trained = scaling.inverse(network(given.x, given.future, batch.ids), given.stats)
    starts = split.starts(picked)[1].numpy()
    known = Known(np.arange(1, 4), units if scaling_method == "series" else None)
    forecast = outputs_at(network, series, starts, known=known)
    np.testing.assert_allclose(forecast.point, np.exp(trained.numpy()), rtol=1e-5)
    assert not np.allclose(forecast.point, trained.numpy(), rtol=1e-2)  # logs were taken


def test_series_floors_are_the_units_given_under_series_scaling():
    s = from_frame(make_long(n_series=2, length=80))
    series_model = ModelConfig(scaling="series")
    units = np.array([2.0, 3.0], dtype=np.float32)
    got = batches.series_floors(s.values, s.offsets, 24, series_model, units)
    np.testing.assert_array_equal(got, units)
    measured = batches.series_floors(s.values, s.offsets, 24, series_model)
    np.testing.assert_allclose(measured, scaling.series_units(s.values, s.offsets))
    window = batches.series_floors(s.values, s.offsets, 24, ModelConfig(), units)
    spread = scaling.typical_spread(s.values, s.offsets, 24)
    np.testing.assert_allclose(window, 0.1 * spread, rtol=1e-6)
    none = batches.series_floors(s.values, s.offsets, 24, dataclasses.replace(
        ModelConfig(), scaling="none"))  # fmt: skip
    np.testing.assert_allclose(none, window)
    assert pd.notna(window).all()
