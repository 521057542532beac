from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnncast import forecast
from rnncast.data.build import from_frame
from rnncast.engine import models, scaling
from rnncast.errors import DataError
from rnncast.settings import ModelConfig
from tests.conftest import make_long


@pytest.fixture
def network():
    torch.manual_seed(0)
    return models.RecurrentForecaster(
        ModelConfig(hidden_size=8, num_layers=1, segment=4), 24, 6
    ).eval()


def test_forecast_at_is_scale_network_inverse(network):
    values = np.random.default_rng(0).normal(50, 5, 100).astype(np.float32)
    starts = np.array([0, 10, 76])
    got = forecast.forecast_at(network, values, np.array([0, 100]), starts)
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
    got = forecast.forecast_at(network, values, offsets, starts)
    scale = values.std()
    for row, s in zip(got, starts, strict=True):
        x = torch.from_numpy(values[s : s + 24])[None]
        stats = scaling.fit(x, "series", torch.tensor([scale]))
        with torch.no_grad():
            want = scaling.inverse(network(scaling.transform(x, stats).unsqueeze(-1)), stats)
        np.testing.assert_allclose(row, want[0].numpy(), rtol=1e-5)
    bigger = forecast.forecast_at(network, values * 1000, offsets, starts)
    np.testing.assert_allclose(bigger, got * 1000, rtol=1e-4)


def test_forecast_frame_has_real_future_times(network):
    frame = make_long(n_series=2, length=50, freq="h", lengths=[50, 40])
    series = from_frame(frame)
    out = forecast.forecast_frame(network, series)
    assert list(out.columns) == ["unique_id", "ds", "y_hat"]
    assert len(out) == 12
    for sid, n in (("s0", 50), ("s1", 40)):
        got = out[out.unique_id == sid].ds
        want = pd.date_range("2024-01-01", periods=n + 6, freq="h")[n:]
        np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    assert np.isfinite(out.y_hat).all()


def test_shorter_horizon_is_the_head_of_the_full_one(network):
    series = from_frame(make_long(n_series=2, length=40))
    full = forecast.forecast_frame(network, series)
    part = forecast.forecast_frame(network, series, 3)
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
    out = forecast.forecast_frame(network, series)
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
    out = forecast.forecast_frame(network, from_frame(frame))
    assert np.isfinite(out.y_hat).all()
    assert list(out.ds) == list(range(40, 46))


def test_history_shorter_than_lookback(network):
    series = from_frame(make_long(n_series=2, length=30, lengths=[30, 20]))
    with pytest.raises(DataError) as e:
        forecast.forecast_frame(network, series)
    assert str(e.value) == (
        "1 series has fewer values than the model's lookback of 24: 's1' (20); give at least "
        "24 values per series, or pass --skip-short to leave them out"
    )


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
    got = forecast.forecast_at(ensemble, values, offsets, starts)
    alone_long = forecast.forecast_at(long, values, offsets, starts)
    alone_short = forecast.forecast_at(short, values, offsets, starts + 12)  # same window end
    np.testing.assert_allclose(got, (alone_long + alone_short) / 2, rtol=1e-5)
    assert not np.allclose(alone_short, forecast.forecast_at(short, values, offsets, starts))


@pytest.fixture
def quantile_network():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, num_layers=1, segment=4, quantiles=(0.1, 0.9))
    return models.RecurrentForecaster(config, 24, 6).eval()


def test_quantiles_are_scaled_back_like_the_point_forecast(quantile_network):
    values = np.random.default_rng(0).normal(50, 5, 100).astype(np.float32)
    offsets, starts = np.array([0, 100]), np.array([0, 10, 76])
    out = forecast.outputs_at(quantile_network, values, offsets, starts)
    assert out.levels == (0.1, 0.5, 0.9) and out.quantiles.shape == (3, 6, 3)
    np.testing.assert_array_equal(out.point, out.at(0.5))
    np.testing.assert_array_equal(forecast.forecast_at(quantile_network, values, offsets, starts),
                                  out.point)  # fmt: skip
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
    frame = forecast.forecast_frame(quantile_network, series)
    assert list(frame.columns) == ["unique_id", "ds", "y_hat", "q0.1", "q0.9"]
    assert (frame["q0.1"] <= frame["y_hat"]).all() and (frame["y_hat"] <= frame["q0.9"]).all()
    assert forecast.quantile_col(0.025) == "q0.025"


def test_an_ensemble_averages_each_quantile():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, segment=4, quantiles=(0.1, 0.9))
    a, b = (models.RecurrentForecaster(config, 24, 6).eval() for _ in range(2))
    values = np.random.default_rng(1).normal(10, 2, 80).astype(np.float32)
    offsets, starts = np.array([0, 80]), np.array([3, 40])
    both = forecast.outputs_at(models.Ensemble([a, b]), values, offsets, starts)
    alone = [forecast.outputs_at(n, values, offsets, starts).quantiles for n in (a, b)]
    np.testing.assert_allclose(both.quantiles, (alone[0] + alone[1]) / 2, rtol=1e-5)


def test_known_units_follow_the_ids():
    units = np.array([2.0, 3.0], dtype=np.float32)
    got = forecast.known_units(["a", "b"], units, ["b", "new", "a"])
    np.testing.assert_array_equal(got, [3.0, np.nan, 2.0])
    assert got.dtype == np.float32
    assert forecast.known_units(["a", "b"], np.zeros(0, dtype=np.float32), ["a"]) is None


def test_given_units_replace_what_the_history_says():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, num_layers=1, segment=4, scaling="series")
    network = models.RecurrentForecaster(config, 24, 6).eval()
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(50, 5, 100), rng.normal(0, 1, 60)]).astype(np.float32)
    offsets = np.array([0, 100, 160])
    starts = np.array([76, 136])  # the last window of each series
    measured = forecast.forecast_at(network, values, offsets, starts)
    units = np.array([7.0, np.nan], dtype=np.float32)  # series 1 unknown: measured
    given = forecast.forecast_at(network, values, offsets, starts, units=units)
    np.testing.assert_array_equal(given[1], measured[1])
    x = torch.from_numpy(values[76:100])[None]
    stats = scaling.fit(x, "series", torch.tensor([7.0]))
    with torch.no_grad():
        want = scaling.inverse(network(scaling.transform(x, stats).unsqueeze(-1)), stats)
    np.testing.assert_allclose(given[0], want[0].numpy(), rtol=1e-5)
    # with its unit given, a series' forecast depends on its lookback alone, not on how much
    # history comes before it
    short = forecast.forecast_at(network, values[76:100], np.array([0, 24]), np.array([0]),
                                 units=units[:1])  # fmt: skip
    np.testing.assert_allclose(short[0], given[0], rtol=1e-6)
    window = models.RecurrentForecaster(ModelConfig(hidden_size=8, num_layers=1, segment=4),
                                        24, 6).eval()  # fmt: skip
    np.testing.assert_array_equal(  # other scalings have no units to use
        forecast.forecast_at(window, values, offsets, starts, units=units),
        forecast.forecast_at(window, values, offsets, starts),
    )
