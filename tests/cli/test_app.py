"""The app: help for every command, the version, usage errors, the exit under torchrun."""

from __future__ import annotations

import sys

import pytest

from rnncast import __version__
from rnncast.cli.app import app
from tests.cli.conftest import run, runner


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
