from __future__ import annotations

import numpy as np
import pytest
import torch

from rnncast.data.build import from_frame
from rnncast.engine import models
from rnncast.errors import ConfigError
from rnncast.forecast import backtest, plots
from rnncast.forecast import forecasting as forecast
from rnncast.settings import ModelConfig
from tests.conftest import make_long

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def series():
    return from_frame(make_long(n_series=6, length=80), source="s.csv")


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return models.RecurrentForecaster(ModelConfig(hidden_size=4, segment=4), 24, 6).eval()


def test_named_series_are_checked(series):
    assert plots.pick_series(series, ("s3", "s0")) == [3, 0]
    with pytest.raises(ConfigError) as e:
        plots.pick_series(series, ("s33",))
    assert str(e.value) == (
        "--plot-series 's33' is not a series of 's.csv' (series: s0, s1, s2, s3, s4, ...): did "
        "you mean 's3'? name series of the data"
    )


def test_default_picks_span_the_range(series):
    # levels grow with the series number in make_long: smallest to largest, evenly between
    assert plots.pick_series(series) == [0, 2, 3, 5]
    scores = np.array([0.5, np.nan, 0.1, 0.9, 0.3, 0.7])
    assert plots.pick_series(series, scores=scores) == [2, 4, 5, 3]  # best ... worst
    few = from_frame(make_long(n_series=2, length=80))
    assert plots.pick_series(few) == [0, 1]


def _frame(network, series):
    out = forecast.outputs_at(network, series, series.offsets[1:] - network.lookback)
    return forecast.forecast_frame(series, out, network.config.quantiles)


def test_forecast_and_backtest_images(series, network):
    frame = _frame(network, series)
    png = plots.forecast_figure(series, frame, [0, 5], "png", "title")
    assert png.startswith(b"\x89PNG")
    svg = plots.forecast_figure(series, frame, [5], "svg", "a title").decode()
    assert "a title" in svg and "s5" in svg and "forecast" in svg
    result = backtest.run(network, series, 2)
    svg = plots.backtest_figure(series, result, [1], "svg", "bt").decode()
    assert "MASE" in svg and "seasonal naive" in svg
    assert plots.model_mase(series, result.report).shape == (6,)


def test_intervals_are_drawn(series):
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=4, segment=4, quantiles=(0.05, 0.1, 0.9, 0.95))
    network = models.RecurrentForecaster(config, 24, 6).eval()
    frame = _frame(network, series)
    svg = plots.forecast_figure(series, frame, [0], "svg", "t", config.quantiles).decode()
    assert "90% interval" in svg and "80% interval" in svg
    result = backtest.run(network, series, 1)
    svg = plots.backtest_figure(series, result, [1], "svg", "bt").decode()
    assert "90% interval" in svg and "80% interval" in svg
