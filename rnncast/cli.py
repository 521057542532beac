"""The command-line interface: the only module that exits; it speaks through
`rnncast.console`.

Commands stay thin: parse options, call `rnncast.api`, write outputs atomically under a lock,
report. Any `RnncastError` becomes one line on stderr and exit code 1; SIGINT and SIGTERM
stop the run with nothing written and exit 130 / 143; usage errors exit 2 (Typer's own);
anything else is a bug and keeps its traceback. Heavy modules (torch, pandas) are imported
inside the commands so that `rnncast --help` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.table import Table
from rich.text import Text

from rnncast import __version__
from rnncast.console import LogFormat, Reporter, out_console
from rnncast.errors import ConfigError, RnncastError
from rnncast.interrupts import Interrupted, Signals
from rnncast.settings import (
    ModelConfig,
    ReadOptions,
    TrainConfig,
    check_together,
    parse_lookbacks,
    parse_quantiles,
)

if TYPE_CHECKING:
    from rnncast.artifact import Artifact
    from rnncast.data.series import SeriesSet

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
Logs = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        help="text: status lines (progress bars on a terminal); json: one JSON object per "
        "event on stderr (start, info, warning, model, epoch, done, error).",
    ),
]
Threads = Annotated[
    int | None,
    typer.Option(
        help="CPU threads for torch (default: one per physical core this process may use; "
        "under torchrun, that divided among the processes of each machine).",
        show_default=False,
    ),
]
Wait = Annotated[
    float,
    typer.Option(
        min=0,
        help="If another run is writing the same output, wait up to this many seconds for "
        "it instead of failing at once.",
    ),
]


def _apply_config(ctx: typer.Context, param: Any, value: Path | None) -> Path | None:
    """--config: the file's [command] table becomes the defaults of the command's options,
    so flags given on the command line still win. Values are checked here, naming the file."""
    if value is None:
        return value
    from rnncast import configfile

    command = ctx.command.name or ""
    params = {p.name: p for p in ctx.command.params if p.name}
    try:
        defaults = configfile.defaults_for(value, command, list(params))
        for name, given in defaults.items():
            try:
                params[name].process_value(ctx, given)
            except Exception as e:  # Click's BadParameter, whose message says what was wrong
                message = getattr(e, "message", None) or str(e)
                raise ConfigError(
                    f"config file '{value}' sets '{name.replace('_', '-')}' under [{command}] "
                    f"to {given!r}: {message.rstrip('.')}"
                ) from None
    except RnncastError as e:
        Reporter(command).error(str(e), 1)
        raise typer.Exit(code=1) from None
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        is_eager=True,
        callback=_apply_config,
        help="TOML file whose [train] / [predict] / [evaluate] table sets any of these "
        "options; options given here win over it.",
    ),
]


Plot = Annotated[
    Path | None,
    typer.Option(
        help="Also draw a few series (history, forecast; actuals in a backtest) to this "
        "image: .png, .svg or .pdf.",
    ),
]
PlotSeries = Annotated[
    str | None,
    typer.Option(
        help="Series to draw, separated by commas (default: a handful that show the range).",
    ),
]


PredictFill = Annotated[
    str | None,
    typer.Option(
        "--fill",
        help="Missing values and gaps: none, ffill, interpolate or zero (default: as the model "
        "was trained).",
    ),
]


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


class _Run:
    """One command run: its signal handling, the outputs written so far, and what it set
    up for its duration (`stack`)."""

    def __init__(self, signals: Signals, stack: contextlib.ExitStack):
        self.signals = signals
        self.written: list[str] = []
        self.stack = stack

    def use_threads(self, threads: int | None) -> None:
        """--threads (checked; default `rnncast.threads.default_threads`) for the rest of
        the run, and torch's setting as before afterwards."""
        from rnncast.engine import threads as cpu_threads

        self.stack.enter_context(cpu_threads.using(cpu_threads.resolve(threads)))

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """The final writes: a signal waits until they are all done."""
        with self.signals.deferred():
            yield

    def wrote(self, path: Path) -> None:
        self.written.append(str(path))


