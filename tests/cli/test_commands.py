"""The commands end to end through Typer's CliRunner, on sample and generated data: exact
messages and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.cli.conftest import FAST, FAST_ESN, run, usage_error
from tests.cli.conftest import error as _error
from tests.conftest import SAMPLE, make_long, make_sales


@pytest.mark.parametrize(
    ("sample", "n_series", "horizon", "time_col"),
    [
        ("air_passengers.csv", 1, 18, "Date"),
        ("sunspots_monthly.csv", 1, 18, "month"),
        ("us_macro_quarterly.csv", 12, 8, "ds"),
    ],
)
def test_train_predict_evaluate_info_flag_free(here, sample, n_series, horizon, time_col):
    shutil.copy(SAMPLE / sample, here / sample)
    result = run("train", sample, *FAST)
    assert result.exit_code == 0, result.stderr
    assert (here / "model.rnncast").exists()
    assert result.stdout == ""  # stdout stays clean for data
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"read {sample}: {n_series:,} series")
    assert lines[-1] == "saved model.rnncast"

    result = run("predict")
    assert result.exit_code == 0, result.stderr
    forecast = pd.read_csv(here / "forecast.csv")
    assert list(forecast.columns) == ["unique_id", time_col, "y_hat"]
    assert len(forecast) == n_series * horizon
    source = pd.read_csv(here / sample)
    last = pd.to_datetime(source[time_col]).max()
    assert (pd.to_datetime(forecast[time_col]) > last).all()
    assert result.stderr.splitlines()[-1] == (
        f"forecast {horizon} steps for {n_series:,} series: wrote forecast.csv"
    )

    result = run("evaluate", "--windows", "2")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((here / "metrics.json").read_text())
    assert metrics["horizon"] == horizon
    assert set(metrics["overall"]) == {"model", "naive", "seasonal_naive"}
    assert len(metrics["per_series"]) == n_series
    assert "backtest:" in result.stdout and "mase" in result.stdout
    assert "lie inside the model's training data" in result.stderr

    result = run("info")
    assert result.exit_code == 0, result.stderr
    assert "format_version" in result.stdout and "window.lookback" in result.stdout
    result = run("info", "--json")
    described = json.loads(result.stdout)
    assert described["data"]["series"] == n_series
    assert described["window"]["horizon"] == horizon


def test_predict_to_stdout_and_parquet(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    result = run("predict", "--out", "-", "--quiet")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "unique_id,ds,y_hat"
    assert len(result.stdout.splitlines()) == 1 + 2 * 6
    result = run("predict", "s.csv", "--out", "f.parquet", "--horizon", "3")
    assert result.exit_code == 0
    assert len(pd.read_parquet(here / "f.parquet")) == 2 * 3


def test_log_transform_is_chosen_for_positive_data_and_needs_positive_histories(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6")
    assert result.exit_code == 0, result.stderr
    assert (
        "modelling the log of the values, since every one is above 0; forecasts will need "
        "histories above 0 too (--transform none models the values as they are)"
    ) in result.stderr
    assert json.loads(run("info", "--json").stdout)["model"]["transform"] == "log"
    (here / "forecast.csv").write_text("previous\n")
    frame = make_long(n_series=2, length=150)
    frame.loc[frame.index[-3:], "y"] = [0.0, -1.0, 2.0]
    frame.to_csv(here / "zero.csv", index=False)
    assert _error(run("predict", "zero.csv")) == (
        "error: series 's1' has the value 0 at 2024-01-07 03:00:00 (and 1 more) in 'zero.csv', "
        "but --transform log needs every value above 0: the model was trained with it; fix "
        "those values, or retrain with --transform none"
    )
    assert (here / "forecast.csv").read_text() == "previous\n"
    assert _error(run("train", "zero.csv", "--transform", "log", "-o", "z.rnncast")) == (
        "error: series 's1' has the value 0 at 2024-01-07 03:00:00 (and 1 more) in 'zero.csv', "
        "but --transform log needs every value above 0: fix those values, or train with "
        "--transform none"
    )
    assert not (here / "z.rnncast").exists()
    result = run("train", "zero.csv", *FAST, "--horizon", "6", "-o", "z.rnncast")
    assert result.exit_code == 0, result.stderr  # 'auto' models these as they are
    assert "modelling the log" not in result.stderr
    assert json.loads(run("info", "z.rnncast", "--json").stdout)["model"]["transform"] == "none"
    said = usage_error(run("train", "s.csv", "--transform", "sqrt"))  # a choice: exit 2
    assert "Invalid value for '--transform'" in said
    assert "'sqrt' is not one of 'auto', 'none', 'log'" in said


def test_forecasts_of_data_never_below_zero_are_clipped_at_zero_unless_told_not_to(here):
    """Sales with closed days (zeros, so no logs): the model that lets its forecasts go below
    0 forecasts some days below 0; by default (--clip auto) those are 0, in predict's point
    forecasts and quantiles and in what evaluate scores, and the model file says so."""
    make_sales().to_csv(here / "sales.csv", index=False)
    common = ["sales.csv", *FAST, "--horizon", "14", "--quantiles", "0.1,0.9"]
    result = run("train", *common)
    assert result.exit_code == 0, result.stderr
    assert (
        "clipping forecasts at 0, since no training value is below 0 (--clip none lets them go "
        "below)"
    ) in result.stderr.splitlines()
    result = run("train", *common, "--clip", "none", "-o", "free.rnncast")
    assert result.exit_code == 0, result.stderr
    assert "clipping" not in result.stderr
    for model, clip in (("model.rnncast", "zero"), ("free.rnncast", "none")):
        described = json.loads(run("info", model, "--json").stdout)["model"]
        assert (described["clip"], described["transform"]) == (clip, "none")
        assert run("predict", "-m", model, "-o", f"{clip}.csv").exit_code == 0
        assert run("evaluate", "-m", model, "-o", f"{clip}.json", "--windows", "3").exit_code == 0
    clipped, free = pd.read_csv(here / "zero.csv"), pd.read_csv(here / "none.csv")
    assert (free.y_hat < 0).sum() > 0 and (free["q0.1"] < 0).sum() > 0  # the same networks
    for column in ("y_hat", "q0.1", "q0.9"):
        np.testing.assert_array_equal(clipped[column], free[column].clip(lower=0))
    scored = [json.loads((here / f"{clip}.json").read_text()) for clip in ("zero", "none")]
    pinball = [report["quantiles"]["levels"]["q0.1"]["pinball"] for report in scored]
    assert pinball[0] < pinball[1]  # no sale is below 0: a forecast raised to 0 is nearer
    said = usage_error(run("train", *common, "--clip", "negative"))  # a choice: exit 2
    assert "Invalid value for '--clip': 'negative' is not one of 'auto', 'none', 'zero'." in said
    (here / "bad.toml").write_text('[train]\nclip = "sometimes"\n')
    assert _error(run("train", *common, "--config", "bad.toml")) == (
        "error: config file 'bad.toml' sets 'clip' under [train] to 'sometimes': 'sometimes' is "
        "not one of 'auto', 'none', 'zero'"
    )


def test_holdout_makes_evaluate_out_of_sample(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--holdout", "12")
    assert result.exit_code == 0, result.stderr
    assert "holding out the last 12 steps of each series for 'rnncast evaluate'" in result.stderr
    result = run("evaluate", "--windows", "2")
    assert result.exit_code == 0, result.stderr
    assert "training data" not in result.stderr
    metrics = json.loads((here / "metrics.json").read_text())
    assert metrics["windows_in_training"] == 0 and metrics["windows_scored"] == 4
    result = run("evaluate", "--windows", "3")
    assert "note: 2 of 6 backtest windows lie inside the model's training data" in result.stderr


def test_fill_is_remembered_by_the_model(here):
    frame = make_long(n_series=2, length=150)
    frame.loc[10, "y"] = float("nan")
    frame = frame.drop(index=[20, 21])  # a gap of two hours in series s0
    frame.to_csv(here / "gappy.csv", index=False)
    assert _error(run("train", "gappy.csv", *FAST, "--horizon", "6")).endswith(
        "fill or remove them, or pass --fill ffill, interpolate or zero"
    )
    result = run("train", "gappy.csv", *FAST, "--horizon", "6", "--fill", "interpolate")
    assert result.exit_code == 0, result.stderr
    warning = (
        "warning: --fill interpolate: filled 1 missing value and 2 steps missing from the time "
        "grid in 1 series of 'gappy.csv'"
    )
    assert result.stderr.splitlines()[1] == warning
    result = run("predict")  # the model reads its data the way it was trained
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[1] == warning.replace("'gappy", f"'{here}/gappy")
    assert json.loads(run("info", "--json").stdout)["data"]["series"] == 2
    said = usage_error(run("train", "gappy.csv", "--fill", "mean"))
    assert "'mean' is not one of 'none', 'ffill', 'interpolate', 'zero'" in said


def test_sep_and_decimal_are_remembered_by_the_model(here):
    frame = make_long(n_series=2, length=150)
    frame.to_csv(here / "eu.csv", index=False, sep="|", decimal=",")
    result = run("train", "eu.csv", *FAST, "--horizon", "6", "--sep", "|", "--decimal", ",")
    assert result.exit_code == 0, result.stderr
    from rnncast.store.artifact import load

    assert load(here / "model.rnncast").read_options.decimal == ","
    result = run("predict")  # the model reads its data the way it was trained
    assert result.exit_code == 0, result.stderr
    frame.to_csv(here / "eu.csv", index=False, sep=";", decimal=",")
    result = run("train", "eu.csv", *FAST, "--horizon", "6")  # sniffed, and said
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[1] == (
        "read 'eu.csv' with columns separated by ';' and ',' as the decimal mark (detected: "
        "name them with --sep and --decimal to read it otherwise)"
    )


def test_day_first_dates_are_asked_for_or_detected_and_kept(here):
    frame = make_long(n_series=1, length=150, freq="D").drop(columns="unique_id")
    frame.assign(ds=frame.ds.dt.strftime("%d/%m/%Y")).to_csv(here / "dm.csv", index=False)
    frame.head(12).assign(ds=frame.ds.dt.strftime("%d/%m/%Y")).to_csv(here / "a.csv", index=False)
    assert _error(run("train", "a.csv", *FAST)) == (
        "error: column 'ds' in 'a.csv' has dates such as '02/01/2024' that read day first or "
        "month first alike (no day above 12 tells which): pass --dayfirst or --monthfirst, or "
        "give their format with --time-format (e.g. %d/%m/%Y)"
    )
    result = run("train", "dm.csv", *FAST, "--horizon", "6")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[1] == (
        "read column 'ds' of 'dm.csv' day first, as in '13/01/2024' (detected: pass "
        "--monthfirst or --time-format to read it otherwise)"
    )
    from rnncast.store.artifact import load

    assert load(here / "model.rnncast").read_options.dayfirst is True  # predict reads alike


def test_skip_short_leaves_out_series_with_a_warning(here):
    make_long(n_series=3, length=150, lengths=[150, 150, 20]).to_csv(here / "s.csv", index=False)
    assert _error(run("train", "s.csv", *FAST, "--horizon", "6")) == (
        "error: 1 series is shorter than lookback 24 + horizon 6 = 30 values: 's2' (20); pass a "
        "smaller --lookback, or --skip-short to leave them out"
    )
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--skip-short")
    assert result.exit_code == 0, result.stderr
    assert (
        "warning: --skip-short: left out 1 series shorter than lookback 24 + horizon 6 = 30 "
        "values: 's2' (20)"
    ) in result.stderr.splitlines()
    result = run("predict")
    assert result.exit_code == 0, result.stderr
    assert "warning: --skip-short: left out 1 series shorter than the model's lookback of 24 " \
        "values: 's2' (20)" in result.stderr  # fmt: skip
    assert sorted(pd.read_csv(here / "forecast.csv").unique_id.unique()) == ["s0", "s1"]
    assert _error(run("predict", "--no-skip-short")) == (
        "error: 1 series has fewer values than the model's lookback of 24: 's2' (20); give at "
        "least 24 values per series, or pass --skip-short to leave them out"
    )
    make_long(n_series=1, length=20).to_csv(here / "short.csv", index=False)
    assert _error(run("predict", "short.csv")) == (  # predict has no --lookback to name
        "error: every series is shorter than the model's lookback of 24 values ('s0' (20)): "
        "give at least 24 values per series"
    )


def test_a_cron_log_says_done_and_names_the_series_left_out(here):
    """The cron recipe (--quiet --log-format json): start, the warning with the series left
    out as fields, and done, for train and predict; no progress."""
    make_long(n_series=3, length=150, lengths=[150, 150, 20]).to_csv(here / "s.csv", index=False)
    cron = ["--skip-short", "--quiet", "--log-format", "json"]
    for command, need in ((["train", "s.csv", *FAST, "--horizon", "6"], 30), (["predict"], 24)):
        result = run(*command, *cron)
        assert result.exit_code == 0, result.stderr
        events = [json.loads(line) for line in result.stderr.splitlines()]
        assert [e["event"] for e in events] == ["start", "warning", "done"]
        warning = {k: events[1][k] for k in ("kind", "left_out", "need", "series")}
        assert warning == {"kind": "left_out_short", "left_out": 1, "need": need,
                           "series": ["s2"]}  # fmt: skip


def test_same_command_same_seed_gives_byte_identical_forecasts(tmp_path):
    """Two separate processes, same data, same command: the same bytes out."""
    outputs = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        make_long(n_series=3, length=150).to_csv(folder / "s.csv", index=False)
        for command in (
            ["train", "s.csv", *FAST, "--horizon", "6", "--ensemble", "2", "--dropout", "0.3"],
            ["predict", "--out", "f.parquet"],
            ["predict"],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "rnncast", *command, "--quiet"],
                cwd=folder, capture_output=True, text=True,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        outputs.append(
            ((folder / "forecast.csv").read_bytes(), pd.read_parquet(folder / "f.parquet"))
        )
    assert outputs[0][0] == outputs[1][0]
    pd.testing.assert_frame_equal(outputs[0][1], outputs[1][1], check_exact=True)


def test_constant_series_give_finite_forecasts(here):
    frame = make_long(n_series=2, length=150)
    frame.loc[frame.unique_id == "s1", "y"] = 5.0  # a stuck sensor: no spread at all
    frame.to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    assert run("predict").exit_code == 0
    forecast = pd.read_csv(here / "forecast.csv")
    assert forecast.y_hat.notna().all() and forecast.y_hat.abs().lt(1e6).all()


def test_plots_of_forecasts_and_backtests(here):
    pytest.importorskip("matplotlib")
    make_long(n_series=3, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    result = run("predict", "--plot", "f.png", "--plot-series", "s2,s0")
    assert result.exit_code == 0, result.stderr
    assert (here / "f.png").read_bytes().startswith(b"\x89PNG")
    result = run("evaluate", "--plot", "b.svg", "--windows", "2")
    assert result.exit_code == 0, result.stderr
    assert "MASE" in (here / "b.svg").read_text()
    before = sorted(p.name for p in here.iterdir())
    assert _error(run("predict", "--plot", "g.png", "--plot-series", "s7", "-o", "g.csv")) == (
        f"error: --plot-series 's7' is not a series of '{here}/s.csv' (series: s0, s1, s2): "
        "name series of the data"
    )
    assert _error(run("evaluate", "--plot-series", "s1")) == (
        "error: --plot-series picks series for --plot: give --plot PATH too"
    )
    assert _error(run("predict", "--plot", "f.jpg")) == (
        "error: --plot 'f.jpg' must end in .png or .svg or .pdf: the extension picks the format"
    )
    assert sorted(p.name for p in here.iterdir()) == before


def test_decoder_is_stored_in_the_model(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--decoder", "parallel")
    assert result.exit_code == 0, result.stderr
    described = json.loads(run("info", "--json").stdout)
    assert described["model"]["decoder"] == "parallel"
    assert run("predict").exit_code == 0
    assert run("train", "s.csv", *FAST, "--decoder", "seq9").exit_code == 2  # a usage error


def test_lookbacks_one_per_member(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    args = ("train", "s.csv", *FAST, "--horizon", "6", "--ensemble", "2", "--lookbacks", "24,48")
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert "window: lookbacks 24, 48 (one per model, in segments of 24), horizon 6" in result.stderr
    assert "training gru (1 x 8) on cpu, model 2 of 2, lookback 48: " in result.stderr
    described = json.loads(run("info", "--json").stdout)
    assert described["window"]["lookbacks"] == [24, 48]
    assert run("predict").exit_code == 0
    bad = run("train", "s.csv", *FAST, "--lookbacks", "24,x")
    assert bad.exit_code == 1
    assert bad.stderr == (
        "error: --lookbacks must be whole numbers separated by commas, e.g. 144,240,336; "
        "got '24,x'\n"
    )


def test_predict_can_fill_what_tomorrows_data_misses(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    # a model of the values as they are: a log model would refuse --fill zero's zeros
    assert run("train", "s.csv", *FAST, "--horizon", "6", "--transform", "none").exit_code == 0
    gappy = make_long(n_series=2, length=160)
    gappy.loc[155, "y"] = float("nan")
    gappy.to_csv(here / "new.csv", index=False)
    assert _error(run("predict", "new.csv")).endswith(
        "fill or remove them, or pass --fill ffill, interpolate or zero"
    )
    result = run("predict", "new.csv", "--fill", "ffill")
    assert result.exit_code == 0, result.stderr
    assert "warning: --fill ffill: filled 1 missing value" in result.stderr
    assert run("evaluate", "new.csv", "--fill", "zero").exit_code == 0


def test_quantiles_from_train_to_predict_and_evaluate(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--quantiles", "0.9,0.1,0.5")
    assert result.exit_code == 0, result.stderr
    assert (
        "intervals calibrated to cover their share of the validation windows: widths "
        "0.1-0.9 by " in result.stderr
    )
    described = json.loads(run("info", "--json").stdout)
    assert described["model"]["quantiles"] == [0.1, 0.5, 0.9]
    assert list(described["intervals"]) == ["0.1-0.9"]
    assert run("predict").exit_code == 0
    forecast = pd.read_csv(here / "forecast.csv")
    assert list(forecast.columns) == ["unique_id", "ds", "y_hat", "q0.1", "q0.5", "q0.9"]
    assert (forecast["y_hat"] == forecast["q0.5"]).all()
    assert (forecast["q0.1"] <= forecast["q0.9"]).all()
    result = run("evaluate", "--windows", "2")
    assert result.exit_code == 0, result.stderr
    assert "80% interval (coverage)" in result.stdout
    report = json.loads((here / "metrics.json").read_text())
    assert set(report["quantiles"]["levels"]) == {"q0.1", "q0.5", "q0.9"}
    assert 0 <= report["quantiles"]["intervals"]["80%"]["coverage"] <= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--quantiles", "0.1,ten"), "--quantiles must be numbers between 0 and 1 separated by "
         "commas, e.g. 0.1,0.5,0.9; got '0.1,ten'"),
        (("--quantiles", "0.1,1"), "--quantiles must all be strictly between 0 and 1, got 0.1, 1"),
        (("--quantiles", "0.1,0.9", "--loss", "mse"), "--loss mse does not apply with "
         "--quantiles: a quantile model trains on the pinball loss (whose median term is the "
         "MAE); leave out --loss"),
    ],
)  # fmt: skip
def test_quantile_mistakes_exit_1_before_reading(here, args, message):
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    assert _error(run("train", "s.csv", *args)) == f"error: {message}"
    assert not list(here.glob("*.rnncast"))


def test_calendar_features_off_by_default_and_on(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    assert json.loads(run("info", "--json").stdout)["model"]["calendar"] == []
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--calendar", "-o", "cal.rnncast")
    assert result.exit_code == 0, result.stderr
    described = json.loads(run("info", "cal.rnncast", "--json").stdout)
    assert described["model"]["calendar"] == [24.0, 168.0]
    assert run("predict", "--model", "cal.rnncast").exit_code == 0
    assert run("evaluate", "--model", "cal.rnncast", "-o", "m.json").exit_code == 0
    printed = run("train", "s.csv", "--calendar", "--horizon", "6", "--print-config").stdout
    assert "calendar = true" in printed
    assert _error(run("train", "s.csv", "--calendar", "--decoder", "seq2seq")) == (
        "error: --decoder seq2seq does not take --calendar yet: use --decoder direct or "
        "parallel with --cell rnn, lstm or gru, or drop it"
    )


def test_id_embedding_from_the_command_line(here):
    make_long(n_series=3, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--id-embedding", "4")
    assert result.exit_code == 0, result.stderr
    described = json.loads(run("info", "--json").stdout)["model"]
    assert (described["id_embedding"], described["ids"]) == (4, 3)
    assert run("predict").exit_code == 0 and run("evaluate").exit_code == 0
    assert run("train", "s.csv", "--id-embedding", "-1").exit_code == 2  # Click's range check


def test_covariates_from_train_to_predict(here):
    frame = make_long(n_series=2, length=150)
    frame["price"] = range(len(frame))
    frame.to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--covariates", "price")
    assert result.exit_code == 0, result.stderr
    assert json.loads(run("info", "--json").stdout)["model"]["covariate_count"] == 1
    assert run("predict").exit_code == 0 and run("evaluate").exit_code == 0
    frame.drop(columns="price").to_csv(here / "new.csv", index=False)
    assert _error(run("predict", "new.csv", "-o", "f2.csv")) == (
        "error: column 'price' not found in 'new.csv' (columns: unique_id, ds, y): the model "
        "reads a past covariate from column 'price', as in its training data: give data with "
        "that column, or retrain on this data"
    )
    assert not (here / "f2.csv").exists()


def test_predict_and_evaluate_name_the_models_columns_not_options_they_lack(here):
    """predict and evaluate read with the model's columns: they have no --target or --id-col
    to name."""
    frame = make_long(n_series=2, length=150).rename(columns={"unique_id": "store"})
    frame.to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6", "--id-col", "store").exit_code == 0
    frame.rename(columns={"y": "sales"}).to_csv(here / "renamed.csv", index=False)
    for command in ("predict", "evaluate"):
        assert _error(run(command, "renamed.csv")) == (
            "error: column 'y' not found in 'renamed.csv' (columns: store, ds, sales): the "
            "model reads its values from column 'y', as in its training data: give data with "
            "that column, or retrain on this data"
        )
    wide = frame.pivot(index="ds", columns="store", values="y").reset_index()
    wide.to_csv(here / "wide.csv", index=False)
    assert _error(run("predict", "wide.csv")) == (
        "error: column 'store' not found in 'wide.csv' (columns: ds, s0, s1): the model reads "
        "its series ids from column 'store', as in its training data: give data with that "
        "column, or retrain on this data"
    )
    frame.rename(columns={"store": "stores"}).to_csv(here / "typo.csv", index=False)
    assert _error(run("predict", "typo.csv")).endswith(
        "the model reads its series ids from column 'store', as in its training data: rename "
        "column 'stores' to 'store', or retrain on this data"
    )


ARCHITECTURES = {
    "rnn relu": ["--cell", "rnn", "--activation", "relu"],
    "bidirectional": ["--bidirectional", "--cell", "lstm"],
    "seq2seq attention": ["--decoder", "seq2seq", "--attention"],
    "recursive": ["--decoder", "recursive", "--segment", "1", "--lookback", "24"],
    "esn": ["--cell", "esn", "--reservoir-size", "40", "--spectral-radius", "0.8",
            "--leak-rate", "0.5", "--ridge", "0.1"],
    "checkpointed": ["--checkpoint-activations", "--segment", "2", "--lookback", "24"],
    "series scaling": ["--scaling", "series"],
    "esn series scaling": ["--cell", "esn", "--reservoir-size", "40", "--scaling", "series"],
}  # fmt: skip


def _options(args: list[str]) -> dict[str, str | None]:
    """{option: value} of a command line; None for a flag."""
    out: dict[str, str | None] = {}
    for k, arg in enumerate(args):
        if arg.startswith("--"):
            value = args[k + 1] if k + 1 < len(args) else None
            out[arg] = None if value is None or value.startswith("--") else value
    return out


def test_options_are_read_in_pairs_and_flags():
    assert _options(["--bidirectional", "--cell", "lstm"]) == {"--bidirectional": None,
                                                               "--cell": "lstm"}  # fmt: skip


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_architectures_train_predict_evaluate_and_describe(here, name):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    args = ARCHITECTURES[name]
    fast = FAST_ESN if "esn" in args else FAST
    result = run("train", "s.csv", *fast, "--horizon", "6", *args)
    assert result.exit_code == 0, result.stderr
    described = json.loads(run("info", "--json").stdout)
    model = {**described["window"], **described["model"]}
    given = _options(args)
    assert given, args
    for option, value in given.items():
        key = option[2:].replace("-", "_")
        want = True if value is None else value  # a flag
        assert str(model[key]) == str(want) or model[key] == want, (option, model[key])
    for flag in ("--attention", "--bidirectional", "--checkpoint-activations"):
        assert model[flag[2:].replace("-", "_")] == (flag in args), flag
    assert run("predict").exit_code == 0
    assert len(pd.read_csv(here / "forecast.csv")) == 2 * 6
    assert run("evaluate").exit_code == 0
    assert json.loads((here / "metrics.json").read_text())["overall"]["model"]["mae"] > 0


def test_esn_reports_its_reservoir_and_one_fit(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST_ESN, "--horizon", "6", *ARCHITECTURES["esn"])
    assert result.exit_code == 0, result.stderr
    assert "training esn (reservoir 40, radius 0.8, leak 0.5) on cpu: " in result.stderr
    assert "best epoch 1 of 1 (closed-form ridge readout (no epochs))" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--activation", "relu"], "--activation relu is for --cell rnn only (gru has its own "
         "nonlinearities): drop --activation or use --cell rnn"),
        (["--attention"], "--attention is for --decoder seq2seq only, not direct: add --decoder "
         "seq2seq or drop --attention"),
        (["--bidirectional", "--decoder", "parallel"], "--decoder parallel does not take "
         "--bidirectional: it continues the encoder's recurrence step by step, which a backward "
         "reading cannot; use --decoder direct or seq2seq"),
        (["--bidirectional", "--checkpoint-activations"], "--checkpoint-activations does not "
         "take --bidirectional: a backward reading cannot be cut into chunks; drop one of them"),
        (["--cell", "esn", "--decoder", "seq2seq"], "--cell esn does not take --decoder seq2seq: "
         "its one reservoir is fixed and only its linear readout to the whole horizon is "
         "fitted; drop it or use --cell rnn, lstm or gru"),
        (["--cell", "esn", "--checkpoint-activations"], "--cell esn does not take "
         "--checkpoint-activations: its one reservoir is fixed and only its linear readout to "
         "the whole horizon is fitted; drop it or use --cell rnn, lstm or gru"),
        (["--cell", "esn", "--spectral-radius", "1.1"],
         "--spectral-radius must be in (0, 1) for the echo state property, got 1.1"),
        (["--cell", "esn", "--leak-rate", "0"], "--leak-rate must be in (0, 1], got 0.0"),
        (["--cell", "esn", "--ridge", "-1"], "--ridge must be positive, got -1.0"),
        (["--cell", "esn", "--reservoir-size", "0"], "--reservoir-size must be at least 1, got 0"),
        (["--reservoir-size", "100"], "--reservoir-size is for --cell esn only: add --cell esn or "
         "drop it"),
    ],
)  # fmt: skip
def test_architecture_mistakes_are_one_line_and_leave_no_model(here, args, message):
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    assert _error(run("train", "s.csv", *FAST, *args)) == f"error: {message}"
    assert not list(here.glob("*.rnncast"))


def test_esn_refuses_the_training_options_it_would_ignore_given_or_from_a_config_file(here):
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    said = _error(run("train", "s.csv", *FAST_ESN, "--cell", "esn", "--lr", "0.01",
                      "--patience", "3", "--max-steps", "5"))  # fmt: skip
    assert said == (
        "error: --cell esn does not take --max-steps, --lr, --patience: the echo state "
        "network's readout is fitted in closed form, with no epochs, batches or optimiser; "
        "drop them or use --cell rnn, lstm or gru"
    )
    (here / "esn.toml").write_text('[train]\ncell = "esn"\nweight-decay = 0.5\n')
    said = _error(run("train", "s.csv", *FAST_ESN, "--config", "esn.toml"))
    assert said.startswith("error: --cell esn does not take --weight-decay: ")
    assert not list(here.glob("*.rnncast"))
    # the defaults, and what the network does read (--seed, --ensemble, --epoch-size), pass
    result = run("train", "s.csv", *FAST_ESN, "--cell", "esn", "--seed", "2", "--horizon", "6")
    assert result.exit_code == 0, result.stderr


def test_print_config_shows_the_architecture(here):
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", "--decoder", "seq2seq", "--attention", "--horizon", "12",
                 "--print-config")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    for line in (
        'decoder = "seq2seq"',
        "attention = true",
        "bidirectional = false",
        'activation = "tanh"',
        "checkpoint-activations = false",
        "reservoir-size = 500",
    ):
        assert line in result.stdout.splitlines(), line  # fmt: skip


@pytest.mark.parametrize(
    ("low", "chosen", "clip"), [(1.0, "log", "zero"), (0.0, "none", "zero"), (-1.0, "none", "none")]
)
def test_print_config_writes_the_transform_and_clip_auto_chose(here, low, chosen, clip):
    frame = make_long(n_series=1, length=100)
    frame.loc[5, "y"] = low
    frame.to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", "--horizon", "12", "--print-config")
    assert result.exit_code == 0, result.stderr
    assert f'transform = "{chosen}"' in result.stdout.splitlines()
    assert f'clip = "{clip}"' in result.stdout.splitlines()


def test_print_config_refuses_what_train_refuses(here):
    """--print-config approves only what training would start: the same message as train,
    exit 1, no config printed (a short series, a zero under --transform log)."""
    short = make_long(n_series=2, length=200)
    short = short[(short.unique_id != "s0") | (short.index % 200 < 30)]
    short.to_csv(here / "short.csv", index=False)
    zeros = make_long(n_series=1, length=200)
    zeros.loc[3, "y"] = 0.0
    zeros.to_csv(here / "zeros.csv", index=False)
    cases = [
        (
            ["short.csv"],
            "1 series is shorter than lookback 144 + horizon 48 = 192 values: 's0' (30)",
        ),
        (["zeros.csv", "--transform", "log"], "series 's0' has the value 0 at "),
    ]
    for args, message in cases:
        trained = run("train", *args, *FAST)
        printed = run("train", *args, "--print-config")
        assert _error(trained).startswith(f"error: {message}"), _error(trained)
        assert _error(printed) == _error(trained) and printed.stdout == ""
        assert printed.exit_code == trained.exit_code == 1


def test_a_network_too_big_for_memory_is_refused_before_it_is_built(here, monkeypatch):
    """--hidden-size 1000000000 was torch's allocator traceback (or the OOM killer)."""
    from rnncast.engine import devices

    monkeypatch.setattr(devices, "memory", lambda device: 2**29)
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    cases = {
        ("--hidden-size", "4096"): "the network (--hidden-size 4096, --num-layers 1) needs about "
        "0.8 GB to train, more than the 0.5 GB of memory on cpu: pass a smaller --hidden-size "
        "or --num-layers",
        ("--hidden-size", "1000000000"): "the network (--hidden-size 1000000000, --num-layers 1) "
        "is too big to count, more than the 0.5 GB of memory on cpu: pass a smaller "
        "--hidden-size or --num-layers",
        ("--cell", "esn", "--reservoir-size", "10000"): "the network (--reservoir-size 10000) "
        "needs about 3.7 GB to train, more than the 0.5 GB of memory on cpu: pass a smaller "
        "--reservoir-size",
    }
    for args, message in cases.items():
        for last in ("--print-config", "--quiet"):
            result = run("train", "s.csv", "--horizon", "12", *args, last)
            assert _error(result) == f"error: {message}"
    assert not list(here.glob("*.rnncast"))


