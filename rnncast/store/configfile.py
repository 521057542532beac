"""Config files: any command-line option of a command, from a TOML file (`--config`).

One table per command, keys named as the options (dashes or underscores), values as TOML
writes them; options given on the command line win over the file:

    [train]
    data = "sales.parquet"      # the DATA argument
    cell = "gru"
    hidden-size = 128
    fill = "ffill"
    target = ["north", "south"] # a list where the option takes names separated by commas

    [predict]
    out = "forecast.parquet"

Relative paths are relative to the current folder, as on the command line. `to_toml` writes
such a table back (`rnncast train --print-config`).
"""

from __future__ import annotations

import difflib
import math
import os
import stat
import sys
from pathlib import Path
from typing import Any

from rnncast.errors import ConfigError, os_cause

COMMANDS = ("train", "predict", "evaluate")
NOT_IN_FILES = {"config", "print_config", "help"}


def read(path: str | Path) -> dict[str, Any]:
    """The parsed TOML file; a missing or malformed file is a `ConfigError`."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    missing = ConfigError(f"config file '{path}' not found: check the path given to --config")
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise missing
        with Path(path).open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file '{path}' is not valid TOML ({e}): fix the file") from None
    except FileNotFoundError:
        raise missing from None
    except OSError as e:
        raise ConfigError(
            f"cannot read config file '{path}': {os_cause(e)}: check the path given to --config"
        ) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file '{path}' cannot be read ({e}): check the file") from None


def defaults_for(path: str | Path, command: str, names: list[str]) -> dict[str, Any]:
    """The `[command]` table of the file as {parameter name: value} for the parameters
    `names` of that command (other tables are checked by name only)."""
    document = read(path)
    unknown = [k for k in document if k not in COMMANDS]
    if unknown:
        raise ConfigError(
            f"config file '{path}' has a table [{unknown[0]}]: use [train], [predict] or "
            "[evaluate]" if isinstance(document[unknown[0]], dict) else
            f"config file '{path}' sets '{unknown[0]}' outside a table: put it under "
            "[train], [predict] or [evaluate]"
        )  # fmt: skip
    for name in COMMANDS:
        if name in document and not isinstance(document[name], dict):
            raise ConfigError(
                f"config file '{path}' sets '{name}' to a value: make it a table, [{name}], "
                "with the options under it"
            )
    table = document.get(command, {})
    allowed = [n for n in names if n not in NOT_IN_FILES]
    out = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in allowed:
            options = [n.replace("_", "-") for n in allowed]
            close = difflib.get_close_matches(key.replace("_", "-"), options, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                f"config file '{path}' sets '{key}' under [{command}], which has no such "
                f"option: {hint}see 'rnncast {command} --help'"
            )
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            raise ConfigError(
                f"config file '{path}' sets '{key}' under [{command}] to a table: give a value"
            )
        out[name] = value
    return out


def to_toml(command: str, values: dict[str, Any]) -> str:
    """A `[command]` table of `values` (None values are left out, as unset)."""
    lines = [f"[{command}]"]
    for name, value in values.items():
        if value is None:
            continue
        lines.append(f"{name.replace('_', '-')} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text) + '"'