@contextlib.contextmanager
def _running(
    reporter: Reporter, interrupted: Callable[[], str] = lambda: "nothing was written"
) -> Iterator[_Run]:
    """Run a command's body: a problem the user can fix is one line and exit 1; SIGINT or
    SIGTERM stops it with exit 130 or 143 (`interrupted()` says what was kept)."""
    with Signals() as signals, contextlib.ExitStack() as stack:
        run = _Run(signals, stack)
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
def _writing(paths: list[Path], wait: float, reads: list[Path] = ()) -> Iterator[None]:
    """Hold the locks of the outputs (and shared ones of the files read, so that a run
    writing them finishes first), and clear what a killed earlier run left of them."""
    from rnncast.locks import locked
    from rnncast.outputs import remove_stale_temporaries

    with locked(paths, wait, reads):
        for p in paths:
            remove_stale_temporaries(p)
        yield


def _other_rank() -> bool:
    """Under torchrun, whether this is a process other than rank 0, which alone reports
    and writes. A broken torchrun environment counts as rank 0: the command reports it."""
    from rnncast.engine.distributed import world

    try:
        return not world().main
    except RnncastError:
        return False


def _read(report: Reporter, series: SeriesSet) -> None:
    """Say what was read, and warn of what reading changed (filled values)."""
    report.info(_describe_data(series))
    for note in series.notes:
        report.warning(note)


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",")) if text else ()


def _describe_data(series: SeriesSet) -> str:
    n = len(series)
    return (
        f"read {series.source}: {n:,} series, {len(series.values):,} values, "
        f"{series.schema.describe()}, {series.axis.describe()}"
    )


# ---- train ------------------------------------------------------------------------------


