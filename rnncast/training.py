"""The training loop, readable top to bottom.

One global model over all series: windows are drawn from every series, each input window is
scaled by its own statistics, and the network learns to emit the whole horizon at once.
AdamW, gradient clipping, a learning rate halved when the validation loss plateaus, early
stopping with the best weights restored. Progress goes to an `on_event` callback; this module
never prints.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from rnncast import distributed, models, scaling, staging
from rnncast.data import calendar
from rnncast.data.series import SeriesSet
from rnncast.data.windows import Ranges, split_ranges
from rnncast.errors import ConfigError, DataError
from rnncast.settings import PRECISIONS, ModelConfig, TrainConfig, WindowConfig

MIN_IMPROVEMENT = 1e-4  # relative change in validation loss that counts as better
DRAW_ALL = 1 << 24  # up to this many training windows, an epoch is cut from a permutation
MIN_EPOCH_BATCHES = 20  # small data: an epoch repeats the windows up to this many batches


# ---- events reported to the caller ------------------------------------------------------


@dataclass(frozen=True)
class TrainStart:
    device: str
    train_windows: int
    val_windows: int
    batches_per_epoch: int
    max_epochs: int
    parameters: int
    lookback: int = 0
    member: int = 1  # which network of an ensemble, counting from 1
    members: int = 1


@dataclass(frozen=True)
class BatchEnd:
    epoch: int
    batch: int
    batches: int
    loss: float


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    max_epochs: int
    train_loss: float
    val_loss: float | None
    best_val_loss: float | None
    lr: float
    improved: bool
    elapsed: float  # seconds since training began


Event = TrainStart | BatchEnd | EpochEnd


@dataclass
class TrainResult:
    network: nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float | None = None
    stopped: str = ""
    device: str = "cpu"
    seconds: float = 0.0
    train_windows: int = 0
    val_windows: int = 0
    steps: int = 0

    def to_plain(self) -> dict[str, Any]:
        """Everything but the network's class, as plain data (weights on the CPU)."""
        plain = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "network"}
        return {**plain, "weights": _cpu_state(self.network.state_dict())}

    @classmethod
    def from_plain(cls, plain: dict[str, Any], network: nn.Module) -> TrainResult:
        """Rebuild from `to_plain` output; `network` gets the weights."""
        network.load_state_dict(plain["weights"])
        network.eval()
        return cls(network=network, **{k: v for k, v in plain.items() if k != "weights"})


class TrainingStopped(Exception):
    """Training stopped because `should_stop()` said so; the last checkpoint (if any) holds
    the state at the end of the last complete epoch."""