@pytest.mark.parametrize("freq", ["YS", "B", "SMS", "W-SUN"])
def test_frequencies_without_calendar_cycles_train_predict_and_evaluate(here, freq):
    times = pd.date_range("2001-01-01", periods=60, freq=freq)
    pd.DataFrame({"ds": times, "a": range(60), "b": range(60, 120)}).to_csv("w.csv", index=False)
    result = run("train", "w.csv", *FAST, "--horizon", "3", "--calendar", "--freq", freq)
    assert result.exit_code == 0, result.stderr
    assert run("predict").exit_code == 0 and run("evaluate").exit_code == 0


def _trained_with_holdout(here) -> pd.DataFrame:
    """Two hourly series of 150 values and a model trained on all but their last 6."""
    frame = make_long(n_series=2, length=150)
    frame.to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--holdout", "6")
    assert result.exit_code == 0, result.stderr
    return frame


def _per_series_mean(frame: pd.DataFrame, per_row: pd.Series, scale=None) -> float:
    """A score from rows: each window's mean (over `scale`), each series' mean of those,
    the mean of the series (as M4 does)."""
    windows = per_row.groupby([frame["unique_id"], frame["cutoff"]])
    per_window = windows.mean() if scale is None else windows.mean() / scale.groupby(
        [frame["unique_id"], frame["cutoff"]]).first()  # fmt: skip
    return float(per_window.groupby(level=0).mean().mean())


