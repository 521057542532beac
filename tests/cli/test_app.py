"""The app: help for every command, the version, usage errors, the exit under torchrun."""

from __future__ import annotations

import json
import sys

import pytest

from rnncast import __version__
from rnncast.cli.app import app
from tests.cli.conftest import error, run, runner


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


def test_usage_errors_exit_2(here):
    assert run("train").exit_code == 2
    assert run("train", "x.csv", "--no-such-option").exit_code == 2
    assert run("train", "x.csv", "--hidden-size", "many").exit_code == 2
    assert run("evaluate", "--windows", "0").exit_code == 2
    for option in ("--segment", "--horizon", "--lookback"):
        assert run("train", "x.csv", option, "0").exit_code == 2


def _json_error(result, code: int) -> str:
    """The one JSON `error` event a failed command wrote (nothing else on stderr)."""
    assert result.exit_code == code, (result.exit_code, result.stderr)
    [line] = result.stderr.splitlines()
    event = json.loads(line)
    assert (event["event"], event["exit_code"]) == ("error", code), event
    return event["message"]


def test_usage_errors_under_json_logs_are_one_json_event(here):
    """A cron log stays JSON when the command line is wrong: no box, the same exit 2."""
    assert _json_error(run("train", "x.csv", "--cell", "foo", "--log-format", "json"), 2) == (
        "Invalid value for '--cell': 'foo' is not one of 'rnn', 'lstm', 'gru', 'esn' "
        "(see 'rnncast train --help')"
    )
    assert _json_error(run("predict", "--log-format=json", "--windows", "3"), 2) == (
        "No such option: --windows (see 'rnncast predict --help')"
    )
    assert _json_error(run("evaluate", "--log-format", "json", "--windows", "0"), 2) == (
        "Invalid value for '--windows': Input should be greater than or equal to 1 "
        "(see 'rnncast evaluate --help')"
    )
    assert _json_error(run("train", "--log-format", "json"), 2) == (
        "Missing argument 'data' (see 'rnncast train --help')"
    )
    boxed = run("train", "x.csv", "--cell", "foo")  # text: typer's box, without 'Value error,'
    assert boxed.exit_code == 2 and "╭─ Error" in boxed.stderr
    assert "Invalid value for '--cell': 'foo' is not one of" in boxed.stderr


def test_a_config_files_bad_value_is_one_line_in_the_log_format(here):
    (here / "c.toml").write_text('[train]\ncell = "foo"\n')
    said = "config file 'c.toml' sets 'cell' under [train] to 'foo': 'foo' is not one of "
    said += "'rnn', 'lstm', 'gru', 'esn'"
    assert _json_error(run("train", "x.csv", "--config", "c.toml", "--log-format", "json"), 1) == (
        said
    )
    assert error(run("train", "x.csv", "--config", "c.toml")) == f"error: {said}"


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
    from rnncast.cli import interrupts

    assert interrupts._ENDS_WITH_RUN == [False]  # a later run in this process restores handlers
