"""The errors rnncast raises for problems a user can fix, and the warnings it gives.

Each message is one line that says what is wrong, where, and how to fix it. The CLI turns
any `RnncastError` into that line on stderr and exit code 1; every other exception is a bug
and keeps its traceback. A warning is a `Notice`: its line, and its facts for a machine log.
"""

from __future__ import annotations

from typing import Any


class RnncastError(Exception):
    """A problem the user can fix; `str(error)` is the one-line message."""


class DataError(RnncastError):
    """The input data cannot be read or does not meet the data contract."""


class MissingColumn(DataError):
    """A column the read options name is not in the data. `found` says so ("column 'y' not
    found in 'f.csv' (columns: ...)"), `fix` how to name it when reading for training
    (`option`, e.g. '--target'); `close`: the data's column most like it, or None. A caller
    that reads with a model's options, which the person cannot change, says its own fix."""

    def __init__(self, column: str, found: str, fix: str, option: str, close: str | None):
        super().__init__(f"{found}: {fix}")
        self.column, self.found, self.option, self.close = column, found, option, close


class ConfigError(RnncastError):
    """An option or a combination of options cannot work."""


class ArtifactError(RnncastError):
    """A model file is missing, unreadable, corrupt or from an incompatible version."""


class OutputError(RnncastError):
    """An output cannot be written: the disk is full, another run holds it, ..."""


class LockError(OutputError):
    """Another run holds the lock of a file this run would write (or read)."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's text (its type's name when it has none), for a
    message that quotes what a library said."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Notice(str):
    """A warning's one line that also carries its facts (`fields`: ids, counts) for a machine
    log: text wherever text is wanted, and `--log-format json` writes the fields beside the
    message, so that a log reader need not parse the sentence."""

    fields: dict[str, Any]

    def __new__(cls, text: str, **fields: Any) -> Notice:
        notice = super().__new__(cls, text)
        notice.fields = fields
        return notice


def os_cause(error: OSError) -> str:
    """What an operating-system error says, without the path (the message names that
    itself): 'No space left on device (Errno 28)'."""
    if error.errno and error.strerror:
        return f"{error.strerror} (Errno {error.errno})"
    return first_line(error)