def test_evaluate_writes_every_backtest_forecast_and_scores_what_it_wrote(here):
    frame = _trained_with_holdout(here)
    result = run("evaluate", "--windows", "2", "--forecasts", "cv.csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "wrote metrics.json and cv.csv"
    metrics = json.loads((here / "metrics.json").read_text())
    cv = pd.read_csv(here / "cv.csv")
    assert list(cv.columns) == ["unique_id", "cutoff", "ds", "step", "actual", "y_hat", "naive",
                                "seasonal_naive", "mase_scale", "sample"]  # fmt: skip
    assert len(cv) == 2 * 2 * 6 and list(cv["step"][:6]) == [1, 2, 3, 4, 5, 6]
    # the model trained up to 6 hours before the end: the last window of each series is new
    trained_to = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=149 - 6)
    out = cv["sample"] == "out-of-sample"
    assert out.sum() == 12 and (pd.to_datetime(cv["cutoff"][out]) == trained_to).all()
    assert (pd.to_datetime(cv["cutoff"][~out]) == trained_to - pd.Timedelta(hours=6)).all()
    assert set(cv["sample"][~out]) == {"in-sample"}
    # the file's float32 numbers exactly as scored, then the report's scores from them alone
    for column in ("actual", "y_hat", "naive", "seasonal_naive"):
        cv[column] = cv[column].astype("float32").astype("float64")
    error = (cv["actual"] - cv["y_hat"]).abs()
    mase = _per_series_mean(cv, error, cv["mase_scale"])
    assert mase == pytest.approx(metrics["overall"]["model"]["mase"], rel=1e-12)
    split = metrics["by_sample"]
    assert _per_series_mean(cv[out], error[out], cv["mase_scale"][out]) == pytest.approx(
        split["out_of_sample"]["overall"]["model"]["mase"], rel=1e-12
    )
    a, f = cv["actual"], cv["seasonal_naive"]
    smape = _per_series_mean(cv, 200 * (a - f).abs() / (a.abs() + f.abs()))
    assert smape == pytest.approx(metrics["overall"]["seasonal_naive"]["smape"], rel=1e-12)
    # MASE's scale: the mean absolute seasonal (24 h) difference of the history to the cut-off
    for (name, cutoff), scale in cv.groupby(["unique_id", "cutoff"])["mase_scale"].first().items():
        rows = frame[(frame["unique_id"] == name) & (frame["ds"] <= pd.Timestamp(cutoff))]
        y = rows["y"].to_numpy().astype("float32").astype("float64")
        assert scale == pytest.approx(abs(y[24:] - y[:-24]).mean(), rel=1e-9)

    result = run("evaluate", "--windows", "2", "--forecasts", "cv.parquet", "-o", "m.json")
    assert result.exit_code == 0, result.stderr
    parquet = pd.read_parquet(here / "cv.parquet")
    assert (
        parquet["y_hat"].dtype == "float32" and parquet["sample"].tolist() == cv["sample"].tolist()
    )
    assert parquet["y_hat"].astype("float64").tolist() == cv["y_hat"].tolist()


