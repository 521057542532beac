from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from rnncast import jobs
from rnncast.data.build import from_frame
from rnncast.data.series import SeriesSet
from rnncast.engine import transform
from rnncast.errors import DataError
from rnncast.settings import ModelConfig, TrainConfig
from tests.conftest import fit, make_long, predicted, shapes


def _series(values: dict[str, list[float]]) -> SeriesSet:
    frames = [
        pd.DataFrame(
            {"unique_id": k, "ds": pd.date_range("2024-01-01", periods=len(v), freq="h"), "y": v}
        )
        for k, v in values.items()
    ]
    return from_frame(pd.concat(frames, ignore_index=True))


def test_inverse_of_log_is_exp_and_none_is_the_same_array():
    x = np.array([-1.0, 0.0, 2.5], dtype=np.float32)
    back = transform.inverse(x, "log")
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, np.exp(x), rtol=1e-6)
    assert transform.inverse(x, "none") is x
    assert transform.inverse(x, "auto") is x  # never resolved: trained on the values as they are


def test_a_huge_log_forecast_stays_finite():
    out = transform.inverse(np.array([1e3, -1e3], dtype=np.float32), "log")
    assert np.isfinite(out).all()
    assert out[1] == 0.0


def test_the_inverse_of_a_tensor_is_the_arrays():
    """The exported graph undoes the transform on tensors, by the same rule (the cap too)."""
    x = np.array([-1.0, 0.0, 2.5, 1e3], dtype=np.float32)
    back = transform.inverse(torch.from_numpy(x), "log")
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32
    np.testing.assert_allclose(back.numpy(), transform.inverse(x, "log"), rtol=1e-6)  # 1 ulp
    t = torch.from_numpy(x)
    assert transform.inverse(t, "none") is t


def test_auto_is_log_only_when_every_value_is_above_zero():
    assert transform.resolve(_series({"a": [1, 2, 3], "b": [0.5, 4, 9]}), "auto") == "log"
    assert transform.resolve(_series({"a": [1, 2, 3], "b": [0.5, 0, 9]}), "auto") == "none"
    assert transform.resolve(_series({"a": [-1, 2, 3]}), "auto") == "none"
    assert transform.resolve(_series({"a": [1, 2, 3]}), "none") == "none"
    assert transform.resolve(_series({"a": [-1, 2, 3]}), "log") == "log"


def test_auto_clips_at_zero_when_no_value_is_below_zero(monkeypatch):
    assert transform.resolve_clip(_series({"a": [1, 2, 3], "b": [0.5, 4, 9]}), "auto") == "zero"
    assert transform.resolve_clip(_series({"a": [0, 0, 3], "b": [0, 4, 0]}), "auto") == "zero"
    assert transform.resolve_clip(_series({"a": [1, 2, 3], "b": [0, -0.5, 9]}), "auto") == "none"
    assert transform.resolve_clip(_series({"a": [1, 2, 3]}), "none") == "none"
    assert transform.resolve_clip(_series({"a": [-1, 2, 3]}), "zero") == "zero"  # as asked
    monkeypatch.setattr(transform, "CHUNK", 2)  # a value below 0 in a later chunk counts
    assert transform.resolve_clip(_series({"a": [1, 2, 3, 4, 5], "b": [0, 6, -1]}), "auto") == (
        "none"
    )


def test_log_refuses_values_at_or_below_zero_naming_the_first():
    series = _series({"a": [1, 2, 3], "b": [4, 0, -2]})
    with pytest.raises(DataError) as e:
        transform.check(series, "log", "do this")
    assert str(e.value) == (
        "series 'b' has the value 0 at 2024-01-01 01:00:00 (and 1 more) in '<frame>', but "
        "--transform log needs every value above 0: do this"
    )
    transform.check(series, "none", "do this")  # nothing to refuse
    transform.check(_series({"a": [1, 2, 3]}), "log", "do this")


def test_log_takes_no_value_whose_forecast_float32_cannot_hold():
    """Values near float32's largest were logged, forecast at a log capped at 88 and came
    back as 1.65e38 whatever the data (MASE 15.9 against naive's 1.0, exit 0)."""
    big = _series({"a": [1e30, 2e34, 3e38]})
    assert transform.resolve(big, "auto") == "none"
    assert transform.resolve(_series({"a": [1e30, 1e34, 5.0]}), "auto") == "log"
    with pytest.raises(DataError) as e:
        transform.check(big, "log", "do this")
    assert str(e.value) == (
        "series 'a' has the value 2e+34 at 2024-01-01 01:00:00 (and 1 more) in '<frame>', but "
        "--transform log forecasts in float32 only values up to 1e+34: do this"
    )


def test_the_check_counts_across_chunks(monkeypatch):
    monkeypatch.setattr(transform, "CHUNK", 2)
    series = _series({"a": [1, 2, 3, 4, 5], "b": [6, -1, 8, 0, 9]})
    with pytest.raises(DataError) as e:
        transform.check(series, "log", "fix")
    assert "series 'b' has the value -1 at 2024-01-01 01:00:00 (and 1 more)" in str(e.value)
    assert transform.resolve(series, "auto") == "none"


def test_a_log_model_is_a_model_of_the_logs():
    """Training with --transform log is training on the logarithms with --transform none,
    weight for weight (the windows' spread keeps the level floors from binding), and its
    forecasts are the exp of that model's."""
    frame = make_long(n_series=2, length=160)
    frame["y"] = np.exp(frame.y / 10)  # positive, swings growing with the level
    series = from_frame(frame)
    logs = torch.from_numpy(series.values).log().numpy()  # as batches take them
    logged = dataclasses.replace(series, values=logs)
    config = TrainConfig(max_epochs=2, epoch_size=128, batch_size=64, device="cpu", ensemble=1)
    model = ModelConfig(hidden_size=8, segment=4)
    window, resolved = shapes(series, model, horizon=12)
    assert resolved.transform == "log"  # 'auto' on positive data
    as_log, _ = fit(series, window, resolved, config)
    plain = dataclasses.replace(resolved, transform="none")
    on_logs, _ = fit(logged, window, plain, config)
    for name, weight in as_log.weights[0].items():
        np.testing.assert_array_equal(weight.numpy(), on_logs.weights[0][name].numpy())
    ours = predicted(as_log, series).y_hat.to_numpy()
    theirs = predicted(on_logs, logged).y_hat.to_numpy()
    np.testing.assert_allclose(ours, np.exp(theirs), rtol=1e-5)
    assert (ours > 0).all()


def test_a_log_model_refuses_a_history_with_a_zero():
    frame = make_long(n_series=2, length=120)
    series = from_frame(frame)
    config = TrainConfig(max_epochs=1, epoch_size=64, batch_size=64, device="cpu", ensemble=1)
    window, model = shapes(series, ModelConfig(hidden_size=8, segment=4), horizon=12)
    bundle, _ = fit(series, window, model, config)
    assert bundle.model.transform == "log"
    frame.loc[frame.index[-1], "y"] = 0.0
    fix = "the model was trained with it; fix those values, or retrain with --transform none"
    for run in (jobs.predict, jobs.backtest):
        with pytest.raises(DataError) as e:
            run(bundle, from_frame(frame), device="cpu")
        assert str(e.value) == (
            "series 's1' has the value 0 at 2024-01-05 23:00:00 in '<frame>', but --transform "
            f"log needs every value above 0: {fix}"
        )
