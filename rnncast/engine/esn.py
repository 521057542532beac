"""Training an echo state network (cell 'esn'): one pass, no epochs, no gradients.

The reservoir (`models.EchoStateForecaster`) is fixed at random; only its linear readout is
learned, by ridge regression over every training window, in closed form. The windows are
drawn and scaled exactly as for the gradient-trained networks (`rnncast.engine.batches`).
With Z the design matrix (one row per window: the reservoir's final state, the last input
segment and a constant 1) and Y the scaled targets, the readout W solves

    (Z^T Z + ridge I) W = Z^T Y

exactly, in float64; Z^T Z and Z^T Y are summed batch by batch, so memory does not grow with
the number of windows. The validation loss is the usual one (`--loss`, on the validation
windows); the training loss is measured on at most `--epoch-size` training windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from rnncast.data.series import SeriesSet
from rnncast.data.windows import check_lengths, split_ranges
from rnncast.engine import models, staging
from rnncast.engine.batches import Split, Windows, network_input, series_floors
from rnncast.engine.devices import resolve_device
from rnncast.engine.events import EpochEnd, Event, TrainingStopped, TrainResult, TrainStart
from rnncast.engine.losses import evaluate_loss, loss_function
from rnncast.errors import DataError
from rnncast.settings import ModelConfig, TrainConfig, WindowConfig

BATCH = 4096  # windows per pass through the reservoir (the result does not depend on it)


def design(network: models.EchoStateForecaster, x: torch.Tensor) -> torch.Tensor:
    """Rows of the ridge regression for scaled inputs `x` (B, L, 1): [h_T, u_T, 1] in
    float64."""
    z = network.features(x).double()
    return torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype, device=z.device)], dim=1)


def solve_readout(gram: torch.Tensor, cross: torch.Tensor, ridge: float) -> torch.Tensor:
    """W of (gram + ridge I) W = cross, in float64 (gram = Z^T Z, cross = Z^T Y)."""
    eye = torch.eye(len(gram), dtype=torch.float64, device=gram.device)
    return torch.linalg.solve(gram.double() + ridge * eye, cross.double())


def fit(
    series: SeriesSet,
    window: WindowConfig,
    model_config: ModelConfig,
    config: TrainConfig,
    on_event: Callable[[Event], None] | None = None,
    member: int = 1,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Draw a reservoir from `config.seed` and solve its readout on `series`' training
    windows; reports one `TrainStart` and one `EpochEnd` (epoch 1)."""
    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    check_lengths(series, window)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    began = time.perf_counter()
    train, validation = _splits(series, window, model_config, config, device)
    network = models.EchoStateForecaster(model_config, window.lookback, window.horizon).to(device)
    network.eval()
    emit(
        TrainStart(
            device=str(device),
            train_windows=len(train),
            val_windows=len(validation),
            batches_per_epoch=-(-len(train) // BATCH),
            max_epochs=1,
            parameters=models.count_parameters(network),
            lookback=window.lookback,
            member=member,
            members=config.ensemble,
        )
    )
    _solve(network, train, window, stop)
    criterion = loss_function(config.loss)
    picked = torch.from_numpy(np.sort(rng.permutation(len(train))[: config.epoch_size]))
    args = (window.lookback, criterion, BATCH, stop)
    train_loss = evaluate_loss(network, train, *args, positions=picked.to(device))
    val_loss = evaluate_loss(network, validation, *args) if len(validation) else None
    elapsed = time.perf_counter() - began
    emit(EpochEnd(1, 1, train_loss, val_loss, val_loss, 0.0, True, elapsed))
    history = {"epoch": 1, "train_loss": train_loss, "val_loss": val_loss, "lr": 0.0,
               "elapsed_s": elapsed}  # fmt: skip
    return TrainResult(
        network=network, history=[history], best_epoch=1, best_val_loss=val_loss,
        stopped="closed-form ridge readout (no epochs)", device=str(device), seconds=elapsed,
        train_windows=len(train), val_windows=len(validation), steps=1,
    )  # fmt: skip


def _splits(series: SeriesSet, window: WindowConfig, model_config: ModelConfig,
            config: TrainConfig, device: torch.device) -> tuple[Split, Split]:  # fmt: skip
    """The training and validation windows, as the gradient-trained networks draw them."""
    train_ranges, val_ranges = split_ranges(series.offsets, window)
    home = staging.home(staging.nbytes(series.values), device, config.data_on)
    values = torch.from_numpy(series.values).to(home)
    floors = series_floors(series.values, series.offsets, window.lookback, model_config)
    windows = Windows.of(values, series.offsets, floors, window.width, device=device,
                         logs=model_config.logs)  # fmt: skip
    return Split.of(windows, train_ranges), Split.of(windows, val_ranges)


@torch.no_grad()
def _solve(network: models.EchoStateForecaster, train: Split, window: WindowConfig,
           stop: Callable[[], bool]) -> None:  # fmt: skip
    """Sum Z^T Z and Z^T Y over the training windows, batch by batch, and set the readout
    to the ridge solution."""
    config, device = network.config, train.device
    size = network.readout.in_features + 1
    gram = torch.zeros(size, size, dtype=torch.float64, device=device)
    cross = torch.zeros(size, window.horizon, dtype=torch.float64, device=device)
    for i in range(0, len(train), BATCH):
        idx = torch.arange(i, min(i + BATCH, len(train)), device=device)
        given = network_input(config, train.batch(idx), window.lookback, window.horizon)
        z = design(network, given.x)
        gram += z.T @ z
        cross += z.T @ given.target.double()
        if stop():
            raise TrainingStopped
    w = solve_readout(gram, cross, config.ridge)  # (features + 1, horizon)
    if not torch.isfinite(w).all():
        raise DataError(
            "the echo state readout has no finite solution: raise --ridge or check the "
            "data for extreme values"
        )
    network.readout.weight.copy_(w[:-1].T.float())
    network.readout.bias.copy_(w[-1].float())