def test_evaluate_forecasts_file_is_checked_first_and_never_touched_on_failure(here):
    _trained_with_holdout(here)
    (here / "cv.csv").write_text("previous\n")
    (here / "metrics.json").write_text("{}\n")
    assert _error(run("evaluate", "--forecasts", "cv.txt")) == (
        "error: --forecasts 'cv.txt' must end in .csv or .parquet: the extension picks the format"
    )
    assert _error(run("evaluate", "s.csv", "--forecasts", "s.csv")) == (
        "error: --forecasts 's.csv' is the input data file 's.csv': writing it would destroy "
        "it; choose another path"
    )
    make_long(n_series=2, length=150).rename(columns={"y": "value"}).to_csv(
        here / "other.csv", index=False
    )
    assert _error(run("evaluate", "other.csv", "--forecasts", "cv.csv")) == (
        "error: column 'y' not found in 'other.csv' (columns: unique_id, ds, value): the model "
        "reads its values from column 'y', as in its training data: give data with that "
        "column, or retrain on this data"
    )
    assert (here / "cv.csv").read_text() == "previous\n"
    assert (here / "metrics.json").read_text() == "{}\n"


def test_evaluate_writes_the_metrics_to_stdout_and_the_tables_to_stderr(here):
    _trained_with_holdout(here)
    assert run("evaluate", "--windows", "2").exit_code == 0
    on_file = json.loads((here / "metrics.json").read_text())
    (here / "metrics.json").unlink()
    result = run("evaluate", "--windows", "2", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == on_file  # stdout holds the JSON and nothing else
    assert not (here / "metrics.json").exists()
    lines = result.stderr.splitlines()
    assert "backtest, out-of-sample: 2 window(s) of 6 steps in 2 series (season 24)" in lines
    assert "backtest, in-sample: 2 window(s) of 6 steps in 2 series (season 24)" in lines
    assert lines[-2:] == [
        "note: 2 of 4 backtest windows lie inside the model's training data (before each "
        "series' training cut-off): they are scored apart, as in-sample; the 2 out-of-sample "
        "ones give the honest estimate",
        "wrote the metrics to standard output",
    ]
    result = run("evaluate", "--windows", "2", "-o", "-", "--quiet", "--forecasts", "cv.csv")
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout) == on_file and (here / "cv.csv").exists()


