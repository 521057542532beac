"""End to end through the CLI with Typer's CliRunner: exact messages and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from rnncast import __version__
from rnncast.cli.app import app
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
        "error: --cell must be one of rnn, lstm, gru, esn, got 'tcn'"
    )
    frame = make_long(n_series=2, length=100)
    frame.loc[5, "y"] = float("nan")
    frame.to_csv(here / "nan.csv", index=False)
    assert _error(run("train", "nan.csv")) == (
        "error: column 'y' in 'nan.csv' has 1 missing value (first: series 's0' at "
        "2024-01-01 05:00:00, line 7): fill or remove them, or pass "
        "--fill ffill, interpolate or zero"
    )
    assert _error(run("train", "s.csv", "--lookback", "90", "--horizon", "12")) == (
        "error: 1 series is shorter than lookback 90 + horizon 12 = 102 values: 's0' (100); "
        "pass a smaller --lookback, or --skip-short to leave them out"
    )
    assert _error(run("train", "s.csv", "--device", "tpu")) == (
        "error: --device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"
    )
    assert _error(run("train", "s.csv", "--device", "cpu", "--precision", "fp16")) == (
        "error: --precision fp16 is for CUDA GPUs, not cpu: pass --precision fp32 or auto"
    )
    assert _error(run("train", "s.csv", "--data-on", "disk")) == (
        "error: --data-on must be one of auto, device, host, got 'disk'"
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
    assert _error(run("train", "s.csv", "--transform", "sqrt")) == (
        "error: --transform must be one of auto, none, log, got 'sqrt'"
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


def test_outputs_never_overwrite_the_inputs(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    before = (here / "s.csv").read_bytes()
    assert _error(run("train", "s.csv", "-o", "s.csv")) == (
        "error: --out 's.csv' is the input data file 's.csv': writing it would destroy it; "
        "choose another path"
    )
    assert _error(run("train", "s.csv", "--resume", "s.csv")) == (
        "error: --resume 's.csv' is the input data file 's.csv': writing it would destroy it; "
        "choose another path"
    )
    assert _error(run("train", "s.csv", "--checkpoint", "model.rnncast")) == (
        "error: --checkpoint 'model.rnncast' is --out 'model.rnncast': writing it would destroy "
        "it; choose another path"
    )
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    model = (here / "model.rnncast").read_bytes()
    message = _error(run("predict", "-o", "s.csv"))
    assert message.startswith("error: --out 's.csv' is the input data file '") and message.endswith(
        "s.csv': writing it would destroy it; choose another path"
    )
    assert _error(run("predict", "-o", "model.rnncast.csv", "--plot", "model.rnncast")) == (
        "error: --plot 'model.rnncast' is the model file 'model.rnncast': writing it would "
        "destroy it; choose another path"
    )
    assert _error(run("evaluate", "-o", "f.json", "--plot", "f.json")) == (
        "error: --plot 'f.json' is --out 'f.json': writing it would destroy it; choose another path"
    )
    assert _error(run("predict", "-o", "f.csv", "--plot", "p.png", "--model", "p.png")) == (
        "error: --plot 'p.png' is the model file 'p.png': writing it would destroy it; choose "
        "another path"
    )
    assert (here / "s.csv").read_bytes() == before
    assert (here / "model.rnncast").read_bytes() == model


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
    summary = result.stderr[result.stderr.index("trained model.rnncast") :]
    for row in ("data", "windows", "network", "best epoch", "validation loss", "time"):
        assert f"│ {row} " in summary, row
    assert "gru (1 x 8), direct decoder, segments of 24, in logs, 2 " in summary


def test_json_logs_are_one_object_per_line(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert [e["event"] for e in events] == [
        "start", "info", "info", "info", "model", "epoch", "epoch", "info", "done"
    ]  # fmt: skip
    assert all(e["command"] == "train" and e["time"].endswith("+00:00") for e in events)
    assert events[0]["data"] == "s.csv" and events[0]["out"] == "model.rnncast"
    assert events[1]["message"].startswith("read s.csv: 2 series")
    assert events[4]["train_windows"] > 0 and events[4]["parameters"] > 0
    assert events[5]["epoch"] == 1 and isinstance(events[5]["train_loss"], float)
    assert events[-1]["message"] == "saved model.rnncast" and events[-1]["out"] == "model.rnncast"

    result = run("predict", "--log-format", "json")
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert [e["event"] for e in events] == ["start", "info", "done"]
    assert events[-1]["rows"] == 12 and events[-1]["series"] == 2

    result = run("evaluate", "--log-format", "json")
    assert result.stdout == ""  # the table is for people; the metrics are in the done event
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert events[-1]["event"] == "done" and "mase" in events[-1]["overall"]["model"]


def test_json_errors_and_quiet(here):
    result = run("train", "missing.csv", "--log-format", "json", "--quiet")
    assert result.exit_code == 1
    [event] = [json.loads(line) for line in result.stderr.splitlines()]
    assert (event["event"], event["exit_code"], event["message"]) == (
        "error", 1, "data file 'missing.csv' not found: check the path"
    )  # fmt: skip
    assert run("train", "x.csv", "--log-format", "xml").exit_code == 2


HOLD_LOCK = (
    "import sys, time\n"
    "from rnncast.store.locks import locked\n"
    "with locked([sys.argv[1]]):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


def test_a_second_run_writing_the_same_file_fails_or_waits(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    model = (here / "model.rnncast").read_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(here / "model.rnncast"), "60"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "locked\n"
        message = _error(run("train", "s.csv", *FAST, "--horizon", "6", "--seed", "3"))
        assert message == (
            f"error: '{here / 'model.rnncast'}' is being written by another rnncast run (pid "
            f"{holder.pid}): let it finish, or pass --wait SECONDS to wait for it"
        )
        assert (here / "model.rnncast").read_bytes() == model
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    for held in ("forecast.csv", "model.rnncast"):  # predict's output, and a training run's
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(here / held), "1.5"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout.readline() == "locked\n"
            began = time.monotonic()
            result = run("predict", "--wait", "30")
            assert result.exit_code == 0, result.stderr
            assert time.monotonic() - began > 0.5, held  # it waited for the holder
        finally:
            holder.wait()
            holder.stdout.close()
    assert len(pd.read_csv(here / "forecast.csv")) == 12


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
    assert _error(run("train", "gappy.csv", "--fill", "mean")) == (
        "error: --fill must be one of none, ffill, interpolate, zero, got 'mean'"
    )


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


def test_output_in_a_read_only_folder(here):
    from tests.store.test_atomic import read_only_folder

    folder = read_only_folder(here)
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert _error(run("train", "s.csv", "-o", folder / "m.rnncast")) == (
        f"error: --out '{folder}/m.rnncast': folder '{folder}' is not writable; choose another path"
    )


def test_config_file_sets_options_and_flags_win(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    (here / "rnncast.toml").write_text(
        '[train]\ndata = "s.csv"\nhorizon = 6\nhidden-size = 8\nensemble = 1\nmax-epochs = 2\n'
        'epoch-size = 128\nbatch-size = 64\ndevice = "cpu"\nout = "m.rnncast"\n'
        '[predict]\nmodel = "m.rnncast"\nout = "f.csv"\n'
    )
    result = run("train", "--config", "rnncast.toml", "--hidden-size", "4", "--print-config")
    assert result.exit_code == 0, result.stderr
    printed = result.stdout
    assert printed.startswith('[train]\ndata = "s.csv"\nout = "m.rnncast"\ncell = "gru"\n')
    assert "hidden-size = 4\n" in printed and "lookback = 24\n" in printed
    assert "segment = 24\n" in printed and not (here / "m.rnncast").exists()
    (here / "resolved.toml").write_text(printed)  # what it prints is a config file
    result = run("train", "--config", "resolved.toml")
    assert result.exit_code == 0, result.stderr
    assert json.loads(run("info", "m.rnncast", "--json").stdout)["model"]["hidden_size"] == 4
    result = run("predict", "--config", "rnncast.toml")
    assert result.exit_code == 0, result.stderr
    assert len(pd.read_csv(here / "f.csv")) == 12


def test_config_file_mistakes_exit_1(here):
    (here / "bad.toml").write_text('[train]\nhidden-size = "many"\n')
    message = _error(run("train", "x.csv", "--config", "bad.toml"))
    assert message.startswith(
        "error: config file 'bad.toml' sets 'hidden-size' under [train] to 'many': "
    )
    assert _error(run("predict", "--config", "none.toml")) == (
        "error: config file 'none.toml' not found: check the path given to --config"
    )


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


def test_a_signal_while_writing_outputs_waits_for_them_and_says_so(here, monkeypatch):
    import os
    import signal

    from rnncast.store import atomic as outputs

    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    replace, sent = os.replace, []

    def replace_then_signal(src, dst):
        replace(src, dst)
        if not sent:  # once: as if cron's timeout hit just after the first file was in place
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(outputs.os, "replace", replace_then_signal)
    result = run("predict", "--plot", "f.png")
    assert result.exit_code == 143
    assert result.stderr.splitlines()[-1] == (
        "error: interrupted by SIGTERM: stopped after writing forecast.csv, f.png"
    )
    assert len(pd.read_csv(here / "forecast.csv")) == 12  # complete, both of them
    assert (here / "f.png").read_bytes().startswith(b"\x89PNG")
    sent.clear()
    result = run("train", "s.csv", *FAST, "--horizon", "6", "-o", "m2.rnncast")
    assert result.exit_code == 143
    assert result.stderr.splitlines()[-1] == (
        "error: interrupted by SIGTERM: stopped after writing m2.rnncast"
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
    assert "calendar = true" in run("train", "s.csv", "--calendar", "--print-config").stdout
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


def test_threads_option_and_config(here, monkeypatch):
    from rnncast.engine import threads

    seen = []
    real = threads.using

    def recording(n):
        seen.append(n)
        return real(n)

    monkeypatch.setattr(threads, "using", recording)
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6", "--threads", "1").exit_code == 0
    (here / "t.toml").write_text("[predict]\nthreads = 1\n[evaluate]\nthreads = 0\n")
    assert run("predict", "--config", "t.toml").exit_code == 0
    assert run("evaluate", "--threads", "1").exit_code == 0
    assert run("predict", "--out", "g.csv").exit_code == 0
    assert seen == [1, 1, 1, threads.default_threads()]
    for command, out in (("train", "m.rnncast"), ("predict", "f.csv"), ("evaluate", "e.json")):
        data = ["s.csv"] if command == "train" else []
        result = run(command, *data, "--threads", "0", "--out", out)
        assert _error(result) == "error: --threads must be at least 1, got 0"
        assert not (here / out).exists()
    result = run("evaluate", "--config", "t.toml", "--out", "e.json")
    assert _error(result) == "error: --threads must be at least 1, got 0"
    assert not (here / "e.json").exists()


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
        "error: column 'price' not found in 'new.csv' (columns: unique_id, ds, y): name the "
        "right column with --covariates"
    )
    assert not (here / "f2.csv").exists()


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


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_architectures_train_predict_evaluate_and_describe(here, name):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    args = ARCHITECTURES[name]
    result = run("train", "s.csv", *FAST, "--horizon", "6", *args)
    assert result.exit_code == 0, result.stderr
    model = json.loads(run("info", "--json").stdout)["model"]
    given = dict(zip(args[::2], args[1::2], strict=False))
    for option, value in given.items():
        key = option[2:].replace("-", "_")
        if key in model and not value.startswith("--"):
            assert str(model[key]) == value, option
    for flag in ("--attention", "--bidirectional", "--checkpoint-activations"):
        assert model[flag[2:].replace("-", "_")] == (flag in args), flag
    assert run("predict").exit_code == 0
    assert len(pd.read_csv(here / "forecast.csv")) == 2 * 6
    assert run("evaluate").exit_code == 0
    assert json.loads((here / "metrics.json").read_text())["overall"]["model"]["mae"] > 0


def test_esn_reports_its_reservoir_and_one_fit(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", *ARCHITECTURES["esn"])
    assert result.exit_code == 0, result.stderr
    assert "training esn (reservoir 40, radius 0.8, leak 0.5) on cpu: " in result.stderr
    assert "best epoch 1 of 1 (closed-form ridge readout (no epochs))" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--activation", "relu"], "--activation relu is for --cell rnn only (gru has its own "
         "nonlinearities): drop --activation or use --cell rnn"),
        (["--activation", "sigmoid", "--cell", "rnn"],
         "--activation must be one of tanh, relu, got 'sigmoid'"),
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
        (["--decoder", "seq3seq"],
         "--decoder must be one of direct, parallel, seq2seq, recursive, got 'seq3seq'"),
    ],
)  # fmt: skip
def test_architecture_mistakes_are_one_line_and_leave_no_model(here, args, message):
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    assert _error(run("train", "s.csv", *FAST, *args)) == f"error: {message}"
    assert not list(here.glob("*.rnncast"))


def test_print_config_shows_the_architecture(here):
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", "--decoder", "seq2seq", "--attention", "--print-config")
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


@pytest.mark.parametrize(("low", "chosen"), [(1.0, "log"), (0.0, "none")])
def test_print_config_writes_the_transform_auto_chose(here, low, chosen):
    frame = make_long(n_series=1, length=100)
    frame.loc[5, "y"] = low
    frame.to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", "--print-config")
    assert result.exit_code == 0, result.stderr
    assert f'transform = "{chosen}"' in result.stdout.splitlines()


@pytest.mark.parametrize("freq", ["YS", "B", "SMS", "W-SUN"])
def test_frequencies_without_calendar_cycles_train_predict_and_evaluate(here, freq):
    times = pd.date_range("2001-01-01", periods=60, freq=freq)
    pd.DataFrame({"ds": times, "a": range(60), "b": range(60, 120)}).to_csv("w.csv", index=False)
    result = run("train", "w.csv", *FAST, "--horizon", "3", "--calendar", "--freq", freq)
    assert result.exit_code == 0, result.stderr
    assert run("predict").exit_code == 0 and run("evaluate").exit_code == 0


class _Exited(Exception):
    """What the patched os._exit raises, with the code it was given."""


@pytest.mark.parametrize(
    ("torchrun", "argv", "code"),
    [(True, ["--version"], 0), (True, ["train"], 2), (False, ["--version"], None)],
)
def test_torchrun_processes_exit_without_teardown(monkeypatch, capsys, torchrun, argv, code):
    """Under torchrun (after torch.distributed was imported) the exit skips the interpreter's
    teardown, where torch's gloo threads aborted now and then; with its code, output flushed.
    One process exits the usual way."""
    import os

    import torch.distributed  # noqa: F401 - any command that joined a group imported it

    from rnncast.cli import app as cli

    def fake_exit(status: int) -> None:
        raise _Exited(status)

    monkeypatch.setattr(os, "_exit", fake_exit)
    if torchrun:
        monkeypatch.setenv("RANK", "0")
        monkeypatch.setenv("WORLD_SIZE", "2")
    else:
        monkeypatch.delenv("RANK", raising=False)
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(sys, "argv", ["rnncast", *argv])
    with pytest.raises(_Exited if torchrun else SystemExit) as e:
        cli.main()
    assert e.value.args[0] == code if torchrun else e.value.code == 0
    if argv == ["--version"]:
        assert capsys.readouterr().out == f"rnncast {__version__}\n"
