"""The networks: a recurrent encoder (RNN, LSTM or GRU) over the lookback read in segments,
and a decoder that turns its final state into the whole horizon at once.

Names follow `torch.nn.RNN` (`hidden_size`, `num_layers`, `dropout`; batch-first tensors);
`features` is the number of inputs per time step (1 for a plain series), and the recurrent
layer's `input_size` is segment x features.

Decoders (`ModelConfig.decoder`), each a module in `DECODERS` called as
`decoder(encoder, out, state)` with the encoder's outputs (B, steps, hidden) and final state,
returning (B, horizon, outputs): one value per step for a point forecast, one per quantile
level for a quantile model (`ModelConfig.quantiles`):
- direct: a linear map of the last hidden state to the whole horizon;
- parallel: SegRNN's parallel multi-step forecasting (Lin et al. 2023, arXiv:2308.11200):
  for each output segment j the encoder takes one more recurrent step from its final state,
  with a learned embedding of position j as input, all segments at once (a batch of B x
  segments one-step sequences); a linear map shared by the positions turns each step's
  hidden state into that segment's values.

A quantile model's raw outputs become quantiles that never cross (`monotone`): the median is
the raw median output, and each level above (below) it adds (subtracts) a softplus of its raw
output to the next level's value.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rnncast import calendar
from rnncast.config import ModelConfig

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def outputs(config: ModelConfig) -> int:
    """Values the network emits per horizon step: 1, or one per quantile level."""
    return len(config.levels) or 1


def inputs_per_step(config: ModelConfig) -> int:
    """Inputs per time step: the value, the past covariates, then the calendar features
    (`rnncast.calendar`)."""
    return 1 + config.covariate_count + 2 * len(config.calendar)


def inputs(
    config: ModelConfig,
    x: torch.Tensor,
    phases: torch.Tensor | None,
    horizon: int,
    covariates: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The network's inputs from scaled lookback windows x (B, L), their scaled covariates
    (B, L, C) and each window's calendar phases (B, n): the encoder's (B, L, features), and
    the horizon's calendar features (B, horizon, 2 n) for the decoder, or None without
    calendar features."""
    x = x.unsqueeze(-1)
    if config.covariate_count:
        assert covariates is not None, "a model with covariates needs them"
        x = torch.cat([x, covariates.to(x.dtype)], dim=-1)
    if not config.calendar:
        return x, None
    assert phases is not None, "a model with calendar features needs each window's phases"
    periods = torch.tensor(config.calendar, dtype=x.dtype, device=x.device)
    known = calendar.features(phases.to(x.dtype), x.shape[1] + horizon, periods)
    return torch.cat([x, known[:, : x.shape[1]]], dim=-1), known[:, x.shape[1] :]


class DirectHead(nn.Linear):
    """Linear map of the last hidden state, and the horizon's calendar features where the
    model has them, to the whole horizon (a `Linear`, so its weights are stored as
    `head.weight` / `head.bias` as in model files written before decoders)."""

    def __init__(self, config: ModelConfig, horizon: int, features: int = 1):
        self.horizon, self.outputs = horizon, outputs(config)
        known = horizon * 2 * len(config.calendar)
        super().__init__(config.hidden_size + known, horizon * self.outputs)
        self.drop = nn.Dropout(config.dropout)

    def forward(
        self, encoder: nn.Module, out: torch.Tensor, state: State, future: torch.Tensor | None
    ) -> torch.Tensor:
        last = self.drop(out[:, -1])
        if future is not None:
            last = torch.cat([last, future.flatten(1)], dim=1)
        y = super().forward(last)  # (B, horizon * outputs)
        return y.reshape(-1, self.horizon, self.outputs)


class ParallelDecoder(nn.Module):
    """SegRNN's parallel multi-step forecasting: one recurrent step per output segment from
    the encoder's final state, input = the segment's position embedding."""

    def __init__(self, config: ModelConfig, horizon: int, features: int = 1):
        super().__init__()
        self.horizon, self.segment, self.outputs = horizon, config.segment, outputs(config)
        self.segments = math.ceil(horizon / config.segment)
        self.position = nn.Parameter(torch.randn(self.segments, config.segment * features))
        self.drop = nn.Dropout(config.dropout)
        self.proj = nn.Linear(config.hidden_size, config.segment * self.outputs)

    def forward(
        self, encoder: nn.Module, out: torch.Tensor, state: State, future: torch.Tensor | None
    ) -> torch.Tensor:
        b, m = out.shape[0], self.segments
        # Every (window, position) pair is a one-step sequence starting from the window's
        # final state: inputs (B * m, 1, input_size), states (layers, B * m, hidden).
        steps = self.position.unsqueeze(0).expand(b, -1, -1).reshape(b * m, 1, -1)
        start = (
            tuple(_repeat(s, m) for s in state) if isinstance(state, tuple) else _repeat(state, m)
        )
        y, _ = encoder(steps, start)  # (B * m, 1, hidden)
        seg = self.proj(self.drop(y[:, 0]))  # (B * m, segment * outputs)
        return seg.reshape(b, m * self.segment, self.outputs)[:, : self.horizon]


