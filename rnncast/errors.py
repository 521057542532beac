"""The errors rnncast raises for problems a user can fix.

Each message is one line that says what is wrong, where, and how to fix it. The CLI turns
any `RnncastError` into that line on stderr and exit code 1; every other exception is a bug
and keeps its traceback.
"""


class RnncastError(Exception):
    """A problem the user can fix; `str(error)` is the one-line message."""


class DataError(RnncastError):
    """The input data cannot be read or does not meet the data contract."""


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
