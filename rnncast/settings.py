"""Settings as frozen dataclasses: how data is read, windowed, modelled and trained.

`ReadOptions`, `WindowConfig`, `ModelConfig` and `TrainConfig` each check their own values and
raise `ConfigError` with the option's CLI name, so a bad value reads the same from the CLI
and from Python; `to_dict` / `from_dict` give plain JSON-able dicts, which is how the model
file stores them (their on-disk names never change). `TrainRequest` is every option of
`rnncast train` flat, as a person gives them, and the one place they become the configs.
`Spelling` names an option the way the caller in front of a message can pass it.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from rnncast.errors import ConfigError

CELLS = ("rnn", "lstm", "gru", "esn")
FILLS = ("none", "ffill", "interpolate", "zero")
SCALINGS = ("window", "series", "none")
TRANSFORMS = (
    "auto",
    "none",
    "log",
)  # what the model reads the values as (rnncast.engine.transform)
# what forecasts are kept within: 'zero' clips them at 0 (rnncast.engine.transform.resolve_clip)
CLIPS = ("auto", "none", "zero")
LOSSES = ("mae", "mse", "huber")
SCHEDULES = ("plateau", "cosine")  # how the learning rate moves (rnncast.engine.loop)
ANCHORS = ("none", "last", "linear")
# what the forecast is shrunk toward, by a weight fitted on the validation windows
# (rnncast.engine.models)
BLENDS = ("none", "naive")  # what the network's output is added to (rnncast.engine.models)
DECODERS = ("direct", "parallel", "seq2seq", "recursive")
ACTIVATIONS = ("tanh", "relu")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PLACES = (
    "auto",
    "device",
    "host",
)  # where the values stay during training (rnncast.engine.staging)
# Continuing the encoder's recurrence step by step, which a backward pass cannot do.
STEPPING_DECODERS = ("parallel", "recursive")

T = TypeVar("T")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def to_dict(settings: Any) -> dict[str, Any]:
    """A settings dataclass as a plain dict (tuples become lists)."""
    out = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a settings dataclass from `to_dict` output; unknown keys are ignored so that
    files written by a newer minor version still load."""
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    kwargs = {}
    for name, value in data.items():
        if name in known:
            kwargs[name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def _items(value: str | Sequence[Any] | None) -> list[Any]:
    """'a, b' or a sequence -> its items (stripped strings, or the sequence's own)."""
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    return list(value or ())


def parse_quantiles(value: str | Sequence[float] | None) -> tuple[float, ...]:
    """--quantiles as a sorted tuple of distinct floats, from '0.1,0.5,0.9' or a sequence."""
    try:
        levels = [float(t) for t in _items(value)]
    except (TypeError, ValueError):
        raise ConfigError(
            f"--quantiles must be numbers between 0 and 1 separated by commas, e.g. "
            f"0.1,0.5,0.9; got '{value}'"
        ) from None
    return tuple(sorted(set(levels)))


def parse_lookbacks(value: str | Sequence[int] | None) -> tuple[int, ...]:
    """--lookbacks as a tuple of ints, from '144,240,336' or a sequence of numbers."""
    try:
        return tuple(int(t) for t in _items(value))
    except (TypeError, ValueError):
        raise ConfigError(
            f"--lookbacks must be whole numbers separated by commas, e.g. 144,240,336; got "
            f"'{value}'"
        ) from None


@dataclass(frozen=True)
class ReadOptions:
    """How to read a data file: column names and time handling (all optional); what to do
    with missing values and gaps (`fill`, see `rnncast.data.filling`); whether series too
    short for the model are left out with a warning (`skip_short`) instead of failing; and
    the columns read as past covariates (`covariates`, long data only) and as future-known
    covariates (`future_covariates`, long data only: known for the horizon too, given in rows
    after each series' last value with the target empty; see `rnncast.data.build`)."""

    id_col: str | None = None
    time_col: str | None = None
    target: tuple[str, ...] = ()
    freq: str | None = None
    time_format: str | None = None
    fill: str = "none"
    skip_short: bool = False
    covariates: tuple[str, ...] = ()
    future_covariates: tuple[str, ...] = ()
    sep: str | None = None  # a CSV's column separator; None: sniffed from its first lines
    decimal: str | None = None  # a CSV's decimal mark; None: '.', or ',' where sniffed
    dayfirst: bool | None = None  # 01/02/2021 is 1 February; None: as the data shows

    def __post_init__(self) -> None:
        _require(self.fill in FILLS, f"--fill must be one of {', '.join(FILLS)}, got '{self.fill}'")
        if self.sep in ("\\t", "tab"):  # as a shell passes a tab
            object.__setattr__(self, "sep", "\t")
        _require(
            self.sep is None or (len(self.sep) == 1 and self.sep not in '"\r\n'),
            f"--sep must be one character, e.g. ';' or tab, got '{self.sep}'",
        )
        _require(
            self.decimal in (None, ".", ","),
            f"--decimal must be '.' or ',', got '{self.decimal}'",
        )
        _require(
            self.sep is None or self.sep != self.decimal,
            f"--sep and --decimal are both '{self.sep}': the separator and the decimal mark "
            "must differ",
        )
        for name in ("id_col", "time_col"):
            value = getattr(self, name)
            _require(
                value is None or value.strip() != "",
                f"--{name.replace('_', '-')} is empty: give a column name",
            )
        _require(
            all(t.strip() for t in self.target),
            "--target has an empty column name: give names separated by commas, e.g. --target a,b",
        )
        self._check_covariates()

    def _check_covariates(self) -> None:
        for names, option, example in (
            (self.covariates, "--covariates", "price,temperature"),
            (self.future_covariates, "--future-covariates", "price,promo"),
        ):
            _require(
                all(t.strip() for t in names),
                f"{option} has an empty column name: give names separated by commas, e.g. "
                f"{option} {example}",
            )
            _require(
                not names or self.fill == "none",
                f"{option} cannot be combined with --fill {self.fill} yet: fill the gaps and "
                "missing values of the data (values and covariates) first",
            )
        both = [name for name in self.future_covariates if name in self.covariates]
        _require(
            not both,
            f"column '{both[0] if both else ''}' is given to both --covariates and "
            "--future-covariates: name it in one (a future covariate is read over the "
            "lookback too)",
        )


@dataclass(frozen=True)
class WindowConfig:
    """Lookback (input length), horizon (output length) and the validation tail.

    `val_size` is the number of most recent steps of each series held back for early
    stopping; 0 turns validation (and early stopping) off. `lookbacks`: the lookback of each
    ensemble member when they differ (member k reads lookbacks[k % len(lookbacks)]); empty:
    every member reads `lookback`.
    """

    lookback: int
    horizon: int
    val_size: int
    lookbacks: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _require(self.lookback >= 1, f"--lookback must be at least 1, got {self.lookback}")
        _require(
            all(n >= 1 for n in self.lookbacks),
            f"--lookbacks must all be at least 1, got {', '.join(map(str, self.lookbacks))}",
        )
        _require(self.horizon >= 1, f"--horizon must be at least 1, got {self.horizon}")
        _require(self.val_size >= 0, f"--val-size must be 0 or more, got {self.val_size}")
        _require(
            self.val_size == 0 or self.val_size >= self.horizon,
            f"--val-size {self.val_size} is shorter than the horizon {self.horizon}: "
            f"use 0 (no validation) or at least {self.horizon}",
        )

    @property
    def width(self) -> int:
        """Length of one training window: lookback followed by horizon."""
        return self.lookback + self.horizon

    @property
    def longest(self) -> int:
        """The longest lookback of any member: the history a forecast needs."""
        return max(self.lookbacks, default=self.lookback)

    def member(self, k: int) -> WindowConfig:
        """The window of ensemble member k (from 0): one lookback."""
        if not self.lookbacks:
            return self
        return WindowConfig(self.lookbacks[k % len(self.lookbacks)], self.horizon, self.val_size)


@dataclass(frozen=True)
class ModelConfig:
    """The network: recurrent cell and size (names as in `torch.nn.RNN`), scaling, and the
    segment length: the lookback is read `segment` steps at a time, so the recurrence runs
    lookback / segment steps (segment-wise input, as in SegRNN; 1 = one value per step).
    `scaling`: 'window', 'series' or 'none' (see `rnncast.engine.scaling`), applied to the
    values in `transform` ('none', 'log', or 'auto': log when every training value is above
    0; see `rnncast.engine.transform`). `scale_floor`: the least scale of a window, as a
    fraction of its series' typical window spread ('window'). `decoder`: how the horizon
    comes out of the encoder's final state (see `rnncast.engine.decoders`): 'direct' (one
    linear map to the whole horizon) or 'parallel' (SegRNN's parallel multi-step decoding,
    one recurrent step per output segment), 'seq2seq' (a recurrent decoder fed the previous
    value, with `attention` over the encoder's outputs optionally) or 'recursive' (the
    encoder's one-step forecasts fed back). `activation`: the vanilla RNN's nonlinearity.
    `bidirectional`: the encoder reads the lookback both ways. `checkpoint_activations`:
    recompute the encoder's activations in the backward pass (chunks of about sqrt(steps)
    steps) instead of keeping them: less memory for long lookbacks, same gradients. cell
    'esn' (an echo state network, `rnncast.engine.esn`): a fixed random reservoir of
    `reservoir_size` units with spectral radius `spectral_radius` and leak rate `leak_rate`,
    and a linear readout solved in closed form with ridge `ridge`; it has no hidden_size,
    layers or dropout.

    `quantiles`: empty for a point forecast; else the network emits these quantiles of each
    future value (and the median, the point forecast, if not among them), trained with the
    pinball loss and never crossing. `calendar`: the periods, in steps, of the calendar
    features the network reads (see `rnncast.data.calendar`; chosen from the data's frequency
    with --calendar); empty for none. `id_embedding`: the size of a learned embedding of each
    training series' id, from which the encoder's initial state is made (0: none); `ids`: how
    many ids it knows (set from the training data; series it never saw get a neutral,
    all-zero embedding). `covariate_count`: how many past covariates the encoder reads beside
    the values (set from the data, `ReadOptions.covariates`); `future_covariate_count`: how
    many future-known covariates it reads over the lookback and the decoder over the horizon
    (`ReadOptions.future_covariates`). Quantiles, calendar features, covariates and ids are
    for the direct and parallel decoders of rnn, lstm and gru cells.

    `anchor`: what the network's outputs are added to (in the window's scaled units): 'none'
    (nothing: they are the forecast, about the window's mean), 'last' (the window's last
    value: outputs of 0 repeat it, as naive does) or 'linear' (a linear map of the lookback's
    values, learned from 0 beside the network, as DLinear's); for the direct and parallel
    decoders of rnn, lstm and gru cells.

    `blend`: 'naive' moves each forecast (and its quantiles with it) toward the window's last
    value by 1 - w, w in [0, 1] fitted after training on the validation windows (the least
    validation loss; 1 without validation), so that a network that cannot beat repeating the
    last value there is shrunk toward it; 'none' leaves forecasts as they come. For the
    direct and parallel decoders of rnn, lstm and gru cells.

    `clip`: 'zero' raises every forecast below 0 (point and quantiles, in predict and in
    evaluate's backtest) to 0; 'none' leaves them as they are; 'auto' is 'zero' when no
    training value is below 0 (see `rnncast.engine.transform.resolve_clip`).

    Every field added since the first model format defaults to what files without it meant
    (`rnncast.store.artifact.BEFORE_FIELD`)."""

    cell: str = "gru"
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.1
    scaling: str = "window"
    transform: str = "auto"
    clip: str = "auto"
    anchor: str = "none"
    blend: str = "none"
    segment: int = 1
    scale_floor: float = 0.1
    decoder: str = "direct"
    activation: str = "tanh"
    bidirectional: bool = False
    attention: bool = False
    checkpoint_activations: bool = False
    reservoir_size: int = 500
    spectral_radius: float = 0.9
    leak_rate: float = 1.0
    ridge: float = 1.0
    quantiles: tuple[float, ...] = ()
    calendar: tuple[float, ...] = ()
    id_embedding: int = 0
    ids: int = 0
    covariate_count: int = 0
    future_covariate_count: int = 0

    def __post_init__(self) -> None:
        _require(self.cell in CELLS, f"--cell must be one of {', '.join(CELLS)}, got '{self.cell}'")
        _require(self.hidden_size >= 1, f"--hidden-size must be at least 1, got {self.hidden_size}")
        _require(self.num_layers >= 1, f"--num-layers must be at least 1, got {self.num_layers}")
        _require(0.0 <= self.dropout < 1.0, f"--dropout must be in [0, 1), got {self.dropout}")
        _require(self.segment >= 1, f"--segment must be at least 1, got {self.segment}")
        _require(
            0 <= self.scale_floor <= 10,
            "--scale-floor must be from 0 to 10 (a fraction of a series' typical window "
            f"spread), got {self.scale_floor}",
        )
        _require(
            self.scaling in SCALINGS,
            f"--scaling must be one of {', '.join(SCALINGS)}, got '{self.scaling}'",
        )
        _require(
            self.transform in TRANSFORMS,
            f"--transform must be one of {', '.join(TRANSFORMS)}, got '{self.transform}'",
        )
        _require(self.clip in CLIPS, f"--clip must be one of {', '.join(CLIPS)}, got '{self.clip}'")
        _require(
            self.blend in BLENDS,
            f"--blend must be one of {', '.join(BLENDS)}, got '{self.blend}'",
        )
        _require(
            self.anchor in ANCHORS,
            f"--anchor must be one of {', '.join(ANCHORS)}, got '{self.anchor}'",
        )
        _require(
            self.decoder in DECODERS,
            f"--decoder must be one of {', '.join(DECODERS)}, got '{self.decoder}'",
        )
        self._check_architecture()
        self._check_reservoir()
        self._check_inputs_and_outputs()

    @property
    def logs(self) -> bool:
        """Whether the network reads the logarithms of the values (`rnncast.engine.transform`)."""
        return self.transform == "log"

    def _check_architecture(self) -> None:
        """Options that only some cells or decoders take, and combinations that cannot work."""
        _require(
            self.activation in ACTIVATIONS,
            f"--activation must be one of {', '.join(ACTIVATIONS)}, got '{self.activation}'",
        )
        _require(
            self.activation == "tanh" or self.cell == "rnn",
            f"--activation {self.activation} is for --cell rnn only ({self.cell} has its own "
            "nonlinearities): drop --activation or use --cell rnn",
        )
        _require(
            not self.attention or self.decoder == "seq2seq",
            f"--attention is for --decoder seq2seq only, not {self.decoder}: add --decoder "
            "seq2seq or drop --attention",
        )
        if self.cell == "esn":
            for given, option in (
                (self.decoder != "direct", f"--decoder {self.decoder}"),
                (self.bidirectional, "--bidirectional"),
                (self.checkpoint_activations, "--checkpoint-activations"),
                (self.num_layers != 1, f"--num-layers {self.num_layers}"),
            ):
                _require(
                    not given,
                    f"--cell esn does not take {option}: its one reservoir is fixed and only "
                    "its linear readout to the whole horizon is fitted; drop it or use "
                    "--cell rnn, lstm or gru",
                )
        _require(
            not (self.bidirectional and self.decoder in STEPPING_DECODERS),
            f"--decoder {self.decoder} does not take --bidirectional: it continues the "
            "encoder's recurrence step by step, which a backward reading cannot; use "
            "--decoder direct or seq2seq",
        )
        _require(
            not (self.bidirectional and self.checkpoint_activations),
            "--checkpoint-activations does not take --bidirectional: a backward reading cannot "
            "be cut into chunks; drop one of them",
        )

    def _check_reservoir(self) -> None:
        _require(
            self.reservoir_size >= 1,
            f"--reservoir-size must be at least 1, got {self.reservoir_size}",
        )
        _require(
            0 < self.spectral_radius < 1,
            f"--spectral-radius must be in (0, 1) for the echo state property, got "
            f"{self.spectral_radius}",
        )
        _require(0 < self.leak_rate <= 1, f"--leak-rate must be in (0, 1], got {self.leak_rate}")
        _require(self.ridge > 0, f"--ridge must be positive, got {self.ridge}")
        if self.cell != "esn":
            defaults = ModelConfig.__dataclass_fields__
            for name in ("reservoir_size", "spectral_radius", "leak_rate", "ridge"):
                _require(
                    getattr(self, name) == defaults[name].default,
                    f"--{name.replace('_', '-')} is for --cell esn only: add --cell esn or drop it",
                )

    def _check_inputs_and_outputs(self) -> None:
        """Quantiles, calendar features, covariates and series ids: their values, and the
        networks that take them (the direct and parallel decoders of rnn, lstm and gru)."""
        _require(
            all(0 < q < 1 for q in self.quantiles),
            "--quantiles must all be strictly between 0 and 1, got "
            f"{', '.join(f'{q:g}' for q in self.quantiles)}",
        )
        _require(
            list(self.quantiles) == sorted(set(self.quantiles)),
            "--quantiles must be distinct and in increasing order, got "
            f"{', '.join(f'{q:g}' for q in self.quantiles)}",
        )
        _require(
            self.id_embedding >= 0, f"--id-embedding must be 0 or more, got {self.id_embedding}"
        )
        _require(
            all(p > 1 for p in self.calendar),
            f"calendar periods must be more than 1 step, got {', '.join(map(str, self.calendar))}",
        )
        which = (
            f"--cell {self.cell}"
            if self.cell == "esn"
            else f"--decoder {self.decoder}"
            if self.decoder in ("seq2seq", "recursive")
            else ""
        )
        if which:
            for given, option in (
                (self.quantiles, "--quantiles"),
                (self.calendar, "--calendar"),
                (self.covariate_count, "--covariates"),
                (self.future_covariate_count, "--future-covariates"),
                (self.id_embedding, "--id-embedding"),
                (self.anchor != "none", f"--anchor {self.anchor}"),
                (self.blend == "naive", "--blend naive"),
            ):
                _require(
                    not given,
                    f"{which} does not take {option} yet: use --decoder direct or parallel "
                    "with --cell rnn, lstm or gru, or drop it",
                )

    @property
    def levels(self) -> tuple[float, ...]:
        """The quantile levels the network emits, in increasing order: `quantiles` plus the
        median (the point forecast); empty for a point-forecast model."""
        return tuple(sorted(set(self.quantiles) | {0.5})) if self.quantiles else ()

    @property
    def directions(self) -> int:
        """2 when the encoder reads the lookback both ways, else 1."""
        return 2 if self.bidirectional else 1

    def describe(self) -> str:
        """The network's shape in a few words, e.g. 'gru (1 x 256)'."""
        if self.cell == "esn":
            return (
                f"esn (reservoir {self.reservoir_size}, radius {self.spectral_radius:g}, "
                f"leak {self.leak_rate:g})"
            )
        both = ", bidirectional" if self.bidirectional else ""
        return f"{self.cell} ({self.num_layers} x {self.hidden_size}{both})"


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation: AdamW, gradient clipping, plateau LR schedule, early stopping.

    An epoch is one shuffled pass over the training windows, cut off after `epoch_size`
    windows on large data and repeated up to 20 batches on small data, followed by the
    validation loss; so patience and the LR schedule count comparable numbers of optimiser
    steps on small and large data. `ensemble` networks are trained from seeds `seed`,
    `seed + 1`, ... and their forecasts averaged.
    """

    max_epochs: int = 100
    max_steps: int | None = None
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    patience: int = 10
    epoch_size: int = 16384
    loss: str = "mae"
    seed: int = 0
    device: str = "auto"
    ensemble: int = 3
    precision: str = "auto"  # the forward pass's float type: see rnncast.engine.devices
    data_on: str = "auto"  # where the values stay on a GPU: see rnncast.engine.staging
    ema: float = 0.0  # decay of the weights' moving average, 0 for none
    schedule: str = "plateau"  # the learning rate's course: see rnncast.engine.loop

    def __post_init__(self) -> None:
        _require(self.max_epochs >= 1, f"--max-epochs must be at least 1, got {self.max_epochs}")
        _require(
            self.max_steps is None or self.max_steps >= 1,
            f"--max-steps must be at least 1, got {self.max_steps}",
        )
        _require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        _require(
            0 < self.lr <= 1,
            "--lr must be above 0 and at most 1 (the networks read windows scaled to about 1), "
            f"got {self.lr}",
        )
        _require(
            self.weight_decay >= 0, f"--weight-decay must be 0 or more, got {self.weight_decay}"
        )
        _require(self.grad_clip > 0, f"--grad-clip must be positive, got {self.grad_clip}")
        _require(self.patience >= 1, f"--patience must be at least 1, got {self.patience}")
        _require(self.epoch_size >= 1, f"--epoch-size must be at least 1, got {self.epoch_size}")
        _require(
            self.loss in LOSSES, f"--loss must be one of {', '.join(LOSSES)}, got '{self.loss}'"
        )
        _require(self.ensemble >= 1, f"--ensemble must be at least 1, got {self.ensemble}")
        _require(  # numpy and torch take seeds from 0 to 2**64 - 1; members use seed + k
            0 <= self.seed < 2**63, f"--seed must be 0 or more and below 2**63, got {self.seed}"
        )
        _require(
            self.precision in PRECISIONS,
            f"--precision must be one of {', '.join(PRECISIONS)}, got '{self.precision}'",
        )
        _require(0 <= self.ema < 1, f"--ema must be at least 0 and below 1, got {self.ema}")
        _require(
            self.schedule in SCHEDULES,
            f"--schedule must be one of {', '.join(SCHEDULES)}, got '{self.schedule}'",
        )
        _require(
            self.data_on in PLACES,
            f"--data-on must be one of {', '.join(PLACES)}, got '{self.data_on}'",
        )


# What only gradient training reads: the echo state network's readout is solved in closed form.
GRADIENT_ONLY = ("max_epochs", "max_steps", "batch_size", "lr", "weight_decay", "grad_clip",
                 "patience", "precision", "ema", "schedule")  # fmt: skip


def check_together(model: ModelConfig, train: TrainConfig) -> None:
    """Settings that are each fine but do not go together."""
    if model.cell == "esn":
        defaults = TrainConfig.__dataclass_fields__
        given = [n for n in GRADIENT_ONLY if getattr(train, n) != defaults[n].default]
        _require(
            not given,
            f"--cell esn does not take {', '.join(CLI.name(n) for n in given)}: "
            "the echo state network's readout is fitted in closed form, with no epochs, "
            "batches or optimiser; drop them or use --cell rnn, lstm or gru",
        )
    _require(
        not model.quantiles or train.loss == "mae",
        f"--loss {train.loss} does not apply with --quantiles: a quantile model trains on the "
        "pinball loss (whose median term is the MAE); leave out --loss",
    )


def split_names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Names (of columns, of series) from 'a,b' (each stripped; an empty one stays, for the
    caller to refuse) or a sequence."""
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",")) if value else ()
    return tuple(value or ())


