"""Decoders: how the horizon comes out of the recurrent encoder (`ModelConfig.decoder`).

Every decoder is a `Decoder`, called as `decoder(encoder, out, state, steps, target,
future)` with the encoder module, its outputs (B, steps, directions x hidden), its final
state, its input steps (B, steps, input_size), the true future (training only, for the
decoders that feed values back) and the horizon's known inputs (B, horizon, F + 2 n): its
future covariates and calendar features (direct; parallel: with future covariates); it returns
(B, horizon, outputs): one value per step for a point forecast, one per quantile level for a
quantile model (`ModelConfig.quantiles`; direct and parallel only):

- direct: a linear map of the last hidden state to the whole horizon;
- parallel: SegRNN's parallel multi-step forecasting (Lin et al. 2023, arXiv:2308.11200):
  for each output segment j the encoder takes one more recurrent step from its final state,
  with a learned embedding of position j as input, all segments at once (a batch of B x
  segments one-step sequences); a linear map shared by the positions turns each step's
  hidden state into that segment's values; with future covariates, a linear map of the
  segment's known inputs is added to its position embedding;
- seq2seq: a recurrent decoder (same cell) unrolled over the output segments from the
  encoder's final state, fed the previous segment's values: the true ones in training (teacher
  forcing, from the `target` passed to `forward`), its own forecasts otherwise; with
  `attention`, Luong's (general) attention over the encoder's outputs at every step;
- recursive: the encoder itself as a one-step model: a linear map of its state gives the next
  segment, which is fed back as the next input (the true segment in training).

Bidirectional encoders' final states reach the decoders side by side (2 x hidden).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rnncast.settings import ModelConfig

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def values_per_step(config: ModelConfig) -> int:
    """Values the network emits per horizon step: 1, or one per quantile level."""
    return len(config.levels) or 1


def recurrent(config: ModelConfig, input_size: int, hidden_size: int, **kwargs) -> nn.Module:
    """A torch RNN / LSTM / GRU of `config`'s cell, layers, dropout (and RNN nonlinearity)."""
    if config.cell == "rnn":
        kwargs["nonlinearity"] = config.activation
    return _CELLS[config.cell](
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=config.num_layers,
        dropout=config.dropout if config.num_layers > 1 else 0.0,
        batch_first=True,
        **kwargs,
    )


def _hidden(state: State) -> torch.Tensor:
    """The hidden part of a final state (an LSTM's is (h, c))."""
    return state[0] if isinstance(state, tuple) else state


def _last(out: torch.Tensor, state: State, directions: int) -> torch.Tensor:
    """(B, directions x hidden): the last layer's final hidden state of each direction. One
    way, that is the output at the last step; the backward direction ends at the first."""
    if directions == 1:
        return out[:, -1]
    h = _hidden(state)  # (layers x 2, B, hidden), layer-major
    return torch.cat([h[-2], h[-1]], dim=-1)


