"""End to end through the CLI with Typer's CliRunner: exact messages and exit codes."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from rnncast import __version__
from rnncast.cli import app
from tests.conftest import SAMPLE, make_long

runner = CliRunner()
FAST = ["--max-epochs", "2", "--epoch-size", "128", "--batch-size", "64", "--hidden-size", "8",
        "--num-layers", "1", "--ensemble", "1", "--device", "cpu"]  # fmt: skip


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_command_has_help():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("train", "predict", "evaluate", "info"):
        assert command in result.stdout
        sub = run(command, "--help")
        assert sub.exit_code == 0, command
        assert "Exit codes: 0 success; 1 a problem you can fix" in " ".join(sub.stdout.split())


def test_help_shows_defaults_verbatim():
    text = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "250"}).stdout
    assert "Past steps the model reads (default: 3 x horizon)." in text
    assert "Series id column (long data) (default: unique_id)." in text


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"rnncast {__version__}\n"


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


def test_progress_lines_without_a_terminal_and_quiet(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6")
    assert result.exit_code == 0, result.stderr
    epochs = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2 and epochs[0].startswith("epoch 1/2 loss ")
    assert "\x1b[" not in result.stderr
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--quiet")
    assert result.exit_code == 0
    assert result.stderr == "" and result.stdout == ""


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


def _error(result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.stderr, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith("error")] == lines[-1:], lines
    return lines[-1]


def test_train_errors_leave_no_model(here):
    assert _error(run("train", "missing.csv")) == (
        "error: data file 'missing.csv' not found: check the path"
    )
    assert _error(run("train", "x.csv", "--out", "nope/m.rnncast")) == (
        "error: --out 'nope/m.rnncast': folder 'nope' does not exist; create it or choose "
        "another path"
    )
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    assert _error(run("train", "s.csv", "--cell", "tcn")) == (
        "error: --cell must be one of rnn, lstm, gru, got 'tcn'"
    )
    frame = make_long(n_series=2, length=100)
    frame.loc[5, "y"] = float("nan")
    frame.to_csv(here / "nan.csv", index=False)
    assert _error(run("train", "nan.csv")) == (
        "error: column 'y' in 'nan.csv' has 1 missing value (first: series 's0' at "
        "2024-01-01 05:00:00, line 7): fill or remove them before training"
    )
    assert _error(run("train", "s.csv", "--lookback", "90", "--horizon", "12")) == (
        "error: 1 series is shorter than lookback 90 + horizon 12 = 102 values: 's0' (100); "
        "pass a smaller --lookback or drop them"
    )
    assert _error(run("train", "s.csv", "--device", "tpu")) == (
        "error: --device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"
    )
    assert not list(here.glob("*.rnncast")) and not list(here.glob(".*tmp"))


def test_usage_errors_exit_2(here):
    assert run("train").exit_code == 2
    assert run("train", "x.csv", "--no-such-option").exit_code == 2
    assert run("train", "x.csv", "--hidden-size", "many").exit_code == 2
    assert run("evaluate", "--windows", "0").exit_code == 2
    for option in ("--segment", "--horizon", "--lookback"):
        assert run("train", "x.csv", option, "0").exit_code == 2


def test_predict_and_evaluate_errors_change_no_file(here):
    assert _error(run("predict")) == (
        "error: model file 'model.rnncast' not found: train one with 'rnncast train DATA' or "
        "pass --model"
    )
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    (here / "forecast.csv").write_text("previous\n")
    (here / "metrics.json").write_text("{}\n")
    assert _error(run("predict", "--horizon", "7")) == (
        "error: --horizon 7 is beyond what the model was trained for (6): use 1 to 6, or "
        "retrain with --horizon 7"
    )
    assert _error(run("predict", "--out", "f.xlsx")) == (
        "error: --out 'f.xlsx' must end in .csv or .parquet: the extension picks the format"
    )
    pd.DataFrame({"unique_id": ["a"] * 30, "ds": range(30), "value": range(30)}).to_csv(
        here / "other.csv", index=False
    )
    assert _error(run("predict", "other.csv")) == (
        "error: column 'y' not found in 'other.csv' (columns: unique_id, ds, value): name the "
        "right column with --target"
    )
    make_long(n_series=2, length=60, freq="D").to_csv(here / "daily.csv", index=False)
    assert _error(run("evaluate", "daily.csv")) == (
        "error: 'daily.csv' has daily ('D') times but the model was trained on hourly ('h') "
        "data: give data like the model's training data"
    )
    (here / "broken.rnncast").write_bytes((here / "model.rnncast").read_bytes()[:100])
    assert _error(run("predict", "--model", "broken.rnncast")) == (
        "error: 'broken.rnncast' is not a readable rnncast model file (truncated, damaged or "
        "another kind of file): pass a file written by 'rnncast train', or retrain"
    )
    assert _error(run("info", "broken.rnncast")).startswith("error: 'broken.rnncast' is not")
    (here / "s.csv").unlink()
    assert _error(run("evaluate")) == (
        "error: the training data recorded in the model ('s.csv') no longer exists: pass DATA"
    )
    assert (here / "forecast.csv").read_text() == "previous\n"
    assert (here / "metrics.json").read_text() == "{}\n"


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


def test_outputs_never_overwrite_the_inputs(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    before = (here / "s.csv").read_bytes()
    assert _error(run("train", "s.csv", "-o", "s.csv")) == (
        "error: --out 's.csv' is the input data file 's.csv': writing it would destroy the data; "
        "choose another path"
    )
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    message = _error(run("predict", "-o", "s.csv"))
    assert message.startswith("error: --out 's.csv' is the input data file '") and message.endswith(
        "s.csv': writing it would destroy the data; choose another path"
    )
    assert (here / "s.csv").read_bytes() == before


def test_info_prints_names_verbatim(here):
    frame = make_long(n_series=2, length=150)
    frame["unique_id"] = frame["unique_id"].map({"s0": "[/red]", "s1": "[bold]x"})
    frame.to_csv(here / "s.csv", index=False)
    folder = here / "br[/x]"
    folder.mkdir(parents=True)
    assert run("train", "s.csv", *FAST, "--horizon", "6", "-o", folder / "m.rnncast").exit_code == 0
    result = runner.invoke(app, ["info", str(folder / "m.rnncast")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "[/red], [bold]x" in result.stdout and "br[/x]" in result.stdout


def test_ensemble_reports_each_model(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--ensemble", "2")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert sum(line.startswith("training gru (1 x 8) on cpu, model ") for line in lines) == 2
    assert [line.split(":")[0] for line in lines if line.startswith("model ")] == [
        "model 1 of 2",
        "model 2 of 2",
    ]
    described = json.loads(run("info", "--json").stdout)
    assert described["training"]["members"] == 2


def test_decoder_is_stored_in_the_model(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--decoder", "parallel")
    assert result.exit_code == 0, result.stderr
    described = json.loads(run("info", "--json").stdout)
    assert described["model"]["decoder"] == "parallel"
    assert run("predict").exit_code == 0
    assert run("train", "s.csv", *FAST, "--decoder", "seq9").exit_code == 1


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
