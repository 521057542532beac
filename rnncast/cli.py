"""The command-line interface: the only module that prints, draws progress or exits.

Commands stay thin: parse options, call `rnncast.api`, write outputs atomically, report.
Any `RnncastError` becomes one line on stderr and exit code 1; usage errors exit 2 (Typer's
own); anything else is a bug and keeps its traceback. Heavy modules (torch, pandas) are
imported inside the commands so that `rnncast --help` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rnncast import __version__
from rnncast.config import ModelConfig, ReadOptions, TrainConfig
from rnncast.errors import ConfigError, RnncastError

if TYPE_CHECKING:
    from rnncast.artifact import Artifact
    from rnncast.data import SeriesSet

EXIT_CODES = (
    "Exit codes: 0 success; 1 a problem you can fix (the message on stderr says what, where "
    "and how); 2 a usage error. Anything else is a bug: please report it with the traceback."
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
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DEFAULT_MODEL = "model.rnncast"
_M, _T = ModelConfig(), TrainConfig()  # the option defaults are the settings' own

# ---- shared options ---------------------------------------------------------------------

ModelPath = Annotated[
    Path, typer.Option("--model", "-m", help="Model file written by 'rnncast train'.")
]
Device = Annotated[
    str,
    typer.Option(help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps."),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]


def _err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def _out_console() -> Console:
    return Console(highlight=False, soft_wrap=True, emoji=False)


def _fail(error: RnncastError) -> typer.Exit:
    _err_console().print(f"error: {error}", markup=False)
    return typer.Exit(code=1)


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


class _Status:
    """Status lines on stderr, silenced by --quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.console = _err_console()

    def __call__(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, markup=False)


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",")) if text else ()


def _lookbacks(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in _split(text))
    except ValueError:
        raise ConfigError(
            f"--lookbacks must be whole numbers separated by commas, e.g. 144,240,336; got '{text}'"
        ) from None


def _describe_data(series: SeriesSet) -> str:
    n = len(series)
    return (
        f"read {series.source}: {n:,} series, {len(series.values):,} values, "
        f"{series.schema.describe()}, {series.axis.describe()}"
    )


# ---- train ------------------------------------------------------------------------------