@dataclass
class Windows:
    """The windows of one split: a strided view of all windows of the flat values, and per
    series (not per window) where its windows of the split begin, how many windows come
    before it, its scale floor and its first calendar step. A batch names windows by number
    (0 .. len - 1, series by series) and finds their series with one `searchsorted` over the
    series, so memory does not grow with the number of windows. All of it stays where the
    values are (`rnncast.staging`); batches come out on `device`, where the network runs."""

    view: torch.Tensor  # (N - width + 1, width), no copy of the values
    first: torch.Tensor  # (S,) int64: flat start of each series' first window of the split
    before: torch.Tensor  # (S + 1,) int64: windows of the split in all earlier series
    floors: torch.Tensor  # (S,) float32: each series' scale floor
    offsets: np.ndarray  # (S + 1,) int64: the series' flat offsets
    steps: np.ndarray | None = None  # (S,) int64: each series' first calendar step
    periods: tuple[float, ...] = ()
    cov_view: torch.Tensor | None = None  # (N - width + 1, C, width): covariate windows
    size: int = 0
    device: torch.device | None = None  # where batches go (default: where the values are)
    logs: bool = False  # batches hold the values' logarithms (--transform log)

    @classmethod
    def of(cls, values: torch.Tensor, offsets: np.ndarray, floors: np.ndarray,
           ranges: Ranges, width: int, steps: np.ndarray | None = None,
           periods: tuple[float, ...] = (), covariates: torch.Tensor | None = None,
           device: torch.device | None = None, logs: bool = False) -> Windows:  # fmt: skip
        """`values`: the flat series values as a tensor where they stay; `floors`:
        each series' scale floor (`scaling.series_floors`); `ranges`: the split's windows
        (`windows.split_ranges`); `steps`: each series' first calendar step
        (`calendar.first_steps`) for the calendar `periods`; `covariates`: the flat past
        covariates (N, C), with the values, if any; `device`: where the network runs (by
        default, where the values are); `logs`: batches take the logarithm of the windows'
        values, as they are gathered (no transformed copy of all values)."""
        home = values.device
        if periods and steps is None:
            raise ValueError("calendar periods need each series' first step")

        def at_home(a: np.ndarray, dtype) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=dtype)).to(home)

        return cls(
            view=values.unfold(0, width, 1),
            first=at_home(ranges.first, np.int64),
            before=at_home(ranges.before(), np.int64),
            floors=at_home(floors, np.float32),
            offsets=np.asarray(offsets, dtype=np.int64),
            steps=steps if periods else None,
            periods=tuple(periods),
            cov_view=None if covariates is None else covariates.unfold(0, width, 1),
            size=len(ranges),
            device=home if device is None else device,
            logs=logs,
        )

    def __len__(self) -> int:
        return self.size

    def positions(self) -> torch.Tensor:
        """Every window number, where the values are."""
        return torch.arange(self.size, device=self.first.device)

    def starts(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(series index, flat start) of the windows numbered `positions`."""
        series = torch.searchsorted(self.before, positions, right=True) - 1
        return series, self.first[series] + (positions - self.before[series])

    def batch(self, positions: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """Windows (B, width), floors (B,), calendar phases (B, periods), series ids (B,)
        and covariate windows (B, width, C) or None, for the windows numbered `positions`."""
        device = self.device
        series, starts = self.starts(positions.to(self.first.device))
        if self.periods:  # as forecasts compute them (on the CPU: --calendar only)
            at = starts.cpu().numpy()
            phases = calendar.window_phases(self.steps, self.offsets, at, self.periods)
            phases = torch.from_numpy(phases).to(device)
        else:
            phases = torch.zeros(len(positions), 0, device=device)
        covs = None
        if self.cov_view is not None:
            covs = staging.gather(self.cov_view, starts, device).transpose(1, 2)
        windows = staging.gather(self.view, starts, device)
        if self.logs:
            windows = windows.log()
        return windows, self.floors[series].to(device), phases, (series + 1).to(device), covs


# ---- devices ----------------------------------------------------------------------------


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The float type of the training forward pass under autocast (`--precision`), or None
    for plain float32. 'auto' is bfloat16 on CUDA GPUs that have it (Ampere and later) and
    float16 on older ones (with loss scaling: its range is small), float32 on CPUs and Apple
    GPUs. Weights and the optimiser stay float32 in every case."""
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    bf16 = device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported())
    if precision == "auto":
        return torch.bfloat16 if bf16 else torch.float16
    if device.type == "mps" or (precision == "fp16" and device.type != "cuda"):
        raise ConfigError(
            f"--precision {precision} is for CUDA GPUs{' and CPUs' if precision == 'bf16' else ''}"
            f", not {device.type}: pass --precision fp32 or auto"
        )
    if precision == "bf16" and not bf16:
        raise ConfigError(
            f"--precision bf16: this GPU ({torch.cuda.get_device_name(device)}) has no "
            "bfloat16: pass --precision fp16 or auto"
        )
    return torch.bfloat16 if precision == "bf16" else torch.float16


def resolve_device(spec: str) -> torch.device:
    """'auto' prefers CUDA, then Apple MPS, then the CPU; other names are checked."""
    spec = spec.strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not mps_ok:
            raise ConfigError(
                "--device mps: Apple MPS is not available here; use --device auto or cpu"
            )
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"--device {spec}: CUDA is not available here (torch {torch.__version__}); "
                "use --device auto or cpu"
            )
        index = spec.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ConfigError(
                f"--device {spec}: there are {torch.cuda.device_count()} CUDA devices "
                f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})"
            )
        return torch.device(spec)
    raise ConfigError(f"--device must be auto, cpu, cuda, cuda:N or mps, got '{spec}'")