def test_predict_and_evaluate_read_csv_from_stdin(here):
    from rnncast.cli.app import app
    from tests.cli.conftest import runner

    _trained_with_holdout(here)
    text = (here / "s.csv").read_text()
    result = runner.invoke(app, ["predict", "-", "-o", "-"], input=text)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == run("predict", "s.csv", "-o", "-").stdout
    assert result.stderr.splitlines()[0] == (
        "read <stdin>: 2 series, 300 values, long (id 'unique_id', time 'ds', value 'y'), "
        "hourly ('h')"
    )
    result = runner.invoke(app, ["evaluate", "-", "-o", "-", "--quiet"], input=text)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["data"] == "<stdin>"
    (here / "forecast.csv").write_text("previous\n")
    assert _error(runner.invoke(app, ["predict", "-"], input="")) == (
        "error: '<stdin>' is empty: give a CSV file with a header row and data"
    )
    renamed = text.replace(",y\n", ",value\n", 1)
    assert _error(runner.invoke(app, ["evaluate", "-"], input=renamed)) == (
        "error: column 'y' not found in '<stdin>' (columns: unique_id, ds, value): the model "
        "reads its values from column 'y', as in its training data: give data with that "
        "column, or retrain on this data"
    )
    lines = text.splitlines(keepends=True)
    lines[3] = ",".join([*lines[3].split(",")[:2], "abc\n"])
    assert _error(runner.invoke(app, ["predict", "-"], input="".join(lines))) == (
        "error: column 'y' in '<stdin>' has 1 non-numeric value (line 4: 'abc'): fix the values "
        "or pick another column with --target"
    )
    assert (here / "forecast.csv").read_text() == "previous\n"
    assert not (here / "metrics.json").exists()