@app.command(epilog=EXIT_CODES)
def train(
    data: Annotated[
        Path, typer.Argument(help="CSV or Parquet file, or a folder of Parquet files.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")] = Path(
        DEFAULT_MODEL
    ),
    cell: Annotated[str, typer.Option(help="Recurrent cell: rnn, lstm or gru.")] = _M.cell,
    hidden_size: Annotated[
        int, typer.Option(help="Features in the hidden state.")
    ] = _M.hidden_size,
    num_layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = _M.num_layers,
    dropout: Annotated[
        float, typer.Option(help="Dropout between layers and before the head.")
    ] = _M.dropout,
    scaling: Annotated[
        str, typer.Option(help="window: scale each input window by its own mean and std; none.")
    ] = _M.scaling,
    decoder: Annotated[
        str,
        typer.Option(
            help="How the horizon comes out of the encoder: direct (one linear map) or "
            "parallel (SegRNN: one recurrent step per output segment, in parallel)."
        ),
    ] = _M.decoder,
    loss: Annotated[
        str, typer.Option(help="Training loss on scaled values: mae, mse or huber.")
    ] = _T.loss,
    horizon: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Steps to forecast (default: by frequency, e.g. hourly 48, daily 14, monthly 18).",
        ),
    ] = None,
    lookback: Annotated[
        int | None,
        typer.Option(min=1, help="Past steps the model reads (default: 3 x horizon)."),
    ] = None,
    lookbacks: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated lookbacks, one per ensemble member, e.g. 144,240,336 "
            "(default without --lookback: 3, 5 and 7 x horizon, see the README)."
        ),
    ] = None,
    val_size: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Most recent steps of each series held out for early stopping; 0 for none "
            "(default: horizon).",
        ),
    ] = None,
    segment: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Steps per recurrent input: the lookback is read in segments of this length "
            "(default: the seasonal period if 2-24, else lookback / 8).",
        ),
    ] = None,
    holdout: Annotated[
        int,
        typer.Option(
            min=0,
            help="Leave the last N steps of each series out of training, so that a flag-free "
            "'rnncast evaluate' scores forecasts the model has not seen.",
        ),
    ] = 0,
    max_epochs: Annotated[int, typer.Option(help="Upper limit on epochs.")] = _T.max_epochs,
    max_steps: Annotated[int | None, typer.Option(help="Upper limit on optimiser steps.")] = None,
    epoch_size: Annotated[
        int,
        typer.Option(
            help="Most training windows per epoch (an epoch is one shuffled pass, at least "
            "20 batches)."
        ),
    ] = _T.epoch_size,
    batch_size: Annotated[int, typer.Option(help="Windows per optimiser step.")] = _T.batch_size,
    lr: Annotated[float, typer.Option(help="Learning rate of AdamW (halved on plateaus).")] = _T.lr,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = _T.weight_decay,
    grad_clip: Annotated[
        float, typer.Option(help="Gradient norm clipping threshold.")
    ] = _T.grad_clip,
    scale_floor: Annotated[
        float,
        typer.Option(
            help="Least scale of a window, as a fraction of its series' typical window spread "
            "(keeps flat stretches from blowing up)."
        ),
    ] = _M.scale_floor,
    patience: Annotated[
        int, typer.Option(help="Epochs without validation gain before stopping.")
    ] = _T.patience,
    ensemble: Annotated[
        int,
        typer.Option(
            min=1,
            help="Train N networks from seeds seed, seed+1, ... and average their forecasts.",
        ),
    ] = _T.ensemble,
    seed: Annotated[
        int, typer.Option(help="Random seed: same seed, data and CPU give the same model.")
    ] = _T.seed,
    device: Device = "auto",
    id_col: Annotated[
        str | None, typer.Option(help="Series id column (long data) (default: unique_id).")
    ] = None,
    time_col: Annotated[
        str | None, typer.Option(help="Time column (default: ds, else detected).")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="Value column (long data) or comma-separated series columns (wide data)."
        ),
    ] = None,
    freq: Annotated[
        str | None,
        typer.Option(
            help="Frequency (pandas alias such as h, D, W-SUN, MS; or an integer step) "
            "(default: inferred)."
        ),
    ] = None,
    time_format: Annotated[
        str | None,
        typer.Option(help="strftime format of the times, e.g. %Y%m%d (default: inferred)."),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Train a model on DATA and save it to one file."""
    say = _Status(quiet)
    try:
        from rnncast import api, artifact
        from rnncast import data as data_mod
        from rnncast.outputs import check_writable
        from rnncast.train import resolve_device

        check_writable(out, "--out", inputs=(data,))
        resolve_device(device)
        member_lookbacks = _lookbacks(lookbacks)
        options = ReadOptions(
            id_col=id_col,
            time_col=time_col,
            target=_split(target),
            freq=freq,
            time_format=time_format,
        )
        model_config = ModelConfig(
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout,
            scaling=scaling,
            scale_floor=scale_floor,
            decoder=decoder,
        )
        train_config = TrainConfig(
            max_epochs=max_epochs,
            max_steps=max_steps,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            grad_clip=grad_clip,
            patience=patience,
            epoch_size=epoch_size,
            loss=loss,
            seed=seed,
            device=device,
            ensemble=ensemble,
        )
        series = data_mod.load(data, options)
        say(_describe_data(series))
        if holdout:
            series = api.hold_out(series, holdout)
            say(f"holding out the last {holdout} steps of each series for 'rnncast evaluate'")
        window, model_config = api.resolve_shapes(
            series, model_config, horizon, lookback, val_size, segment,
            member_lookbacks, ensemble,
        )  # fmt: skip
        reads = (
            f"lookbacks {', '.join(map(str, window.lookbacks))} (one per model, "
            if window.lookbacks
            else f"lookback {window.lookback} ("
        )
        say(
            f"window: {reads}in segments of {model_config.segment}), "
            f"horizon {window.horizon}, validation {window.val_size} steps per series"
        )
        with _TrainProgress(quiet, model_config) as progress:
            model, results = api.fit(
                series, window, model_config, train_config, options, str(data), progress
            )
        artifact.save(model, out)
    except RnncastError as e:
        raise _fail(e) from None
    for k, result in enumerate(results, 1):
        label = f"model {k} of {len(results)}: " if len(results) > 1 else ""
        best = (
            f", validation loss {result.best_val_loss:.4f}"
            if result.best_val_loss is not None
            else ""
        )
        say(
            f"{label}best epoch {result.best_epoch} of {len(result.history)} ({result.stopped})"
            f"{best}, {result.seconds:.1f} s on {result.device}"
        )
    say(f"saved {out}")


class _TrainProgress:
    """Turns training events into a rich progress display (terminal) or plain lines."""

    PLAIN_EVERY_S = 30.0

    def __init__(self, quiet: bool, model_config: Any):
        self.quiet, self.model_config = quiet, model_config
        self.console = _err_console()
        self.live = not quiet and self.console.is_terminal
        self.progress = None
        self.last_plain = time.monotonic()

    def __enter__(self) -> _TrainProgress:
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
        from rnncast import train

        if isinstance(event, train.TrainStart):
            c = self.model_config
            member = f", model {event.member} of {event.members}" if event.members > 1 else ""
            reads = f", lookback {event.lookback}" if event.members > 1 else ""
            self.console.print(
                f"training {c.cell} ({c.num_layers} x {c.hidden_size}) on {event.device}"
                f"{member}{reads}: {event.train_windows:,} windows, {event.val_windows:,} for "
                f"validation, {event.parameters:,} parameters",
                markup=False,
            )
            if self.progress is not None and event.member > 1:
                self.progress.reset(self.epochs, info="")
                self.progress.reset(self.batches, info="")
            elif self.progress is not None:
                self.epochs = self.progress.add_task("epochs ", total=event.max_epochs, info="")
                self.batches = self.progress.add_task(
                    "batches", total=event.batches_per_epoch, info=""
                )
        elif isinstance(event, train.BatchEnd):
            if self.progress is not None:
                self.progress.update(
                    self.batches, completed=event.batch, info=f"loss {event.loss:.4f}"
                )
            elif time.monotonic() - self.last_plain > self.PLAIN_EVERY_S:
                self.last_plain = time.monotonic()
                self.console.print(
                    f"epoch {event.epoch} batch {event.batch}/{event.batches} "
                    f"loss {event.loss:.4f}",
                    markup=False,
                )
        elif isinstance(event, train.EpochEnd):
            val = f"{event.val_loss:.4f}" if event.val_loss is not None else "-"
            best = f"{event.best_val_loss:.4f}" if event.best_val_loss is not None else "-"
            if self.progress is not None:
                self.progress.update(
                    self.epochs, completed=event.epoch, info=f"val {val} best {best}"
                )
                self.progress.reset(self.batches)
            else:
                self.last_plain = time.monotonic()
                self.console.print(
                    f"epoch {event.epoch}/{event.max_epochs} loss {event.train_loss:.4f} "
                    f"val_loss {val} best {best} lr {event.lr:.2g} {event.elapsed:.1f}s",
                    markup=False,
                )


# ---- predict ----------------------------------------------------------------------------


@app.command(epilog=EXIT_CODES)
def predict(
    data: Annotated[
        Path | None,
        typer.Argument(help="Data to forecast from (default: the model's training data, re-read)."),
    ] = None,
    model: ModelPath = Path(DEFAULT_MODEL),
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Forecast file, .csv or .parquet; '-' for CSV on stdout."),
    ] = Path("forecast.csv"),
    horizon: Annotated[
        int | None,
        typer.Option(
            min=1, help="Steps to forecast, at most the trained horizon (default: trained)."
        ),
    ] = None,
    device: Device = "auto",
    quiet: Quiet = False,
) -> None:
    """Forecast the next steps after the end of every series."""
    say = _Status(quiet)
    try:
        from rnncast import api
        from rnncast.artifact import load as load_model
        from rnncast.outputs import FRAME_SUFFIXES, check_writable, write_frame
        from rnncast.train import resolve_device

        resolve_device(device)
        bundle = load_model(model)
        to_stdout = str(out) == "-"
        if not to_stdout:
            source = str(data) if data is not None else bundle.data_abspath
            inputs = tuple(p for p in (model, source) if p)
            check_writable(out, "--out", FRAME_SUFFIXES, inputs=inputs)
        api.check_horizon(bundle, horizon)
        series = api.load_data_for(bundle, None if data is None else str(data))
        say(_describe_data(series))
        frame = api.predict(bundle, series, horizon, device)
        if to_stdout:
            sys.stdout.write(frame.to_csv(index=False))
        else:
            write_frame(frame, out)
    except RnncastError as e:
        raise _fail(e) from None
    h = len(frame) // max(len(series), 1)
    say(f"forecast {h} steps for {len(series):,} series" + ("" if to_stdout else f": wrote {out}"))


# ---- evaluate ---------------------------------------------------------------------------


@app.command(epilog=EXIT_CODES)
def evaluate(
    data: Annotated[
        Path | None,
        typer.Argument(help="Data to backtest on (default: the model's training data, re-read)."),
    ] = None,
    model: ModelPath = Path(DEFAULT_MODEL),
    out: Annotated[Path, typer.Option("--out", "-o", help="Metrics file (JSON).")] = Path(
        "metrics.json"
    ),
    windows: Annotated[
        int, typer.Option(min=1, help="Backtest windows per series: the last N horizons.")
    ] = 1,
    device: Device = "auto",
    quiet: Quiet = False,
) -> None:
    """Backtest the model over the last N horizons of each series, against naive baselines."""
    say = _Status(quiet)
    try:
        from rnncast import api
        from rnncast.artifact import load as load_model
        from rnncast.outputs import check_writable, write_json
        from rnncast.train import resolve_device

        check_writable(out, "--out", (".json",))
        resolve_device(device)
        bundle = load_model(model)
        series = api.load_data_for(bundle, None if data is None else str(data))
        say(_describe_data(series))
        report = api.evaluate(bundle, series, windows, device)
        report["model"] = str(model)
        write_json(report, out)
    except RnncastError as e:
        raise _fail(e) from None
    if not quiet:
        _out_console().print(_metrics_table(report))
        seen, total = report["windows_in_training"], report["windows_scored"]
        if seen:
            share = (
                "the backtest window lies" if total == 1
                else f"all {total:,} backtest windows lie" if seen == total
                else f"{seen:,} of {total:,} backtest windows lie"
            )  # fmt: skip
            say(
                f"note: {share} inside the model's training data "
                "(before each series' training cut-off): those scores are in-sample; evaluate "
                "on data newer than the training data for an honest estimate"
            )
        if report["skipped_series"]:
            say(
                f"note: {len(report['skipped_series']):,} series too short for a backtest window "
                f"were skipped (first: '{report['skipped_series'][0]}')"
            )
    say(f"wrote {out}")


def _metrics_table(report: dict[str, Any]) -> Table:
    table = Table(
        title=(
            f"backtest: {report['series']:,} series x up to {report['windows']} window(s) of "
            f"{report['horizon']} steps (season {report['season_length']})"
        ),
    )
    table.add_column("metric")
    for name in ("model", "naive", "seasonal naive", "model / naive", "model / seasonal"):
        table.add_column(name, justify="right")
    overall, skill = report["overall"], report["skill"]
    for metric in ("mae", "rmse", "smape", "mase"):
        ratios = [skill["vs_naive"][metric], skill["vs_seasonal_naive"][metric]]
        cells = [_fmt(overall[m][metric]) for m in ("model", "naive", "seasonal_naive")]
        cells += [_fmt_ratio(r) for r in ratios]
        table.add_row(metric, *cells)
    return table


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"


def _fmt_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    colour = "green" if value < 1 else "red"
    return f"[{colour}]{value:.3f}[/{colour}]"


# ---- info -------------------------------------------------------------------------------


@app.command(epilog=EXIT_CODES)
def info(
    model: Annotated[Path, typer.Argument(help="Model file.")] = Path(DEFAULT_MODEL),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Describe a model file: versions, configuration, data, training."""
    try:
        from rnncast.artifact import load as load_model

        bundle = load_model(model)
    except RnncastError as e:
        raise _fail(e) from None
    description = _describe_model(bundle)
    if as_json:
        print(json.dumps(description, indent=2, default=str))
        return
    table = Table(title=Text(str(model)), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for section, fields in description.items():
        if isinstance(fields, dict):
            table.add_section()
            for key, value in fields.items():
                table.add_row(f"{section}.{key}", Text(_plain(value)))
        else:
            table.add_row(section, Text(_plain(fields)))
    _out_console().print(table)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def _describe_model(a: Artifact) -> dict[str, Any]:
    from rnncast.config import to_dict

    history = a.history
    summary = a.summary
    ids = a.series_ids
    return {
        "format_version": a.format_version,
        "rnncast_version": a.rnncast_version,
        "torch_version": a.torch_version,
        "created": a.created,
        "data": {
            "path": a.data_path,
            "layout": a.schema.describe(),
            "times": a.axis.describe(),
            "series": len(ids),
            "values": a.values,
            "first_ids": ids[:5],
            "cutoff_range": [min(a.cutoffs), max(a.cutoffs)] if a.cutoffs else [],
            "fingerprint": a.fingerprint[:16],
        },
        "window": to_dict(a.window),
        "model": {**to_dict(a.model), "parameters": summary.get("parameters")},
        "train": to_dict(a.train),
        "training": {
            "device": summary.get("device"),
            "members": summary.get("members"),
            "epochs": summary.get("epochs"),
            "best_epoch": summary.get("best_epoch"),
            "best_val_loss": summary.get("best_val_loss"),
            "final_train_loss": history[-1]["train_loss"] if history else None,
            "steps": summary.get("steps"),
            "stopped": summary.get("stopped"),
            "seconds": summary.get("seconds"),
            "train_windows": summary.get("train_windows"),
            "val_windows": summary.get("val_windows"),
        },
    }


def main() -> None:
    app()
