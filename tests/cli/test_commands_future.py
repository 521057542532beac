"""Future-known covariates on the command line: train, predict and evaluate with
--future-covariates, and each mistake's one line and exit code, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.cli.conftest import FAST, error, run

HORIZON = ["--horizon", "6", "--lookback", "24"]


def _promo_csv(path, after: int = 6) -> pd.DataFrame:
    """Two hourly series with a 0/1 promotion flag, and `after` rows past each series' last
    value with the flag and no value, written to `path`."""
    rng = np.random.default_rng(1)
    parts = []
    for name in ("a", "b"):
        promo = (rng.random(100 + after) < 0.3).astype(int)
        y = (20 + 10 * promo + rng.normal(0, 0.5, 100 + after)).round(3)
        y[100:] = np.nan
        times = pd.date_range("2024-03-01", periods=100 + after, freq="h")
        parts.append(pd.DataFrame({"unique_id": name, "ds": times, "y": y, "promo": promo}))
    frame = pd.concat(parts, ignore_index=True)
    frame.to_csv(path, index=False)
    return frame


def test_train_predict_evaluate_with_future_covariates(here):
    frame = _promo_csv(here / "s.csv")
    result = run("train", "s.csv", *FAST, *HORIZON, "--future-covariates", "promo")
    assert result.exit_code == 0, result.stderr
    assert "future covariates given for 6 steps after each series' last value" in result.stderr
    assert json.loads(run("info", "--json").stdout)["model"]["future_covariate_count"] == 1
    assert run("predict").exit_code == 0
    forecast = pd.read_csv(here / "forecast.csv")
    future = frame[frame.y.isna()]
    assert forecast.ds.tolist() == future.ds.dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    assert run("evaluate").exit_code == 0
    assert json.loads((here / "metrics.json").read_text())["windows_scored"] == 2


def test_predict_refuses_data_without_the_future_rows_it_needs(here):
    _promo_csv(here / "s.csv")
    assert run("train", "s.csv", *FAST, *HORIZON, "--future-covariates", "promo").exit_code == 0
    (here / "forecast.csv").write_text("kept\n")
    frame = _promo_csv(here / "few.csv", after=4)
    frame.drop(index=frame.index[frame.unique_id == "a"][-1]).to_csv(here / "few.csv", index=False)
    assert error(run("predict", "few.csv")) == (
        "error: series 'a' in 'few.csv' has future covariates (promo) for 3 of the 6 steps after "
        "its last value at 2024-03-05 03:00:00: the model reads them for its whole horizon; "
        "add rows up to 2024-03-05 09:00:00 with them filled and 'y' empty (2 series short in "
        "all)"
    )
    _promo_csv(here / "none.csv", after=0)
    assert error(run("predict", "none.csv", "-o", "f.csv")).startswith(
        "error: series 'a' in 'none.csv' has future covariates (promo) for 0 of the 6 steps"
    )
    assert (here / "forecast.csv").read_text() == "kept\n" and not (here / "f.csv").exists()
    assert run("evaluate", "none.csv").exit_code == 0  # a backtest reads the history's own


def test_a_missing_future_covariate_value_names_the_series_and_time(here):
    _promo_csv(here / "s.csv")
    assert run("train", "s.csv", *FAST, *HORIZON, "--future-covariates", "promo").exit_code == 0
    lines = (here / "s.csv").read_text().splitlines()
    lines[104] = lines[104].rsplit(",", 1)[0] + ","  # a's promo, 2 steps after its last value
    (here / "nan.csv").write_text("\n".join(lines) + "\n")
    said = (
        "error: future covariate column 'promo' in 'nan.csv' has 1 missing or infinite value "
        "(first: series 'a' at 2024-03-05 07:00:00, line 105): fill them, in the rows after "
        "each series' last value too"
    )
    for command, out in (("predict", "out.csv"), ("evaluate", "out.json")):
        assert error(run(command, "nan.csv", "-o", out)) == said
        assert not (here / out).exists()
    assert error(run("train", "nan.csv", *FAST, *HORIZON, "--future-covariates", "promo",
                     "-o", "m2.rnncast")) == said  # fmt: skip
    assert not (here / "m2.rnncast").exists()


def test_future_covariate_mistakes_at_train(here):
    frame = _promo_csv(here / "s.csv")
    assert error(run("train", "s.csv", *FAST, "--future-covariates", "prmo")) == (
        "error: column 'prmo' not found in 's.csv' (columns: unique_id, ds, y, promo): did you "
        "mean 'promo'? name the right column with --future-covariates"
    )
    wide = frame.pivot(index="ds", columns="unique_id", values="y").reset_index()
    wide.assign(promo=1).to_csv(here / "wide.csv", index=False)
    assert error(run("train", "wide.csv", *FAST, "--future-covariates", "promo")) == (
        "error: --future-covariates needs long data (one row per series and time, covariates "
        "as columns beside the value), but 'wide.csv' is laid out as wide (time 'ds'; series "
        "columns a, b, promo)"
    )
    recursive = run(
        "train", "s.csv", *FAST, "--future-covariates", "promo", "--decoder", "recursive"
    )
    assert error(recursive) == (
        "error: --decoder recursive does not take --future-covariates yet: use --decoder "
        "direct or parallel with --cell rnn, lstm or gru, or drop it"
    )
    assert error(run("train", "s.csv", "--cell", "esn", "--future-covariates", "promo")) == (
        "error: --cell esn does not take --future-covariates yet: use --decoder direct or "
        "parallel with --cell rnn, lstm or gru, or drop it"
    )
    both = run("train", "s.csv", *FAST, "--future-covariates", "promo", "--covariates", "promo")
    assert error(both) == (
        "error: column 'promo' is given to both --covariates and --future-covariates: name it "
        "in one (a future covariate is read over the lookback too)"
    )
    assert error(run("train", "s.csv", *FAST)).startswith(  # empty values, no option
        "error: column 'y' in 's.csv' has 12 missing values"
    )
    assert not (here / "model.rnncast").exists()


def test_predict_data_without_the_future_covariate_column(here):
    frame = _promo_csv(here / "s.csv")
    assert run("train", "s.csv", *FAST, *HORIZON, "--future-covariates", "promo").exit_code == 0
    frame.drop(columns="promo").to_csv(here / "new.csv", index=False)
    assert error(run("predict", "new.csv")) == (
        "error: column 'promo' not found in 'new.csv' (columns: unique_id, ds, y): the model "
        "reads a future covariate from column 'promo', as in its training data: give data with "
        "that column, or retrain on this data"
    )


def test_parquet_data_keeps_its_future_covariate_columns(here):
    """Long Parquet is read for its id, time, value and covariate columns only: the future
    covariates are among them, at train and at predict."""
    _promo_csv(here / "s.csv").to_parquet(here / "s.parquet", index=False)
    result = run("train", "s.parquet", *FAST, *HORIZON, "--future-covariates", "promo")
    assert result.exit_code == 0, result.stderr
    assert run("predict", "-o", "p.csv").exit_code == 0  # the model's data, re-read
    assert run("train", "s.csv", *FAST, *HORIZON, "--future-covariates", "promo",
               "-o", "c.rnncast").exit_code == 0  # fmt: skip
    assert run("predict", "s.parquet", "-m", "c.rnncast", "-o", "c.csv").exit_code == 0
    assert pd.read_csv(here / "p.csv").ds.equals(pd.read_csv(here / "c.csv").ds)
    assert len(pd.read_csv(here / "p.csv")) == 12
