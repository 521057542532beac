"""The training loop of a gradient-trained network, readable top to bottom.

One global model over all series: windows are drawn from every series, each input window is
scaled by its own statistics (`rnncast.engine.batches`), and the network learns to emit the
whole horizon at once. AdamW, gradient clipping, a learning rate halved when the validation
loss plateaus, early stopping with the best weights restored. `fit` reads as its steps:
`_setup`, then per epoch `_train_epoch`, `_validate` and `_end_epoch`, then `_finish`.
Progress goes to an `on_event` callback; this module never prints.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from rnncast.data.calendar import first_steps
from rnncast.data.series import SeriesSet
from rnncast.data.windows import check_lengths, split_ranges
from rnncast.engine import distributed, models, staging
from rnncast.engine.batches import (
    KnownCovariates,
    Split,
    Windows,
    network_input,
    series_floors,
)
from rnncast.engine.devices import autocast_dtype, resolve_device
from rnncast.engine.events import (
    BatchEnd,
    EpochEnd,
    Event,
    TrainingStopped,
    TrainResult,
    TrainStart,
    cpu_state,
)
from rnncast.engine.losses import evaluate_loss, loss_function, step_loss
from rnncast.errors import ConfigError, DataError
from rnncast.settings import ModelConfig, TrainConfig, WindowConfig

MIN_IMPROVEMENT = 1e-4  # relative change in validation loss that counts as better


DRAW_ALL = 1 << 24  # up to this many training windows, an epoch is cut from a permutation


MIN_EPOCH_BATCHES = 20  # small data: an epoch repeats the windows up to this many batches


@dataclass
class _Progress:
    """What the loop carries from epoch to epoch besides the network and optimiser."""

    epoch: int = 0  # complete epochs
    best: float = math.inf
    stale: int = 0
    steps: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    elapsed: float = 0.0  # seconds of training before this process took over


@dataclass
class _Run:
    """What training one network holds from its setup to its end."""

    window: WindowConfig
    config: TrainConfig
    world: distributed.World
    device: torch.device
    home: torch.device  # where the values stay
    rng: np.random.Generator
    asked: Callable[[], bool]  # this process's should_stop
    training: Split
    validation: Split
    network: nn.Module
    trained: nn.Module  # what the steps run through (DDP over `network` with several processes)
    averaged: nn.Module | None  # the weights' moving average (--ema), which validation judges
    optimiser: torch.optim.Optimizer
    plateau: torch.optim.lr_scheduler.ReduceLROnPlateau
    criterion: nn.Module
    amp: torch.dtype | None
    scaler: torch.amp.GradScaler
    batch_size: int
    batches: int  # per epoch
    result: TrainResult
    emit: Callable[[Event], None]

    @property
    def judged(self) -> nn.Module:
        """The weights validation scores and early stopping keeps."""
        return self.averaged if self.averaged is not None else self.network

    def stop(self) -> bool:
        """Whether to stop now; with several processes, all stop at the same batch."""
        return distributed.any_rank(self.asked(), self.world, self.device)


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
    init: dict[str, torch.Tensor] | None = None,
) -> TrainResult:
    """Train one network on `series` from `config.seed`; returns it with the best validation
    weights. `member` (of `config.ensemble`) only labels the progress events.

    `init`: a state dict to start from instead of random weights (an update, `rnncast train
    --init-from`). Its validation loss is then the first to beat (epoch 0): an update that
    improves on it in no epoch ends with these weights as they were.

    `should_stop` is asked after every batch; when it says yes, `TrainingStopped` is raised.
    `on_checkpoint(state)` gets the loop's whole state (plain data) after every epoch, and
    `resume=state` continues from such a state exactly as if training had not stopped.

    In a torch.distributed process group (torchrun, see `rnncast.engine.distributed`) every
    process runs this with the same arguments and trains its slice of every batch; they
    all return the same network.
    """
    run, progress = _setup(series, window, model_config, config, should_stop, resume,
                           on_event or (lambda event: None), init)  # fmt: skip
    run.emit(
        TrainStart(
            device=str(run.device),
            train_windows=len(run.training),
            val_windows=len(run.validation),
            batches_per_epoch=run.batches,
            max_epochs=config.max_epochs,
            parameters=models.count_parameters(run.network),
            lookback=window.lookback,
            member=member,
            members=config.ensemble,
        )
    )
    began = time.perf_counter() - progress.elapsed
    if init is not None and resume is None and len(run.validation):
        _start_from(run, progress)
    run.result.stopped = _finished(progress, config, bool(len(run.validation)))
    while not run.result.stopped:
        epoch = progress.epoch + 1
        train_loss = _train_epoch(run, progress, epoch)
        val_loss = _validate(run)
        if (val_loss is None or run.world.many) and run.stop():
            raise TrainingStopped
        _end_epoch(run, progress, epoch, train_loss, val_loss, began)
        if on_checkpoint is not None:
            on_checkpoint(_checkpoint(run, progress))
        run.result.stopped = _finished(progress, config, val_loss is not None)
    return _finish(run, progress, began)


def _setup(
    series: SeriesSet, window: WindowConfig, model_config: ModelConfig, config: TrainConfig,
    should_stop: Callable[[], bool] | None, resume: dict[str, Any] | None,
    emit: Callable[[Event], None], init: dict[str, torch.Tensor] | None = None,
) -> tuple[_Run, _Progress]:  # fmt: skip
    """Check the data against the window, seed, place the values, build the network (from
    `init`'s weights when given) and its optimisation, and put a resumed run's state back."""
    world = distributed.current()
    check_lengths(series, window)
    if model_config.id_embedding and model_config.ids < len(series):
        raise ValueError(f"the id embedding knows {model_config.ids} series, not {len(series)}")
    device = distributed.device_for(resolve_device(config.device), world)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    training, validation = _splits(series, window, model_config, config, device)
    network = models.RecurrentForecaster(model_config, window.lookback, window.horizon)
    if init is not None:
        network.load_state_dict(init)
    network = network.to(device)
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=0.5, patience=max(1, config.patience // 3)
    )
    criterion = loss_function(config.loss, model_config.levels).to(device)
    amp = autocast_dtype(config.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    result = TrainResult(network=network, device=str(device), train_windows=len(training),
                         val_windows=len(validation))  # fmt: skip
    progress = _Progress()
    if resume is not None:
        progress = _restore(resume, network, optimiser, plateau, rng, result, device)
        if resume.get("scaler"):
            scaler.load_state_dict(resume["scaler"])
    batch_size = min(config.batch_size, len(training))
    if batch_size < world.size:
        raise ConfigError(
            f"--batch-size {batch_size} is less than the {world.size} processes training "
            f"together: each needs a window of every batch; give --batch-size {world.size} or "
            "more, or start fewer processes"
        )
    run = _Run(
        window, config, world, device, training.windows.home, rng, should_stop or (lambda: False),
        training, validation, network, distributed.wrap(network, device, world),
        _averaged(network, config, resume), optimiser, plateau, criterion, amp, scaler,
        batch_size, _batches(len(training), batch_size, config.epoch_size), result, emit,
    )  # fmt: skip
    return run, progress


def _splits(series: SeriesSet, window: WindowConfig, model_config: ModelConfig,
            config: TrainConfig, device: torch.device) -> tuple[Split, Split]:  # fmt: skip
    """The training and validation windows, over the values placed where they stay."""
    train_ranges, val_ranges = split_ranges(series.offsets, window)
    nbytes = staging.nbytes(series.values, series.covariates, series.known)
    home = staging.home(nbytes, device, config.data_on)
    values = torch.from_numpy(series.values).to(home)
    covariates = None if series.covariates is None else torch.from_numpy(series.covariates).to(home)
    known = KnownCovariates.of(series.known, series.known_offsets, window.width, home)
    for count, given, what in ((model_config.covariate_count, covariates, "covariates"),
                               (model_config.future_covariate_count, series.known,
                                "future covariates")):  # fmt: skip
        if count != (0 if given is None else given.shape[1]):
            raise ValueError(f"the model reads {count} {what}; the data differ")
    windows = Windows.of(
        values, series.offsets, series_floors(series.values, series.offsets, window.lookback,
                                              model_config), window.width,
        steps=first_steps(series), periods=model_config.calendar, covariates=covariates,
        codes=np.arange(1, len(series) + 1), device=device, logs=model_config.logs, known=known,
    )  # fmt: skip
    return Split.of(windows, train_ranges), Split.of(windows, val_ranges)


def _averaged(network: nn.Module, config: TrainConfig, resume: dict[str, Any] | None):
    """The weights' moving average under --ema (None without), as a resumed run left it."""
    if not config.ema:
        return None
    averaged = copy.deepcopy(network)
    if resume is not None and resume.get("averaged") is not None:
        averaged.load_state_dict(resume["averaged"])
    return averaged


def _start_from(run: _Run, progress: _Progress) -> None:
    """The starting weights of an update, scored on the validation windows, are the best so
    far (epoch 0)."""
    progress.best = _validate(run)
    progress.best_state = copy.deepcopy(run.judged.state_dict())
    run.result.best_epoch = 0


def _batches(windows: int, batch_size: int, epoch_size: int) -> int:
    """Batches per epoch: one pass, at most `epoch_size` windows, at least
    `MIN_EPOCH_BATCHES` (small data repeats its windows)."""
    passes = min(math.ceil(windows / batch_size), math.ceil(epoch_size / batch_size))
    return max(passes, MIN_EPOCH_BATCHES)


def _train_epoch(run: _Run, progress: _Progress, epoch: int) -> float:
    """One epoch of optimiser steps over shuffled windows; the mean training loss."""
    config, world, size = run.config, run.world, run.batch_size
    run.trained.train()
    chosen = torch.from_numpy(_draw(run.rng, len(run.training), run.batches * size)).to(run.home)
    total, seen = 0.0, 0
    for b in range(run.batches):
        idx = distributed.shard(chosen[b * size : (b + 1) * size], world)
        loss = step_loss(run.trained, run.training.batch(idx), run.window.lookback,
                         run.criterion, run.amp)  # fmt: skip
        run.optimiser.zero_grad(set_to_none=True)
        # DDP averages over processes: weigh each by its slice, as one batch would
        weighted = loss * (len(idx) * world.size / size) if world.many else loss
        run.scaler.scale(weighted).backward()  # without fp16: as they are
        _set_lr(run, progress.steps)
        run.scaler.unscale_(run.optimiser)
        nn.utils.clip_grad_norm_(run.network.parameters(), config.grad_clip)
        run.scaler.step(run.optimiser)
        run.scaler.update()
        progress.steps += 1
        if run.averaged is not None:
            _average(run.averaged, run.network, config.ema, progress.steps)
        total += loss.item() * len(idx)
        seen += len(idx)
        run.emit(BatchEnd(epoch, b + 1, run.batches, loss.item()))
        if run.stop():
            raise TrainingStopped
        if config.max_steps is not None and progress.steps >= config.max_steps:
            break
    total, seen = distributed.all_sum([total, seen], world, run.device)
    return total / max(seen, 1)


def _validate(run: _Run) -> float | None:
    """The validation loss of the judged weights; None without validation windows."""
    if not len(run.validation):
        return None
    asked = run.asked if not run.world.many else None  # processes hold different batch counts
    return validation_loss(run.judged, run.validation, run.window.lookback, run.criterion,
                           run.config.batch_size, asked, run.world, run.amp)  # fmt: skip


def _end_epoch(run: _Run, progress: _Progress, epoch: int, train_loss: float,
               val_loss: float | None, began: float) -> None:  # fmt: skip
    """Keep the best weights, step the schedule, record and report the epoch."""
    monitored = val_loss if val_loss is not None else train_loss
    improved = (
        monitored < progress.best * (1 - MIN_IMPROVEMENT) if math.isfinite(progress.best) else True
    )
    if improved:
        progress.best, progress.stale = monitored, 0
        progress.best_state = copy.deepcopy(run.judged.state_dict())
        run.result.best_epoch = epoch
    else:
        progress.stale += 1
    if run.config.schedule == "plateau":
        run.plateau.step(monitored)
    lr = run.optimiser.param_groups[0]["lr"]
    progress.epoch = epoch
    progress.elapsed = time.perf_counter() - began
    run.result.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                               "lr": lr, "elapsed_s": progress.elapsed})  # fmt: skip
    best = progress.best if val_loss is not None else None
    run.emit(EpochEnd(epoch, run.config.max_epochs, train_loss, val_loss, best, lr, improved,
                      progress.elapsed))  # fmt: skip
    if not math.isfinite(train_loss):
        raise DataError(
            f"training diverged at epoch {epoch} (loss {train_loss}): lower --lr or check "
            "the data for extreme values"
        )


