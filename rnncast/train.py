"""The training loop, readable top to bottom.

One global model over all series: windows are drawn from every series, each input window is
scaled by its own statistics, and the network learns to emit the whole horizon at once.
AdamW, gradient clipping, a learning rate halved when the validation loss plateaus, early
stopping with the best weights restored. Progress goes to an `on_event` callback; this module
never prints.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from rnncast import models, scaling
from rnncast.config import ModelConfig, TrainConfig, WindowConfig
from rnncast.data import SeriesSet
from rnncast.errors import ConfigError, DataError
from rnncast.windows import split_windows

MIN_IMPROVEMENT = 1e-4  # relative change in validation loss that counts as better
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


@dataclass
class Windows:
    """The windows of one split, on the training device: a strided view of all windows of
    the flat values, the flat start of each window of the split, and its scale floor."""

    view: torch.Tensor  # (N - width + 1, width), no copy of the values
    starts: torch.Tensor  # (K,) int64
    floors: torch.Tensor  # (K,) float32

    @classmethod
    def of(cls, values: torch.Tensor, offsets: np.ndarray, floors: np.ndarray,
           starts: np.ndarray, width: int) -> Windows:  # fmt: skip
        """`values`: the flat series values as a tensor on the training device; `floors`:
        each series' scale floor (`scaling.series_floors`)."""
        device = values.device
        return cls(
            view=values.unfold(0, width, 1),
            starts=torch.from_numpy(starts).to(device),
            floors=torch.from_numpy(scaling.window_floors(floors, offsets, starts)).to(device),
        )

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows (B, width) and floors (B,) at `positions` of this split."""
        return self.view[self.starts[positions]], self.floors[positions]


# ---- devices ----------------------------------------------------------------------------


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


def loss_function(name: str) -> nn.Module:
    return {"mae": nn.L1Loss(), "mse": nn.MSELoss(), "huber": nn.HuberLoss(delta=1.0)}[name]


# ---- checks before training -------------------------------------------------------------


def check_lengths(series: SeriesSet, window: WindowConfig) -> None:
    """Every series must hold at least one window; some series must leave training windows."""
    need = window.width
    count, names = series.shorter_than(need)
    if count:
        raise DataError(
            f"{count} series {'is' if count == 1 else 'are'} shorter than lookback "
            f"{window.lookback} + horizon {window.horizon} = {need} values: {names}; "
            "pass a smaller --lookback or drop them"
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


def fit(
    series: SeriesSet,
    window: WindowConfig,
    model_config: ModelConfig,
    config: TrainConfig,
    on_event: Callable[[Event], None] | None = None,
    member: int = 1,
) -> TrainResult:
    """Train one network on `series` from `config.seed`; returns it with the best validation
    weights. `member` (of `config.ensemble`) only labels the progress events."""
    emit = on_event or (lambda event: None)
    check_lengths(series, window)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    train_starts, val_starts = split_windows(series.offsets, window)
    values = torch.from_numpy(series.values).to(device)
    floors = scaling.series_floors(
        series.values, series.offsets, window.lookback, model_config.scale_floor
    )
    training = Windows.of(values, series.offsets, floors, train_starts, window.width)
    validation = Windows.of(values, series.offsets, floors, val_starts, window.width)
    network = models.RecurrentForecaster(model_config, window.lookback, window.horizon).to(device)
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=0.5, patience=max(1, config.patience // 3)
    )
    criterion = loss_function(config.loss)

    batch_size = min(config.batch_size, len(train_starts))
    batches = max(
        min(math.ceil(len(train_starts) / batch_size), math.ceil(config.epoch_size / batch_size)),
        MIN_EPOCH_BATCHES,
    )
    emit(
        TrainStart(
            device=str(device),
            train_windows=len(train_starts),
            val_windows=len(val_starts),
            batches_per_epoch=batches,
            max_epochs=config.max_epochs,
            parameters=models.count_parameters(network),
            lookback=window.lookback,
            member=member,
            members=config.ensemble,
        )
    )
    result = TrainResult(
        network=network,
        device=str(device),
        train_windows=len(train_starts),
        val_windows=len(val_starts),
    )
    best_state, best, stale, steps = None, math.inf, 0, 0
    began = time.perf_counter()
    for epoch in range(1, config.max_epochs + 1):
        network.train()
        chosen = torch.from_numpy(_draw(rng, len(train_starts), batches * batch_size)).to(device)
        total, seen = 0.0, 0
        for b in range(batches):
            idx = chosen[b * batch_size : (b + 1) * batch_size]
            loss = _step(network, *training.batch(idx), window.lookback, model_config.scaling,
                         criterion)  # fmt: skip
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
            optimiser.step()
            steps += 1
            total += loss.item() * len(idx)
            seen += len(idx)
            emit(BatchEnd(epoch, b + 1, batches, loss.item()))
            if config.max_steps is not None and steps >= config.max_steps:
                break
        train_loss = total / max(seen, 1)
        val_loss = (
            evaluate_loss(
                network,
                validation,
                window.lookback,
                model_config.scaling,
                criterion,
                config.batch_size,
            )
            if len(val_starts)
            else None
        )
        monitored = val_loss if val_loss is not None else train_loss
        improved = monitored < best * (1 - MIN_IMPROVEMENT) if math.isfinite(best) else True
        if improved:
            best, stale = monitored, 0
            best_state = copy.deepcopy(network.state_dict())
            result.best_epoch = epoch
        else:
            stale += 1
        plateau.step(monitored)
        lr = optimiser.param_groups[0]["lr"]
        result.history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": lr,
                "elapsed_s": time.perf_counter() - began,
            }
        )
        emit(
            EpochEnd(
                epoch,
                config.max_epochs,
                train_loss,
                val_loss,
                best if val_loss is not None else None,
                lr,
                improved,
                time.perf_counter() - began,
            )
        )
        if not math.isfinite(train_loss):
            raise DataError(
                f"training diverged at epoch {epoch} (loss {train_loss}): lower --lr or check "
                "the data for extreme values"
            )
        if config.max_steps is not None and steps >= config.max_steps:
            result.stopped = f"reached --max-steps {config.max_steps}"
            break
        if val_loss is not None and stale >= config.patience:
            result.stopped = f"early stop: no improvement for {config.patience} epochs"
            break
    else:
        result.stopped = f"reached --max-epochs {config.max_epochs}"
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    result.best_val_loss = best if len(val_starts) else None
    result.seconds = time.perf_counter() - began
    result.steps = steps
    return result


def _draw(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """`size` indices below n: shuffled passes over all n, as many as needed."""
    passes = [rng.permutation(n) for _ in range(math.ceil(size / n))]
    return np.concatenate(passes)[:size]


def _step(network, batch, floors, lookback, method, criterion) -> torch.Tensor:
    """Loss of one batch of windows (B, lookback + horizon), in scaled units."""
    x, y = batch[:, :lookback], batch[:, lookback:]
    stats = scaling.fit(x, method, floors)
    pred = network(scaling.transform(x, stats).unsqueeze(-1))  # (B, H)
    return criterion(pred, scaling.transform(y, stats))


@torch.no_grad()
def evaluate_loss(network, windows: Windows, lookback, method, criterion, batch_size) -> float:
    """Mean loss over every window of `windows`, in batches."""
    network.eval()
    total = 0.0
    for i in range(0, len(windows), batch_size):
        idx = torch.arange(i, min(i + batch_size, len(windows)), device=windows.starts.device)
        total += _step(network, *windows.batch(idx), lookback, method, criterion).item() * len(idx)
    return total / len(windows)