def test_a_model_without_training_cutoffs_says_in_sample_is_unknown(here):
    from rnncast.store.artifact import load

    _trained_with_holdout(here)
    model = load(here / "model.rnncast")
    model.cutoffs = []
    model.save(here / "old.rnncast")
    result = run("evaluate", "-m", "old.rnncast", "--windows", "2")
    assert result.exit_code == 0, result.stderr
    assert (
        result.stdout.splitlines()[0] == "backtest: 2 series x 2 window(s) of 6 steps (season 24)"
    )
    assert (
        "note: the model file records no training cut-offs, so whether the backtest windows lie "
        "inside its training data is unknown (scored as 'unknown'); retrain to record them"
    ) in result.stderr.splitlines()
    split = json.loads((here / "metrics.json").read_text())["by_sample"]
    assert split["unknown"]["windows"] == 4 and split["in_sample"]["windows"] == 0


# ---- --init-from: update a model instead of retraining ------------------------------------

SOURCE = ["--max-epochs", "2", "--epoch-size", "128", "--batch-size", "64", "--hidden-size",
          "8", "--ensemble", "2", "--horizon", "6", "--device", "cpu", "--seed", "1"]  # fmt: skip


def _sources(here):
    """Hourly data, the first 170 steps of it, and the model trained on those (2 members)."""
    full = make_long(n_series=3, length=200)
    full.to_csv(here / "full.csv", index=False)
    full.groupby("unique_id").head(170).to_csv(here / "old.csv", index=False)
    assert run("train", "old.csv", *SOURCE, "--out", "m.rnncast").exit_code == 0
    return full


