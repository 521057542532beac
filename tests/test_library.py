"""The Python API: the same jobs as the command line, over DataFrames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnncast
from rnncast.errors import ConfigError, DataError
from tests.conftest import make_long

FAST = dict(max_epochs=2, epoch_size=128, batch_size=64, hidden_size=8, ensemble=1,
            device="cpu", horizon=6)  # fmt: skip


@pytest.fixture(scope="module")
def frame():
    return make_long(n_series=2, length=150)


@pytest.fixture(scope="module")
def model(frame):
    return rnncast.train(frame, **FAST)


def test_train_predict_evaluate_over_frames(frame, model, tmp_path):
    forecast = rnncast.predict(model, frame)
    assert list(forecast.columns) == ["unique_id", "ds", "y_hat"] and len(forecast) == 12
    assert (forecast.ds > frame.ds.max()).all()
    report = rnncast.evaluate(model, frame, windows=2)
    assert report["windows_scored"] == 4 and "mase" in report["overall"]["model"]
    model.save(tmp_path / "m.rnncast")
    loaded = rnncast.load(tmp_path / "m.rnncast")
    pd.testing.assert_frame_equal(rnncast.predict(loaded, frame, horizon=3), forecast.groupby(
        "unique_id").head(3).reset_index(drop=True))  # fmt: skip


def test_evaluate_returns_the_report_and_every_windows_forecasts(frame, model):
    """The report is the dict it always was; its `forecasts` attribute holds the rows
    `rnncast evaluate --forecasts` writes, from the numbers the report scored."""
    import json

    report = rnncast.evaluate(model, frame, windows=2)
    assert isinstance(report, dict) and json.loads(json.dumps(report)) == dict(report)
    assert report["by_sample"]["in_sample"]["windows"] == 4  # trained on every value
    rows = report.forecasts
    assert report.forecasts is rows  # made once, when first asked for
    assert list(rows.columns) == ["unique_id", "cutoff", "ds", "step", "actual", "y_hat",
                                  "naive", "seasonal_naive", "mase_scale", "sample"]  # fmt: skip
    assert len(rows) == 2 * 2 * 6 and set(rows["sample"]) == {"in-sample"}
    error = (rows["actual"].astype(float) - rows["y_hat"]).abs() / rows["mase_scale"]
    windows = error.groupby([rows["unique_id"], rows["cutoff"]]).mean()
    assert windows.groupby(level=0).mean().mean() == pytest.approx(
        report["overall"]["model"]["mase"], rel=1e-12
    )


def test_same_as_the_command_line(frame, model, tmp_path, monkeypatch):
    """The CLI trains the same model from the same data and settings."""
    from typer.testing import CliRunner

    from rnncast.cli.app import app

    monkeypatch.chdir(tmp_path)
    frame.to_csv("s.csv", index=False)
    args = [f"--{k.replace('_', '-')}={v}" for k, v in FAST.items()]
    assert CliRunner().invoke(app, ["train", "s.csv", *args, "--quiet"]).exit_code == 0
    cli_model = rnncast.load("model.rnncast")
    for ours, theirs in zip(model.weights, cli_model.weights, strict=True):
        for name in ours:
            assert np.array_equal(ours[name].numpy(), theirs[name].numpy()), name
    from_file = rnncast.predict(cli_model)  # the recorded training data, re-read
    pd.testing.assert_frame_equal(from_file, rnncast.predict(model, frame), check_dtype=False)


def test_quantiles_from_python(frame):
    model = rnncast.train(frame, quantiles="0.9,0.1", **FAST)
    forecast = rnncast.predict(model, frame)
    assert list(forecast.columns) == ["unique_id", "ds", "y_hat", "q0.1", "q0.9"]
    report = rnncast.evaluate(model, frame)
    assert list(report["quantiles"]["intervals"]) == ["80%"]
    with pytest.raises(ConfigError) as e:
        rnncast.train(frame, quantiles=[0.1, 0.9], loss="huber", **FAST)
    assert str(e.value).startswith("--loss huber does not apply with --quantiles")


def test_options_and_errors(frame):
    with pytest.raises(TypeError) as e:
        rnncast.train(frame, hiden_size=4)
    assert (
        str(e.value) == "train() got an unexpected option 'hiden_size'; did you mean 'hidden_size'?"
    )
    with pytest.raises(ConfigError) as e:
        rnncast.train(frame, cell="tcn")
    assert str(e.value) == "--cell must be one of rnn, lstm, gru, esn, got 'tcn'"
    wide = frame.pivot(index="ds", columns="unique_id", values="y").reset_index()
    with pytest.raises(DataError) as e:
        rnncast.predict(rnncast.train(frame, **FAST), wide)
    assert str(e.value).startswith("'<DataFrame>' is laid out as wide (time 'ds'; series columns")
    few = rnncast.train(wide, target="s1", **FAST)
    assert few.series_ids == ["s1"]
    with pytest.raises(DataError) as e:
        rnncast.predict(few)
    assert str(e.value) == "the model does not record its training data: pass data"


def test_forecasts_of_sales_are_clipped_at_zero_unless_asked_not_to():
    from tests.conftest import make_sales

    sales = make_sales()
    options = {**FAST, "horizon": 14, "quantiles": (0.1, 0.9)}
    clipped, free = rnncast.train(sales, **options), rnncast.train(sales, clip="none", **options)
    assert (clipped.model.clip, free.model.clip) == ("zero", "none")
    ours, theirs = rnncast.predict(clipped, sales), rnncast.predict(free, sales)
    assert (theirs[["y_hat", "q0.1"]] < 0).any().all()
    pd.testing.assert_frame_equal(ours, theirs.assign(**{
        c: theirs[c].clip(lower=0) for c in ("y_hat", "q0.1", "q0.9")}))  # fmt: skip
    scored = [rnncast.evaluate(m, sales, windows=2) for m in (clipped, free)]
    pinball = [report["quantiles"]["levels"]["q0.1"]["pinball"] for report in scored]
    assert pinball[0] < pinball[1]  # what is scored is what predict writes
    with pytest.raises(ConfigError) as e:
        rnncast.train(sales, clip="never", **FAST)
    assert str(e.value) == "--clip must be one of auto, none, zero, got 'never'"


@pytest.fixture(scope="module")
def short_frame():
    return make_long(n_series=3, length=150, lengths=[150, 150, 20])


def test_predict_applies_the_skip_short_rule_as_the_command_line_does(short_frame):
    """A model trained with skip_short leaves short series out of its forecasts, with a
    warning; predict(skip_short=...) overrides what the model remembers."""
    with pytest.warns(UserWarning) as heard:
        model = rnncast.train(short_frame, skip_short=True, **FAST)
    assert [str(w.message) for w in heard] == [
        "skip_short: left out 1 series shorter than lookback 24 + horizon 6 = 30 values: 's2' (20)"
    ]
    with pytest.warns(UserWarning) as heard:
        forecast = rnncast.predict(model, short_frame)
    assert sorted(forecast.unique_id.unique()) == ["s0", "s1"]
    assert [str(w.message) for w in heard] == [
        "skip_short: left out 1 series shorter than the model's lookback of 24 values: 's2' (20)"
    ]
    with pytest.raises(DataError) as e:
        rnncast.predict(model, short_frame, skip_short=False)
    assert str(e.value) == (
        "1 series has fewer values than the model's lookback of 24: 's2' (20); give at least "
        "24 values per series, or pass skip_short=True to leave them out"
    )
    plain = rnncast.train(short_frame.query("unique_id != 's2'"), **FAST)
    with pytest.warns(UserWarning):
        assert len(rnncast.predict(plain, short_frame, skip_short=True)) == 2 * 6


def test_messages_name_what_python_can_pass(model, frame, short_frame):
    with pytest.raises(ConfigError) as e:
        rnncast.predict(model, frame, horizon=7)
    assert str(e.value) == (
        "horizon=7 is beyond what the model was trained for (6): use 1 to 6, or retrain with "
        "horizon=7"
    )
    with pytest.raises(ConfigError) as e:
        rnncast.evaluate(model, frame, windows=0)
    assert str(e.value) == "windows must be at least 1, got 0"
    with pytest.raises(DataError) as e:
        rnncast.predict(model)  # trained on a DataFrame: no file to re-read
    assert str(e.value) == "the model does not record its training data: pass data"
    with pytest.raises(DataError) as e:
        rnncast.predict(model, short_frame.query("unique_id == 's2'"), skip_short=True)
    assert str(e.value) == (
        "every series is shorter than the model's lookback of 24 values ('s2' (20)): give at "
        "least 24 values per series"
    )
    zeros = frame.assign(y=frame.y.where(frame.index != frame.index[-1], 0.0))
    with pytest.raises(DataError) as e:
        rnncast.predict(model, zeros)
    assert str(e.value).endswith("retrain with transform='none'")


def test_train_messages_name_keywords_not_options(frame, short_frame):
    with pytest.raises(DataError) as e:
        rnncast.train(short_frame, **FAST)
    assert str(e.value) == (
        "1 series is shorter than lookback 24 + horizon 6 = 30 values: 's2' (20); pass a "
        "smaller lookback, or skip_short=True to leave them out"
    )
    zeros = frame.assign(y=frame.y.where(frame.index != frame.index[-1], 0.0))
    with pytest.raises(DataError) as e:
        rnncast.train(zeros, transform="log", **FAST)
    assert str(e.value).endswith("fix those values, or train with transform='none'")
    with pytest.raises(ConfigError) as e:
        rnncast.train(frame, lookbacks=[24, 48], **FAST)  # FAST: ensemble=1
    assert str(e.value) == (
        "lookbacks gives 2 lookbacks for ensemble=1 (one per member): give at most 1, or pass "
        "ensemble=2"
    )
    with pytest.raises(ConfigError) as e:
        rnncast.train(frame, holdout=-1, **FAST)
    assert str(e.value) == "holdout must be 0 or more, got -1"


def test_predict_and_evaluate_name_the_models_column_and_take_fill(model, frame):
    renamed = frame.rename(columns={"y": "sales"})
    said = (
        "column 'y' not found in '<DataFrame>' (columns: unique_id, ds, sales): the model reads "
        "its values from column 'y', as in its training data: give data with that column, or "
        "retrain on this data"
    )
    for call in (rnncast.predict, rnncast.evaluate):
        with pytest.raises(DataError) as e:
            call(model, renamed)
        assert str(e.value) == said
    gappy = frame.drop(index=[140])  # a missing hour in series 's0'
    with pytest.raises(DataError) as e:
        rnncast.predict(model, gappy)
    with pytest.warns(UserWarning, match="filled"):
        assert len(rnncast.predict(model, gappy, fill="ffill")) == 2 * 6
        assert rnncast.evaluate(model, gappy, fill="ffill")["windows_scored"] == 2


def _promo_days(seed: int = 0, length: int = 160, after: int = 0) -> pd.DataFrame:
    """Three series whose value jumps by 10 on random promotion days, else noise: the
    lookback cannot tell when the next jump comes, the promotion flag can. `after` rows past
    each series' end give the flag and no value."""
    rng = np.random.default_rng(seed)
    parts = []
    for name in ("a", "b", "c"):
        promo = (rng.random(length + after) < 0.3).astype(float)
        y = 20 + 10 * promo + rng.normal(0, 0.5, length + after)
        y[length:] = np.nan
        parts.append(pd.DataFrame({"unique_id": name, "ds": np.arange(length + after), "y": y,
                                   "promo": promo}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


PROMO = dict(horizon=6, lookback=24, holdout=12, ensemble=1, hidden_size=16, max_epochs=15,
             batch_size=64, device="cpu", threads=1)  # fmt: skip


@pytest.mark.parametrize("decoder", ["direct", "parallel"])
def test_future_covariates_forecast_what_the_lookback_cannot_show(decoder):
    """Held-out promotion days are forecast well with the flag as a future covariate, and
    badly with it as a past covariate only (the lookback shows past promotions, not the
    next ones)."""
    frame = _promo_days()
    errors = {}
    for option in ("covariates", "future_covariates"):
        model = rnncast.train(frame, decoder=decoder, **{option: ["promo"]}, **PROMO)
        report = rnncast.evaluate(model, frame, windows=2, threads=1)  # the 12 held out
        assert report["windows_scored"] == 6
        errors[option] = report["overall"]["model"]["mae"]
    assert errors["future_covariates"] < 0.3 * errors["covariates"], errors
    assert model.read_options.future_covariates == ("promo",)
    assert model.model.future_covariate_count == 1


def test_predict_reads_the_future_covariates_of_the_rows_after_the_last_value(tmp_path):
    frame = _promo_days(after=6)
    model = rnncast.train(frame, future_covariates="promo", **PROMO)
    model.save(tmp_path / "m.rnncast")
    model = rnncast.load(tmp_path / "m.rnncast")  # the names and the network kept
    forecast = rnncast.predict(model, frame, threads=1)
    future = frame[frame.y.isna()].reset_index(drop=True)
    assert forecast.ds.tolist() == future.ds.tolist() and len(forecast) == 18
    assert np.abs(forecast.y_hat - (20 + 10 * future.promo)).mean() < 1.5
    short = frame.drop(index=frame.index[frame.unique_id == "b"][-2:])
    with pytest.raises(DataError) as e:
        rnncast.predict(model, short)
    assert str(e.value) == (
        "series 'b' in '<DataFrame>' has future covariates (promo) for 4 of the 6 steps after "
        "its last value at 159: the model reads them for its whole horizon; add rows up to 165 "
        "with them filled and 'y' empty"
    )
    gap = frame.assign(promo=frame.promo.where(frame.index != frame.index[-1]))
    with pytest.raises(DataError) as e:
        rnncast.predict(model, gap)
    assert str(e.value) == (
        "future covariate column 'promo' in '<DataFrame>' has 1 missing or infinite value "
        "(first: series 'c' at 165, row 498): fill them, in the rows after each series' last "
        "value too"
    )
    with pytest.raises(ConfigError) as e:
        rnncast.train(frame, future_covariates="promo", decoder="seq2seq", **PROMO)
    assert str(e.value) == (
        "--decoder seq2seq does not take --future-covariates yet: use --decoder direct or "
        "parallel with --cell rnn, lstm or gru, or drop it"
    )


def test_export_and_the_graphs_inputs_from_python(model, frame, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model.save(tmp_path / "m.rnncast")
    with pytest.raises(ConfigError) as e:
        rnncast.export(tmp_path / "m.rnncast", tmp_path / "m.txt")
    assert str(e.value) == (
        f"out '{tmp_path / 'm.txt'}' must end in .onnx: the extension picks the format"
    )
    exported = rnncast.export(tmp_path / "m.rnncast", tmp_path / "m.onnx")
    assert [p.name for p in exported.inputs] == ["windows", "floor"]
    assert exported.metadata["horizon"] == "6"
    short = frame.groupby("unique_id").tail(20)  # s0 and s1 shorter than the lookback
    with pytest.raises(DataError, match="fewer values than the model's lookback of 24"):
        rnncast.onnx_inputs(model, short)
    longer = pd.concat([short[short.unique_id == "s0"], frame[frame.unique_id == "s1"]])
    with pytest.warns(UserWarning, match="s0"):
        inputs = rnncast.onnx_inputs(model, longer, skip_short=True)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, inputs)
    want = rnncast.predict(model, frame)
    np.testing.assert_allclose(got[0], want[want.unique_id == "s1"].y_hat, rtol=1e-4)


def test_train_init_from_updates_a_saved_model(frame, model, tmp_path):
    model.save(tmp_path / "m.rnncast")
    longer = make_long(n_series=2, length=180)
    updated = rnncast.train(longer, init_from=tmp_path / "m.rnncast", max_epochs=1)
    assert updated.init_from["path"] == str(tmp_path / "m.rnncast")
    assert updated.model == model.model and updated.window == model.window
    assert updated.train.lr == pytest.approx(model.train.lr / 30) and updated.values == 360
    assert len(rnncast.predict(updated, longer)) == 12
    with pytest.raises(ConfigError) as e:
        rnncast.train(longer, init_from=str(tmp_path / "m.rnncast"), hidden_size=16)
    assert str(e.value) == (
        f"init_from='{tmp_path / 'm.rnncast'}' was trained with hidden_size=8; hidden_size=16 "
        "conflicts: drop hidden_size or train from scratch"
    )
