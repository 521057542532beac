from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rnncast.data.build import from_frame
from rnncast.data.windows import split_ranges
from rnncast.engine import batches, esn, events, losses
from rnncast.settings import ModelConfig, TrainConfig, WindowConfig
from tests.conftest import make_long

WINDOW = WindowConfig(lookback=48, horizon=12, val_size=12)
MODEL = ModelConfig(cell="esn", reservoir_size=60, segment=4, ridge=0.5, leak_rate=0.5)
CONFIG = TrainConfig(device="cpu", epoch_size=64)


@pytest.fixture(scope="module")
def series():
    return from_frame(make_long(n_series=3, length=200))


def _split(series, ranges):
    values = torch.from_numpy(series.values)
    floors = batches.series_floors(series.values, series.offsets, WINDOW.lookback, MODEL)
    windows = batches.Windows.of(values, series.offsets, floors, WINDOW.width)
    return batches.Split.of(windows, ranges)


def test_readout_solves_the_ridge_system_exactly(series, monkeypatch):
    monkeypatch.setattr(esn, "BATCH", 100)  # several batches summed
    result = esn.fit(series, WINDOW, MODEL, CONFIG)
    net = result.network
    train, _ = split_ranges(series.offsets, WINDOW)
    given = batches.network_input(MODEL, _split(series, train).batch(torch.arange(len(train))),
                                  48, 12)  # fmt: skip
    y = given.target
    with torch.no_grad():
        states = net.features(given.x).double().numpy()  # the same reservoir, read again
    z = np.concatenate([states, np.ones((len(states), 1))], axis=1)
    expected = np.linalg.solve(z.T @ z + 0.5 * np.eye(z.shape[1]), z.T @ y.double().numpy())
    weight = net.readout.weight.detach().double().numpy()
    bias = net.readout.bias.detach().double().numpy()
    np.testing.assert_allclose(weight.T, expected[:-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, expected[-1], rtol=1e-5, atol=1e-6)


def test_more_ridge_shrinks_the_readout(series):
    small = esn.fit(series, WINDOW, MODEL, CONFIG).network.readout.weight
    big = esn.fit(series, WINDOW, dataclasses.replace(MODEL, ridge=1e3), CONFIG)
    assert big.network.readout.weight.norm() < 0.5 * small.norm()


def test_validation_loss_is_the_usual_one(series):
    result = esn.fit(series, WINDOW, MODEL, CONFIG)
    _, val = split_ranges(series.offsets, WINDOW)
    again = losses.evaluate_loss(
        result.network, _split(series, val), 48, losses.loss_function("mae"), 64
    )
    assert result.best_val_loss == pytest.approx(again, rel=1e-6)
    assert result.history[0]["train_loss"] < 1.0  # the scaled series are learnt, roughly
    assert result.val_windows == 3 and result.train_windows == 3 * (200 - 12 - 60 + 1)


def test_seeded_reservoirs(series):
    a = esn.fit(series, WINDOW, MODEL, CONFIG).network
    b = esn.fit(series, WINDOW, MODEL, CONFIG).network
    c = esn.fit(series, WINDOW, MODEL, dataclasses.replace(CONFIG, seed=1)).network
    for name, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[name]), name
    assert not torch.equal(a.w, c.w)


def test_stopping_between_batches(series, monkeypatch):
    monkeypatch.setattr(esn, "BATCH", 100)
    asked = []

    def stop():
        asked.append(1)
        return len(asked) == 2

    with pytest.raises(events.TrainingStopped):
        esn.fit(series, WINDOW, MODEL, CONFIG, should_stop=stop)
    assert len(asked) == 2


def test_one_fit_reports_a_start_and_one_epoch(series):
    from rnncast.engine.models import EchoStateForecaster

    heard = []
    result = esn.fit(series, WINDOW, MODEL, CONFIG, heard.append)
    assert isinstance(result.network, EchoStateForecaster)
    assert result.stopped == "closed-form ridge readout (no epochs)"
    assert [type(e).__name__ for e in heard] == ["TrainStart", "EpochEnd"]
    assert len(result.history) == 1 and result.best_val_loss == result.history[0]["val_loss"]