# Settings the data decide (`rnncast.plan`), not options a person gives.
RESOLVED = {"segment", "calendar", "ids", "covariate_count", "future_covariate_count"}
_M, _T, _R = ModelConfig(), TrainConfig(), ReadOptions()


@dataclass(frozen=True)
class TrainRequest:
    """Every option of `rnncast train` (and keyword of `rnncast.train`), flat, as a person
    gives them. Window lengths left unset (None) are chosen from the data by
    `rnncast.plan`. This is the one place where the flat options become the configs
    (`configs`), for the command line, the Python API and the benchmarks alike; the
    defaults are the configs' own."""

    # how to read the data
    id_col: str | None = None
    time_col: str | None = None
    target: tuple[str, ...] = ()
    freq: str | None = None
    time_format: str | None = None
    fill: str = _R.fill
    skip_short: bool = _R.skip_short
    covariates: tuple[str, ...] = ()
    future_covariates: tuple[str, ...] = ()
    sep: str | None = None
    decimal: str | None = None
    dayfirst: bool | None = None
    # the window (None: chosen from the data)
    horizon: int | None = None
    lookback: int | None = None
    lookbacks: tuple[int, ...] = ()
    val_size: int | None = None
    segment: int | None = None
    holdout: int = 0
    calendar: bool = False
    # the network
    cell: str = _M.cell
    hidden_size: int = _M.hidden_size
    num_layers: int = _M.num_layers
    dropout: float = _M.dropout
    scaling: str = _M.scaling
    transform: str = _M.transform
    clip: str = _M.clip
    anchor: str = _M.anchor
    blend: str = _M.blend
    scale_floor: float = _M.scale_floor
    decoder: str = _M.decoder
    activation: str = _M.activation
    bidirectional: bool = _M.bidirectional
    attention: bool = _M.attention
    checkpoint_activations: bool = _M.checkpoint_activations
    reservoir_size: int = _M.reservoir_size
    spectral_radius: float = _M.spectral_radius
    leak_rate: float = _M.leak_rate
    ridge: float = _M.ridge
    quantiles: tuple[float, ...] = ()
    id_embedding: int = _M.id_embedding
    # the training
    max_epochs: int = _T.max_epochs
    max_steps: int | None = _T.max_steps
    batch_size: int = _T.batch_size
    lr: float = _T.lr
    weight_decay: float = _T.weight_decay
    grad_clip: float = _T.grad_clip
    patience: int = _T.patience
    epoch_size: int = _T.epoch_size
    loss: str = _T.loss
    seed: int = _T.seed
    device: str = _T.device
    ensemble: int = _T.ensemble
    precision: str = _T.precision
    data_on: str = _T.data_on
    ema: float = _T.ema
    schedule: str = _T.schedule
    # an update: start from this model file's networks and settings (`updating`)
    init_from: str | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The options, in order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def of(cls, **options: Any) -> TrainRequest:
        """The request from keyword options as the command line or Python gives them: names
        with underscores; `target`, `covariates`, `future_covariates`, `lookbacks` and
        `quantiles` as sequences or
        comma-separated text; choices as text or enum members. A misspelt name is a
        `TypeError` naming the closest one."""
        cls.check_names(options)
        parse = {"target": split_names, "covariates": split_names,
                 "future_covariates": split_names, "lookbacks": parse_lookbacks,
                 "quantiles": parse_quantiles}  # fmt: skip
        plain = {k: getattr(v, "value", v) for k, v in options.items()}  # enum members
        if plain.get("init_from") is not None:
            plain["init_from"] = str(plain["init_from"])  # a path
        return cls(**{k: parse.get(k, lambda v: v)(v) for k, v in plain.items()})

    @classmethod
    def check_names(cls, given: Iterable[str], also: Iterable[str] = ()) -> None:
        """A `TypeError` naming the closest option for a name that is neither an option nor
        in `also` (what the caller takes beside them)."""
        known = [*cls.names(), *also]
        for name in given:
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise TypeError(f"train() got an unexpected option '{name}'{hint}")

    def configs(self) -> tuple[ReadOptions, ModelConfig, TrainConfig]:
        """The read options, the network (its data-decided fields at their defaults, for
        `rnncast.plan` to fill) and the training, each checked, then checked together."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}

        def part(cls: type[T]) -> T:
            names = {f.name for f in fields(cls)} - RESOLVED  # type: ignore[arg-type]
            return cls(**{k: v for k, v in given.items() if k in names})

        read, model, train = part(ReadOptions), part(ModelConfig), part(TrainConfig)
        check_together(model, train)
        return read, model, train

    def updating(self, given: Iterable[str], trained: dict[str, Any], source: str,
                 spell: Spelling | None = None) -> TrainRequest:  # fmt: skip
        """The request of an update from a model trained with the options `trained`
        (`trained_options`): the settings that make its networks (`KEPT`) are the model's,
        and one of them `given` with another value is a `ConfigError` naming both (`source`
        names the model as the message begins); how its data was read and how it was trained
        are the model's unless given, but for a shorter training at a lower rate
        (`UPDATE_LR_FACTOR`, `UPDATE_MAX_EPOCHS`, `UPDATE_PATIENCE`)."""
        spell = spell or CLI
        given = {n for n in given if n != "init_from" and getattr(self, n) is not None}
        for name in sorted(given & set(KEPT), key=KEPT.index):
            ours = getattr(self, name)
            if _conflicts(name, ours, trained):
                raise ConfigError(
                    f"{source} was trained with {_trained_as(name, trained, spell)}; "
                    f"{_said(spell, name, ours)} conflicts: drop {spell.name(name)} or train "
                    "from scratch"
                )
        kept = {n: v for n, v in trained.items() if n not in given and n not in OWN}
        if given & {"lookback", "lookbacks"}:  # the model's lookbacks, as the caller said them
            for name in ("lookback", "lookbacks"):
                kept.pop(name, None)
        kept["transform"] = trained["transform"]  # as resolved ('auto' given says nothing)
        shorter = {"lr": float(f"{trained['lr'] * UPDATE_LR_FACTOR:.6g}"),
                   "max_epochs": min(trained["max_epochs"], UPDATE_MAX_EPOCHS),
                   "patience": min(trained["patience"], UPDATE_PATIENCE)}  # fmt: skip
        kept |= {n: v for n, v in shorter.items() if n not in given}
        return dataclasses.replace(self, **kept)


# An update (--init-from): the options that make the networks, kept from the model they start
# from; the options it never takes from that model (they are about this run); and how its
# training is shortened unless given (measured on M4 Hourly: docs/benchmarks.md).
KEPT = ("horizon", "lookback", "lookbacks", "segment", "calendar", "covariates", "cell",
        "hidden_size", "num_layers", "scaling", "transform", "scale_floor", "decoder", "anchor",
        "blend", "activation", "bidirectional", "attention", "reservoir_size", "spectral_radius",
        "leak_rate", "ridge", "quantiles", "id_embedding", "ensemble")  # fmt: skip
OWN = ("init_from", "holdout", "max_steps", "device", "precision", "data_on",
       "checkpoint_activations")  # fmt: skip
UPDATE_LR_FACTOR = 1 / 30  # of the model's --lr: 3e-3 -> 1e-4
UPDATE_MAX_EPOCHS = 20
UPDATE_PATIENCE = 3


def trained_options(read: ReadOptions, window: WindowConfig, model: ModelConfig,
                    train: TrainConfig) -> dict[str, Any]:  # fmt: skip
    """The options of `rnncast train` that would make a model of these settings (its window
    and transform as they were resolved) and read its data alike."""
    configs = {f.name: getattr(c, f.name) for c in (read, model, train) for f in fields(c)}
    window_options = {
        "horizon": window.horizon,
        "lookback": None if window.lookbacks else window.lookback,
        "lookbacks": window.lookbacks,
        "val_size": window.val_size,
        "calendar": bool(model.calendar),
    }
    names = set(TrainRequest.names())
    return {k: v for k, v in (configs | window_options).items() if k in names}


def _members(lookback: int | None, lookbacks: tuple[int, ...], ensemble: int) -> list[int]:
    """Each ensemble member's lookback, as `WindowConfig.member` reads them."""
    cycle = list(lookbacks) or [lookback]
    return [cycle[k % len(cycle)] for k in range(ensemble)]


