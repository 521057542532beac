"""The Typer app: `rnncast train | predict | evaluate | info`, and `main`, the entry point.

Any `RnncastError` becomes one line on stderr and exit code 1; SIGINT and SIGTERM stop the
run with nothing written and exit 130 / 143; usage errors exit 2 (Typer's own); anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated, NoReturn

import typer

from rnncast.cli import commands, interrupts
from rnncast.cli.interrupts import Interrupted
from rnncast.errors import RnncastError
from rnncast.version import __version__

EXIT_CODES = (
    "Exit codes: 0 success; 1 a problem you can fix (the message on stderr says what, where "
    "and how); 2 a usage error; 130 / 143 stopped by SIGINT / SIGTERM (nothing written). "
    "Anything else is a bug: please report it with the traceback."
)

app = typer.Typer(
    name="rnncast",
    help=(
        "Recurrent forecasting (RNN / LSTM / GRU) from the command line.\n\n"
        "Train once with 'rnncast train DATA', then run 'rnncast predict' and "
        "'rnncast evaluate' where you trained: the model remembers how its data was read.\n\n"
        + EXIT_CODES
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for command in (commands.train, commands.predict, commands.evaluate, commands.info):
    app.command(epilog=EXIT_CODES)(command)


def _version(value: bool) -> None:
    if value:
        print(f"rnncast {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    pass


def main() -> None:
    interrupts.ends_with_run()
    try:
        try:
            app()
        except Interrupted as e:  # a signal outside any command's own handling: no traceback
            interrupts.ignore()
            sys.exit(e.exit_code)
    except SystemExit as e:
        if _in_torchrun_group():
            _exit_now(e.code)
        raise


def _in_torchrun_group() -> bool:
    """Whether this process is one of several that torchrun started and has used
    torch.distributed (which only a command that ran imports)."""
    if "torch.distributed" not in sys.modules:
        return False
    from rnncast.engine.distributed import world

    try:
        return world().many
    except RnncastError:
        return False


def _exit_now(code: object) -> NoReturn:
    """Exit with `code` as `sys.exit` would, but skip the interpreter's teardown: under
    torchrun with gloo, torch's C++ threads were now and then destroyed unjoined during it
    (about 1 run in 20 on a loaded 2-core machine: "terminate called without an active
    exception", SIGABRT), failing a job whose work was done and whose files were written.
    Everything of ours is finished by then: files are closed and renamed, and the process
    group left (`distributed.session`); the output streams and logs are flushed here."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a broken pipe
            stream.flush()
    os._exit(code or 0)
