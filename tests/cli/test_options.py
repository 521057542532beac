"""The options: train's are the training request's, config files set any of them, flags win."""

from __future__ import annotations

import enum
import json
import typing

import pandas as pd

from rnncast.cli import options
from tests.cli.conftest import FAST, run
from tests.cli.conftest import error as _error
from tests.conftest import make_long


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
    assert printed.startswith('[train]\ndata = "s.csv"\nfill = "none"\nskip-short = false\n')
    assert printed.endswith('\nout = "m.rnncast"\n')  # in the order --help shows them
    assert 'cell = "gru"\n' in printed
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


def test_config_file_true_and_false_are_for_on_off_options_only(here):
    """TOML has a boolean type: `hidden-size = true` is a mistake, not 1 (typer alone would
    read it as 1), and an on/off option takes true or false, not 1 or "yes"."""
    cases = {
        "hidden-size = true": "to true, but only on/off options take true or false: give the "
        "value you would give --hidden-size",
        "lr = false": "to false, but only on/off options take true or false: give the value "
        "you would give --lr",
        "data = true": "to true, but only on/off options take true or false: give the value "
        "you would give DATA",
        "skip-short = 1": "to 1: --skip-short is an on/off option; give true or false",
        'skip-short = "yes"': "to 'yes': --skip-short is an on/off option; give true or false",
    }
    for line, tail in cases.items():
        (here / "c.toml").write_text(f"[train]\n{line}\n")
        name = line.split(" ")[0]
        assert _error(run("train", "x.csv", "--config", "c.toml", "--print-config")) == (
            f"error: config file 'c.toml' sets '{name}' under [train] {tail}"
        )
    (here / "c.toml").write_text("[predict]\nquiet = true\n")
    assert _error(run("predict", "--config", "c.toml")).startswith(  # accepted: on to the model
        "error: model file 'model.rnncast' not found"
    )


def test_threads_option_and_config(here, threads_used):
    from rnncast.engine import threads

    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6", "--threads", "1").exit_code == 0
    (here / "t.toml").write_text("[predict]\nthreads = 1\n[evaluate]\nthreads = 0\n")
    assert run("predict", "--config", "t.toml").exit_code == 0
    assert run("evaluate", "--threads", "1").exit_code == 0
    assert run("predict", "--out", "g.csv").exit_code == 0
    assert threads_used == [1, 1, 1, threads.default_threads()]
    for command, out in (("train", "m.rnncast"), ("predict", "f.csv"), ("evaluate", "e.json")):
        data = ["s.csv"] if command == "train" else []
        result = run(command, *data, "--threads", "0", "--out", out)
        assert _error(result) == "error: --threads must be at least 1, got 0"
        assert not (here / out).exists()
    result = run("evaluate", "--config", "t.toml", "--out", "e.json")
    assert _error(result) == "error: --threads must be at least 1, got 0"
    assert not (here / "e.json").exists()


CLI_ONLY = {"data", "out", "threads", "checkpoint", "resume", "wait", "quiet", "log_format",
            "config", "print_config", "mlflow"}  # fmt: skip


def _train_params():
    import typer

    from rnncast.cli.app import app

    command = typer.main.get_command(app).commands["train"]
    return {p.name: p for p in command.params}


def test_train_takes_every_option_of_the_request_and_no_other():
    """One place: `rnncast train`'s options are the training request's fields (and the
    command line's own), so the command line and Python cannot drift apart."""
    from rnncast.settings import TrainRequest

    assert set(_train_params()) - CLI_ONLY == set(TrainRequest.names())


def test_train_defaults_are_the_settings_own():
    from rnncast.settings import ModelConfig, ReadOptions, TrainConfig

    configs = (ReadOptions(), ModelConfig(), TrainConfig())
    for name, param in _train_params().items():
        if name in CLI_ONLY:
            continue
        # the window's options: unset (chosen from the data), no holdout, no calendar
        window = {"horizon": None, "lookback": None, "lookbacks": None, "val_size": None,
                  "segment": None, "holdout": 0, "calendar": False,
                  "init_from": None}  # and no update  # fmt: skip
        owners = [c for c in configs if hasattr(c, name)]
        want = window[name] if name in window else getattr(owners[0], name)
        got = getattr(param.default, "value", param.default)
        assert got == want or (got is None and want == ()), name


def test_the_options_as_given_make_the_request(here):
    """The command's parameters, as Typer passes them (text for lists), make the request
    Python's keyword arguments make."""
    from rnncast.cli.commands import _request
    from rnncast.settings import TrainRequest

    params = {name: getattr(p.default, "value", p.default) for name, p in _train_params().items()}
    params |= {"cell": "lstm", "quantiles": "0.1,0.9", "target": "a,b", "lookbacks": "24,48"}
    assert _request(params) == TrainRequest(cell="lstm", quantiles=(0.1, 0.9), target=("a", "b"),
                                            lookbacks=(24, 48))  # fmt: skip


def _help(command: str, columns: int = 80) -> str:
    from rnncast.cli.app import app
    from tests.cli.conftest import runner

    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0
    return result.stdout


PANELS = ["Data", "Covariates", "Window", "Network", "Memory", "Echo state network", "Training",
          "Unattended runs", "Output"]  # fmt: skip


def test_train_help_is_grouped_in_panels():
    text = _help("train")
    titles = [line.split("─ ")[1].split(" ─")[0] for line in text.splitlines()
              if line.startswith("╭─ ")]  # fmt: skip
    assert titles == ["Arguments", "Options", *PANELS]
    options = text.split("╭─ Options ")[1].split("╰")[0]
    assert "--help" in options and options.count("--") == 1  # nothing else left ungrouped
    for command in ("predict", "evaluate"):
        assert "╭─ Data " in _help(command) and "╭─ Output " in _help(command)


def test_help_lines_are_intact_at_80_columns():
    """Choices shown as choices, flags as flags (no '<bool>'), no option name cut short,
    the config file's table names kept."""
    for command in ("train", "predict", "evaluate", "info"):
        text = _help(command)
        assert "…" not in text and "Usage: rnncast" in text, command
        body = "╰".join(text.split("╭─ Options ")[1].split("╰")[1:])  # after typer's --help
        assert "<bool>" not in body, command
    wide = _help("train", 160)
    assert "<rnn | lstm | gru | esn>" in wide
    assert "<direct | parallel | seq2seq | recursive>" in wide
    assert "TOML file whose [train] / [predict] / [evaluate] table sets any" in wide
    assert "the processes train one network together" in " ".join(_help("train").split())


def test_every_choice_option_names_each_of_its_values_in_its_help():
    """--transform's help left out auto, its default: each value a choice takes is said."""
    checked = 0
    for name in dir(options):
        declared = getattr(options, name)
        if typing.get_origin(declared) is not typing.Annotated:
            continue
        kind, info = typing.get_args(declared)[:2]
        for choices in typing.get_args(kind) or (kind,):
            if isinstance(choices, type) and issubclass(choices, enum.Enum):
                checked += 1
                missing = [c.value for c in choices if c.value not in info.help]
                assert not missing, (name, missing)
    assert checked >= 10
