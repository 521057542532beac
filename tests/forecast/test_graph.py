"""The forecast as one torch module (what `rnncast export` traces): raw windows in, the
forecasts `outputs_at` and the interval calibration give out, for every kind of model; and
the inputs it needs, read from a series set as predict reads them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from rnncast.data.build import from_frame
from rnncast.data.calendar import periods
from rnncast.engine import models
from rnncast.forecast import graph, intervals
from rnncast.forecast.forecasting import Known, outputs_at
from rnncast.settings import ModelConfig, ReadOptions
from tests.conftest import make_long

BASE = ModelConfig(hidden_size=8, num_layers=1, segment=4)
KINDS = {
    "rnn": {"cell": "rnn"},
    "lstm, bidirectional": {"cell": "lstm", "bidirectional": True},
    "gru, parallel": {"decoder": "parallel"},
    "anchor last": {"anchor": "last"},
    "anchor linear, blend, quantiles": {
        "anchor": "linear",
        "blend": "naive",
        "quantiles": (0.1, 0.5, 0.9),
    },
    "lstm, seq2seq, attention": {"cell": "lstm", "decoder": "seq2seq", "attention": True},
    "gru, recursive": {"decoder": "recursive"},
    "esn": {"cell": "esn", "reservoir_size": 20},
    "log, no floor": {"transform": "log", "scale_floor": 0.0},
    "series scaling": {"scaling": "series"},
    "no scaling": {"scaling": "none"},
    "quantiles": {"quantiles": (0.1, 0.25, 0.75, 0.9)},
    "calendar, covariates, ids": {"covariate_count": 1, "id_embedding": 3, "ids": 3},
    "future covariates, direct": {"future_covariate_count": 1},
    "future covariates, parallel": {"future_covariate_count": 1, "decoder": "parallel"},
    "future covariates, quantiles, series": {
        "future_covariate_count": 1,
        "scaling": "series",
        "quantiles": (0.1, 0.9),
    },
}


def series_set(covariates: bool = False, future: int = 0):
    """Three hourly series of 80 values; `covariates`: a past covariate 'price'; `future`:
    a future covariate 'promo', given for `future` steps after each series' last value too
    (rows with no value)."""
    frame = make_long(n_series=3, length=80 + future, seed=1)
    if covariates:
        frame["price"] = np.random.default_rng(2).normal(5, 1, len(frame))
    if future:
        frame["promo"] = (np.random.default_rng(3).random(len(frame)) < 0.3).astype(float)
        frame.loc[frame.groupby("unique_id").cumcount() >= 80, "y"] = np.nan
    options = ReadOptions(covariates=("price",) if covariates else (),
                          future_covariates=("promo",) if future else ())  # fmt: skip
    return from_frame(frame, options)


def ensemble(config: ModelConfig, lookbacks=(24, 16)) -> models.Forecaster:
    torch.manual_seed(0)
    members = [models.build(config, lookback, 6) for lookback in lookbacks]
    for member in members:  # untrained heads are zero in the echo state network
        for p in member.parameters():
            torch.nn.init.normal_(p, std=0.3)
    return (models.Ensemble(members) if len(members) > 1 else members[0]).eval()


def as_predict(network, series, known, factors):
    """What `jobs.predict` forecasts past the end of every series (point, quantiles)."""
    starts = series.offsets[1:] - network.lookback
    out = intervals.apply(outputs_at(network, series, starts, known=known), factors)
    out = out.clipped(network.config.clip)
    return out.point, out.quantiles


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_graph_forecasts_as_predict_does(kind):
    series = series_set(covariates="covariates" in kind, future=6 * ("future" in kind))
    options = KINDS[kind]
    if "calendar" in kind:
        options = {**options, "calendar": periods(series.axis)}
    config = dataclasses.replace(BASE, **options)
    network = ensemble(config)
    if "blend" in kind:  # as training leaves them: a fitted weight, a learned map
        with torch.no_grad():
            for k, member in enumerate(models.members(network)):
                member.blend_weight.fill_(0.6 + 0.1 * k)
                member.skip.weight.normal_(0, 0.1)
    known = Known.of(["s2", "s0", "other"], np.array([4.0, 2.0, 1.0], np.float32), series.ids)
    if config.scaling != "series":
        known = Known(known.codes)
    factors = {"0.1-0.9": 1.7, "0.25-0.75": 0.6}  # crossing once widened: sorted again
    module = graph.ForecastGraph(network, factors).eval()
    given = graph.graph_inputs(network, series, known)
    assert list(given) == [p.name for p in module.inputs()]
    with torch.no_grad():
        got = module(**{k: torch.from_numpy(v) for k, v in given.items()})
    point, quantiles = as_predict(network, series, known, factors)
    got = got if isinstance(got, tuple) else (got,)
    np.testing.assert_allclose(got[0].numpy(), point, rtol=1e-5)
    assert len(got) == (2 if config.quantiles else 1)
    if config.quantiles:
        np.testing.assert_allclose(got[1].numpy(), quantiles, rtol=1e-5)
        assert (np.diff(got[1].numpy(), axis=-1) >= 0).all()


def test_graph_inputs_are_each_series_last_lookback_and_what_its_series_gives():
    series = series_set(covariates=True)
    config = dataclasses.replace(BASE, covariate_count=1, id_embedding=2, ids=3,
                                 calendar=periods(series.axis))  # fmt: skip
    network = ensemble(config, (24, 16))
    known = Known(np.array([3, 0, 1]))
    given = graph.graph_inputs(network, series, known)
    assert {k: v.shape for k, v in given.items()} == {
        "windows": (3, 24), "floor": (3, 2), "phases": (3, 2), "ids": (3,),
        "covariates": (3, 24, 1),
    }  # fmt: skip
    assert {k: v.dtype for k, v in given.items()} == {
        "windows": np.float32, "floor": np.float32, "phases": np.float32, "ids": np.int64,
        "covariates": np.float32,
    }  # fmt: skip
    np.testing.assert_array_equal(given["windows"][1], series.values[80 + 56 : 160])
    np.testing.assert_array_equal(given["covariates"][2, :, 0], series.covariates[240 - 24 :, 0])
    np.testing.assert_array_equal(given["ids"], [3, 0, 1])
    hour = pd.Timestamp("2024-01-01").value // 3_600_000_000_000 + 80 - 24  # since 1970
    assert given["phases"][0].tolist() == [hour % 24, hour % 168]
    assert (given["floor"][:, 0] != given["floor"][:, 1]).all()  # measured per lookback


def test_ports_name_shape_and_type_every_input_and_output():
    config = dataclasses.replace(BASE, quantiles=(0.1, 0.9), scale_floor=0.0)
    module = graph.ForecastGraph(ensemble(config, (24,)))
    assert [p.to_dict() for p in module.inputs()] == [
        {"name": "windows", "shape": ["batch", 24], "dtype": "float32"}
    ]
    assert [p.to_dict() for p in module.outputs()] == [
        {"name": "forecast", "shape": ["batch", 6], "dtype": "float32"},
        {"name": "quantiles", "shape": ["batch", 6, 3], "dtype": "float32"},
    ]


def test_every_model_setting_is_carried_into_the_graph():
    """A setting added to ModelConfig must be looked at for the export: the graph either
    carries it (add it to CARRIED, with a case above) or export refuses it."""
    assert {f.name for f in dataclasses.fields(ModelConfig)} == graph.CARRIED
    assert graph.not_carried(ModelConfig(hidden_size=8)) == []


def test_settings_not_carried_are_named_when_not_at_their_defaults(monkeypatch):
    monkeypatch.setattr(graph, "CARRIED", graph.CARRIED - {"hidden_size", "attention"})
    assert graph.not_carried(ModelConfig()) == []
    assert graph.not_carried(ModelConfig(hidden_size=8)) == ["hidden_size"]


def test_graph_inputs_at_any_windows_forecast_as_outputs_at_does():
    series = series_set(covariates=True)
    config = dataclasses.replace(BASE, covariate_count=1, id_embedding=2, ids=3,
                                 calendar=periods(series.axis))  # fmt: skip
    network = ensemble(config, (24, 16))
    known = Known(np.array([3, 0, 1]))
    starts = np.array([0, 30, 80, 95, 216])  # two in series 0 and 1, the last of series 2
    given = graph.graph_inputs(network, series, known, starts)
    np.testing.assert_array_equal(given["ids"], [3, 3, 0, 0, 1])
    with torch.no_grad():
        got = graph.ForecastGraph(network)(**{k: torch.from_numpy(v) for k, v in given.items()})
    want = outputs_at(network, series, starts, known=known).point
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)


def test_future_covariates_are_read_over_the_lookback_and_the_horizon_after_it():
    """Each window's future covariates run from its first step past the series' last value,
    through the rows after it; a window whose horizon runs past them is a caller's bug."""
    series = series_set(future=6)
    network = ensemble(dataclasses.replace(BASE, future_covariate_count=1), (24, 16))
    module = graph.ForecastGraph(network)
    assert module.inputs()[-1].to_dict() == {
        "name": "future_covariates", "shape": ["batch", 30, 1], "dtype": "float32"
    }  # fmt: skip
    given = graph.graph_inputs(network, series)
    assert given["future_covariates"].shape == (3, 30, 1)
    assert given["future_covariates"].dtype == np.float32
    rows = series.known[series.known_offsets[1] : series.known_offsets[2], 0]  # series 1: 86
    np.testing.assert_array_equal(given["future_covariates"][1, :, 0], rows[80 - 24 :])
    starts = np.array([0, 30, 80, 95])  # inside series 0 and 1: horizons within the history
    inside = graph.graph_inputs(network, series, starts=starts)
    with torch.no_grad():
        got = module(**{k: torch.from_numpy(v) for k, v in inside.items()})
    np.testing.assert_allclose(got.numpy(), outputs_at(network, series, starts).point, rtol=1e-5)
    with pytest.raises(ValueError, match="future covariates run past its series' rows"):
        graph.graph_inputs(network, series, starts=np.array([80 - 23]))  # 1 step short
    with pytest.raises(ValueError, match="the model reads 1 future covariates"):
        graph.graph_inputs(network, series_set())


