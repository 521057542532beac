"""Helpers for the command-line tests: run a command in-process, the one-line error it
gave, a fresh working folder, small fast training options."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rnncast.cli.app import app

runner = CliRunner()
FAST = ["--max-epochs", "2", "--epoch-size", "128", "--batch-size", "64", "--hidden-size", "8",
        "--num-layers", "1", "--ensemble", "1", "--device", "cpu"]  # fmt: skip
# The echo state network takes no gradient-training options (--max-epochs, --batch-size).
FAST_ESN = ["--epoch-size", "128", "--hidden-size", "8", "--num-layers", "1", "--ensemble", "1",
            "--device", "cpu"]  # fmt: skip


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def error(result) -> str:
    """The one line a failed command said (exit 1, nothing on stdout)."""
    assert result.exit_code == 1, (result.exit_code, result.stderr, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith("error")] == lines[-1:], lines
    return lines[-1]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def usage_error(result) -> str:
    """What a usage error (exit 2) said, its box and line breaks undone."""
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    text = " ".join(line.strip("│ ") for line in result.stderr.splitlines())
    return " ".join(text.split())
