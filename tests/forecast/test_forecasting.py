"""Forecasting: the network on windows of a series set, in the data's units, and stamped
with real future times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnncast.data.build import from_frame
from rnncast.engine import models, scaling
from rnncast.forecast import forecasting as forecast
from rnncast.settings import ModelConfig
from tests.conftest import flat_series, make_long


def frame_of(network, series, horizon=None):
    """The forecast frame past the end of every series, without calibration."""
    starts = series.offsets[1:] - network.lookback
    out = forecast.outputs_at(network, series, starts, horizon)
    return forecast.forecast_frame(series, out, network.config.quantiles)


@pytest.fixture
def network():
    torch.manual_seed(0)
    return models.RecurrentForecaster(
        ModelConfig(hidden_size=8, num_layers=1, segment=4), 24, 6
    ).eval()


def test_outputs_at_is_scale_network_inverse(network):
    values = np.random.default_rng(0).normal(50, 5, 100).astype(np.float32)
    starts = np.array([0, 10, 76])
    got = forecast.outputs_at(network, flat_series(values, [0, 100]), starts).point
    floor = torch.tensor(0.1 * scaling.typical_spread(values, np.array([0, 100]), 24))
    for row, s in zip(got, starts, strict=True):
        x = torch.from_numpy(values[s : s + 24])[None]
        stats = scaling.fit(x, "window", floor.float())
        with torch.no_grad():
            want = scaling.inverse(network(scaling.transform(x, stats).unsqueeze(-1)), stats)
        np.testing.assert_allclose(row, want[0].numpy(), rtol=1e-5)


def test_series_scaled_forecasts_scale_with_the_series():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, num_layers=1, segment=4, scaling="series")
    network = models.RecurrentForecaster(config, 24, 6).eval()
    values = np.random.default_rng(0).normal(50, 5, 100).astype(np.float32)
    offsets, starts = np.array([0, 100]), np.array([0, 76])
    got = forecast.outputs_at(network, flat_series(values, offsets), starts).point
    scale = values.std()
    for row, s in zip(got, starts, strict=True):
        x = torch.from_numpy(values[s : s + 24])[None]
        stats = scaling.fit(x, "series", torch.tensor([scale]))
        with torch.no_grad():
            want = scaling.inverse(network(scaling.transform(x, stats).unsqueeze(-1)), stats)
        np.testing.assert_allclose(row, want[0].numpy(), rtol=1e-5)
    bigger = forecast.outputs_at(network, flat_series(values * 1000, offsets), starts).point
    np.testing.assert_allclose(bigger, got * 1000, rtol=1e-4)


def test_forecast_frame_has_real_future_times(network):
    frame = make_long(n_series=2, length=50, freq="h", lengths=[50, 40])
    series = from_frame(frame)
    out = frame_of(network, series)
    assert list(out.columns) == ["unique_id", "ds", "y_hat"]
    assert len(out) == 12
    for sid, n in (("s0", 50), ("s1", 40)):
        got = out[out.unique_id == sid].ds
        want = pd.date_range("2024-01-01", periods=n + 6, freq="h")[n:]
        np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    assert np.isfinite(out.y_hat).all()


def test_shorter_horizon_is_the_head_of_the_full_one(network):
    series = from_frame(make_long(n_series=2, length=40))
    full = frame_of(network, series)
    part = frame_of(network, series, 3)
    np.testing.assert_array_equal(
        part.y_hat.to_numpy(), full.groupby("unique_id").head(3).y_hat.to_numpy()
    )


def test_monthly_future_times(network):
    frame = pd.DataFrame(
        {
            "month": pd.date_range("2000-01-01", periods=30, freq="MS").strftime("%Y-%m"),
            "sales": np.arange(30.0) + 100,
        }
    )
    series = from_frame(frame)
    out = frame_of(network, series)
    assert list(out.columns) == ["unique_id", "month", "y_hat"]
    assert list(out.month.dt.strftime("%Y-%m")) == [
        "2002-07",
        "2002-08",
        "2002-09",
        "2002-10",
        "2002-11",
        "2002-12",
    ]


def test_constant_series_forecasts_stay_finite(network):
    frame = pd.DataFrame({"y": np.full(40, 7.0)})
    out = frame_of(network, from_frame(frame))
    assert np.isfinite(out.y_hat).all()
    assert list(out.ds) == list(range(40, 46))


def test_members_with_different_lookbacks_each_read_their_own_window():
    torch.manual_seed(0)
    short, long = (
        models.RecurrentForecaster(ModelConfig(hidden_size=8, segment=4), n, 6).eval()
        for n in (12, 24)
    )
    ensemble = models.Ensemble([short, long])
    assert ensemble.lookback == 24
    values = np.random.default_rng(1).normal(50, 5, 100).astype(np.float32)
    offsets, starts = np.array([0, 100]), np.array([0, 30, 76])
    got = forecast.outputs_at(ensemble, flat_series(values, offsets), starts).point
    alone_long = forecast.outputs_at(long, flat_series(values, offsets), starts).point
    alone_short = forecast.outputs_at(
        short, flat_series(values, offsets), starts + 12
    ).point  # same window end
    np.testing.assert_allclose(got, (alone_long + alone_short) / 2, rtol=1e-5)
    assert not np.allclose(
        alone_short, forecast.outputs_at(short, flat_series(values, offsets), starts).point
    )


@pytest.fixture
def quantile_network():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, num_layers=1, segment=4, quantiles=(0.1, 0.9))
    return models.RecurrentForecaster(config, 24, 6).eval()


def test_quantiles_are_scaled_back_like_the_point_forecast(quantile_network):
    values = np.random.default_rng(0).normal(50, 5, 100).astype(np.float32)
    offsets, starts = np.array([0, 100]), np.array([0, 10, 76])
    out = forecast.outputs_at(quantile_network, flat_series(values, offsets), starts)
    assert out.levels == (0.1, 0.5, 0.9) and out.quantiles.shape == (3, 6, 3)
    np.testing.assert_array_equal(out.point, out.at(0.5))
    assert out.point.shape == (3, 6)
    floor = torch.tensor(0.1 * scaling.typical_spread(values, offsets, 24))
    x = torch.from_numpy(values[10:34])[None]
    stats = scaling.fit(x, "window", floor.float())
    with torch.no_grad():
        raw = quantile_network(scaling.transform(x, stats).unsqueeze(-1))  # (1, 6, 3)
    np.testing.assert_allclose(out.quantiles[1], (raw[0] * stats.scale + stats.loc).numpy(),
                               rtol=1e-5)  # fmt: skip
    assert (np.diff(out.quantiles, axis=-1) >= 0).all()


def test_forecast_frame_has_one_column_per_quantile_asked(quantile_network):
    series = from_frame(make_long(n_series=2, length=60))
    frame = frame_of(quantile_network, series)
    assert list(frame.columns) == ["unique_id", "ds", "y_hat", "q0.1", "q0.9"]
    assert (frame["q0.1"] <= frame["y_hat"]).all() and (frame["y_hat"] <= frame["q0.9"]).all()
    assert forecast.quantile_col(0.025) == "q0.025"


def test_clipping_raises_what_is_below_zero_to_zero_point_and_quantiles():
    point = np.array([[-1.5, 0.0, 2.0]], dtype=np.float32)
    quantiles = np.array([[[-3.0, -1.5, 1.0], [-1.0, 0.0, 0.5], [1.0, 2.0, np.nan]]],
                         dtype=np.float32)  # fmt: skip
    out = forecast.Forecasts(point, quantiles, (0.1, 0.5, 0.9))
    clipped = out.clipped("zero")
    np.testing.assert_array_equal(clipped.point, [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(
        clipped.quantiles, [[[0.0, 0.0, 1.0], [0.0, 0.0, 0.5], [1.0, 2.0, np.nan]]]
    )  # in order still; a NaN (a bug) is not hidden
    assert clipped.point.dtype == clipped.quantiles.dtype == np.float32
    assert clipped.levels == out.levels and out.point[0, 0] == -1.5  # a copy
    assert forecast.Forecasts(point).clipped("zero").quantiles is None
    assert out.clipped("none") is out and out.clipped("auto") is out  # 'auto': never resolved
    with pytest.raises(ValueError, match="unknown clip 'below'"):
        out.clipped("below")


def test_an_ensemble_averages_each_quantile():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, segment=4, quantiles=(0.1, 0.9))
    a, b = (models.RecurrentForecaster(config, 24, 6).eval() for _ in range(2))
    values = np.random.default_rng(1).normal(10, 2, 80).astype(np.float32)
    offsets, starts = np.array([0, 80]), np.array([3, 40])
    both = forecast.outputs_at(models.Ensemble([a, b]), flat_series(values, offsets), starts)
    alone = [forecast.outputs_at(n, flat_series(values, offsets), starts).quantiles for n in (a, b)]
    np.testing.assert_allclose(both.quantiles, (alone[0] + alone[1]) / 2, rtol=1e-5)


def test_what_a_model_knows_follows_the_ids():
    units = np.array([2.0, 3.0], dtype=np.float32)
    known = forecast.Known.of(["a", "b"], units, ["b", "new", "a"])
    np.testing.assert_array_equal(known.codes, [2, 0, 1])  # 0: a series never seen
    np.testing.assert_array_equal(known.units, [3.0, np.nan, 2.0])
    assert known.units.dtype == np.float32 and known.codes.dtype == np.int64
    assert forecast.Known.of(["a", "b"], np.zeros(0, dtype=np.float32), ["a"]).units is None


def test_given_units_replace_what_the_history_says():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, num_layers=1, segment=4, scaling="series")
    network = models.RecurrentForecaster(config, 24, 6).eval()
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(50, 5, 100), rng.normal(0, 1, 60)]).astype(np.float32)
    offsets = np.array([0, 100, 160])
    starts = np.array([76, 136])  # the last window of each series
    measured = forecast.outputs_at(network, flat_series(values, offsets), starts).point
    units = np.array([7.0, np.nan], dtype=np.float32)  # series 1 unknown: measured
    given = forecast.outputs_at(
        network, flat_series(values, offsets), starts, known=forecast.Known(units=units)
    ).point
    np.testing.assert_array_equal(given[1], measured[1])
    x = torch.from_numpy(values[76:100])[None]
    stats = scaling.fit(x, "series", torch.tensor([7.0]))
    with torch.no_grad():
        want = scaling.inverse(network(scaling.transform(x, stats).unsqueeze(-1)), stats)
    np.testing.assert_allclose(given[0], want[0].numpy(), rtol=1e-5)
    # with its unit given, a series' forecast depends on its lookback alone, not on how much
    # history comes before it
    short = forecast.outputs_at(network, flat_series(values[76:100], [0, 24]), np.array([0]),
                                known=forecast.Known(units=units[:1])).point  # fmt: skip
    np.testing.assert_allclose(short[0], given[0], rtol=1e-6)
    window = models.RecurrentForecaster(ModelConfig(hidden_size=8, num_layers=1, segment=4),
                                        24, 6).eval()  # fmt: skip
    np.testing.assert_array_equal(  # other scalings have no units to use
        forecast.outputs_at(
            window, flat_series(values, offsets), starts, known=forecast.Known(units=units)
        ).point,
        forecast.outputs_at(window, flat_series(values, offsets), starts).point,
    )
