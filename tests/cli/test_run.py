"""A run's life cycle: one-line errors that change no file, outputs never the inputs, locks,
signals while writing."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.cli.conftest import FAST, run, usage_error
from tests.cli.conftest import error as _error
from tests.conftest import make_long


def test_train_errors_leave_no_model(here):
    assert _error(run("train", "missing.csv")) == (
        "error: data file 'missing.csv' not found: check the path"
    )
    assert _error(run("train", "x.csv", "--out", "nope/m.rnncast")) == (
        "error: --out 'nope/m.rnncast': folder 'nope' does not exist; create it or choose "
        "another path"
    )
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    said = usage_error(run("train", "s.csv", "--cell", "tcn"))  # choices are usage errors
    assert "Invalid value for '--cell'" in said and "'tcn' is not one of" in said
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
    assert "'disk' is not one of 'auto', 'device', 'host'" in usage_error(
        run("train", "s.csv", "--data-on", "disk")
    )
    assert not list(here.glob("*.rnncast")) and not list(here.glob(".*tmp"))


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
        "error: column 'y' not found in 'other.csv' (columns: unique_id, ds, value): the model "
        "reads its values from column 'y', as in its training data: give data with that column, "
        "or retrain on this data"
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


def test_output_in_a_read_only_folder(here):
    from tests.store.test_atomic import read_only_folder

    folder = read_only_folder(here)
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert _error(run("train", "s.csv", "-o", folder / "m.rnncast")) == (
        f"error: --out '{folder}/m.rnncast': folder '{folder}' is not writable; choose another path"
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


def test_a_broken_torchrun_environment_is_refused_before_anything_else(here, monkeypatch):
    make_long(n_series=1, length=100).to_csv(here / "s.csv", index=False)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "two")
    for args in (["--print-config"], ["--out", "nope/m.rnncast"]):
        result = run("train", "s.csv", *args)
        assert _error(result) == (
            "error: torchrun's environment is not understood (RANK='0', WORLD_SIZE='two'): "
            "start rnncast with torchrun, or unset them"
        )
        assert "read s.csv" not in result.stderr


def test_predict_under_torchrun_refuses_standard_input(here, monkeypatch):
    """Every torchrun process reads predict's data; standard input reaches one of them."""
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert _error(run("predict", "-")) == (
        "error: DATA '-' cannot be read under torchrun: every process reads the data, and "
        "standard input reaches one of them; give a file"
    )


def test_predict_warns_of_what_it_left_out_before_it_fails(here):
    """The skip-short warning comes as the series are left out, even when the run then
    fails on what is left."""
    frame = make_long(n_series=3, length=150, lengths=[150, 150, 20])
    frame.to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6", "--skip-short").exit_code == 0
    frame.loc[frame.index[-30], "y"] = 0.0  # in 's1', under the model's logs
    frame.to_csv(here / "zero.csv", index=False)
    result = run("predict", "zero.csv")
    lines = result.stderr.splitlines()
    assert result.exit_code == 1
    assert lines[1].startswith("warning: --skip-short: left out 1 series")
    assert lines[2].startswith("error: series 's1' has the value 0")


def test_system_errors_at_the_users_paths_are_one_line_and_change_nothing(here, monkeypatch):
    import errno

    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert _error(run("train", "s.csv", *FAST, "--seed", "-1")) == (
        "error: --seed must be 0 or more and below 2**63, got -1"
    )
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    (here / "forecast.csv").write_text("previous\n")
    before = sorted(p.name for p in here.iterdir())
    os.symlink(here / "b.rnncast", here / "a.rnncast")
    os.symlink(here / "a.rnncast", here / "b.rnncast")
    assert _error(run("predict", "--model", "a.rnncast")) == (
        "error: cannot read model file 'a.rnncast': Too many levels of symbolic links (Errno 40): "
        "check the path and its permissions, or pass another --model"
    )
    assert _error(run("train", "s.csv", "--out", "b.rnncast")) == (
        "error: cannot write --out 'b.rnncast': Too many levels of symbolic links (Errno 40): "
        "fix the symbolic link or choose another path"
    )
    long = "x" * 300 + ".csv"
    assert _error(run("predict", "--out", long)) == (
        f"error: cannot write --out '{long}': File name too long (Errno 36): choose a shorter name"
    )
    (here / ".forecast.csv.lock").mkdir()
    assert _error(run("predict")) == (
        f"error: cannot write '{here}/forecast.csv': its lock file '.forecast.csv.lock' cannot "
        f"be created: Is a directory (Errno 21): remove the folder '{here}/.forecast.csv.lock' "
        "or choose another path"
    )
    (here / ".forecast.csv.lock").rmdir()
    fdopen = os.fdopen

    def full(fd, *args, **kwargs):  # the disk fills up as the forecast is written
        os.close(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", full)
    assert _error(run("predict")) == (
        "error: cannot write 'forecast.csv': No space left on device (Errno 28): free some space "
        "or choose another path"
    )
    assert _error(run("train", "s.csv", *FAST, "--horizon", "6")) == (
        "error: cannot write 'model.rnncast': No space left on device (Errno 28): free some space "
        "or choose another path"
    )
    monkeypatch.setattr(os, "fdopen", fdopen)
    (here / "a.rnncast").unlink()
    (here / "b.rnncast").unlink()
    assert sorted(p.name for p in here.iterdir()) == before  # no temporary, no lock file
    assert (here / "forecast.csv").read_text() == "previous\n"


def test_a_forecast_to_a_full_standard_output_is_one_line(here):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "rnncast", "predict", "--out", "-"],
                              stdout=full, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "error: cannot write the forecast to standard output: No space left on device (Errno 28): "
        "free some space where it goes, or write a file with --out PATH"
    )
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    printing = ["train", "s.csv", "--horizon", "6", "--print-config"]
    for args, what in ((["info", "--json"], "the model's description"),
                       (printing, "the configuration")):  # fmt: skip
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-m", "rnncast", *args],
                                  stdout=full, stderr=subprocess.PIPE, text=True)  # fmt: skip
        assert (done.returncode, done.stderr.splitlines()[-1]) == (1, (
            f"error: cannot write {what} to standard output: No space left on device (Errno 28): "
            "free some space where it goes"
        ))  # fmt: skip
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "rnncast", "evaluate", "-o", "-"],
                              stdout=full, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert (done.returncode, done.stderr.splitlines()[-1]) == (1, (
        "error: cannot write the metrics to standard output: No space left on device (Errno 28): "
        "free some space where it goes, or write a file with --out PATH"
    ))  # fmt: skip


def test_data_from_standard_input_must_be_piped_in(monkeypatch):
    """DATA '-' reads standard input whole; a terminal there would wait for typing, and a
    process may have none: each is one line."""
    import io
    from pathlib import Path

    from rnncast.cli.run import data_from
    from rnncast.data.readers import CSVText
    from rnncast.errors import DataError

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert data_from(None) is None and data_from(Path("s.csv")) == Path("s.csv")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"y\n1\n")))
    assert data_from(Path("-")) == CSVText(b"y\n1\n")
    for stdin, why in ((Terminal(), "which is a terminal"), (None, "but there is none")):
        monkeypatch.setattr(sys, "stdin", stdin)
        with pytest.raises(DataError) as e:
            data_from(Path("-"))
        assert str(e.value) == (
            f"DATA '-' reads CSV from standard input, {why}: pipe the data in ('< data.csv'), "
            "or give a file"
        )