def _weights(path):
    from rnncast.store.artifact import load

    return load(path).weights


def test_init_from_updates_the_model_keeping_its_settings_and_records_its_source(here):
    import hashlib

    _sources(here)
    sha = hashlib.sha256((here / "m.rnncast").read_bytes()).hexdigest()
    result = run("train", "full.csv", "--init-from", "m.rnncast", "--out", "u.rnncast",
                 "--max-epochs", "2")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    source = json.loads(run("info", "m.rnncast", "--json").stdout)
    assert f"starting from the 2 networks of 'm.rnncast' (sha256 {sha[:12]}, written " in (
        result.stderr
    )
    assert "): --lr 0.0001, at most 2 epochs, --patience 3\n" in result.stderr
    updated = json.loads(run("info", "u.rnncast", "--json").stdout)
    recorded = updated["init_from"]
    assert recorded["data_fingerprint"].startswith(source["data"]["fingerprint"])  # info: 16
    assert recorded == {"path": "m.rnncast", "sha256": sha, "created": source["created"],
                        "rnncast_version": source["rnncast_version"],
                        "data_fingerprint": recorded["data_fingerprint"]}  # fmt: skip
    assert updated["model"] == source["model"] and updated["window"] == source["window"]
    assert updated["data"]["values"] == 600 and source["data"]["values"] == 510
    # the source's training settings, but a shorter, gentler schedule, on this run's device
    own = ("lr", "patience", "max_epochs", "device")
    assert {k: v for k, v in updated["train"].items() if k not in own} == {
        k: v for k, v in source["train"].items() if k not in own
    }
    assert (source["train"]["device"], updated["train"]["device"]) == ("cpu", "auto")
    assert (updated["train"]["lr"], updated["train"]["patience"]) == (0.0001, 3)
    assert "init_from" not in source  # a model trained from scratch says nothing of it
    assert run("predict", "full.csv", "--model", "u.rnncast").exit_code == 0
    assert "init_from.sha256" in run("info", "u.rnncast").stdout


def test_init_from_starts_from_the_saved_weights(here):
    """With a learning rate too small to move a weight, no epoch beats the source's own
    validation loss: the update ends with the source's weights, bit for bit (a network that
    started from random weights could not)."""
    import torch

    _sources(here)
    result = run("train", "full.csv", "--init-from", "m.rnncast", "--out", "u.rnncast",
                 "--lr", "1e-12", "--max-epochs", "1")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "best epoch 0 of 1" in result.stderr
    source, updated = _weights(here / "m.rnncast"), _weights(here / "u.rnncast")
    assert len(source) == len(updated) == 2
    for a, b in zip(source, updated, strict=True):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    result = run("train", "full.csv", "--init-from", "m.rnncast", "--out", "v.rnncast",
                 "--max-epochs", "1", "--lr", "0.01")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    moved = _weights(here / "v.rnncast")[0]
    assert any(not torch.equal(source[0][k], moved[k]) for k in moved)