def loss_function(name: str, levels: tuple[float, ...] = ()) -> nn.Module:
    """The training loss: `name` ('mae', 'mse', 'huber') for a point forecast; the pinball
    loss at `levels` for a quantile model."""
    if levels:
        return PinballLoss(levels)
    return {"mae": nn.L1Loss(), "mse": nn.MSELoss(), "huber": nn.HuberLoss(delta=1.0)}[name]


class PinballLoss(nn.Module):
    """Mean pinball (quantile) loss of forecasts (..., levels) against actuals (...): for
    level q and error e = y - ŷ_q, max(q e, (q - 1) e). Twice this at q = 0.5 alone is the
    MAE, so a median-only model trains exactly like `--loss mae`."""

    def __init__(self, levels: tuple[float, ...]):
        super().__init__()
        self.register_buffer("levels", torch.tensor(levels, dtype=torch.float32))

    def forward(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        err = y.unsqueeze(-1) - pred
        return torch.maximum(self.levels * err, (self.levels - 1) * err).mean()


# ---- checks before training -------------------------------------------------------------


def check_lengths(series: SeriesSet, window: WindowConfig) -> None:
    """Every series must hold at least one window; some series must leave training windows."""
    need = window.width
    count, names = series.shorter_than(need)
    if count:
        raise DataError(
            f"{count} series {'is' if count == 1 else 'are'} shorter than lookback "
            f"{window.lookback} + horizon {window.horizon} = {need} values: {names}; "
            "pass a smaller --lookback, or --skip-short to leave them out"
        )
    if not (series.lengths >= need + window.val_size).any():
        longest = int(series.lengths.max())
        raise DataError(
            f"no series is long enough to train on: the longest has {longest} values but "
            f"lookback {window.lookback} + horizon {window.horizon} + validation "
            f"{window.val_size} needs {need + window.val_size}; pass a smaller --lookback "
            "or --val-size"
        )


# ---- the loop ---------------------------------------------------------------------------


@dataclass
class _Progress:
    """What the loop carries from epoch to epoch besides the network and optimiser."""

    epoch: int = 0  # complete epochs
    best: float = math.inf
    stale: int = 0
    steps: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    elapsed: float = 0.0  # seconds of training before this process took over


def fit(
    series: SeriesSet,
    window: WindowConfig,
    model_config: ModelConfig,
    config: TrainConfig,
    on_event: Callable[[Event], None] | None = None,
    member: int = 1,
    should_stop: Callable[[], bool] | None = None,
    resume: dict[str, Any] | None = None,
    on_checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train one network on `series` from `config.seed`; returns it with the best validation
    weights. `member` (of `config.ensemble`) only labels the progress events.

    `should_stop` is asked after every batch; when it says yes, `TrainingStopped` is raised.
    `on_checkpoint(state)` gets the loop's whole state (plain data) after every epoch, and
    `resume=state` continues from such a state exactly as if training had not stopped.

    In a torch.distributed process group (torchrun, see `rnncast.distributed`) every
    process runs this with the same arguments and trains its slice of every batch; they
    all return the same network.
    """
    if model_config.cell == "esn":  # a closed-form readout: no epochs, nothing to resume
        from rnncast import esn

        return esn.fit_esn(series, window, model_config, config, on_event, member, should_stop)
    emit = on_event or (lambda event: None)
    world = distributed.current()
    check_lengths(series, window)
    if model_config.id_embedding and model_config.ids < len(series):
        raise ValueError(f"the id embedding knows {model_config.ids} series, not {len(series)}")
    device = distributed.device_for(resolve_device(config.device), world)
    asked = should_stop or (lambda: False)

    def stop() -> bool:  # with several processes: all stop at the same batch
        return distributed.any_rank(asked(), world, device)

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    train_ranges, val_ranges = split_ranges(series.offsets, window)
    nbytes = staging.nbytes(series.values, series.covariates)
    home = staging.home(nbytes, device, config.data_on)
    values = torch.from_numpy(series.values).to(home)
    floors = series_floors(series, window, model_config)
    steps, periods = calendar.first_steps(series), model_config.calendar
    covariates = None if series.covariates is None else torch.from_numpy(series.covariates).to(home)
    if model_config.covariate_count != (0 if covariates is None else covariates.shape[1]):
        raise ValueError(
            f"the model reads {model_config.covariate_count} covariates; the data differ"
        )
    shared = (values, series.offsets, floors)
    training, validation = (
        Windows.of(
            *shared, ranges, window.width, steps, periods, covariates, device, model_config.logs
        )
        for ranges in (train_ranges, val_ranges)
    )
    network = models.RecurrentForecaster(model_config, window.lookback, window.horizon).to(device)
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=0.5, patience=max(1, config.patience // 3)
    )
    criterion = loss_function(config.loss, model_config.levels).to(device)
    amp = autocast_dtype(config.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    result = TrainResult(
        network=network,
        device=str(device),
        train_windows=len(train_ranges),
        val_windows=len(val_ranges),
    )
    progress = _Progress()
    if resume is not None:
        progress = _restore(resume, network, optimiser, plateau, rng, result, device)
        if resume.get("scaler"):
            scaler.load_state_dict(resume["scaler"])

    batch_size = min(config.batch_size, len(train_ranges))
    if batch_size < world.size:
        raise ConfigError(
            f"--batch-size {batch_size} is less than the {world.size} processes training "
            f"together: each needs a window of every batch; give --batch-size {world.size} or "
            "more, or start fewer processes"
        )
    trained = distributed.wrap(network, device, world)  # what the steps run through
    averaged = None  # the weights' moving average (--ema), which validation judges
    if config.ema:
        averaged = copy.deepcopy(network)
        if resume is not None and resume.get("averaged") is not None:
            averaged.load_state_dict(resume["averaged"])
    judged = averaged if averaged is not None else network
    batches = max(
        min(math.ceil(len(train_ranges) / batch_size), math.ceil(config.epoch_size / batch_size)),
        MIN_EPOCH_BATCHES,
    )
    emit(
        TrainStart(
            device=str(device),
            train_windows=len(train_ranges),
            val_windows=len(val_ranges),
            batches_per_epoch=batches,
            max_epochs=config.max_epochs,
            parameters=models.count_parameters(network),
            lookback=window.lookback,
            member=member,
            members=config.ensemble,
        )
    )
    began = time.perf_counter() - progress.elapsed
    result.stopped = _finished(progress, config, bool(len(val_ranges)))
    while not result.stopped:
        epoch = progress.epoch + 1
        trained.train()
        chosen = torch.from_numpy(_draw(rng, len(train_ranges), batches * batch_size)).to(home)
        total, seen = 0.0, 0
        for b in range(batches):
            idx = distributed.shard(chosen[b * batch_size : (b + 1) * batch_size], world)
            loss = _step(trained, *training.batch(idx), window.lookback, model_config.scaling,
                         criterion, amp)  # fmt: skip
            optimiser.zero_grad(set_to_none=True)
            # DDP averages over processes: weigh each by its slice, as one batch would
            weighted = loss * (len(idx) * world.size / batch_size) if world.many else loss
            scaler.scale(weighted).backward()  # without fp16: as they are
            scaler.unscale_(optimiser)
            nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
            scaler.step(optimiser)
            scaler.update()
            progress.steps += 1
            if averaged is not None:
                _average(averaged, network, config.ema, progress.steps)
            total += loss.item() * len(idx)
            seen += len(idx)
            emit(BatchEnd(epoch, b + 1, batches, loss.item()))
            if stop():
                raise TrainingStopped
            if config.max_steps is not None and progress.steps >= config.max_steps:
                break
        total, seen = distributed.all_sum([total, seen], world, device)
        train_loss = total / max(seen, 1)
        val_loss = (
            validation_loss(
                judged,
                validation,
                window.lookback,
                model_config.scaling,
                criterion,
                config.batch_size,
                asked if not world.many else None,  # processes hold different batch counts
                world,
                amp,
            )
            if len(val_ranges)
            else None
        )
        if (val_loss is None or world.many) and stop():
            raise TrainingStopped
        monitored = val_loss if val_loss is not None else train_loss
        improved = (
            monitored < progress.best * (1 - MIN_IMPROVEMENT)
            if math.isfinite(progress.best)
            else True
        )
        if improved:
            progress.best, progress.stale = monitored, 0
            progress.best_state = copy.deepcopy(judged.state_dict())
            result.best_epoch = epoch
        else:
            progress.stale += 1
        plateau.step(monitored)
        lr = optimiser.param_groups[0]["lr"]
        progress.epoch = epoch
        progress.elapsed = time.perf_counter() - began
        result.history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": lr,
                "elapsed_s": progress.elapsed,
            }
        )
        emit(
            EpochEnd(
                epoch,
                config.max_epochs,
                train_loss,
                val_loss,
                progress.best if val_loss is not None else None,
                lr,
                improved,
                progress.elapsed,
            )
        )
        if not math.isfinite(train_loss):
            raise DataError(
                f"training diverged at epoch {epoch} (loss {train_loss}): lower --lr or check "
                "the data for extreme values"
            )
        if on_checkpoint is not None:
            state = _snapshot(progress, network, optimiser, plateau, rng, result)
            averaged_state = None if averaged is None else _cpu_state(averaged.state_dict())
            on_checkpoint({**state, "scaler": scaler.state_dict(), "averaged": averaged_state})
        result.stopped = _finished(progress, config, val_loss is not None)
    if progress.best_state is not None:
        network.load_state_dict(progress.best_state)
    network.eval()
    result.best_val_loss = progress.best if len(val_ranges) else None
    result.seconds = time.perf_counter() - began
    result.steps = progress.steps
    return result


def _average(averaged: nn.Module, network: nn.Module, decay: float, steps: int) -> None:
    """One step of the weights' exponential moving average. Early on the decay is lower
    ((1 + steps) / (10 + steps)), so that the average is not anchored to the first steps'
    weights."""
    decay = min(decay, (1 + steps) / (10 + steps))
    with torch.no_grad():
        for mean, now in zip(averaged.parameters(), network.parameters(), strict=True):
            mean.lerp_(now, 1 - decay)
        for mean, now in zip(averaged.buffers(), network.buffers(), strict=True):
            mean.copy_(now)


def _finished(progress: _Progress, config: TrainConfig, validating: bool) -> str:
    """Why training ends after the epochs done so far, or '' to go on."""
    if config.max_steps is not None and progress.steps >= config.max_steps:
        return f"reached --max-steps {config.max_steps}"
    if validating and progress.stale >= config.patience:
        return f"early stop: no improvement for {config.patience} epochs"
    if progress.epoch >= config.max_epochs:
        return f"reached --max-epochs {config.max_epochs}"
    return ""


def _cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def _snapshot(progress, network, optimiser, plateau, rng, result) -> dict[str, Any]:
    """The loop's state after a complete epoch, as plain data (tensors on the CPU)."""
    return {
        "epoch": progress.epoch,
        "best": progress.best,
        "stale": progress.stale,
        "steps": progress.steps,
        "elapsed": progress.elapsed,
        "best_epoch": result.best_epoch,
        "history": copy.deepcopy(result.history),
        "network": _cpu_state(network.state_dict()),
        "best_state": None if progress.best_state is None else _cpu_state(progress.best_state),
        "optimiser": copy.deepcopy(optimiser.state_dict()),
        "plateau": copy.deepcopy(plateau.state_dict()),
        "numpy_rng": copy.deepcopy(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _restore(state, network, optimiser, plateau, rng, result, device) -> _Progress:
    """Put a `_snapshot` back; returns the loop's progress."""
    network.load_state_dict(state["network"])
    optimiser.load_state_dict(state["optimiser"])
    plateau.load_state_dict(state["plateau"])
    rng.bit_generator.state = state["numpy_rng"]
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    result.history = list(state["history"])
    result.best_epoch = state["best_epoch"]
    best_state = state["best_state"]
    return _Progress(
        epoch=state["epoch"],
        best=state["best"],
        stale=state["stale"],
        steps=state["steps"],
        best_state=None if best_state is None else {k: v.to(device) for k, v in best_state.items()},
        elapsed=state["elapsed"],
    )


def _draw(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """`size` indices below n: shuffled passes over all n, as many as needed. Beyond
    `DRAW_ALL` windows, an epoch that takes fewer than all of them draws just those (without
    a permutation of all n, 8 bytes a window)."""
    if n > DRAW_ALL and size <= n:
        return rng.choice(n, size, replace=False)
    passes = [rng.permutation(n) for _ in range(math.ceil(size / n))]
    return np.concatenate(passes)[:size]


def series_floors(series: SeriesSet, window: WindowConfig, model: ModelConfig) -> np.ndarray:
    """Each training series' scale floor (`scaling.series_floors`) for `model`."""
    return scaling.series_floors(series.values, series.offsets, window.lookback,
                                 model.scale_floor, model.scaling, model.logs)  # fmt: skip


def scaled(batch: torch.Tensor, floors: torch.Tensor, lookback: int, method: str,
           logs: bool = False) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """A batch of windows (B, lookback + horizon) as network input (B, lookback, 1) and target
    (B, horizon), both scaled by the input's statistics (`logs`: windows of logarithms)."""
    x, y = batch[:, :lookback], batch[:, lookback:]
    stats = scaling.fit(x, method, floors, logs)
    return scaling.transform(x, stats).unsqueeze(-1), scaling.transform(y, stats)


def _step(network, batch, floors, phases, ids, covs, lookback, method, criterion,
          amp: torch.dtype | None = None) -> torch.Tensor:  # fmt: skip
    """Loss of one batch of windows (B, lookback + horizon), in scaled units. The target goes
    to the network too: decoders that feed back values read it in training mode only. With
    `amp` (`autocast_dtype`) the network runs under autocast; scaling and loss stay float32."""
    x, y = batch[:, :lookback], batch[:, lookback:]
    config = getattr(network, "module", network).config  # DDP holds the network as .module
    stats = scaling.fit(x, method, floors, config.logs)
    past = None if covs is None else scaling.standardise_channels(covs[:, :lookback])
    encoder_in, future = models.inputs(
        config, scaling.transform(x, stats), phases, y.shape[1], past
    )
    target = scaling.transform(y, stats)
    reduced = (
        torch.autocast(encoder_in.device.type, dtype=amp)
        if amp is not None
        else contextlib.nullcontext()
    )
    with reduced:
        pred = network(encoder_in, future, ids, target=target)  # (B, H) or (B, H, levels)
    return criterion(pred.float(), target)


@torch.no_grad()
def evaluate_loss(
    network, windows: Windows, lookback, method, criterion, batch_size, should_stop=None,
    positions: torch.Tensor | None = None, amp: torch.dtype | None = None,
) -> float:  # fmt: skip
    """Mean loss over the windows numbered `positions` (all of `windows` by default), in
    batches; raises `TrainingStopped` when `should_stop()` says so between batches."""
    network.eval()
    positions = windows.positions() if positions is None else positions
    total = 0.0
    for i in range(0, len(positions), batch_size):
        idx = positions[i : i + batch_size]
        loss = _step(network, *windows.batch(idx), lookback, method, criterion, amp)
        total += loss.item() * len(idx)
        if should_stop is not None and should_stop():
            raise TrainingStopped
    return total / len(positions)


def validation_loss(
    network, windows: Windows, lookback, method, criterion, batch_size, should_stop,
    world: distributed.World, amp: torch.dtype | None = None,
) -> float:  # fmt: skip
    """`evaluate_loss` over every window; with several processes each scores its
    contiguous share of the windows and the sums are added up, so all get the same mean."""
    if not world.many:
        return evaluate_loss(network, windows, lookback, method, criterion, batch_size,
                             should_stop, amp=amp)  # fmt: skip
    mine = distributed.shard(windows.positions(), world)
    total = (
        evaluate_loss(network, windows, lookback, method, criterion, batch_size,
                      positions=mine, amp=amp) * len(mine)
        if len(mine)
        else 0.0
    )  # fmt: skip
    total, count = distributed.all_sum([total, len(mine)], world, windows.device)
    return total / count