def _checkpoint(run: _Run, progress: _Progress) -> dict[str, Any]:
    """The loop's whole state after a complete epoch, for `on_checkpoint`."""
    state = _snapshot(progress, run.network, run.optimiser, run.plateau, run.rng, run.result)
    averaged = None if run.averaged is None else cpu_state(run.averaged.state_dict())
    return {**state, "scaler": run.scaler.state_dict(), "averaged": averaged}


def _finish(run: _Run, progress: _Progress, began: float) -> TrainResult:
    """The best weights back in the network, and the result's totals."""
    result = run.result
    if progress.best_state is not None:
        run.network.load_state_dict(progress.best_state)
    run.network.eval()
    if run.network.config.blend == "naive":
        run.network.blend_weight.fill_(fit_blend(run.network, run.validation, run.window.lookback,
                                                 run.criterion, run.config.batch_size))  # fmt: skip
    result.best_val_loss = progress.best if len(run.validation) else None
    result.seconds = time.perf_counter() - began
    result.steps = progress.steps
    return result


WARMUP = 0.05  # of a cosine schedule's steps, the learning rate rising linearly


def _set_lr(run: _Run, steps: int) -> None:
    """Under --schedule cosine, the learning rate of optimiser step `steps + 1`: a linear
    warm-up over the first `WARMUP` of the steps, then a cosine decay to 0 at the last
    (--max-steps, else --max-epochs full epochs). The plateau schedule moves it per epoch."""
    if run.config.schedule != "cosine":
        return
    total = run.config.max_steps or run.config.max_epochs * run.batches
    warm = max(1, round(WARMUP * total))
    if steps < warm:
        factor = (steps + 1) / warm
    else:
        factor = 0.5 * (1 + math.cos(math.pi * min(1.0, (steps - warm) / max(1, total - warm))))
    for group in run.optimiser.param_groups:
        group["lr"] = run.config.lr * factor


