"""The networks: a recurrent encoder (RNN, LSTM or GRU) and a head that emits every
horizon step at once.

Names follow `torch.nn.RNN` (`hidden_size`, `num_layers`, `dropout`; batch-first tensors);
`features` is the number of inputs per time step (1 for a plain series), and the recurrent
layer's `input_size` is segment x features.
"""

from __future__ import annotations

import torch
from torch import nn

from rnncast.config import ModelConfig

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentForecaster(nn.Module):
    """Encoder over the lookback window read in segments, then a linear head over the last
    hidden state.

    forward: (B, L, features) -> (B, horizon), in the scaled units of the input. The L steps
    are regrouped into L / segment recurrent steps of segment x features inputs each.
    """

    def __init__(self, config: ModelConfig, lookback: int, horizon: int, features: int = 1):
        super().__init__()
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        if lookback % config.segment:
            raise ValueError(f"lookback {lookback} is not a multiple of segment {config.segment}")
        self.config, self.lookback, self.horizon = config, lookback, horizon
        self.encoder = _CELLS[config.cell](
            input_size=config.segment * features,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, features = x.shape
        steps = x.reshape(b, length // self.config.segment, self.config.segment * features)
        out, _ = self.encoder(steps)  # (B, L / segment, hidden)
        return self.head(self.drop(out[:, -1]))  # (B, horizon)


class Ensemble(nn.Module):
    """Forecasters of the same shape trained from different seeds; forward averages theirs."""

    def __init__(self, members: list[RecurrentForecaster]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        first = members[0]
        self.config, self.lookback, self.horizon = first.config, first.lookback, first.horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(dim=0)  # (B, horizon)


Forecaster = RecurrentForecaster | Ensemble


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
