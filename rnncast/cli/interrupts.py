"""SIGINT and SIGTERM for a command-line run: stop soon, write nothing partial, exit 130/143.

While `Signals` is active, either signal raises `Interrupted` at once wherever the program
is (outputs are written atomically, so unwinding leaves every file as it was), except inside
`signals.deferred()`: there the signal is only recorded, for a loop to poll with
`signals.requested` at a safe point (the training loop checks after every batch); a second
signal does not wait. Leaving `deferred()` with a signal recorded raises `Interrupted`.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):  # like KeyboardInterrupt: not an error of ours
    """The run was stopped by a signal; `exit_code` is the shell's 128 + signal number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum


class Signals:
    """Context manager installing the handlers (in the main thread; elsewhere a no-op)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._deferring = False
        self._stopping = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            return  # already stopping: the run is saying why; let it finish that
        if self._deferring and self.received is None:
            self.received = signum
            return
        raise Interrupted(signum)

    def stopping(self) -> None:
        """From now on signals are ignored: the run is reporting an interruption."""
        self._stopping = True

    def requested(self) -> bool:
        """Whether a signal is waiting to be acted on (for `should_stop` callbacks)."""
        return self.received is not None

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            if self.received is not None:
                raise Interrupted(self.received)
