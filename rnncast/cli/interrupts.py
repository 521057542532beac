"""SIGINT and SIGTERM for a command-line run: stop soon, write nothing partial, exit 130/143.

While `Signals` is active, either signal raises `Interrupted` at once wherever the program
is (outputs are written atomically, so unwinding leaves every file as it was), except inside
`signals.deferred()`: there the signal is only recorded, for a loop to poll with
`signals.requested` at a safe point (the training loop checks after every batch); a second
signal does not wait. Leaving `deferred()` with a signal recorded raises `Interrupted`.

Once `Interrupted` is raised the run is exiting, and later signals are ignored: Ctrl-C held
down must not cut short the message that says what was kept. When the process ends with the
run (`ends_with_run`, the entry point's), they stay ignored after the run, through the
interpreter's teardown (torch's exit handlers are slow), so that the exit is 130 / 143 and
not death by the signal or a `KeyboardInterrupt` traceback.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM)
_ENDS_WITH_RUN = [False]  # set by the entry point: the process exits when the run does


@contextlib.contextmanager
def ends_with_run() -> Iterator[None]:
    """For the entry point: the process exits when the run inside does, so a stopped run
    leaves the signals ignored rather than restored."""
    _ENDS_WITH_RUN[0] = True
    try:
        yield
    finally:
        _ENDS_WITH_RUN[0] = False


def ignore() -> None:
    """Ignore SIGINT and SIGTERM from now on (in the main thread; elsewhere a no-op)."""
    if threading.current_thread() is threading.main_thread():
        for signum in HANDLED:
            signal.signal(signum, signal.SIG_IGN)


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
        if self._stopping and self._previous and _ENDS_WITH_RUN[0]:
            ignore()  # until the process ends
        else:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            return  # already stopping: the run is saying why; let it finish that
        if self._deferring and self.received is None:
            self.received = signum
            return
        self._interrupt(signum)

    def _interrupt(self, signum: int) -> None:
        self._stopping = True  # the signals after this one are ignored
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
                self._interrupt(self.received)
