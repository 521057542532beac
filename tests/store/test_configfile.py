from __future__ import annotations

import pytest

from rnncast.errors import ConfigError
from rnncast.store import configfile

NAMES = ["data", "hidden_size", "target", "fill", "skip_short", "config", "print_config"]


def write(tmp_path, text: str):
    path = tmp_path / "rnncast.toml"
    path.write_text(text)
    return path


def test_tables_become_defaults_of_their_command(tmp_path):
    path = write(
        tmp_path,
        '[train]\ndata = "s.csv"\nhidden-size = 16\ntarget = ["a", "b"]\nskip_short = true\n'
        '[predict]\nout = "f.parquet"\n',
    )
    assert configfile.defaults_for(path, "train", NAMES) == {
        "data": "s.csv", "hidden_size": 16, "target": "a,b", "skip_short": True,
    }  # fmt: skip
    assert configfile.defaults_for(path, "evaluate", ["out"]) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[train]\nhiden-size = 3\n", "sets 'hiden-size' under [train], which has no such option: "
         "did you mean 'hidden-size'? see 'rnncast train --help'"),
        ("[train]\nprint-config = true\n", "sets 'print-config' under [train], which has no such "
         "option: see 'rnncast train --help'"),
        ("[trian]\nx = 1\n", "has a table [trian]: use [train], [predict] or [evaluate]"),
        ("cell = 'gru'\n", "sets 'cell' outside a table: put it under [train], [predict] or "
         "[evaluate]"),
        ("[train]\nfill = {a = 1}\n", "sets 'fill' under [train] to a table: give a value"),
        ('train = "gru"\n', "sets 'train' to a value: make it a table, [train], with the "
         "options under it"),
        ("[train\n", "is not valid TOML (Expected ']' at the end of a table declaration (at "
         "line 1, column 7)): fix the file"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        configfile.defaults_for(path, "train", NAMES)
    assert str(e.value) == f"config file '{path}' {message}"


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        configfile.read(tmp_path / "none.toml")
    assert str(e.value) == (
        f"config file '{tmp_path}/none.toml' not found: check the path given to --config"
    )


def test_to_toml_round_trips(tmp_path):
    values = {"data": 'a "b"\\c.csv', "lr": 0.003, "max_steps": None, "skip_short": False,
              "ensemble": 3, "grad_clip": float("inf"), "target": ["x", "y"]}  # fmt: skip
    text = configfile.to_toml("train", values)
    assert "max-steps" not in text and text.startswith("[train]\n")
    path = write(tmp_path, text)
    assert configfile.read(path)["train"] == {
        "data": 'a "b"\\c.csv', "lr": 0.003, "skip-short": False, "ensemble": 3,
        "grad-clip": float("inf"), "target": ["x", "y"],
    }  # fmt: skip


def test_config_paths_the_system_refuses_are_one_line(tmp_path):
    import os

    loop = tmp_path / "loop.toml"
    os.symlink(tmp_path / "other.toml", loop)
    os.symlink(loop, tmp_path / "other.toml")
    long = tmp_path / ("x" * 300 + ".toml")
    for where, why in ((loop, "Too many levels of symbolic links (Errno 40)"),
                       (long, "File name too long (Errno 36)")):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            configfile.read(where)
        assert str(e.value) == (
            f"cannot read config file '{where}': {why}: check the path given to --config"
        )
    with pytest.raises(ConfigError, match="not found"):
        configfile.read(tmp_path)  # a folder, as before
