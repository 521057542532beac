"""Losses: the training criterion (`--loss`, or the pinball loss of a quantile model), and
the loss of a batch of windows or of every window of a split, in scaled units."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import nn

from rnncast.engine.batches import Batch, Split, network_input
from rnncast.engine.events import TrainingStopped


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


def step_loss(network: nn.Module, batch: Batch, lookback: int, criterion: nn.Module,
              amp: torch.dtype | None = None) -> torch.Tensor:  # fmt: skip
    """Loss of one batch of windows (B, lookback + horizon), in scaled units. The target goes
    to the network too: decoders that feed back values read it in training mode only. With
    `amp` (`rnncast.engine.devices.autocast_dtype`) the network runs under autocast; scaling
    and loss stay float32."""
    config = getattr(network, "module", network).config  # DDP holds the network as .module
    given = network_input(config, batch, lookback, batch.windows.shape[1] - lookback)
    reduced = (
        torch.autocast(given.x.device.type, dtype=amp)
        if amp is not None
        else contextlib.nullcontext()
    )
    with reduced:  # (B, H) or (B, H, levels)
        pred = network(given.x, given.future, batch.ids, target=given.target)
    return criterion(pred.float(), given.target)


@torch.no_grad()
def evaluate_loss(
    network: nn.Module, split: Split, lookback: int, criterion: nn.Module, batch_size: int,
    should_stop: Callable[[], bool] | None = None, positions: torch.Tensor | None = None,
    amp: torch.dtype | None = None,
) -> float:  # fmt: skip
    """Mean loss over the windows numbered `positions` (all of `split` by default), in
    batches; raises `TrainingStopped` when `should_stop()` says so between batches."""
    network.eval()
    positions = split.positions() if positions is None else positions
    total = 0.0
    for i in range(0, len(positions), batch_size):
        idx = positions[i : i + batch_size]
        loss = step_loss(network, split.batch(idx), lookback, criterion, amp)
        total += loss.item() * len(idx)
        if should_stop is not None and should_stop():
            raise TrainingStopped
    return total / len(positions)