def _merge_directions(state: State, directions: int) -> State:
    """(layers x directions, B, hidden) -> (layers, B, directions x hidden): each layer's
    directions side by side, the starting state of a one-way decoder twice as wide."""
    if isinstance(state, tuple):
        return tuple(_merge_directions(s, directions) for s in state)  # type: ignore[return-value]
    if directions == 1:
        return state
    layers_dirs, b, hidden = state.shape
    s = state.reshape(layers_dirs // directions, directions, b, hidden)
    return s.permute(0, 2, 1, 3).reshape(layers_dirs // directions, b, directions * hidden)


def _segments(target: torch.Tensor, segment: int, count: int) -> torch.Tensor:
    """The first `count` whole segments of `target` (B, horizon) as (B, count, segment)."""
    return target[:, : count * segment].reshape(target.shape[0], count, segment)


def _values_only(features: int, decoder: str) -> None:
    if features != 1:
        raise ValueError(f"--decoder {decoder} feeds back forecasts: it needs 1 feature per step")


class Decoder(nn.Module):
    """What every decoder shares: its horizon, the values it emits per step and the output
    segments it covers the horizon with, and the reshape of those segments into the horizon.
    Subclasses define `forward(encoder, out, state, steps, target=None, future=None)`."""

    horizon: int
    outputs: int
    segment: int
    segments: int

    def _shape(self, config: ModelConfig, horizon: int) -> None:
        """Set the horizon, the values per step and the output segments (no parameters, so
        no random numbers are drawn)."""
        self.horizon, self.outputs = horizon, values_per_step(config)
        self.segment, self.segments = config.segment, math.ceil(horizon / config.segment)

    def _horizon(self, values: torch.Tensor, b: int) -> torch.Tensor:
        """Values of the output segments, in order, as (B, horizon, outputs)."""
        return values.reshape(b, self.segments * self.segment, self.outputs)[:, : self.horizon]


def known_per_step(config: ModelConfig) -> int:
    """The known inputs of each horizon step: future covariates, then calendar features."""
    return config.future_covariate_count + 2 * len(config.calendar)


class DirectHead(Decoder, nn.Linear):
    """Linear map of the last hidden state (both directions'), and the horizon's future
    covariates and calendar features where the model has them, to the whole horizon (a
    `Linear`, so its weights are stored as `head.weight` / `head.bias` as in model files
    written before decoders)."""

    def __init__(self, config: ModelConfig, horizon: int, features: int = 1):
        self._shape(config, horizon)
        known = horizon * known_per_step(config)
        nn.Linear.__init__(self, config.hidden_size * config.directions + known,
                           horizon * self.outputs)  # fmt: skip
        self.directions = config.directions
        self.drop = nn.Dropout(config.dropout)

    def forward(
        self,
        encoder: nn.Module,
        out: torch.Tensor,
        state: State,
        steps: torch.Tensor,
        target: torch.Tensor | None = None,
        future: torch.Tensor | None = None,
    ) -> torch.Tensor:
        last = self.drop(_last(out, state, self.directions))
        if future is not None:
            last = torch.cat([last, future.flatten(1)], dim=1)
        y = nn.Linear.forward(self, last)  # (B, horizon * outputs)
        return y.reshape(-1, self.horizon, self.outputs)


class ParallelDecoder(Decoder):
    """SegRNN's parallel multi-step forecasting: one recurrent step per output segment from
    the encoder's final state, input = the segment's position embedding (plus, with future
    covariates, a linear map of the segment's known inputs)."""

    def __init__(self, config: ModelConfig, horizon: int, features: int = 1):
        super().__init__()
        self._shape(config, horizon)
        self.position = nn.Parameter(torch.randn(self.segments, config.segment * features))
        self.drop = nn.Dropout(config.dropout)
        self.proj = nn.Linear(config.hidden_size, config.segment * self.outputs)
        self.known = None  # (older models read no known inputs here: their calendar's unread)
        if config.future_covariate_count:
            width = config.segment * known_per_step(config)
            self.known = nn.Linear(width, config.segment * features)

    def forward(
        self,
        encoder: nn.Module,
        out: torch.Tensor,
        state: State,
        steps: torch.Tensor,
        target: torch.Tensor | None = None,
        future: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, m = out.shape[0], self.segments
        # Every (window, position) pair is a one-step sequence starting from the window's
        # final state: inputs (B * m, 1, input_size), states (layers, B * m, hidden).
        steps = self.position.unsqueeze(0).expand(b, -1, -1)  # (B, m, input_size)
        if self.known is not None:
            assert future is not None, "a model with future covariates needs the horizon's"
            pad = m * self.segment - future.shape[1]  # the last segment's steps past the horizon
            segments = nn.functional.pad(future, (0, 0, 0, pad)).reshape(b, m, -1)
            steps = steps + self.known(segments)
        steps = steps.reshape(b * m, 1, -1)
        start = (
            tuple(_repeat(s, m) for s in state) if isinstance(state, tuple) else _repeat(state, m)
        )
        y, _ = encoder(steps, start)  # (B * m, 1, hidden)
        return self._horizon(self.proj(self.drop(y[:, 0])), b)  # from (B * m, segment * outputs)


def _repeat(state: torch.Tensor, m: int) -> torch.Tensor:
    """(layers, B, hidden) -> (layers, B * m, hidden), each window's state m times in a row."""
    return state.repeat_interleave(m, dim=1)


class LuongAttention(nn.Module):
    """Luong et al. (2015) 'general' attention: scores q . W m over the encoder's outputs m,
    their softmax-weighted sum (the context c), and tanh(W_c [c; q]) as the attentional
    state."""

    def __init__(self, size: int):
        super().__init__()
        self.score = nn.Linear(size, size, bias=False)
        self.combine = nn.Linear(2 * size, size)

    def forward(self, query: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        # query (B, m, size): decoder states; memory (B, T, size): encoder outputs
        weights = torch.softmax(query @ self.score(memory).transpose(1, 2), dim=-1)  # (B, m, T)
        context = weights @ memory  # (B, m, size)
        return torch.tanh(self.combine(torch.cat([context, query], dim=-1)))


class Seq2SeqDecoder(Decoder):
    """A recurrent decoder of the encoder's cell over the output segments, started from the
    encoder's final state (both directions side by side), fed the previous segment: the last
    one of the lookback first, then the true segments in training (teacher forcing) or its own
    forecasts otherwise. Optional attention over the encoder's outputs."""

    def __init__(self, config: ModelConfig, horizon: int, features: int = 1):
        super().__init__()
        _values_only(features, "seq2seq")
        self._shape(config, horizon)
        size = config.hidden_size * config.directions
        self.directions = config.directions
        self.rnn = recurrent(config, config.segment, size)
        self.attention = LuongAttention(size) if config.attention else None
        self.drop = nn.Dropout(config.dropout)
        self.proj = nn.Linear(size, config.segment)

    def forward(
        self,
        encoder: nn.Module,
        out: torch.Tensor,
        state: State,
        steps: torch.Tensor,
        target: torch.Tensor | None = None,
        future: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, m = out.shape[0], self.segments
        start = _merge_directions(state, self.directions)  # (layers, B, directions x hidden)
        first = steps[:, -1:]  # (B, 1, segment): the last segment of the lookback
        if self.training and target is not None:  # teacher forcing, all steps in one call
            inputs = torch.cat([first, _segments(target, self.segment, m - 1)], dim=1)
            y, _ = self.rnn(inputs, start)  # (B, m, size)
            seg = self._readout(y, out)  # (B, m, segment)
        else:  # its own forecasts, one step at a time
            pieces, previous, h = [], first, start
            for _ in range(m):
                y, h = self.rnn(previous, h)
                previous = self._readout(y, out)  # (B, 1, segment)
                pieces.append(previous)
            seg = torch.cat(pieces, dim=1)
        return self._horizon(seg, b)  # (B, horizon, 1)

    def _readout(self, y: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        if self.attention is not None:
            y = self.attention(y, memory)
        return self.proj(self.drop(y))


class RecursiveDecoder(Decoder):
    """The encoder as a one-step model: a linear map of its state gives the next segment,
    which is fed back as its next input (the true segment in training: one-step-ahead
    targets, teacher forcing), until the horizon is covered."""

    def __init__(self, config: ModelConfig, horizon: int, features: int = 1):
        super().__init__()
        _values_only(features, "recursive")
        self._shape(config, horizon)
        self.drop = nn.Dropout(config.dropout)
        self.proj = nn.Linear(config.hidden_size, config.segment)

    def forward(
        self,
        encoder: nn.Module,
        out: torch.Tensor,
        state: State,
        steps: torch.Tensor,
        target: torch.Tensor | None = None,
        future: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, m = out.shape[0], self.segments
        pieces = [self.proj(self.drop(out[:, -1:]))]  # (B, 1, segment): after the lookback
        if m > 1 and self.training and target is not None:
            y, _ = encoder(_segments(target, self.segment, m - 1), state)  # (B, m - 1, hidden)
            pieces.append(self.proj(self.drop(y)))
        elif m > 1:
            h = state
            for _ in range(m - 1):
                y, h = encoder(pieces[-1], h)
                pieces.append(self.proj(self.drop(y)))
        return self._horizon(torch.cat(pieces, dim=1), b)  # from (B, m, segment)


DECODERS: dict[str, type[Decoder]] = {
    "direct": DirectHead,
    "parallel": ParallelDecoder,
    "seq2seq": Seq2SeqDecoder,
    "recursive": RecursiveDecoder,
}
