from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rnncast.cli.console import Reporter, Stderr, one_line
from rnncast.errors import Notice
from tests.cli.conftest import FAST
from tests.conftest import make_long


def test_one_line_escapes_what_would_break_a_line():
    assert one_line("plain: 'é', 日本") == "plain: 'é', 日本"
    assert one_line("series 'a\nb' at\tline\r2\x00\u2028") == (
        "series 'a\\nb' at\\tline\\r2\\x00\\u2028"
    )


def test_messages_are_one_line_in_both_formats(capsys):
    Reporter("train").error("series '\n' is short", 1)
    assert capsys.readouterr().err == "error: series '\\n' is short\n"
    Reporter("train", log_format="json").error("series '\n' is short", 1)
    [line] = capsys.readouterr().err.splitlines()
    assert json.loads(line)["message"] == "series '\\n' is short"


def _say_everything(report: Reporter) -> None:
    report.start(data="x")
    report.info("read")
    report.event("epoch", epoch=1)
    report.warning(Notice("filled", filled=3))
    report.done("wrote")
    report.error("broken", 1)


def test_quiet_keeps_only_errors_in_text(capsys):
    _say_everything(Reporter("predict", quiet=True))
    assert capsys.readouterr().err == "error: broken\n"


def test_quiet_json_keeps_what_a_log_reader_acts_on(capsys):
    """A cron log (--quiet --log-format json) says that the run started, what it warned of
    (with the warning's facts as fields), and that it was done or failed: not the progress."""
    _say_everything(Reporter("predict", quiet=True, log_format="json"))
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [e["event"] for e in events] == ["start", "warning", "done", "error"]
    assert (events[1]["message"], events[1]["filled"]) == ("filled", 3)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_silent_keeps_only_errors(capsys, log_format):
    """A torchrun process other than rank 0: its rank 0 reports."""
    _say_everything(Reporter("predict", log_format=log_format, silent=True))
    [line] = capsys.readouterr().err.splitlines()
    assert "broken" in line


def test_json_has_no_nan_and_text_marks_warnings(capsys):
    Reporter("train", log_format="json").event("epoch", train_loss=float("nan"), epoch=3)
    record = json.loads(capsys.readouterr().err)
    assert record["train_loss"] is None and record["epoch"] == 3
    assert record["event"] == "epoch" and record["command"] == "train"
    Reporter("train").warning("--fill ffill: filled 1 missing value")
    assert capsys.readouterr().err == "warning: --fill ffill: filled 1 missing value\n"


def test_live_progress_can_start_at_any_member():
    """A resumed ensemble's first network may be model 2 of 3."""
    import io

    from rich.console import Console

    from rnncast.engine import events
    from rnncast.settings import ModelConfig

    report = Reporter("train")
    report.console = Console(file=io.StringIO(), force_terminal=True, width=200, highlight=False)
    start = dict(device="cpu", train_windows=10, val_windows=1, batches_per_epoch=3,
                 max_epochs=2, parameters=5, members=3, lookback=24)  # fmt: skip
    with report.training(ModelConfig()) as progress:
        assert progress.live
        progress(events.TrainStart(member=2, **start))
        progress(events.BatchEnd(1, 1, 3, 0.5))
        progress(events.EpochEnd(1, 2, 0.5, 0.4, 0.4, 1e-3, True, 0.1))
        progress(events.TrainStart(member=3, **start))
    assert "model 2 of 3, lookback 24" in report.console.file.getvalue()


def test_stderr_without_a_reader_drops_what_follows_and_points_at_the_null_device(monkeypatch):
    read, write = os.pipe()
    stream = os.fdopen(write, "w", buffering=1)
    monkeypatch.setattr(sys, "stderr", stream)
    os.close(read)  # the reader went away (`2>&1 | head -3`)
    err = Stderr()
    assert err.write("epoch 1\n") == len("epoch 1\n")  # no BrokenPipeError
    assert err.gone
    err.write("epoch 2\n")
    err.flush()
    assert os.write(write, b"x") == 1  # the null device: the exit's flush cannot fail
    stream.close()


def test_training_goes_on_when_its_progress_has_no_reader(tmp_path):
    """`rnncast train ... 2>&1 | head -1`: the model is still written, exit 0, and nothing
    (no "Exception ignored" at exit) fails for the lines nobody reads."""
    make_long(n_series=2, length=150).to_csv(tmp_path / "s.csv", index=False)
    child = subprocess.Popen(
        [sys.executable, "-m", "rnncast", "train", "s.csv", *FAST, "--horizon", "6"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert child.stderr.readline().startswith(b"read s.csv: ")
    child.stderr.close()
    assert child.wait(timeout=120) == 0
    assert (tmp_path / "model.rnncast").exists()
