"""Every option of the commands, declared once: its help text, its checks, and (for the
config file) its name. The commands (`rnncast.cli.commands`) name these in their signatures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rnncast.cli.console import LogFormat, Reporter
from rnncast.errors import ConfigError, RnncastError

DEFAULT_MODEL = "model.rnncast"


# ---- shared by several commands ---------------------------------------------------------

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
    from rnncast.store import configfile

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


# ---- train --------------------------------------------------------------------------------

TrainData = Annotated[
    Path, typer.Argument(help="CSV or Parquet file, or a folder of Parquet files.")
]
ModelOut = Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")]
Cell = Annotated[
    str,
    typer.Option(
        help="Recurrent cell: rnn, lstm, gru, or esn (echo state network: a fixed random "
        "reservoir whose linear readout is solved in closed form, in seconds)."
    ),
]
HiddenSize = Annotated[int, typer.Option(help="Features in the hidden state.")]
NumLayers = Annotated[int, typer.Option(help="Stacked recurrent layers.")]
Dropout = Annotated[float, typer.Option(help="Dropout between layers and before the head.")]
Scaling = Annotated[
    str,
    typer.Option(
        help="window: scale each input window by its own mean and std; series: by its mean "
        "and its series' standard deviation; none.",
    ),
]
Transform = Annotated[
    str,
    typer.Option(
        help="none, or log: model the logarithm of the values (positive data whose swings "
        "grow with its level); forecasts come back with exp and stay positive.",
    ),
]
Decoder = Annotated[
    str,
    typer.Option(
        help="How the horizon comes out of the encoder: direct (one linear map), "
        "parallel (SegRNN: one recurrent step per output segment, in parallel), seq2seq "
        "(a recurrent decoder fed the previous values: the true ones in training) or "
        "recursive (the encoder's one-step forecasts fed back as its next inputs)."
    ),
]
Activation = Annotated[str, typer.Option(help="Nonlinearity of --cell rnn: tanh or relu.")]
Bidirectional = Annotated[
    bool,
    typer.Option(
        help="The encoder reads the lookback both ways (not with --decoder parallel or recursive)."
    ),
]
Attention = Annotated[
    bool,
    typer.Option(
        help="With --decoder seq2seq: attention (Luong) over the encoder's outputs at "
        "every decoder step."
    ),
]
CheckpointActivations = Annotated[
    bool,
    typer.Option(
        help="Recompute the encoder's activations in the backward pass instead of keeping "
        "them: less memory for long lookbacks, the same gradients, slower steps."
    ),
]
ReservoirSize = Annotated[int, typer.Option(help="--cell esn: units in the reservoir.")]
SpectralRadius = Annotated[
    float,
    typer.Option(help="--cell esn: spectral radius of the reservoir, in (0, 1)."),
]
LeakRate = Annotated[
    float,
    typer.Option(help="--cell esn: leak rate of the reservoir units, in (0, 1]."),
]
Ridge = Annotated[
    float,
    typer.Option(help="--cell esn: ridge (L2) penalty of the readout's least squares."),
]
Loss = Annotated[str, typer.Option(help="Training loss on scaled values: mae, mse or huber.")]
Quantiles = Annotated[
    str | None,
    typer.Option(
        help="Also forecast these quantiles, e.g. 0.1,0.5,0.9 (an 80% interval): trained "
        "with the pinball loss, never crossing; y_hat is the median.",
    ),
]
Horizon = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Steps to forecast (default: by frequency, e.g. hourly 48, daily 14, monthly 18).",
    ),
]
Lookback = Annotated[
    int | None,
    typer.Option(min=1, help="Past steps the model reads (default: 3 x horizon)."),
]
Lookbacks = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated lookbacks, one per ensemble member, e.g. 144,240,336 "
        "(default without --lookback: 3, 5 and 7 x horizon, see the README)."
    ),
]
ValSize = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Most recent steps of each series held out for early stopping; 0 for none "
        "(default: horizon).",
    ),
]
Segment = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Steps per recurrent input: the lookback is read in segments of this length "
        "(default: the seasonal period if 2-24, else lookback / 8).",
    ),
]
IdEmbedding = Annotated[
    int,
    typer.Option(
        min=0,
        help="Size of a learned embedding of each series' id, from which the encoder "
        "starts (0: none). Series the model never saw get a neutral one.",
    ),
]
Calendar = Annotated[
    bool,
    typer.Option(
        help="Calendar features (hour of day, day of week, month of year... as sines and "
        "cosines) as inputs known for the future, where the frequency has such cycles. Off "
        "by default: they made M4 Hourly and ETTh1 worse (see the README).",
    ),
]
Holdout = Annotated[
    int,
    typer.Option(
        min=0,
        help="Leave the last N steps of each series out of training, so that a flag-free "
        "'rnncast evaluate' scores forecasts the model has not seen.",
    ),
]
MaxEpochs = Annotated[int, typer.Option(help="Upper limit on epochs.")]
MaxSteps = Annotated[int | None, typer.Option(help="Upper limit on optimiser steps.")]
EpochSize = Annotated[
    int,
    typer.Option(
        help="Most training windows per epoch (an epoch is one shuffled pass, at least 20 batches)."
    ),
]
BatchSize = Annotated[int, typer.Option(help="Windows per optimiser step.")]
Lr = Annotated[float, typer.Option(help="Learning rate of AdamW (halved on plateaus).")]
WeightDecay = Annotated[float, typer.Option(help="AdamW weight decay.")]
GradClip = Annotated[float, typer.Option(help="Gradient norm clipping threshold.")]
ScaleFloor = Annotated[
    float,
    typer.Option(
        help="Least scale of a window, as a fraction of its series' typical window spread "
        "(keeps flat stretches from blowing up)."
    ),
]
Patience = Annotated[int, typer.Option(help="Epochs without validation gain before stopping.")]
Ensemble = Annotated[
    int,
    typer.Option(
        min=1,
        help="Train N networks from seeds seed, seed+1, ... and average their forecasts.",
    ),
]
Ema = Annotated[
    float,
    typer.Option(
        help="Validate and keep a moving average of the weights, each optimiser step "
        "moving it 1 - EMA of the way to the new weights; 0 keeps the weights themselves.",
    ),
]
Precision = Annotated[
    str,
    typer.Option(
        help="Float type of the forward pass in training: auto (bf16 on CUDA GPUs that "
        "have it, else fp16 with loss scaling; fp32 elsewhere), fp32, bf16 or fp16 (CUDA "
        "only). Weights, optimiser and forecasts stay float32.",
    ),
]
DataOn = Annotated[
    str,
    typer.Option(
        help="Where the series values stay during training: auto (on the GPU when they "
        "take at most half its free memory, else in host memory, each batch copied over "
        "through pinned memory), device or host.",
    ),
]
Seed = Annotated[
    int, typer.Option(help="Random seed: same seed, data and CPU give the same model.")
]
IdCol = Annotated[
    str | None, typer.Option(help="Series id column (long data) (default: unique_id).")
]
TimeCol = Annotated[str | None, typer.Option(help="Time column (default: ds, else detected).")]
Target = Annotated[
    str | None,
    typer.Option(help="Value column (long data) or comma-separated series columns (wide data)."),
]
Freq = Annotated[
    str | None,
    typer.Option(
        help="Frequency (pandas alias such as h, D, W-SUN, MS; or an integer step) "
        "(default: inferred)."
    ),
]
TimeFormat = Annotated[
    str | None,
    typer.Option(help="strftime format of the times, e.g. %Y%m%d (default: inferred)."),
]
Fill = Annotated[
    str,
    typer.Option(
        help="Missing or infinite values and gaps in the time grid: none (an error), "
        "ffill (last value), interpolate (straight line) or zero. Remembered by the model."
    ),
]
Covariates = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated columns of long data read as past covariates: inputs beside "
        "the value over the lookback (predict's data must have them too).",
    ),
]
SkipShort = Annotated[
    bool,
    typer.Option(
        help="Leave out series shorter than lookback + horizon, with a warning, instead "
        "of failing (predict then leaves out those shorter than the lookback)."
    ),
]
Checkpoint = Annotated[
    Path | None,
    typer.Option(
        help="Save the whole training state here after every epoch, so that a stopped "
        "run keeps its best weights so far; continue it with --resume.",
    ),
]
Resume = Annotated[
    Path | None,
    typer.Option(
        help="Continue the stopped run whose --checkpoint this is (same data and "
        "settings); checkpoints go on to the same file unless --checkpoint says otherwise.",
    ),
]
PrintConfig = Annotated[
    bool,
    typer.Option(
        help="Read DATA, print the resolved settings as a config file (TOML) and stop "
        "without training.",
    ),
]
PredictData = Annotated[
    Path | None,
    typer.Argument(help="Data to forecast from (default: the model's training data, re-read)."),
]
ForecastOut = Annotated[
    Path,
    typer.Option("--out", "-o", help="Forecast file, .csv or .parquet; '-' for CSV on stdout."),
]
PredictHorizon = Annotated[
    int | None,
    typer.Option(min=1, help="Steps to forecast, at most the trained horizon (default: trained)."),
]
PredictSkipShort = Annotated[
    bool | None,
    typer.Option(
        "--skip-short/--no-skip-short",
        help="Leave out series shorter than the model's lookback, with a warning, instead "
        "of failing (default: as the model was trained).",
    ),
]
EvaluateData = Annotated[
    Path | None,
    typer.Argument(help="Data to backtest on (default: the model's training data, re-read)."),
]
MetricsOut = Annotated[Path, typer.Option("--out", "-o", help="Metrics file (JSON).")]


# ---- predict, evaluate, info ---------------------------------------------------------------

Windows = Annotated[
    int, typer.Option(min=1, help="Backtest windows per series: the last N horizons.")
]
InfoModel = Annotated[Path, typer.Argument(help="Model file.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