def test_init_from_conflicting_options_are_one_line_naming_both(here):
    _sources(here)
    before = (here / "m.rnncast").read_bytes()
    cases = {
        ("--cell", "lstm"): "--init-from 'm.rnncast' was trained with --cell gru; --cell lstm "
        "conflicts: drop --cell or train from scratch",
        ("--hidden-size", "16"): "--init-from 'm.rnncast' was trained with --hidden-size 8; "
        "--hidden-size 16 conflicts: drop --hidden-size or train from scratch",
        ("--lookback", "24"): "--init-from 'm.rnncast' was trained with --lookbacks 24,48; "
        "--lookback 24 conflicts: drop --lookback or train from scratch",
        ("--calendar",): "--init-from 'm.rnncast' was trained with --no-calendar; --calendar "
        "conflicts: drop --calendar or train from scratch",
        ("--ensemble", "3"): "--init-from 'm.rnncast' was trained with --ensemble 2; "
        "--ensemble 3 conflicts: drop --ensemble or train from scratch",
    }
    for args, message in cases.items():
        for out in ("x.rnncast", "m.rnncast"):  # a new file, or the update in place
            result = run("train", "full.csv", "--init-from", "m.rnncast", *args, "--out", out)
            assert _error(result) == f"error: {message}"
            assert not (here / "x.rnncast").exists()
            assert (here / "m.rnncast").read_bytes() == before
    # given, but as the model was trained: no conflict
    ok = run("train", "full.csv", "--init-from", "m.rnncast", "--hidden-size", "8", "--cell",
             "gru", "--lookbacks", "24,48", "--max-epochs", "1", "--out", "x.rnncast")  # fmt: skip
    assert ok.exit_code == 0, ok.stderr
    (here / "c.toml").write_text('[train]\ncell = "rnn"\n')  # a config file's option is given
    assert _error(run("train", "full.csv", "--init-from", "m.rnncast", "--config", "c.toml",
                      "--out", "y.rnncast")) == (
        "error: --init-from 'm.rnncast' was trained with --cell gru; --cell rnn conflicts: "
        "drop --cell or train from scratch"
    )  # fmt: skip
    assert not (here / "y.rnncast").exists()


def test_init_from_a_missing_or_damaged_file_is_one_line(here):
    _sources(here)
    (here / "bad.rnncast").write_bytes(b"not a model")
    whole = (here / "m.rnncast").read_bytes()
    (here / "cut.rnncast").write_bytes(whole[: len(whole) // 2])
    cases = {
        "none.rnncast": "error: model file 'none.rnncast' not found: check the path given to "
        "--init-from, or train from scratch without it",
        "bad.rnncast": "error: 'bad.rnncast' is not a readable rnncast model file (truncated, "
        "damaged or another kind of file): pass a file written by 'rnncast train', or retrain",
        "cut.rnncast": "error: 'cut.rnncast' is not a readable rnncast model file (truncated, "
        "damaged or another kind of file): pass a file written by 'rnncast train', or retrain",
        ".": "error: model file '.' is a folder: pass the model file with --init-from",
    }
    for path, message in cases.items():
        result = run("train", "full.csv", "--init-from", path, "--out", "x.rnncast")
        assert _error(result) == message
        assert not (here / "x.rnncast").exists()


def test_init_from_takes_new_series(here):
    full = _sources(here)
    more = make_long(n_series=2, length=200, seed=5)
    more["unique_id"] = more["unique_id"].str.replace("s", "new")
    pd.concat([full, more]).to_csv(here / "more.csv", index=False)
    result = run("train", "more.csv", "--init-from", "m.rnncast", "--out", "u.rnncast",
                 "--max-epochs", "1")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(run("info", "u.rnncast", "--json").stdout)["data"]["series"] == 5
    assert run("predict", "more.csv", "--model", "u.rnncast").exit_code == 0
    forecast = pd.read_csv(here / "forecast.csv")
    assert sorted(forecast["unique_id"].unique()) == ["new0", "new1", "s0", "s1", "s2"]


def test_init_from_data_unlike_the_models_is_refused(here):
    full = _sources(here)
    daily = full.assign(ds=lambda f: f.groupby("unique_id").cumcount().map(
        lambda n: pd.Timestamp("2024-01-01") + pd.Timedelta(days=n)))  # fmt: skip
    daily.to_csv(here / "daily.csv", index=False)
    message = _error(run("train", "daily.csv", "--init-from", "m.rnncast", "--out", "x.rnncast"))
    assert message.startswith("error: 'daily.csv' has ") and message.endswith(
        ": give data like the model's training data"
    )
    full.assign(y=lambda f: f["y"] - 100).to_csv(here / "negative.csv", index=False)
    message = _error(run("train", "negative.csv", "--init-from", "m.rnncast",
                         "--out", "x.rnncast"))  # fmt: skip
    assert message.endswith(
        "but --transform log needs every value above 0: --init-from 'm.rnncast' was trained on "
        "them; fix those values, or train from scratch with --transform none"
    )
    assert not (here / "x.rnncast").exists()


def test_init_from_refuses_the_echo_state_network(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST_ESN, "--cell", "esn", "--reservoir-size", "20",
               "--horizon", "6", "--out", "e.rnncast").exit_code == 0  # fmt: skip
    assert _error(run("train", "s.csv", "--init-from", "e.rnncast", "--out", "x.rnncast")) == (
        "error: --init-from 'e.rnncast' is an echo state network (--cell esn), whose readout is "
        "solved in closed form, not trained step by step: there is nothing to go on from; train "
        "it from scratch on the new data (it takes seconds)"
    )


def test_init_from_print_config_shows_the_models_settings(here):
    _sources(here)
    result = run("train", "full.csv", "--init-from", "m.rnncast", "--print-config")
    assert result.exit_code == 0, result.stderr
    printed = result.stdout
    for line in (
        'init-from = "m.rnncast"',
        "hidden-size = 8",
        "ensemble = 2",
        "lr = 0.0001",
        "max-epochs = 2",
        "patience = 3",
        'lookbacks = "24,48"',
        "horizon = 6",
    ):
        assert f"\n{line}\n" in printed, line  # fmt: skip
    (here / "u.toml").write_text(printed.replace("max-epochs = 2", "max-epochs = 1"))
    result = run("train", "--config", "u.toml", "--out", "u.rnncast")  # it is a config file
    assert result.exit_code == 0, result.stderr


def test_init_from_a_model_file_written_before_the_redesign(here):
    """rnncast 0.1.0's model file (tests/golden): a quantile model of two members."""
    from tests.test_golden import GOLDEN

    shutil.copy(SAMPLE / "air_passengers.csv", here / "air.csv")
    shutil.copy(GOLDEN / "model_0.1.0.rnncast", here / "old.rnncast")
    result = run("train", "air.csv", "--init-from", "old.rnncast", "--max-epochs", "1",
                 "--out", "new.rnncast")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    old, new = (json.loads(run("info", m, "--json").stdout) for m in ("old.rnncast", "new.rnncast"))
    assert new["model"] == old["model"] and new["model"]["quantiles"] == [0.1, 0.9]
    assert new["init_from"]["path"] == "old.rnncast" and new["intervals"]