def test_clip_zero_raises_forecasts_and_quantiles_below_0_last():
    """Under clip 'zero' the graph's forecasts are predict's (clipped after the interval
    widths), and they are 0 where the same networks without it forecast below 0."""
    frame = make_long(n_series=3, length=80, seed=1)
    frame["y"] -= frame.groupby("unique_id")["y"].transform("mean")  # around 0
    series = from_frame(frame, ReadOptions())
    factors = {"0.1-0.9": 1.7}
    got = {}
    for clip in ("zero", "none"):
        config = dataclasses.replace(BASE, quantiles=(0.1, 0.9), clip=clip)
        network = ensemble(config)  # seeded: the same weights
        given = graph.graph_inputs(network, series)
        with torch.no_grad():
            out = graph.ForecastGraph(network, factors)(
                **{k: torch.from_numpy(v) for k, v in given.items()}
            )
        point, quantiles = as_predict(network, series, Known(), factors)
        np.testing.assert_allclose(out[0].numpy(), point, rtol=1e-5)
        np.testing.assert_allclose(out[1].numpy(), quantiles, rtol=1e-5)
        got[clip] = out
    free = got["none"][1].numpy()
    assert (free < 0).any() and (free > 0).any()
    np.testing.assert_array_equal(got["zero"][1].numpy(), np.maximum(free, 0))
    np.testing.assert_array_equal(got["zero"][0].numpy(), np.maximum(got["none"][0].numpy(), 0))
