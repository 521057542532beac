"""What the CLI tells people and machines on stderr: status lines, training progress,
warnings, errors. The CLI's voice: the core never prints, it reports through callbacks.

One set of events, three forms:
- on a terminal: rich progress bars that vanish when done, and plain status lines;
- without a terminal (cron, pipes, CI): plain lines only, a progress line per epoch and no
  ANSI codes;
- `--log-format json`: one JSON object per line for every event, whatever stderr is:
  `start`, `info`, `warning`, `model` (a network starts training), `epoch`, `done`, `error`.
  Each has `time` (UTC, ISO 8601), `event` and `command`; `info`, `warning`, `done` and
  `error` a `message`; `error` the `exit_code`.
A URL is never shown with its credentials or query string.
`--quiet` silences the text for people: everything but errors in text; in JSON the progress
(`info`, `model`, `epoch`), keeping `start`, `warning`, `done` and `error` for the log.

Progress nobody reads does not stop a run: when stderr's reader goes away (`2>&1 | head`),
what follows is dropped (`Stderr`).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import os
import sys
import time
from typing import Any

from rich.console import Console


class LogFormat(str, enum.Enum):
    text = "text"
    json = "json"


def to_null(stream: Any) -> None:
    """Point the file descriptor under `stream` at the null device, so that no later write
    to it, the interpreter's last flush at exit included, can fail; nothing when it has none
    (not a file: nothing is flushed at exit)."""
    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
    except (AttributeError, OSError, ValueError):
        return
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


class Stderr:
    """`sys.stderr` (whichever it is at each write) for a console whose lines may have no
    reader: when the reader went away (`2>&1 | head -3`), the run goes on and what it says
    from then on is dropped. The file descriptor is pointed at the null device, so that the
    interpreter's last flush at exit does not fail and print "Exception ignored" either."""

    def __init__(self) -> None:
        self.gone = False

    @property
    def stream(self) -> Any:
        stream = sys.stderr
        return getattr(stream, "rich_proxied_file", stream)  # rich's progress display

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._reader_gone()

    def _reader_gone(self) -> None:
        self.gone = True
        to_null(self.stream)

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno...
        if name == "rich_proxied_file":  # rich would write past this object to the stream
            raise AttributeError(name)
        return getattr(self.stream, name)


def err_console() -> Console:
    return Console(file=Stderr(), highlight=False, soft_wrap=True, emoji=False)


def out_console() -> Console:
    return Console(highlight=False, soft_wrap=True, emoji=False)


QUIET_JSON = ("start", "warning", "done", "error")  # what --quiet keeps of a JSON log


