"""What training reports and returns: progress events for an `on_event` callback (the
engine never prints), each network's `TrainResult`, and `TrainingStopped` for a run that
was asked to stop."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import nn


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
        return {**plain, "weights": cpu_state(self.network.state_dict())}

    @classmethod
    def from_plain(cls, plain: dict[str, Any], network: nn.Module) -> TrainResult:
        """Rebuild from `to_plain` output; `network` gets the weights."""
        network.load_state_dict(plain["weights"])
        network.eval()
        return cls(network=network, **{k: v for k, v in plain.items() if k != "weights"})


class TrainingStopped(Exception):
    """Training stopped because `should_stop()` said so; the last checkpoint (if any) holds
    the state at the end of the last complete epoch."""


def cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict's tensors copied to the CPU (for files and snapshots)."""
    return {k: v.detach().cpu().clone() for k, v in state.items()}