@app.command(epilog=EXIT_CODES)
def train(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Argument(help="CSV or Parquet file, or a folder of Parquet files.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")] = Path(
        DEFAULT_MODEL
    ),
    cell: Annotated[
        str,
        typer.Option(
            help="Recurrent cell: rnn, lstm, gru, or esn (echo state network: a fixed random "
            "reservoir whose linear readout is solved in closed form, in seconds)."
        ),
    ] = _M.cell,
    hidden_size: Annotated[
        int, typer.Option(help="Features in the hidden state.")
    ] = _M.hidden_size,
    num_layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = _M.num_layers,
    dropout: Annotated[
        float, typer.Option(help="Dropout between layers and before the head.")
    ] = _M.dropout,
    scaling: Annotated[
        str,
        typer.Option(
            help="window: scale each input window by its own mean and std; series: by its mean "
            "and its series' standard deviation; none.",
        ),
    ] = _M.scaling,
    transform: Annotated[
        str,
        typer.Option(
            help="none, or log: model the logarithm of the values (positive data whose swings "
            "grow with its level); forecasts come back with exp and stay positive.",
        ),
    ] = _M.transform,
    decoder: Annotated[
        str,
        typer.Option(
            help="How the horizon comes out of the encoder: direct (one linear map), "
            "parallel (SegRNN: one recurrent step per output segment, in parallel), seq2seq "
            "(a recurrent decoder fed the previous values: the true ones in training) or "
            "recursive (the encoder's one-step forecasts fed back as its next inputs)."
        ),
    ] = _M.decoder,
    activation: Annotated[
        str, typer.Option(help="Nonlinearity of --cell rnn: tanh or relu.")
    ] = _M.activation,
    bidirectional: Annotated[
        bool,
        typer.Option(
            help="The encoder reads the lookback both ways (not with --decoder parallel or "
            "recursive)."
        ),
    ] = _M.bidirectional,
    attention: Annotated[
        bool,
        typer.Option(
            help="With --decoder seq2seq: attention (Luong) over the encoder's outputs at "
            "every decoder step."
        ),
    ] = _M.attention,
    checkpoint_activations: Annotated[
        bool,
        typer.Option(
            help="Recompute the encoder's activations in the backward pass instead of keeping "
            "them: less memory for long lookbacks, the same gradients, slower steps."
        ),
    ] = _M.checkpoint_activations,
    reservoir_size: Annotated[
        int, typer.Option(help="--cell esn: units in the reservoir.")
    ] = _M.reservoir_size,
    spectral_radius: Annotated[
        float,
        typer.Option(help="--cell esn: spectral radius of the reservoir, in (0, 1)."),
    ] = _M.spectral_radius,
    leak_rate: Annotated[
        float,
        typer.Option(help="--cell esn: leak rate of the reservoir units, in (0, 1]."),
    ] = _M.leak_rate,
    ridge: Annotated[
        float,
        typer.Option(help="--cell esn: ridge (L2) penalty of the readout's least squares."),
    ] = _M.ridge,
    loss: Annotated[
        str, typer.Option(help="Training loss on scaled values: mae, mse or huber.")
    ] = _T.loss,
    quantiles: Annotated[
        str | None,
        typer.Option(
            help="Also forecast these quantiles, e.g. 0.1,0.5,0.9 (an 80% interval): trained "
            "with the pinball loss, never crossing; y_hat is the median.",
        ),
    ] = None,
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
    id_embedding: Annotated[
        int,
        typer.Option(
            min=0,
            help="Size of a learned embedding of each series' id, from which the encoder "
            "starts (0: none). Series the model never saw get a neutral one.",
        ),
    ] = _M.id_embedding,
    calendar: Annotated[
        bool,
        typer.Option(
            help="Calendar features (hour of day, day of week, month of year... as sines and "
            "cosines) as inputs known for the future, where the frequency has such cycles. Off "
            "by default: they made M4 Hourly and ETTh1 worse (see the README).",
        ),
    ] = False,
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
    ema: Annotated[
        float,
        typer.Option(
            help="Validate and keep a moving average of the weights, each optimiser step "
            "moving it 1 - EMA of the way to the new weights; 0 keeps the weights themselves.",
        ),
    ] = _T.ema,
    precision: Annotated[
        str,
        typer.Option(
            help="Float type of the forward pass in training: auto (bf16 on CUDA GPUs that "
            "have it, else fp16 with loss scaling; fp32 elsewhere), fp32, bf16 or fp16 (CUDA "
            "only). Weights, optimiser and forecasts stay float32.",
        ),
    ] = _T.precision,
    data_on: Annotated[
        str,
        typer.Option(
            help="Where the series values stay during training: auto (on the GPU when they "
            "take at most half its free memory, else in host memory, each batch copied over "
            "through pinned memory), device or host.",
        ),
    ] = _T.data_on,
    seed: Annotated[
        int, typer.Option(help="Random seed: same seed, data and CPU give the same model.")
    ] = _T.seed,
    device: Device = "auto",
    threads: Threads = None,
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
    fill: Annotated[
        str,
        typer.Option(
            help="Missing or infinite values and gaps in the time grid: none (an error), "
            "ffill (last value), interpolate (straight line) or zero. Remembered by the model."
        ),
    ] = "none",
    covariates: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated columns of long data read as past covariates: inputs beside "
            "the value over the lookback (predict's data must have them too).",
        ),
    ] = None,
    skip_short: Annotated[
        bool,
        typer.Option(
            help="Leave out series shorter than lookback + horizon, with a warning, instead "
            "of failing (predict then leaves out those shorter than the lookback)."
        ),
    ] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="Save the whole training state here after every epoch, so that a stopped "
            "run keeps its best weights so far; continue it with --resume.",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue the stopped run whose --checkpoint this is (same data and "
            "settings); checkpoints go on to the same file unless --checkpoint says otherwise.",
        ),
    ] = None,
    wait: Wait = 0.0,
    quiet: Quiet = False,
    log_format: Logs = LogFormat.text,
    config: ConfigFile = None,
    print_config: Annotated[
        bool,
        typer.Option(
            help="Read DATA, print the resolved settings as a config file (TOML) and stop "
            "without training.",
        ),
    ] = False,
) -> None:
    """Train a model on DATA and save it to one file.

    Under torchrun (`torchrun --nproc_per_node=N -m rnncast train ...`) the processes train
    one network together; only rank 0 reports and writes."""
    quiet = quiet or _other_rank()
    report = Reporter("train", quiet, log_format.value)
    report.start(data=str(data), out=str(out))
    keep = checkpoint or resume
    saved: list[str] = []  # where the checkpoint of this run stands, once it has one
    with _running(report, lambda: _interrupted_training(keep, saved)) as run:
        from rnncast import api, artifact
        from rnncast import checkpoint as checkpoints
        from rnncast.data.readers import load as read_data
        from rnncast.engine import distributed
        from rnncast.outputs import check_writable

        world = distributed.world()
        run.use_threads(threads)

        if not print_config:
            check_writable(out, "--out", inputs=(("the input data file", data),))
            if keep is not None:
                check_writable(
                    keep, "--checkpoint" if checkpoint else "--resume",
                    inputs=(("the input data file", data), ("--out", out)),
                )  # fmt: skip
        from rnncast.engine.devices import autocast_dtype, resolve_device

        autocast_dtype(precision, resolve_device(device))  # refused before any work
        member_lookbacks = parse_lookbacks(lookbacks)
        options = ReadOptions(
            id_col=id_col,
            time_col=time_col,
            target=_split(target),
            freq=freq,
            time_format=time_format,
            fill=fill,
            skip_short=skip_short,
            covariates=_split(covariates),
        )
        model_config = ModelConfig(
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout,
            scaling=scaling,
            transform=transform,
            scale_floor=scale_floor,
            decoder=decoder,
            quantiles=parse_quantiles(quantiles),
            id_embedding=id_embedding,
            activation=activation,
            bidirectional=bidirectional,
            attention=attention,
            checkpoint_activations=checkpoint_activations,
            reservoir_size=reservoir_size,
            spectral_radius=spectral_radius,
            leak_rate=leak_rate,
            ridge=ridge,
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
            precision=precision,
            data_on=data_on,
            ema=ema,
        )
        check_together(model_config, train_config)
        writes = [] if print_config or not world.main else [out] + ([keep] if keep else [])
        with _writing(writes, wait):
            resumed = checkpoints.load(resume) if resume is not None else None
            if resumed is not None:
                saved.append(resumed.describe())
            series = read_data(data, options)
            _read(report, series)
            series, window, model_config, notes = api.prepare(
                series, model_config, options, horizon, lookback, val_size, segment,
                member_lookbacks, ensemble, holdout, calendar,
            )  # fmt: skip
            for kind, note in notes:
                (report.warning if kind == "warning" else report.info)(note)
            if print_config:
                resolved = {
                    "horizon": window.horizon,
                    "lookback": None if window.lookbacks else window.lookback,
                    "lookbacks": ",".join(map(str, window.lookbacks)) or None,
                    "val_size": window.val_size,
                    "segment": model_config.segment,
                    "transform": model_config.transform,
                }
                if world.main:
                    sys.stdout.write(_config_text(ctx, resolved))
                return
            reads = (
                f"lookbacks {', '.join(map(str, window.lookbacks))} (one per model, "
                if window.lookbacks
                else f"lookback {window.lookback} ("
            )
            report.info(
                f"window: {reads}in segments of {model_config.segment}), "
                f"horizon {window.horizon}, validation {window.val_size} steps per series"
            )
            if resumed is not None:
                report.info(f"resuming from {resume}: {resumed.describe()}")
            with distributed.session(device):
                with report.training(model_config) as progress, run.signals.deferred():
                    model, results = api.fit(
                        series, window, model_config, train_config, options, str(data),
                        progress, should_stop=run.signals.requested, checkpoint_path=keep,
                        resume=resumed, on_saved=saved.append,
                    )  # fmt: skip
                if world.main:
                    with run.writing():
                        artifact.save(model, out)
                        run.wrote(out)
    for k, result in enumerate(results, 1):
        label = f"model {k} of {len(results)}: " if len(results) > 1 else ""
        best = (
            f", validation loss {result.best_val_loss:.4f}"
            if result.best_val_loss is not None
            else ""
        )
        report.info(
            f"{label}best epoch {result.best_epoch} of {len(result.history)} ({result.stopped})"
            f"{best}, {result.seconds:.1f} s on {result.device}"
        )
    if model.intervals:
        scaled = ", ".join(f"{k} by {v:.2f}" for k, v in model.intervals.items())
        report.info(
            f"intervals calibrated to cover their share of the validation windows: widths {scaled}"
        )
    if not quiet and not report.json:
        report.console.print(_train_table(model, series, out))
    report.done(
        f"saved {out}",
        out=str(out),
        seconds=model.summary["seconds"],
        best_val_loss=model.summary["best_val_loss"],
    )


def _train_table(model: Artifact, series: SeriesSet, out: Path) -> Table:
    """What was trained, at a glance."""
    s, w, m = model.summary, model.window, model.model
    losses = [f"{v:.4f}" for v in s["best_val_loss"] if v is not None]
    table = Table(title=Text(f"trained {out}"), show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    rows = [
        ("data", f"{len(series):,} series, {len(series.values):,} values, "
                 f"{model.axis.describe()}"),
        ("windows", f"{s['train_windows']:,} for training, {s['val_windows']:,} for validation; "
                    f"lookback {w.lookback}, horizon {w.horizon}"),
        ("network", f"{m.describe()}, {m.decoder} decoder"
                    f"{' with attention' if m.attention else ''}, segments of {m.segment}, "
                    f"{'in logs, ' if m.logs else ''}{s['members']} member(s), "
                    f"{s['parameters']:,} parameters"),
        ("best epoch", ", ".join(str(e) for e in s["best_epoch"])
         + f" (of {', '.join(str(e) for e in s['epochs'])})"),
        ("validation loss", ", ".join(losses) if losses else "- (no validation)"),
        ("time", f"{s['seconds']:.1f} s on {s['device']}"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, Text(value))
    return table


def _config_text(ctx: typer.Context, resolved: dict[str, Any]) -> str:
    """This run's options as a config file, with the settings chosen from the data filled."""
    from rnncast import configfile

    skip = {"config", "print_config", "quiet", "log_format"}
    order = [p.name for p in ctx.command.params if p.name in ctx.params and p.name not in skip]
    values = {k: ctx.params[k] for k in order} | resolved
    plain = {
        k: str(v) if isinstance(v, Path) else getattr(v, "value", v) for k, v in values.items()
    }
    return configfile.to_toml(ctx.command.name or "train", plain)


def _interrupted_training(kept: Path | None, saved: list[str]) -> str:
    """What an interrupted training run leaves: no model; maybe a checkpoint to resume."""
    if kept is None:
        return (
            "no model written; pass --checkpoint PATH to keep the progress of a run that "
            "may be stopped"
        )
    if not saved:
        return f"no model written, and no epoch was complete to keep in '{kept}'"
    return f"no model written; '{kept}' holds {saved[-1]}: continue with --resume {kept}"


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
    fill: PredictFill = None,
    skip_short: Annotated[
        bool | None,
        typer.Option(
            "--skip-short/--no-skip-short",
            help="Leave out series shorter than the model's lookback, with a warning, instead "
            "of failing (default: as the model was trained).",
        ),
    ] = None,
    plot: Plot = None,
    plot_series: PlotSeries = None,
    device: Device = "auto",
    threads: Threads = None,
    wait: Wait = 0.0,
    quiet: Quiet = False,
    log_format: Logs = LogFormat.text,
    config: ConfigFile = None,
) -> None:
    """Forecast the next steps after the end of every series."""
    other = _other_rank()  # under torchrun: every process forecasts a share, rank 0 writes
    report = Reporter("predict", quiet or other, log_format.value)
    report.start(data=None if data is None else str(data), model=str(model), out=str(out))
    to_stdout = str(out) == "-"
    with _running(report) as run:
        from rnncast import api
        from rnncast.artifact import load as load_model
        from rnncast.engine import distributed
        from rnncast.engine.devices import resolve_device
        from rnncast.outputs import FRAME_SUFFIXES, check_writable, write_frame

        resolve_device(device)
        run.use_threads(threads)
        inputs = _inputs(model, data)
        if not to_stdout:  # in every process, so that all fail alike before they meet
            check_writable(out, "--out", FRAME_SUFFIXES, inputs=inputs)
        _check_plot(plot, plot_series, inputs + (() if to_stdout else (("--out", out),)))
        outputs = ([] if to_stdout else [out]) + ([plot] if plot else [])
        with _writing([] if other else outputs, wait, reads=[model]):  # training goes first
            bundle = load_model(model)
            _check_recorded_data(
                bundle, data, {"--out": None if to_stdout else out, "--plot": plot}
            )
            api.check_horizon(bundle, horizon)
            series = api.load_data_for(bundle, None if data is None else str(data), fill)
            _read(report, series)
            if bundle.read_options.skip_short if skip_short is None else skip_short:
                lookback = max(bundle.window.lookbacks or (bundle.window.lookback,))
                series, note = api.leave_out_short(
                    series, lookback, f"the model's lookback of {lookback} values",
                    f"give at least {lookback} values per series, or retrain with a smaller "
                    "--lookback",
                )  # fmt: skip
                if note:
                    report.warning(note)
            with distributed.session(device):
                frame = api.predict(bundle, series, horizon, device)
            if other:
                return
            image = None
            if plot is not None:
                from rnncast import plots

                picks = plots.pick_series(series, _split(plot_series))
                image = plots.forecast_figure(
                    series, frame, picks, plot.suffix[1:].lower(), f"rnncast forecast ({model})",
                    bundle.model.quantiles,
                )  # fmt: skip
            with run.writing():
                if to_stdout:
                    sys.stdout.write(frame.to_csv(index=False))
                else:
                    write_frame(frame, out)
                    run.wrote(out)
                if image is not None:
                    plots.write(image, plot)
                    run.wrote(plot)
    h = len(frame) // max(len(series), 1)
    report.done(
        f"forecast {h} steps for {len(series):,} series" + ("" if to_stdout else f": wrote {out}"),
        out=str(out), series=len(series), horizon=h, rows=len(frame),
    )  # fmt: skip


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
    fill: PredictFill = None,
    plot: Plot = None,
    plot_series: PlotSeries = None,
    device: Device = "auto",
    threads: Threads = None,
    wait: Wait = 0.0,
    quiet: Quiet = False,
    log_format: Logs = LogFormat.text,
    config: ConfigFile = None,
) -> None:
    """Backtest the model over the last N horizons of each series, against naive baselines."""
    if _other_rank():
        return  # under torchrun rank 0 alone backtests (and writes)
    report = Reporter("evaluate", quiet, log_format.value)
    report.start(data=None if data is None else str(data), model=str(model), out=str(out))
    with _running(report) as run:
        from rnncast import api
        from rnncast.artifact import load as load_model
        from rnncast.engine.devices import resolve_device
        from rnncast.outputs import check_writable, write_json

        inputs = _inputs(model, data)
        check_writable(out, "--out", (".json",), inputs=inputs)
        _check_plot(plot, plot_series, (*inputs, ("--out", out)))
        resolve_device(device)
        run.use_threads(threads)
        with _writing([out] + ([plot] if plot else []), wait, reads=[model]):
            bundle = load_model(model)
            _check_recorded_data(bundle, data, {"--out": out, "--plot": plot})
            series = api.load_data_for(bundle, None if data is None else str(data), fill)
            _read(report, series)
            result = api.run_backtest(bundle, series, windows, device)
            metrics = result.report
            metrics["model"] = str(model)
            image = None
            if plot is not None:
                from rnncast import plots

                scores = plots.model_mase(series, metrics)
                picks = plots.pick_series(series, _split(plot_series), scores)
                image = plots.backtest_figure(
                    series, result, picks, plot.suffix[1:].lower(), f"rnncast backtest ({model})"
                )
            with run.writing():
                write_json(metrics, out)
                run.wrote(out)
                if image is not None:
                    plots.write(image, plot)
                    run.wrote(plot)
    if not quiet and not report.json:
        out_console().print(_metrics_table(metrics))
        if "quantiles" in metrics:
            out_console().print(_quantile_table(metrics["quantiles"]))
    seen, total = metrics["windows_in_training"], metrics["windows_scored"]
    if seen:
        share = (
            "the backtest window lies" if total == 1
            else f"all {total:,} backtest windows lie" if seen == total
            else f"{seen:,} of {total:,} backtest windows lie"
        )  # fmt: skip
        report.info(
            f"note: {share} inside the model's training data "
            "(before each series' training cut-off): those scores are in-sample; evaluate "
            "on data newer than the training data for an honest estimate"
        )
    if metrics["skipped_series"]:
        report.info(
            f"note: {len(metrics['skipped_series']):,} series too short for a backtest window "
            f"were skipped (first: '{metrics['skipped_series'][0]}')"
        )
    report.done(
        f"wrote {out}", out=str(out), overall=metrics["overall"], skill=metrics["skill"],
        **({"quantiles": metrics["quantiles"]} if "quantiles" in metrics else {}),
    )  # fmt: skip


