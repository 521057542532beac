"""SIGINT / SIGTERM end to end: a real `rnncast train` process is signalled mid-training and
must stop within seconds, write no model, exit 130 / 143, and keep its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rnncast.cli import interrupts
from rnncast.cli.interrupts import HANDLED, Interrupted, Signals
from tests.conftest import make_long

SLOW = ["--max-epochs", "100000", "--patience", "100000", "--epoch-size", "64",
        "--batch-size", "32", "--hidden-size", "8", "--ensemble", "1", "--device", "cpu",
        "--horizon", "6", "--log-format", "json"]  # fmt: skip


def start_training(folder, *extra: str) -> subprocess.Popen:
    make_long(n_series=2, length=150).to_csv(folder / "s.csv", index=False)
    return subprocess.Popen(
        [sys.executable, "-m", "rnncast", "train", "s.csv", *SLOW, *extra],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def events_until(child: subprocess.Popen, event: str, count: int = 1) -> list[dict]:
    seen = []
    for line in child.stderr:
        seen.append(json.loads(line))
        if sum(e["event"] == event for e in seen) >= count:
            return seen
    raise AssertionError(f"the run ended before {count} '{event}' events: {seen}")


def stop(child: subprocess.Popen, signum: int) -> tuple[int, float, list[dict]]:
    sent = time.monotonic()
    child.send_signal(signum)
    try:
        code = child.wait(timeout=30)
    finally:
        child.kill()
    rest = [json.loads(line) for line in child.stderr.read().splitlines()]
    child.stdout.close()
    child.stderr.close()
    return code, time.monotonic() - sent, rest


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_training_stops_soon_and_writes_nothing(tmp_path, signum, code):
    child = start_training(tmp_path)
    events_until(child, "epoch", 2)
    exit_code, seconds, rest = stop(child, signum)
    assert exit_code == code
    assert seconds < 10  # the loop stops after the batch in hand; torch's exit takes the rest
    name = signal.Signals(signum).name
    assert rest[-1]["event"] == "error" and rest[-1]["exit_code"] == code
    assert rest[-1]["message"] == (
        f"interrupted by {name}: no model written; pass --checkpoint PATH to keep the "
        "progress of a run that may be stopped"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]


def test_checkpoint_survives_a_signal_and_resume_finishes(tmp_path):
    child = start_training(tmp_path, "--checkpoint", "ck.pt")
    events_until(child, "epoch", 3)
    exit_code, _, rest = stop(child, signal.SIGTERM)
    assert exit_code == 143
    message = rest[-1]["message"]
    assert message.startswith("interrupted by SIGTERM: no model written; 'ck.pt' holds the model ")
    assert message.endswith(": continue with --resume ck.pt")
    assert not (tmp_path / "model.rnncast").exists()
    epoch = int(message.split("after epoch ")[1].split(":")[0])
    assert epoch >= 3

    def resume(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "rnncast", "train", "s.csv", *SLOW, "--resume", "ck.pt",
             *extra],
            cwd=tmp_path, capture_output=True, text=True,
        )  # fmt: skip

    refused = resume("--hidden-size", "16")
    assert refused.returncode == 1
    assert json.loads(refused.stderr.splitlines()[-1])["message"] == (
        "--resume 'ck.pt' was saved with --hidden-size 8, not 16: resume with the settings of "
        "the interrupted run, or start afresh without --resume"
    )
    finished = resume("--max-epochs", str(epoch + 2))  # a stopped run may be cut short
    assert finished.returncode == 0, finished.stderr
    events = [json.loads(line) for line in finished.stderr.splitlines()]
    assert events[-1]["event"] == "done" and (tmp_path / "model.rnncast").exists()
    assert f"resuming from ck.pt: the model after epoch {epoch}" in [
        e.get("message") for e in events
    ]
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [epoch + 1, epoch + 2]


def test_handlers_raise_at_once_outside_deferred_and_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as e, Signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    assert (e.value.name, e.value.exit_code) == ("SIGTERM", 143)
    assert signal.getsignal(signal.SIGTERM) is before


def test_deferred_records_then_raises_on_leaving_and_a_second_signal_does_not_wait():
    with Signals() as signals, pytest.raises(Interrupted), signals.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        assert signals.requested()  # recorded, not raised: the loop polls it
    reached = []
    with Signals() as signals:
        with pytest.raises(Interrupted) as e, signals.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
            os.kill(os.getpid(), signal.SIGINT)  # the first is still pending: raise now
            time.sleep(1)
            reached.append(True)
        assert not reached and e.value.exit_code == 130


def test_signals_after_the_first_are_ignored_and_stay_so_when_the_process_ends(monkeypatch):
    """Once interrupted, the run is exiting: a second signal does not cut short its report,
    and when the process ends with the run the handlers are not restored but ignore."""
    before = {s: signal.getsignal(s) for s in HANDLED}
    with pytest.raises(Interrupted), Signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    with Signals() as signals:  # the process goes on after this run: handlers restored
        with pytest.raises(Interrupted), signals.deferred():
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # ignored while the run is exiting
        time.sleep(0.1)
    assert {s: signal.getsignal(s) for s in HANDLED} == before
    monkeypatch.setattr(interrupts, "_ENDS_WITH_RUN", [True])  # as `rnncast.cli.app.main` does
    try:
        with pytest.raises(Interrupted), Signals():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert [signal.getsignal(s) for s in HANDLED] == [signal.SIG_IGN, signal.SIG_IGN]
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_repeated_sigint_while_exiting_still_exits_130(tmp_path):
    """Ctrl-C held down (SIGINT every 25 ms) while a stopped run exits: the signals that come
    after the first are ignored until the process ends (torch's exit handlers included), so
    the exit is 130 with its message, not death by the signal or a KeyboardInterrupt trace."""
    child = start_training(tmp_path)
    events_until(child, "epoch", 1)
    deadline = time.monotonic() + 30
    while child.poll() is None and time.monotonic() < deadline:
        child.send_signal(signal.SIGINT)
        time.sleep(0.025)
    exit_code, _, rest = stop(child, signal.SIGINT)  # every line JSON: no traceback
    assert exit_code == 130
    assert rest[-1]["event"] == "error" and rest[-1]["exit_code"] == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]
