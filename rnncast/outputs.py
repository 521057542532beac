"""Writing output files so that a failure never leaves a half-written or changed file.

Every file is written to a temporary file beside the target, flushed to disk, then moved
over the target with `os.replace` (atomic on POSIX). Output paths are checked before any
work starts, so a typo in `--out` fails in a second, not after an hour of training.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd

from rnncast.errors import ConfigError

FRAME_SUFFIXES = (".csv", ".parquet")


def check_writable(
    path: str | Path,
    option: str,
    suffixes: tuple[str, ...] | None = None,
    inputs: tuple[str | Path, ...] = (),
) -> Path:
    """Fail early, with the fix, if `path` cannot be written (or is one of the `inputs`)."""
    p = Path(path)
    for source in inputs:
        if p.resolve() == Path(source).resolve():
            raise ConfigError(
                f"{option} '{path}' is the input data file '{source}': writing it would destroy "
                "the data; choose another path"
            )
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise ConfigError(
            f"{option} '{path}' must end in {' or '.join(suffixes)}: the extension picks the format"
        )
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise ConfigError(f"{option} '{path}' is a folder: give a file name")
    if not parent.is_dir():
        raise ConfigError(
            f"{option} '{path}': folder '{parent}' does not exist; create it or choose another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{option} '{path}': folder '{parent}' is not writable; choose another path"
        )
    return p


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write(file)` on a temporary file beside `path`, then move it into place."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(
        dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_frame(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV or Parquet by the extension of `path`, atomically."""
    if Path(path).suffix.lower() == ".parquet":
        atomic_write(path, lambda f: frame.to_parquet(f, index=False))
    else:
        atomic_write(path, lambda f: f.write(frame.to_csv(index=False).encode()))


def write_json(data: Any, path: str | Path) -> None:
    text = json.dumps(data, indent=2, allow_nan=False, default=str) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))