def _conflicts(name: str, ours: Any, trained: dict[str, Any]) -> bool:
    """Whether option `name` given as `ours` asks for other networks than `trained` made."""
    if name == "transform":
        return ours != "auto" and ours != trained["transform"]
    if name in ("lookback", "lookbacks"):
        members = trained["ensemble"]
        theirs = _members(trained["lookback"], trained["lookbacks"], members)
        asked = _members(ours, (), members) if name == "lookback" else _members(None, ours, members)
        return not ours or asked != theirs
    return ours != trained[name]


def _trained_as(name: str, trained: dict[str, Any], spell: Spelling) -> str:
    """What a model was trained with, for a conflict with option `name`: its lookbacks as it
    was given them, else the option's value."""
    if name in ("lookback", "lookbacks"):
        name = "lookbacks" if trained["lookbacks"] else "lookback"
    return _said(spell, name, trained[name])


NEGATABLE = ("calendar", "skip_short")  # on/off options with a --no- form


def _said(spell: Spelling, name: str, value: Any) -> str:
    """Option `name` given `value`, as the caller would give it: `--cell gru`,
    `--quantiles 0.1,0.9`, `--no-calendar`; `cell='gru'` from Python."""
    if spell.python:
        return spell(name, value)
    flag = spell.name(name)
    if isinstance(value, bool):
        return flag if value else ("--no-" + flag[2:] if name in NEGATABLE else f"no {flag}")
    if isinstance(value, tuple):
        listed = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        return f"{flag} {listed}" if value else f"no {flag}"
    return spell(name, value)


@dataclass(frozen=True)
class Spelling:
    """How a message names an option for the caller it is shown to, so that it names only
    what that caller can pass: the command line's `--skip-short`, `--horizon 7`, `DATA`, or
    Python's `skip_short=True`, `horizon=7`, `data`."""

    python: bool = False

    def __call__(self, name: str, value: Any = True) -> str:
        """Option `name` (as a field is named) given `value` (True: a flag)."""
        if self.python:
            return f"{name}={value!r}"
        flag = "--" + name.replace("_", "-")
        return flag if value is True else f"{flag} {value}"

    def name(self, field: str) -> str:
        """Option `field` without a value: '--val-size' or 'val_size'."""
        return field if self.python else "--" + field.replace("_", "-")

    @property
    def data(self) -> str:
        """The data argument."""
        return "data" if self.python else "DATA"


CLI, PYTHON = Spelling(), Spelling(python=True)
