"""Losses: the pinball loss by hand, and the loss of a step in scaled units."""

from __future__ import annotations

import pytest
import torch

from rnncast.engine import batches, losses, scaling
from rnncast.settings import ModelConfig


def test_pinball_loss_by_hand():
    loss = losses.PinballLoss((0.1, 0.9))
    pred = torch.tensor([[[1.0, 3.0]]])  # one window, one step, levels 0.1 and 0.9
    y = torch.tensor([[2.0]])
    # level 0.1: error +1 -> 0.1; level 0.9: error -1 -> 0.1
    assert loss(pred, y).item() == pytest.approx(0.1)
    y = torch.tensor([[0.0]])
    # level 0.1: error -1 -> 0.9; level 0.9: error -3 -> 0.3
    assert loss(pred, y).item() == pytest.approx(0.6)
    median = losses.PinballLoss((0.5,))
    x, t = torch.randn(4, 3, 1), torch.randn(4, 3)
    assert 2 * median(x, t).item() == pytest.approx(torch.nn.L1Loss()(x[..., 0], t).item())


def test_loss_functions_by_name():
    assert isinstance(losses.loss_function("mae"), torch.nn.L1Loss)
    assert isinstance(losses.loss_function("mse"), torch.nn.MSELoss)
    assert isinstance(losses.loss_function("huber"), torch.nn.HuberLoss)
    assert isinstance(losses.loss_function("mae", (0.1, 0.5)), losses.PinballLoss)


class _Recorder(torch.nn.Module):
    """Returns zeros and keeps what it was given."""

    def __init__(self):
        super().__init__()
        self.seen = []
        self.config = ModelConfig()

    def forward(self, x, future=None, ids=None, target=None):
        self.seen.append((x, target, ids))
        return torch.zeros_like(target)


def test_the_step_gives_the_network_the_scaled_target():
    windows = torch.arange(2 * 10, dtype=torch.float32).reshape(2, 10) ** 1.5
    floors = torch.zeros(2)
    recorder = _Recorder()
    ids = torch.ones(2, dtype=torch.long)
    loss = losses.step_loss(recorder, batches.Batch(windows, floors, ids=ids), 6,
                            losses.loss_function("mae"))  # fmt: skip
    x, target, seen_ids = recorder.seen[0]
    stats = scaling.fit(windows[:, :6], "window", floors)
    torch.testing.assert_close(x[..., 0], scaling.transform(windows[:, :6], stats))
    torch.testing.assert_close(target, scaling.transform(windows[:, 6:], stats))
    assert seen_ids is ids
    assert loss.item() == pytest.approx(target.abs().mean().item())