def _repeat(state: torch.Tensor, m: int) -> torch.Tensor:
    """(layers, B, hidden) -> (layers, B * m, hidden), each window's state m times in a row."""
    return state.repeat_interleave(m, dim=1)


DECODERS: dict[str, type[nn.Module]] = {"direct": DirectHead, "parallel": ParallelDecoder}


class RecurrentForecaster(nn.Module):
    """Encoder over the lookback window read in segments, then a decoder (`config.decoder`)
    from its final state to the horizon.

    forward: (B, L, features) and, with calendar features, the horizon's (B, horizon, 2 n)
    (see `inputs`) -> (B, horizon), in the scaled units of the input, or (B, horizon,
    levels) for a quantile model (`config.levels`, increasing, never crossing). The L steps
    are regrouped into L / segment recurrent steps of segment x features inputs each.
    """

    def __init__(self, config: ModelConfig, lookback: int, horizon: int):
        super().__init__()
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        if lookback % config.segment:
            raise ValueError(f"lookback {lookback} is not a multiple of segment {config.segment}")
        self.config, self.lookback, self.horizon = config, lookback, horizon
        features = inputs_per_step(config)
        self.encoder = _CELLS[config.cell](
            input_size=config.segment * features,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.head = DECODERS[config.decoder](config, horizon, features)
        if config.id_embedding:
            # row 0 is for series the model never saw: it stays all zeros
            self.id_table = nn.Embedding(config.ids + 1, config.id_embedding)
            nn.init.zeros_(self.id_table.weight)
            self.id_state = nn.Linear(config.id_embedding, config.num_layers * config.hidden_size)

    def forward(
        self,
        x: torch.Tensor,
        future: torch.Tensor | None = None,
        ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, length, width = x.shape
        steps = x.reshape(b, length // self.config.segment, self.config.segment * width)
        out, state = self.encoder(steps, self._initial_state(ids, b))  # (B, L / seg, hidden)
        y = self.head(self.encoder, out, state, future)  # (B, horizon, outputs)
        if not self.config.quantiles:
            return y[..., 0]
        return monotone(y, self.config.levels.index(0.5))

    def _initial_state(self, ids: torch.Tensor | None, b: int) -> State | None:
        """The encoder's initial state from each window's series id (`ids`, (B,) indices
        into the id table, 0 for unknown series), or None (zeros) without an id embedding."""
        if not self.config.id_embedding:
            return None
        if ids is None:
            ids = torch.zeros(b, dtype=torch.long, device=self.id_table.weight.device)
        h = torch.tanh(self.id_state(self.id_table(ids)))  # (B, layers * hidden)
        h = h.reshape(b, self.config.num_layers, self.config.hidden_size).transpose(0, 1)
        h = h.contiguous()
        return (h, torch.zeros_like(h)) if self.config.cell == "lstm" else h


def monotone(raw: torch.Tensor, median: int) -> torch.Tensor:
    """Quantiles that never cross from raw outputs (..., levels): level `median` is its raw
    value; each level above adds, each below subtracts, a softplus of its own raw value."""
    gaps = nn.functional.softplus(raw)
    centre = raw[..., median : median + 1]
    up = centre + torch.cumsum(gaps[..., median + 1 :], dim=-1)
    down = centre - torch.cumsum(gaps[..., :median].flip(-1), dim=-1).flip(-1)
    return torch.cat([down, centre, up], dim=-1)


class Ensemble(nn.Module):
    """Forecasters trained from different seeds, possibly reading different lookbacks; their
    forecasts are averaged (`rnncast.forecast` scales each member's own window). `lookback`
    is the longest member's: the history a forecast needs."""

    def __init__(self, members: list[RecurrentForecaster]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        first = members[0]
        self.config, self.horizon = first.config, first.horizon
        self.lookback = max(member.lookback for member in members)


def members(network: Forecaster) -> list[RecurrentForecaster]:
    """The networks whose forecasts are averaged: an ensemble's members, or the network."""
    return list(network.members) if isinstance(network, Ensemble) else [network]


Forecaster = RecurrentForecaster | Ensemble


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