def _inputs(model: Path, data: Path | None) -> tuple[tuple[str, Path], ...]:
    """The files predict and evaluate read, which no output may overwrite."""
    return (("the model file", model),) + ((("the input data file", data),) if data else ())


def _check_recorded_data(bundle: Artifact, data: Path | None, outputs: dict) -> None:
    """Without DATA the model's recorded training data is read: no output may be it."""
    from rnncast.outputs import check_not_input

    recorded = bundle.data_abspath if data is None else ""
    for option, path in outputs.items():
        if recorded and path is not None:
            check_not_input(path, option, (("the input data file", recorded),))


def _check_plot(plot: Path | None, plot_series: str | None, others: tuple) -> None:
    """--plot and --plot-series, checked before any work."""
    from rnncast.outputs import check_writable
    from rnncast.plots import PLOT_SUFFIXES, require_matplotlib

    if plot is None:
        if plot_series:
            raise ConfigError("--plot-series picks series for --plot: give --plot PATH too")
        return
    check_writable(plot, "--plot", PLOT_SUFFIXES, inputs=others)
    require_matplotlib()


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


def _quantile_table(quantiles: dict[str, Any]) -> Table:
    """Each quantile's pinball loss and the share of actuals below it; each interval's
    coverage; observed shares green within 5 points of the nominal ones, red beyond."""
    table = Table(title="quantiles and intervals: observed against nominal shares")
    table.add_column("forecast")
    for name in ("pinball", "scaled pinball", "observed", "nominal"):
        table.add_column(name, justify="right")
    for name, q in quantiles["levels"].items():
        table.add_row(f"{name} (share below)", _fmt(q["pinball"]), _fmt(q["scaled_pinball"]),
                      _fmt_share(q["below"], q["level"]), f"{q['level']:.1%}")  # fmt: skip
    for name, interval in quantiles["intervals"].items():
        nominal = interval["upper"] - interval["lower"]
        table.add_row(f"{name} interval (coverage)", "", "",
                      _fmt_share(interval["coverage"], nominal), f"{nominal:.1%}")  # fmt: skip
    return table


def _fmt_share(value: float, nominal: float) -> str:
    colour = "green" if abs(value - nominal) <= 0.05 else "red"
    return f"[{colour}]{value:.1%}[/{colour}]"


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
    with _running(Reporter("info")):
        from rnncast.artifact import load as load_model

        bundle = load_model(model)
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
    out_console().print(table)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def _describe_model(a: Artifact) -> dict[str, Any]:
    from rnncast.settings import to_dict

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
        "intervals": dict(a.intervals),
        "train": to_dict(a.train),
        "training": {
            "device": summary.get("device"),
            "members": summary.get("members"),
            "epochs": summary.get("epochs"),
            "best_epoch": summary.get("best_epoch"),
            "best_val_loss": summary.get("best_val_loss"),
            "final_train_loss": history[-1]["train_loss"] if history else None,
            "steps": summary.get("steps"),
            "processes": summary.get("processes", 1),
            "stopped": summary.get("stopped"),
            "seconds": summary.get("seconds"),
            "train_windows": summary.get("train_windows"),
            "val_windows": summary.get("val_windows"),
        },
    }


def main() -> None:
    try:
        try:
            app()
        except Interrupted as e:  # a signal outside any command's own handling: no traceback
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