class Reporter:
    """The stderr voice of one command run. `quiet` (--quiet) silences the text for people
    and the progress: in text everything but errors, in JSON all but the events a log reader
    acts on (`QUIET_JSON`); `silent` keeps errors only, whatever the format (a torchrun
    process other than rank 0, whose rank 0 reports)."""

    def __init__(self, command: str, quiet: bool = False, log_format: str = "text",
                 silent: bool = False):  # fmt: skip
        self.command, self.quiet = command, quiet or silent
        self.json = LogFormat(log_format) is LogFormat.json
        self.console = err_console()
        loud = self.json and not silent
        self.keeps = (QUIET_JSON if loud else ("error",)) if self.quiet else None

    def event(self, event: str, message: str | None = None, **fields: Any) -> None:
        """Report `event`: its message as a line, or everything as a JSON object. URLs in
        either are shown without credentials or query strings (`rnncast.data.remote.scrub`)."""
        if self.keeps is not None and event not in self.keeps:
            return
        from rnncast.data.remote import scrub  # (not for --help)

        if message is not None:
            message = scrub(one_line(message))
        fields = {k: scrub(v) if isinstance(v, str) else v for k, v in fields.items()}
        if self.json:
            record = {
                "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                "event": event,
                "command": self.command,
            }
            if message is not None:
                record["message"] = message
            record.update({k: _finite(v) for k, v in fields.items()})
            self.console.file.write(json.dumps(record, default=str, allow_nan=False) + "\n")
            self.console.file.flush()
        elif message is not None:
            self.console.print(message, markup=False)

    def start(self, **fields: Any) -> None:
        """What the run was asked to do (JSON only: people typed it themselves)."""
        if self.json:
            self.event("start", **fields)

    def info(self, message: str, **fields: Any) -> None:
        self.event("info", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        """A warning; a `Notice`'s facts are fields of its JSON event."""
        fields = {**getattr(message, "fields", {}), **fields}
        self.event("warning", message if self.json else f"warning: {message}", **fields)

    def done(self, message: str, **fields: Any) -> None:
        self.event("done", message, **fields)

    def error(self, message: str, exit_code: int) -> None:
        """Errors are reported even when quiet."""
        self.event("error", message if self.json else f"error: {message}", exit_code=exit_code)

    def training(self, model_config: Any) -> TrainProgress:
        return TrainProgress(self, model_config)


class TrainProgress:
    """Training events as a rich progress display (terminal), plain lines or JSON."""

    PLAIN_EVERY_S = 30.0

    def __init__(self, reporter: Reporter, model_config: Any):
        self.reporter, self.model_config = reporter, model_config
        self.console = reporter.console
        self.quiet = reporter.quiet
        self.live = not self.quiet and not reporter.json and self.console.is_terminal
        self.progress: Any = None
        self.epochs: Any = None  # the progress bars' task ids, once training starts
        self.batches: Any = None
        self.last_plain = time.monotonic()

    def __enter__(self) -> TrainProgress:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )  # fmt: skip

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
                TimeRemainingColumn(), console=self.console, transient=True,
            )  # fmt: skip
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, event: Any) -> None:
        if self.quiet:
            return
        from rnncast.engine import events

        if isinstance(event, events.TrainStart):
            self._started(event)
        elif isinstance(event, events.BatchEnd):
            self._batch(event)
        elif isinstance(event, events.EpochEnd):
            self._epoch(event)

    def _started(self, event: Any) -> None:
        c = self.model_config
        if self.reporter.json:
            self.reporter.event(
                "model", member=event.member, members=event.members, lookback=event.lookback,
                device=event.device,
                train_windows=event.train_windows, val_windows=event.val_windows,
                parameters=event.parameters, batches_per_epoch=event.batches_per_epoch,
            )  # fmt: skip
            return
        member = f", model {event.member} of {event.members}" if event.members > 1 else ""
        reads = f", lookback {event.lookback}" if event.members > 1 else ""
        self.console.print(
            f"training {c.describe()} on {event.device}"
            f"{member}{reads}: {event.train_windows:,} windows, {event.val_windows:,} for "
            f"validation, {event.parameters:,} parameters",
            markup=False,
        )
        if self.progress is None:
            return
        if self.epochs is None:  # the first network this run trains (not always member 1)
            self.epochs = self.progress.add_task("epochs ", total=event.max_epochs, info="")
            self.batches = self.progress.add_task("batches", total=event.batches_per_epoch, info="")
        else:
            self.progress.reset(self.epochs, info="")
            self.progress.reset(self.batches, total=event.batches_per_epoch, info="")

    def _batch(self, event: Any) -> None:
        if self.progress is not None:
            self.progress.update(self.batches, completed=event.batch, info=f"loss {event.loss:.4f}")
        elif not self.reporter.json and time.monotonic() - self.last_plain > self.PLAIN_EVERY_S:
            self.last_plain = time.monotonic()
            self.console.print(
                f"epoch {event.epoch} batch {event.batch}/{event.batches} loss {event.loss:.4f}",
                markup=False,
            )

    def _epoch(self, event: Any) -> None:
        if self.reporter.json:
            self.reporter.event(
                "epoch", epoch=event.epoch, max_epochs=event.max_epochs,
                train_loss=event.train_loss, val_loss=event.val_loss,
                best_val_loss=event.best_val_loss, lr=event.lr, improved=event.improved,
                elapsed_s=round(event.elapsed, 3),
            )  # fmt: skip
            return
        val = f"{event.val_loss:.4f}" if event.val_loss is not None else "-"
        best = f"{event.best_val_loss:.4f}" if event.best_val_loss is not None else "-"
        if self.progress is not None:
            self.progress.update(self.epochs, completed=event.epoch, info=f"val {val} best {best}")
            self.progress.reset(self.batches)
        else:
            self.last_plain = time.monotonic()
            self.console.print(
                f"epoch {event.epoch}/{event.max_epochs} loss {event.train_loss:.4f} "
                f"val_loss {val} best {best} lr {event.lr:.2g} {event.elapsed:.1f}s",
                markup=False,
            )


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """`text` with control characters escaped: names and values quoted from the data (a
    series id with a line break in it) cannot split a message over lines."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return _ESCAPES.get(ch) or (f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}")


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
