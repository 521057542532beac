"""Every option of the commands, declared once: its help text, its checks, its help panel,
and (for the config file) its name. The commands (`rnncast.cli.commands`) name these in their
signatures. Options with a fixed set of values are choices (Click checks them, and `--help`
lists them); flags show as flags.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import typer

from rnncast.cli.console import LogFormat
from rnncast.errors import ConfigError
from rnncast.settings import (
    ACTIVATIONS,
    ANCHORS,
    BLENDS,
    CELLS,
    CLIPS,
    DECODERS,
    FILLS,
    LOSSES,
    PLACES,
    PRECISIONS,
    SCALINGS,
    SCHEDULES,
    TRANSFORMS,
)

DEFAULT_MODEL = "model.rnncast"
LOG_FORMATS = tuple(f.value for f in LogFormat)


def _metavar(values: tuple[str, ...]) -> str:
    """The choices as `--help` shows them, spaced so that a narrow terminal wraps between
    them rather than through one: '<rnn | lstm | gru | esn>'."""
    return "<" + " | ".join(values) + ">"


def _choices(name: str, values: tuple[str, ...]) -> type[enum.Enum]:
    """The values an option takes, as the enum Typer shows and checks them by."""
    return enum.Enum(name, {v: v for v in values}, type=str)


def _location(value: str | None) -> Path | str | None:
    """A path's value: a URL (s3://, gs://, az://, https://) as given, anything else a local
    `Path` (which would have folded 's3://' into 's3:/', hence `path_type=str` first)."""
    from rnncast.data.remote import is_url  # (not for --help)

    if value is None:
        return None
    return str(value) if is_url(str(value)) else Path(value)


PATH: dict[str, Any] = {"path_type": str, "callback": _location}  # a local path or a URL

Cells = _choices("Cells", CELLS)
Scalings = _choices("Scalings", SCALINGS)
Transforms = _choices("Transforms", TRANSFORMS)
Clips = _choices("Clips", CLIPS)
Anchors = _choices("Anchors", ANCHORS)
Blends = _choices("Blends", BLENDS)
Schedules = _choices("Schedules", SCHEDULES)
Decoders = _choices("Decoders", DECODERS)
Activations = _choices("Activations", ACTIVATIONS)
Losses = _choices("Losses", LOSSES)
Precisions = _choices("Precisions", PRECISIONS)
Places = _choices("Places", PLACES)
Fills = _choices("Fills", FILLS)


# ---- train: Data ---------------------------------------------------------------------------

TrainData = Annotated[
    Path,
    typer.Argument(
        help="CSV or Parquet file, or a folder of Parquet files; local, or a URL (s3://, "
        "gs://, az://, https://).",
        **PATH,
    ),
]

IdCol = Annotated[
    str | None,
    typer.Option(help="Series id column (long data) (default: unique_id).", rich_help_panel="Data"),
]

TimeCol = Annotated[
    str | None,
    typer.Option(help="Time column (default: ds, else detected).", rich_help_panel="Data"),
]

Target = Annotated[
    str | None,
    typer.Option(
        help="Value column (long data) or comma-separated series columns (wide data).",
        rich_help_panel="Data",
    ),
]

Freq = Annotated[
    str | None,
    typer.Option(
        help="Frequency (pandas alias such as h, D, W-SUN, MS; or an integer step) "
        "(default: inferred).",
        rich_help_panel="Data",
    ),
]

TimeFormat = Annotated[
    str | None,
    typer.Option(
        help="strftime format of the times, e.g. %Y%m%d (default: inferred).",
        rich_help_panel="Data",
    ),
]

Sep = Annotated[
    str | None,
    typer.Option(
        help="A CSV's column separator, e.g. ';' or tab; the model keeps it for predict "
        "(default: sniffed: ',' or tab for .tsv, else ';', tab or '|' when that splits "
        "every line alike).",
        rich_help_panel="Data",
    ),
]

Decimal = Annotated[
    str | None,
    typer.Option(
        help="A CSV's decimal mark, '.' or ','; the model keeps it for predict "
        "(default: ',' when the columns are not comma-separated and the numbers are written "
        "with ',', else '.').",
        rich_help_panel="Data",
    ),
]

Dayfirst = Annotated[
    bool | None,
    typer.Option(
        "--dayfirst/--monthfirst",
        help="Dates such as 01/02/2021 are day first (1 February) or month first; the model "
        "keeps it for predict (default: as the data shows, a first or second field above 12; "
        "an error when it cannot tell).",
        rich_help_panel="Data",
        metavar="",
    ),
]

Fill = Annotated[
    Fills,
    typer.Option(
        metavar=_metavar(FILLS),
        help="Missing or infinite values and gaps in the time grid: none (an error), "
        "ffill (last value), interpolate (straight line) or zero. Remembered by the model.",
        rich_help_panel="Data",
    ),
]

Covariates = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated columns of long data read as past covariates: inputs beside "
        "the value over the lookback (predict's data must have them too).",
        rich_help_panel="Covariates",
    ),
]

FutureCovariates = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated columns of long data known ahead (prices, promotions): read "
        "over the lookback and the horizon. predict's data give them for the horizon in "
        "rows after each series' last value, with the target empty.",
        rich_help_panel="Covariates",
    ),
]

SkipShort = Annotated[
    bool,
    typer.Option(
        "--skip-short/--no-skip-short",
        help="Leave out series shorter than lookback + horizon, with a warning, instead "
        "of failing (predict then leaves out those shorter than the lookback).",
        rich_help_panel="Data",
        metavar="",
    ),
]


# ---- train: Window -------------------------------------------------------------------------

Horizon = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Steps to forecast (default: by frequency, e.g. hourly 48, daily 14, monthly 18).",
        rich_help_panel="Window",
    ),
]

Lookback = Annotated[
    int | None,
    typer.Option(
        min=1, help="Past steps the model reads (default: 3 x horizon).", rich_help_panel="Window"
    ),
]

Lookbacks = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated lookbacks, one per ensemble member, e.g. 144,240,336 "
        "(default without --lookback: 3, 5 and 7 x horizon, see the README).",
        rich_help_panel="Window",
    ),
]

ValSize = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Most recent steps of each series held out for early stopping; 0 for none "
        "(default: horizon).",
        rich_help_panel="Window",
    ),
]

Segment = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Steps per recurrent input: the lookback is read in segments of this length "
        "(default: the seasonal period if 2-24, else lookback / 8).",
        rich_help_panel="Window",
    ),
]

Holdout = Annotated[
    int,
    typer.Option(
        min=0,
        help="Leave the last N steps of each series out of training, so that a flag-free "
        "'rnncast evaluate' scores forecasts the model has not seen.",
        rich_help_panel="Window",
    ),
]

Calendar = Annotated[
    bool,
    typer.Option(
        "--calendar/--no-calendar",
        help="Calendar features (hour of day, day of week, month of year... as sines and "
        "cosines) as inputs known for the future, where the frequency has such cycles. Off "
        "by default: they made M4 Hourly and ETTh1 worse (see the README).",
        rich_help_panel="Window",
        metavar="",
    ),
]


# ---- train: Network ------------------------------------------------------------------------

Cell = Annotated[
    Cells,
    typer.Option(
        metavar=_metavar(CELLS),
        help="Recurrent cell: rnn, lstm, gru, or esn (echo state network: a fixed random "
        "reservoir whose linear readout is solved in closed form, in seconds).",
        rich_help_panel="Network",
    ),
]

HiddenSize = Annotated[
    int, typer.Option(help="Features in the hidden state.", rich_help_panel="Network")
]

NumLayers = Annotated[
    int, typer.Option(help="Stacked recurrent layers.", rich_help_panel="Network")
]

Dropout = Annotated[
    float,
    typer.Option(help="Dropout between layers and before the head.", rich_help_panel="Network"),
]

Decoder = Annotated[
    Decoders,
    typer.Option(
        metavar=_metavar(DECODERS),
        help="How the horizon comes out of the encoder: direct (one linear map), "
        "parallel (SegRNN: one recurrent step per output segment, in parallel), seq2seq "
        "(a recurrent decoder fed the previous values: the true ones in training) or "
        "recursive (the encoder's one-step forecasts fed back as its next inputs).",
        rich_help_panel="Network",
    ),
]

Activation = Annotated[
    Activations,
    typer.Option(
        metavar=_metavar(ACTIVATIONS),
        help="Nonlinearity of --cell rnn: tanh or relu.",
        rich_help_panel="Network",
    ),
]

Bidirectional = Annotated[
    bool,
    typer.Option(
        "--bidirectional",
        help="The encoder reads the lookback both ways (not with --decoder parallel or recursive).",
        rich_help_panel="Network",
        metavar="",
    ),
]

Attention = Annotated[
    bool,
    typer.Option(
        "--attention",
        help="With --decoder seq2seq: attention (Luong) over the encoder's outputs at "
        "every decoder step.",
        rich_help_panel="Network",
        metavar="",
    ),
]

Scaling = Annotated[
    Scalings,
    typer.Option(
        metavar=_metavar(SCALINGS),
        help="window: scale each input window by its own mean and std; series: by its mean "
        "and its series' standard deviation; none.",
        rich_help_panel="Network",
    ),
]

Transform = Annotated[
    Transforms,
    typer.Option(
        metavar=_metavar(TRANSFORMS),
        help="auto: log when every training value is above 0, else none; none; or log: "
        "model the logarithm of the values (positive data whose swings grow with its level); "
        "forecasts come back with exp and stay positive.",
        rich_help_panel="Network",
    ),
]

Clip = Annotated[
    Clips,
    typer.Option(
        metavar=_metavar(CLIPS),
        help="auto: clip forecasts (and quantiles) at 0 when no training value is below 0, "
        "else none; none: leave them as they come, below 0 too; or zero: clip them at 0.",
        rich_help_panel="Network",
    ),
]

Anchor = Annotated[
    Anchors,
    typer.Option(
        metavar=_metavar(ANCHORS),
        help="last: the network forecasts a correction to each window's last value (0 repeats "
        "it, as naive does); linear: a linear map of the lookback's values, learned from 0, is "
        "added to the network's forecast (as DLinear's); none: the forecast itself, about the "
        "window's mean.",
        rich_help_panel="Network",
    ),
]

Blend = Annotated[
    Blends,
    typer.Option(
        metavar=_metavar(BLENDS),
        help="naive: after training, move forecasts toward each window's last value by the "
        "weight that scores best on the validation windows (none where the network beats "
        "naive there); none: leave them as they come.",
        rich_help_panel="Network",
    ),
]

ScaleFloor = Annotated[
    float,
    typer.Option(
        help="Least scale of a window, as a fraction of its series' typical window spread "
        "(keeps flat stretches from blowing up).",
        rich_help_panel="Network",
    ),
]

Quantiles = Annotated[
    str | None,
    typer.Option(
        help="Also forecast these quantiles, e.g. 0.1,0.5,0.9 (an 80% interval): trained "
        "with the pinball loss, never crossing; y_hat is the median.",
        rich_help_panel="Network",
    ),
]

IdEmbedding = Annotated[
    int,
    typer.Option(
        min=0,
        help="Size of a learned embedding of each series' id, from which the encoder "
        "starts (0: none). Series the model never saw get a neutral one.",
        rich_help_panel="Network",
    ),
]


# ---- train: Memory ------------------------------------------------------------------------

CheckpointActivations = Annotated[
    bool,
    typer.Option(
        "--checkpoint-activations",
        help="Recompute the encoder's activations in the backward pass instead of keeping "
        "them: less memory for long lookbacks, the same gradients, slower steps.",
        rich_help_panel="Memory",
        metavar="",
    ),
]

# ---- train: Echo state network -------------------------------------------------------------

ReservoirSize = Annotated[
    int,
    typer.Option(help="--cell esn: units in the reservoir.", rich_help_panel="Echo state network"),
]

SpectralRadius = Annotated[
    float,
    typer.Option(
        help="--cell esn: spectral radius of the reservoir, in (0, 1).",
        rich_help_panel="Echo state network",
    ),
]

LeakRate = Annotated[
    float,
    typer.Option(
        help="--cell esn: leak rate of the reservoir units, in (0, 1].",
        rich_help_panel="Echo state network",
    ),
]

Ridge = Annotated[
    float,
    typer.Option(
        help="--cell esn: ridge (L2) penalty of the readout's least squares.",
        rich_help_panel="Echo state network",
    ),
]


# ---- train: Training -----------------------------------------------------------------------

Loss = Annotated[
    Losses,
    typer.Option(
        metavar=_metavar(LOSSES),
        help="Training loss on scaled values: mae, mse or huber.",
        rich_help_panel="Training",
    ),
]

MaxEpochs = Annotated[int, typer.Option(help="Upper limit on epochs.", rich_help_panel="Training")]

MaxSteps = Annotated[
    int | None, typer.Option(help="Upper limit on optimiser steps.", rich_help_panel="Training")
]

EpochSize = Annotated[
    int,
    typer.Option(
        help="Most training windows per epoch (an epoch is one shuffled pass, at least "
        "20 batches).",
        rich_help_panel="Training",
    ),
]

BatchSize = Annotated[
    int, typer.Option(help="Windows per optimiser step.", rich_help_panel="Training")
]

Lr = Annotated[
    float,
    typer.Option(help="Learning rate of AdamW (halved on plateaus).", rich_help_panel="Training"),
]

WeightDecay = Annotated[float, typer.Option(help="AdamW weight decay.", rich_help_panel="Training")]

GradClip = Annotated[
    float, typer.Option(help="Gradient norm clipping threshold.", rich_help_panel="Training")
]

Patience = Annotated[
    int,
    typer.Option(
        help="Epochs without validation gain before stopping.", rich_help_panel="Training"
    ),
]

Ensemble = Annotated[
    int,
    typer.Option(
        min=1,
        help="Train N networks from seeds seed, seed+1, ... and average their forecasts.",
        rich_help_panel="Training",
    ),
]

InitFrom = Annotated[
    Path | None,
    typer.Option(
        help="Update this model file instead of training from scratch: start from its "
        "networks, keep its settings (an option that would change its networks is an "
        "error) and how it read its data, and train on DATA at its --lr / 30 for at "
        "most 20 epochs, --patience 3 (unless given). The new file records it.",
        rich_help_panel="Training",
    ),
]

Ema = Annotated[
    float,
    typer.Option(
        help="Validate and keep a moving average of the weights, each optimiser step "
        "moving it 1 - EMA of the way to the new weights; 0 keeps the weights themselves.",
        rich_help_panel="Training",
    ),
]

Schedule = Annotated[
    Schedules,
    typer.Option(
        metavar=_metavar(SCHEDULES),
        help="plateau: halve the learning rate when validation stalls; cosine: warm up over "
        "the first 5% of the steps, then decay to 0 at --max-steps (else --max-epochs).",
        rich_help_panel="Training",
    ),
]

Seed = Annotated[
    int,
    typer.Option(
        help="Random seed: same seed, data and CPU give the same model.", rich_help_panel="Training"
    ),
]

Precision = Annotated[
    Precisions,
    typer.Option(
        metavar=_metavar(PRECISIONS),
        help="Float type of the forward pass in training: auto (bf16 on CUDA GPUs that "
        "have it, else fp16 with loss scaling; fp32 elsewhere), fp32, bf16 (CUDA GPUs that "
        "have it, or any CPU: slow on one without bfloat16 instructions) or fp16 (CUDA "
        "only). Weights, optimiser and forecasts stay float32.",
        rich_help_panel="Training",
    ),
]

DataOn = Annotated[
    Places,
    typer.Option(
        metavar=_metavar(PLACES),
        help="Where the series values stay during training: auto (on the GPU when they "
        "take at most half its free memory, else in host memory, each batch copied over "
        "through pinned memory), device or host.",
        rich_help_panel="Training",
    ),
]

TrainDevice = Annotated[
    str,
    typer.Option(
        help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps.",
        rich_help_panel="Training",
    ),
]

TrainThreads = Annotated[
    int | None,
    typer.Option(
        help="CPU threads for torch (default: one per physical core this process may use, "
        "less those other processes keep busy; under torchrun, the cores divided among the "
        "processes of each machine).",
        show_default=False,
        rich_help_panel="Training",
    ),
]


# ---- train: Unattended runs ----------------------------------------------------------------

Checkpoint = Annotated[
    Path | None,
    typer.Option(
        help="Save the whole training state here after every epoch, so that a stopped "
        "run keeps its best weights so far; continue it with --resume.",
        rich_help_panel="Unattended runs",
        **PATH,
    ),
]

Resume = Annotated[
    Path | None,
    typer.Option(
        help="Continue the stopped run whose --checkpoint this is (same data and "
        "settings); checkpoints go on to the same file unless --checkpoint says otherwise.",
        rich_help_panel="Unattended runs",
        **PATH,
    ),
]

Wait = Annotated[
    float,
    typer.Option(
        min=0,
        help="If another run is writing the same output, wait up to this many seconds for "
        "it instead of failing at once.",
        rich_help_panel="Unattended runs",
    ),
]

Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Print nothing but errors (a JSON log keeps start, warning, done and error).",
        rich_help_panel="Unattended runs",
        metavar="",
    ),
]

Logs = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        metavar=_metavar(LOG_FORMATS),
        help="text: status lines (progress bars on a terminal); json: one JSON object per "
        "event on stderr (start, info, warning, model, epoch, done, error).",
        rich_help_panel="Unattended runs",
    ),
]


def _apply_config(ctx: typer.Context, param: Any, value: Path | None) -> Path | None:
    """--config: the file's [command] table becomes the defaults of the command's options,
    so flags given on the command line still win. Values are checked here, naming the file."""
    if value is None:
        return value
    from rnncast.store import configfile

    command = ctx.command.name or ""
    params = {p.name: p for p in ctx.command.params if p.name}
    defaults = configfile.defaults_for(value, command, list(params))
    for name, given in defaults.items():  # an error is one line (the app's `Group` says it)
        where = f"config file '{value}' sets '{name.replace('_', '-')}' under [{command}]"
        _check_on_off(where, params[name], given)
        try:
            params[name].process_value(ctx, given)
        except typer.BadParameter as e:  # its message says what was wrong
            message = e.message.removeprefix("Value error, ")  # how typer words a choice
            raise ConfigError(f"{where} to {given!r}: {message.rstrip('.')}") from None
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def _check_on_off(where: str, param: Any, given: Any) -> None:
    """TOML's true and false are for on/off options only, and those take nothing else
    (typer would read `hidden-size = true` as 1)."""
    flag = bool(getattr(param, "is_flag", False))
    option = param.opts[0] if param.opts[0].startswith("-") else param.name.upper()
    if isinstance(given, bool) and not flag:
        raise ConfigError(
            f"{where} to {str(given).lower()}, but only on/off options take true or false: "
            f"give the value you would give {option}"
        )
    if flag and not isinstance(given, bool):
        raise ConfigError(f"{where} to {given!r}: {option} is an on/off option; give true or false")


ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        is_eager=True,
        callback=_apply_config,
        help="TOML file whose [train] / [predict] / [evaluate] table sets any of these "
        "options; options given here win over it.",
        rich_help_panel="Unattended runs",
    ),
]


# ---- train: Output -------------------------------------------------------------------------

ModelOut = Annotated[
    Path,
    typer.Option("--out", "-o", help="Model file to write.", rich_help_panel="Output", **PATH),
]

PrintConfig = Annotated[
    bool,
    typer.Option(
        "--print-config",
        help="Read DATA, print the resolved settings as a config file (TOML) and stop "
        "without training.",
        rich_help_panel="Output",
        metavar="",
    ),
]

TrainMlflow = Annotated[
    bool,
    typer.Option(
        "--mlflow",
        help="Also log this run to MLflow: the resolved settings, each epoch's losses, the "
        "summary and the model file, at MLFLOW_TRACKING_URI (default: MLflow's own) in the "
        "experiment MLFLOW_EXPERIMENT_NAME (default: rnncast). Needs rnncast[mlflow].",
        rich_help_panel="Output",
        metavar="",
    ),
]


# ---- predict, evaluate: Data ---------------------------------------------------------------

PredictData = Annotated[
    Path | None,
    typer.Argument(
        help="Data to forecast from (default: the model's training data, re-read); a URL; '-' "
        "for CSV on stdin.",
        **PATH,
    ),
]

EvaluateData = Annotated[
    Path | None,
    typer.Argument(
        help="Data to backtest on (default: the model's training data, re-read); a URL; '-' for "
        "CSV on stdin.",
        **PATH,
    ),
]

ModelPath = Annotated[
    Path,
    typer.Option(
        "--model",
        "-m",
        help="Model file written by 'rnncast train'.",
        rich_help_panel="Data",
        **PATH,
    ),
]

PredictFill = Annotated[
    Fills | None,
    typer.Option(
        "--fill",
        metavar=_metavar(FILLS),
        help="Missing values and gaps: none, ffill, interpolate or zero (default: as the model "
        "was trained).",
        rich_help_panel="Data",
    ),
]

PredictSkipShort = Annotated[
    bool | None,
    typer.Option(
        "--skip-short/--no-skip-short",
        help="Leave out series shorter than the model's lookback, with a warning, instead "
        "of failing (default: as the model was trained).",
        rich_help_panel="Data",
        metavar="",
    ),
]


# ---- predict, evaluate: Output -------------------------------------------------------------

ForecastOut = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="Forecast file, .csv or .parquet; '-' for CSV on stdout.",
        rich_help_panel="Output",
        **PATH,
    ),
]

MetricsOut = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="Metrics file (JSON); '-' for JSON on stdout (the tables then go to stderr).",
        rich_help_panel="Output",
        **PATH,
    ),
]

BacktestForecasts = Annotated[
    Path | None,
    typer.Option(
        help="Also write every backtest forecast to this file, .csv or .parquet: a row per "
        "series, window and step with the actual value, the model's forecast and quantiles, "
        "naive and seasonal naive, and whether the model trained on it (in-sample).",
        rich_help_panel="Output",
        **PATH,
    ),
]

PredictHorizon = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Steps to forecast, at most the trained horizon (default: trained).",
        rich_help_panel="Output",
    ),
]

Windows = Annotated[
    int,
    typer.Option(
        min=1, help="Backtest windows per series: the last N horizons.", rich_help_panel="Output"
    ),
]

EvaluateMlflow = Annotated[
    bool,
    typer.Option(
        "--mlflow",
        help="Also log this backtest to MLflow: the model's settings, the scores (overall and "
        "at each step of the horizon) and the metrics file, at MLFLOW_TRACKING_URI (default: "
        "MLflow's own) in the experiment MLFLOW_EXPERIMENT_NAME (default: rnncast). Needs "
        "rnncast[mlflow].",
        rich_help_panel="Output",
        metavar="",
    ),
]

Plot = Annotated[
    Path | None,
    typer.Option(
        help="Also draw a few series (history, forecast; actuals in a backtest) to this "
        "image: .png, .svg or .pdf.",
        rich_help_panel="Output",
        **PATH,
    ),
]

PlotSeries = Annotated[
    str | None,
    typer.Option(
        help="Series to draw, separated by commas (default: a handful that show the range).",
        rich_help_panel="Output",
    ),
]


# ---- predict, evaluate: Running ------------------------------------------------------------

Device = Annotated[
    str,
    typer.Option(
        help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps.",
        rich_help_panel="Running",
    ),
]

Threads = Annotated[
    int | None,
    typer.Option(
        help="CPU threads for torch (default: one per physical core this process may use, "
        "less those other processes keep busy; under torchrun, the cores divided among the "
        "processes of each machine).",
        show_default=False,
        rich_help_panel="Running",
    ),
]


# ---- info --------------------------------------------------------------------------------

InfoModel = Annotated[Path, typer.Argument(help="Model file.", **PATH)]

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.", metavar="")]


# ---- export ------------------------------------------------------------------------------

ExportModel = Annotated[Path, typer.Argument(help="Model file written by 'rnncast train'.", **PATH)]

OnnxOut = Annotated[Path, typer.Argument(help="ONNX file to write (.onnx).", **PATH)]
