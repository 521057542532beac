"""The ONNX export: the graph onnxruntime runs forecasts as `rnncast predict` does (every
cell, an ensemble with calendar features, covariates, an id embedding, quantiles and logs),
says what it takes and gives in its metadata, and models it cannot hold are refused with
nothing written."""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import rnncast
from rnncast.errors import ConfigError, DataError
from rnncast.forecast import graph
from rnncast.store import onnxfile
from tests.conftest import make_long, make_sales

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TINY = {"horizon": 6, "hidden_size": 8, "num_layers": 1, "max_epochs": 1, "epoch_size": 64,
        "batch_size": 32, "ensemble": 1, "seed": 0, "device": "cpu"}  # fmt: skip


def train(frame, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return rnncast.train(frame, **{**TINY, **options})


def run_onnx(path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def by_series(frame, column, n_series):
    return frame[column].to_numpy().reshape(n_series, -1)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_onnxruntime_forecasts_as_predict_does(tmp_path, cell):
    frame = make_long(n_series=3, length=120)
    model = train(frame, cell=cell)
    exported = onnxfile.export(model, tmp_path / "m.onnx")
    assert [p.name for p in exported.inputs] == ["windows", "floor"]
    inputs = rnncast.onnx_inputs(model, frame)
    (got,) = run_onnx(tmp_path / "m.onnx", inputs)
    want = by_series(rnncast.predict(model, frame), "y_hat", 3)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    one = {k: v[1:2] for k, v in inputs.items()}  # the batch size is free
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", one)[0], want[1:2], rtol=1e-4)


def test_an_ensemble_with_calendar_covariates_ids_quantiles_and_logs(tmp_path):
    frame = make_long(n_series=3, length=150)
    frame["price"] = np.random.default_rng(1).normal(5, 1, len(frame))
    model = train(frame, ensemble=2, lookbacks=(24, 36), segment=6, covariates=("price",),
                  calendar=True, id_embedding=3, quantiles=(0.1, 0.9), transform="log")  # fmt: skip
    assert model.intervals  # calibrated widths, which the graph applies too
    exported = onnxfile.export(model, tmp_path / "m.onnx")
    assert [p.name for p in exported.inputs] == ["windows", "floor", "phases", "ids",
                                                 "covariates"]  # fmt: skip
    point, quantiles = run_onnx(tmp_path / "m.onnx", rnncast.onnx_inputs(model, frame))
    predicted = rnncast.predict(model, frame)
    np.testing.assert_allclose(point, by_series(predicted, "y_hat", 3), rtol=1e-4)
    assert quantiles.shape == (3, 6, 3)  # levels 0.1, 0.5, 0.9
    np.testing.assert_allclose(quantiles[..., 0], by_series(predicted, "q0.1", 3), rtol=1e-4)
    np.testing.assert_allclose(quantiles[..., 2], by_series(predicted, "q0.9", 3), rtol=1e-4)
    meta = exported.metadata
    assert json.loads(meta["levels"]) == [0.1, 0.5, 0.9]
    assert json.loads(meta["lookbacks"]) == [24, 36] and meta["lookback"] == "36"
    assert json.loads(meta["calendar_periods"]) == [24.0, 168.0]
    assert json.loads(meta["covariates"]) == ["price"]
    assert json.loads(meta["series"]) == ["s0", "s1", "s2"]  # id row k + 1
    assert meta["transform"] == "log"


def test_clip_zero_is_the_graphs_last_step(tmp_path):
    """Sales never below 0: the model clips (--clip auto), and its ONNX graph gives predict's
    forecasts and quantiles, 0 where the same networks unclipped forecast below 0."""
    sales = make_sales()
    options = {"horizon": 14, "quantiles": (0.1, 0.9)}
    clipped, free = train(sales, **options), train(sales, clip="none", **options)
    assert (clipped.model.clip, free.model.clip) == ("zero", "none")
    exported = onnxfile.export(clipped, tmp_path / "m.onnx")
    assert exported.metadata["clip"] == "zero"
    point, quantiles = run_onnx(tmp_path / "m.onnx", rnncast.onnx_inputs(clipped, sales))
    want, unclipped = rnncast.predict(clipped, sales), rnncast.predict(free, sales)
    assert (unclipped["y_hat"] < 0).any() and (unclipped["q0.1"] < 0).any()
    np.testing.assert_allclose(point, by_series(want, "y_hat", 3), rtol=1e-4)
    np.testing.assert_allclose(quantiles[..., 0], by_series(want, "q0.1", 3), rtol=1e-4)
    np.testing.assert_allclose(quantiles[..., 2], by_series(want, "q0.9", 3), rtol=1e-4)
    below = by_series(unclipped, "q0.1", 3) < 0
    assert (quantiles[..., 0][below] == 0).all() and (point >= 0).all()


def _promo(after: int = 6) -> pd.DataFrame:
    """Three hourly series that jump by 10 on promotion days, with the 0/1 flag 'promo' for
    `after` more steps after each series' last value (rows with no value)."""
    rng = np.random.default_rng(0)
    parts = []
    for name in ("a", "b", "c"):
        promo = (rng.random(150 + after) < 0.3).astype(float)
        y = 20 + 10 * promo + rng.normal(0, 0.5, 150 + after)
        y[150:] = np.nan
        parts.append(pd.DataFrame({"unique_id": name, "ds": np.arange(150 + after), "y": y,
                                   "promo": promo}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def test_future_covariates_come_from_the_rows_after_each_series_last_value(tmp_path):
    frame = _promo()
    model = train(frame, ensemble=2, lookbacks=(24, 36), future_covariates="promo",
                  quantiles=(0.1, 0.9))  # fmt: skip
    exported = onnxfile.export(model, tmp_path / "m.onnx")
    assert exported.inputs[-1].to_dict() == {
        "name": "future_covariates", "shape": ["batch", 42, 1], "dtype": "float32"
    }  # fmt: skip
    assert json.loads(exported.metadata["future_covariates"]) == ["promo"]
    inputs = rnncast.onnx_inputs(model, frame)
    np.testing.assert_array_equal(inputs["future_covariates"][:, -6:, 0],
                                  by_series(frame[frame.y.isna()], "promo", 3))  # fmt: skip
    point, quantiles = run_onnx(tmp_path / "m.onnx", inputs)
    predicted = rnncast.predict(model, frame)
    np.testing.assert_allclose(point, by_series(predicted, "y_hat", 3), rtol=1e-4)
    np.testing.assert_allclose(quantiles[..., 2], by_series(predicted, "q0.9", 3), rtol=1e-4)
    short = frame.drop(index=frame.index[frame.unique_id == "b"][-2:])
    with pytest.raises(DataError) as e:
        rnncast.onnx_inputs(model, short)
    assert str(e.value) == (
        "series 'b' in '<DataFrame>' has future covariates (promo) for 4 of the 6 steps after "
        "its last value at 149: the model reads them for its whole horizon; add rows up to 155 "
        "with them filled and 'y' empty"
    )


def test_the_file_says_what_it_takes_and_gives(tmp_path):
    frame = make_long(n_series=2, length=120)
    model = train(frame, scaling="series")
    onnxfile.export(model, tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert sorted(meta) == sorted([
        "rnncast_version", "model_rnncast_version", "exporter", "inputs", "outputs", "horizon",
        "lookback", "lookbacks", "frequency", "time_axis", "transform", "scaling",
        "scale_floor", "clip", "series", "series_units",
    ])  # fmt: skip
    assert meta["rnncast_version"] == rnncast.__version__
    assert meta["exporter"].startswith("torch.onnx.export(dynamo=True), torch ")
    assert (meta["horizon"], meta["lookback"], meta["frequency"]) == ("6", "24", "h")
    assert meta["clip"] == "zero"  # --clip auto: no training value below 0
    assert json.loads(meta["inputs"]) == [
        {"name": "windows", "shape": ["batch", 24], "dtype": "float32"},
        {"name": "floor", "shape": ["batch", 1], "dtype": "float32"},
    ]
    assert json.loads(meta["outputs"]) == [
        {"name": "forecast", "shape": ["batch", 6], "dtype": "float32"}
    ]
    assert json.loads(meta["series"]) == ["s0", "s1"]
    np.testing.assert_allclose(json.loads(meta["series_units"]), model.units, rtol=1e-6)
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in proto.graph.input]  # fmt: skip
    assert dims == [["batch", 24], ["batch", 1]]
    (got,) = run_onnx(tmp_path / "m.onnx", rnncast.onnx_inputs(model, frame))
    np.testing.assert_allclose(got, by_series(rnncast.predict(model, frame), "y_hat", 2),
                               rtol=1e-4)  # fmt: skip


@pytest.fixture(scope="module")
def small_model():
    return train(make_long(n_series=2, length=120), cell="rnn", max_epochs=1)


def test_a_model_too_big_for_one_file_is_refused(tmp_path, monkeypatch, small_model):
    monkeypatch.setattr(onnxfile, "MAX_BYTES", 1000)
    with pytest.raises(ConfigError) as e:
        onnxfile.export(small_model, tmp_path / "m.onnx")
    assert str(e.value) == (
        "the model's weights take 0.0 GB, more than the 2 GB one ONNX file can hold: export "
        "a smaller model (fewer --ensemble members, a smaller --hidden-size or --num-layers)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_setting_the_graph_does_not_carry_is_refused(tmp_path, monkeypatch, small_model):
    monkeypatch.setattr(graph, "CARRIED", graph.CARRIED - {"cell", "hidden_size"})
    with pytest.raises(ConfigError) as e:
        onnxfile.export(small_model, tmp_path / "m.onnx")
    assert str(e.value) == (
        "rnncast export cannot carry the model's --cell, --hidden-size into an ONNX graph yet: "
        "its forecasts would differ from 'rnncast predict'; export a model trained without it"
    )
    assert list(tmp_path.iterdir()) == []


def test_without_the_onnx_extra_the_export_names_it(tmp_path, monkeypatch, small_model):
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "onnxscript" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ConfigError) as e:
        onnxfile.export(small_model, tmp_path / "m.onnx")
    assert str(e.value) == (
        "rnncast export needs the onnx extra (onnxscript not installed): "
        "pip install 'rnncast[onnx]'"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_graph_that_runs_otherwise_than_torch_is_a_bug(tmp_path, monkeypatch, small_model):
    """The check before writing: onnxruntime must give torch's numbers (here torch's are
    made to differ); nothing is written."""
    forward = graph.ForecastGraph.forward
    traced = []

    def shifted(self, windows, floor=None, phases=None, ids=None, covariates=None,
                future_covariates=None):  # fmt: skip
        out = forward(self, windows, floor, phases, ids, covariates, future_covariates)
        traced.append(1)
        return out if len(traced) == 1 else out + 1  # the trace, then the check

    monkeypatch.setattr(graph.ForecastGraph, "forward", shifted)
    with pytest.raises(AssertionError, match="the exported graph's 'forecast' differs"):
        onnxfile.export(small_model, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []
