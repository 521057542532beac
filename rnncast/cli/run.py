"""The life cycle of one command run: one line and exit 1 for a problem the user can fix,
exit 130 / 143 for SIGINT / SIGTERM with a word on what was kept, locks held on the outputs,
outputs checked before any work and written last, under a deferred signal.

Heavy modules (torch, pandas) are imported inside the functions that need them, so that
`rnncast --help` stays fast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from rnncast.cli.console import Reporter, to_null
from rnncast.cli.interrupts import Interrupted, Signals
from rnncast.errors import ConfigError, DataError, OutputError, RnncastError, os_cause

if TYPE_CHECKING:
    from rnncast.data.readers import CSVText
    from rnncast.store.artifact import Artifact

Inputs = tuple[tuple[str, Path], ...]  # (what it is, path) of the files a run reads


class Run:
    """One command run: its signal handling, the outputs written so far, and what it set
    up for its duration (`stack`)."""

    def __init__(self, signals: Signals, stack: contextlib.ExitStack):
        self.signals = signals
        self.written: list[str] = []
        self.stack = stack

    def use_threads(self, threads: int | None) -> None:
        """--threads (checked; default `rnncast.engine.threads.default_threads`) for the
        rest of the run, and torch's setting as before afterwards."""
        from rnncast.engine import threads as cpu_threads

        self.stack.enter_context(cpu_threads.using(cpu_threads.resolve(threads)))

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """The final writes: a signal waits until they are all done."""
        with self.signals.deferred():
            yield

    def wrote(self, path: Path) -> None:
        self.written.append(str(path))

    def write(self, path: Path, write: Callable[[Path], None]) -> None:
        """`write(path)`, and remember that `path` was written."""
        write(path)
        self.wrote(path)


@contextlib.contextmanager
def running(
    reporter: Reporter, interrupted: Callable[[], str] = lambda: "nothing was written"
) -> Iterator[Run]:
    """Run a command's body: a problem the user can fix is one line and exit 1; SIGINT or
    SIGTERM stops it with exit 130 or 143 (`interrupted()` says what was kept)."""
    with Signals() as signals, contextlib.ExitStack() as stack:
        run = Run(signals, stack)
        try:
            yield run
        except RnncastError as e:
            reporter.error(str(e), 1)
            raise typer.Exit(code=1) from None
        except Interrupted as e:
            signals.stopping()
            kept = (
                f"stopped after writing {', '.join(run.written)}" if run.written
                else interrupted()
            )  # fmt: skip
            reporter.error(f"interrupted by {e.name}: {kept}", e.exit_code)
            raise typer.Exit(code=e.exit_code) from None


@contextlib.contextmanager
def locked(paths: list[Path], wait: float, reads: list[Path] = ()) -> Iterator[None]:
    """Hold the locks of the outputs (and shared ones of the files read, so that a run
    writing them finishes first), and clear what a killed earlier run left of them."""
    from rnncast.store.atomic import remove_stale_temporaries
    from rnncast.store.locks import locked as locks

    with locks(paths, wait, reads):
        for p in paths:
            remove_stale_temporaries(p)
        yield


def to_stdout(text: str, what: str, instead: str = "") -> None:
    """Write `what` (e.g. "the forecast") to standard output and flush it; the system
    refusing (a full device, a closed pipe) is one line (ending in `instead`, another way,
    when there is one), and stdout is pointed at the null device so that Python's exit does
    not try the same write again with a traceback."""
    import errno
    import sys

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as e:
        to_null(sys.stdout)
        full = e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        fix = "free some space where it goes" if full else "check where it goes"
        raise OutputError(
            f"cannot write {what} to standard output: {os_cause(e)}: {fix}"
            + (f", or {instead}" if instead else "")
        ) from None


def other_rank() -> bool:
    """Under torchrun, whether this is a process other than rank 0, which alone reports
    and writes. A broken torchrun environment counts as rank 0: the command reports it."""
    from rnncast.engine.distributed import world

    try:
        return not world().main
    except RnncastError:
        return False


STDIN = "-"  # DATA that names standard input


def inputs(model: Path, data: Path | None) -> Inputs:
    """The files predict and evaluate read, which no output may overwrite."""
    given = data is not None and str(data) != STDIN
    return (("the model file", model),) + ((("the input data file", data),) if given else ())


def data_from(data: Path | None) -> Path | CSVText | None:
    """DATA as given, or for '-' the CSV text on standard input, read whole (a terminal
    there is refused: the run would wait for typing)."""
    if data is None or str(data) != STDIN:
        return data
    import sys

    from rnncast.data.readers import CSVText

    stream = sys.stdin
    if stream is None or stream.closed:
        raise DataError(
            "DATA '-' reads CSV from standard input, but there is none: pipe the data in "
            "('< data.csv'), or give a file"
        )
    if stream.isatty():
        raise DataError(
            "DATA '-' reads CSV from standard input, which is a terminal: pipe the data in "
            "('< data.csv'), or give a file"
        )
    try:
        raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode()
    except OSError as e:
        raise DataError(
            f"cannot read data '<stdin>': {os_cause(e)}: check what is piped in"
        ) from None
    return CSVText(raw)


def check_recorded_data(artifact: Artifact, data: Path | None,
                        outputs: dict[str, Path | None]) -> None:  # fmt: skip
    """Without DATA the model's recorded training data is read: no output may be it."""
    from rnncast.store.atomic import check_not_input

    recorded = artifact.data_abspath if data is None else ""
    for option, path in outputs.items():
        if recorded and path is not None:
            check_not_input(path, option, (("the input data file", recorded),))


def shown(path: str | Path) -> str:
    """A path as the run shows it: a URL without credentials or query string."""
    from rnncast.data.remote import shown as url_shown

    return url_shown(path)


def check_plot(plot: Path | None, plot_series: str | None, others: Inputs) -> None:
    """--plot and --plot-series, checked before any work."""
    from rnncast.forecast.plots import PLOT_SUFFIXES, require_matplotlib
    from rnncast.store.atomic import check_writable

    if plot is None:
        if plot_series:
            raise ConfigError("--plot-series picks series for --plot: give --plot PATH too")
        return
    check_writable(plot, "--plot", PLOT_SUFFIXES, inputs=others)
    require_matplotlib()
