"""The Typer app: `rnncast train | predict | evaluate | info | export`, and `main`, the entry point.

One rule for exit codes: 2 when the command line cannot be parsed (an unknown option, a
missing argument, a value of the wrong type, out of its range or not one of its choices:
what `--help` declares, checked before anything runs); 1 when it parses but the run cannot
work (the data, the files, a combination of options, a config file's value): any
`RnncastError`, one line on stderr. SIGINT and SIGTERM stop the run with nothing written and
exit 130 / 143; anything else is a bug and keeps its traceback. Under `--log-format json`
every one of these errors is one JSON `error` event, usage errors included.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated, NoReturn

import typer
from typer.core import TyperGroup

from rnncast.cli import commands, interrupts
from rnncast.cli.console import LogFormat, Reporter
from rnncast.cli.interrupts import Interrupted
from rnncast.errors import RnncastError
from rnncast.version import __version__

EXIT_CODES = (
    "Exit codes: 0 success; 1 a problem you can fix (the message on stderr says what, where "
    "and how); 2 a command line that cannot be parsed (an unknown option, a missing argument, "
    "a value of the wrong type, out of range or not one of the choices); 130 / 143 stopped by "
    "SIGINT / SIGTERM (nothing written). Anything else is a bug: please report it with the "
    "traceback."
)
# Click's usage error (Typer vendors Click from 0.26 on: found where either keeps it)
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class Group(TyperGroup):
    """The app's commands, with their parsing errors in the run's log format: under
    `--log-format json` a usage error is one JSON `error` event (exit 2), not a box; a config
    file's bad value (`--config`, read while parsing) is one line in either format (exit 1)."""

    def invoke(self, ctx: typer.Context) -> object:
        args = [*ctx._protected_args, *ctx.args]  # the command and its arguments, unparsed
        command = args[0] if args and args[0] in self.commands else "rnncast"
        try:
            return super().invoke(ctx)
        except UsageError as e:
            e.message = e.message.removeprefix("Value error, ")  # how typer words a choice
            if _log_format(args) is not LogFormat.json or type(e).__name__ == "NoArgsIsHelpError":
                raise
            said = e.format_message().rstrip(".")
            hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            Reporter(command, log_format="json").error(f"{said}{hint}", e.exit_code)
            raise typer.Exit(code=e.exit_code) from None
        except RnncastError as e:
            Reporter(command, log_format=_log_format(args).value).error(str(e), 1)
            raise typer.Exit(code=1) from None


def _log_format(args: list[str]) -> LogFormat:
    """The --log-format the command line asks for (the last one given), text if none or
    one that is not a format: what to report a command line that did not parse in."""
    given = "text"
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--log-format" and i + 1 < len(args):
            given = args[i + 1]
        elif arg.startswith("--log-format="):
            given = arg.partition("=")[2]
    return LogFormat.json if given == LogFormat.json.value else LogFormat.text


app = typer.Typer(
    name="rnncast",
    cls=Group,
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
for command in (
    commands.train,
    commands.predict,
    commands.evaluate,
    commands.info,
    commands.export,
):
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
    try:
        with interrupts.ends_with_run():
            try:
                app()
            except Interrupted as e:  # a signal outside any command's handling: no traceback
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