BLEND_GRID = 20  # the blend weight is chosen from 0, 1/20, ..., 1


@torch.no_grad()
def fit_blend(network: nn.Module, split: Split, lookback: int, criterion: nn.Module,
              batch_size: int) -> float:  # fmt: skip
    """The weight w of the network against naive (`models.blend`) with the least loss over
    the validation windows of `split`, from 0, 1/BLEND_GRID, ..., 1; the largest of equal
    ones, and 1 without validation windows. Every process of a group scores all windows."""
    if not len(split):
        return 1.0
    network.blend_weight.fill_(1.0)
    preds, lasts, targets = [], [], []
    positions = split.positions()
    for i in range(0, len(positions), batch_size):
        batch = split.batch(positions[i : i + batch_size])
        given = network_input(network.config, batch, lookback, batch.windows.shape[1] - lookback)
        preds.append(network(given.x, given.future, batch.ids).float())
        lasts.append(given.x[:, -1, 0].float())
        targets.append(given.target)
    pred, last, target = torch.cat(preds), torch.cat(lasts), torch.cat(targets)
    median = network._median
    losses = [
        criterion(models.blend(pred, last, torch.tensor(k / BLEND_GRID), median), target).item()
        for k in range(BLEND_GRID + 1)
    ]
    best = min(losses)
    return max(k for k, loss in enumerate(losses) if loss <= best) / BLEND_GRID


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
        "network": cpu_state(network.state_dict()),
        "best_state": None if progress.best_state is None else cpu_state(progress.best_state),
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


def validation_loss(
    network: nn.Module, split: Split, lookback: int, criterion: nn.Module, batch_size: int,
    should_stop: Callable[[], bool] | None, world: distributed.World,
    amp: torch.dtype | None = None,
) -> float:  # fmt: skip
    """`evaluate_loss` over every window; with several processes each scores its
    contiguous share of the windows and the sums are added up, so all get the same mean."""
    if not world.many:
        return evaluate_loss(network, split, lookback, criterion, batch_size, should_stop,
                             amp=amp)  # fmt: skip
    mine = distributed.shard(split.positions(), world)
    total = (
        evaluate_loss(network, split, lookback, criterion, batch_size, positions=mine,
                      amp=amp) * len(mine)
        if len(mine)
        else 0.0
    )  # fmt: skip
    total, count = distributed.all_sum([total, len(mine)], world, split.device)
    return total / count
