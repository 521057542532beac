"""The networks: a recurrent encoder (RNN, LSTM or GRU) over the lookback read in segments,
and a decoder that turns its final state into the whole horizon at once.

Names follow `torch.nn.RNN` (`hidden_size`, `num_layers`, `dropout`; batch-first tensors);
`features` is the number of inputs per time step (1 for a plain series), and the recurrent
layer's `input_size` is segment x features.

Decoders (`ModelConfig.decoder`), each a module in `DECODERS` called as
`decoder(encoder, out, state, steps, target, future)` with the encoder's outputs (B, steps,
hidden), its final state, its input steps, the true future (training only) and the horizon's
calendar features (direct only), returning (B, horizon, outputs): one value per step for a
point forecast, one per quantile level for a quantile model (`ModelConfig.quantiles`; direct
and parallel only):
- direct: a linear map of the last hidden state to the whole horizon;
- parallel: SegRNN's parallel multi-step forecasting (Lin et al. 2023, arXiv:2308.11200):
  for each output segment j the encoder takes one more recurrent step from its final state,
  with a learned embedding of position j as input, all segments at once (a batch of B x
  segments one-step sequences); a linear map shared by the positions turns each step's
  hidden state into that segment's values;
- seq2seq: a recurrent decoder (same cell) unrolled over the output segments from the
  encoder's final state, fed the previous segment's values: the true ones in training (teacher
  forcing, from the `target` passed to `forward`), its own forecasts otherwise; with
  `attention`, Luong's (general) attention over the encoder's outputs at every step;
- recursive: the encoder itself as a one-step model: a linear map of its state gives the next
  segment, which is fed back as the next input (the true segment in training).

`bidirectional` encoders read the lookback both ways; the decoders see both directions'
final states side by side (2 x hidden). `EchoStateForecaster` (cell 'esn') is a fixed random
reservoir with a linear readout, fitted in closed form by `rnncast.esn`.

A quantile model's raw outputs become quantiles that never cross (`monotone`): the median is
the raw median output, and each level above (below) it adds (subtracts) a softplus of its raw
output to the next level's value. Calendar features and past covariates widen each input
step (`inputs`); an id embedding sets the encoder's initial state.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from rnncast.settings import ModelConfig

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
    known = calendar_features(phases.to(x.dtype), x.shape[1] + horizon, periods)
    return torch.cat([x, known[:, : x.shape[1]]], dim=-1), known[:, x.shape[1] :]


def calendar_features(phases: torch.Tensor, length: int, periods: torch.Tensor) -> torch.Tensor:
    """The features of `length` steps from each window's phases (B, n): (B, length, 2 n),
    sines then cosines."""
    t = torch.arange(length, device=phases.device, dtype=phases.dtype)
    angle = (2 * torch.pi) * (phases[:, None, :] + t[None, :, None]) / periods
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)


def _recurrent(config: ModelConfig, input_size: int, hidden_size: int, **kwargs) -> nn.Module:
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


class DirectHead(nn.Linear):
    """Linear map of the last hidden state (both directions'), and the horizon's calendar
    features where the model has them, to the whole horizon (a `Linear`, so its weights are
    stored as `head.weight` / `head.bias` as in model files written before decoders)."""

    def __init__(self, config: ModelConfig, horizon: int, features: int = 1):
        self.horizon, self.outputs = horizon, outputs(config)
        known = horizon * 2 * len(config.calendar)
        super().__init__(config.hidden_size * config.directions + known, horizon * self.outputs)
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


class Seq2SeqDecoder(nn.Module):
    """A recurrent decoder of the encoder's cell over the output segments, started from the
    encoder's final state (both directions side by side), fed the previous segment: the last
    one of the lookback first, then the true segments in training (teacher forcing) or its own
    forecasts otherwise. Optional attention over the encoder's outputs."""

    def __init__(self, config: ModelConfig, horizon: int, features: int = 1):
        super().__init__()
        _values_only(features, "seq2seq")
        size = config.hidden_size * config.directions
        self.horizon, self.segment, self.directions = horizon, config.segment, config.directions
        self.segments = math.ceil(horizon / config.segment)
        self.rnn = _recurrent(config, config.segment, size)
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
        return seg.reshape(b, m * self.segment, 1)[:, : self.horizon]  # (B, horizon, 1)

    def _readout(self, y: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        if self.attention is not None:
            y = self.attention(y, memory)
        return self.proj(self.drop(y))


class RecursiveDecoder(nn.Module):
    """The encoder as a one-step model: a linear map of its state gives the next segment,
    which is fed back as its next input (the true segment in training: one-step-ahead
    targets, teacher forcing), until the horizon is covered."""

    def __init__(self, config: ModelConfig, horizon: int, features: int = 1):
        super().__init__()
        _values_only(features, "recursive")
        self.horizon, self.segment = horizon, config.segment
        self.segments = math.ceil(horizon / config.segment)
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
        seg = torch.cat(pieces, dim=1)  # (B, m, segment)
        return seg.reshape(b, m * self.segment, 1)[:, : self.horizon]  # (B, horizon, 1)


DECODERS: dict[str, type[nn.Module]] = {
    "direct": DirectHead,
    "parallel": ParallelDecoder,
    "seq2seq": Seq2SeqDecoder,
    "recursive": RecursiveDecoder,
}


class RecurrentForecaster(nn.Module):
    """Encoder over the lookback window read in segments, then a decoder (`config.decoder`)
    from its final state to the horizon.

    forward: (B, L, features) and, with calendar features, the horizon's (B, horizon, 2 n)
    (see `inputs`) -> (B, horizon), in the scaled units of the input, or (B, horizon,
    levels) for a quantile model (`config.levels`, increasing, never crossing). The L steps
    are regrouped into L / segment recurrent steps of segment x features inputs each.
    `ids` (B,) are the windows' rows in the id embedding; `target` (B, horizon), the true
    future in the same units, is read only in training mode and only by the decoders that
    feed back values (teacher forcing).
    """

    def __init__(self, config: ModelConfig, lookback: int, horizon: int):
        super().__init__()
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        if lookback % config.segment:
            raise ValueError(f"lookback {lookback} is not a multiple of segment {config.segment}")
        self.config, self.lookback, self.horizon = config, lookback, horizon
        if config.cell == "esn":
            raise ValueError("cell 'esn' is an EchoStateForecaster: build it with models.build")
        features = inputs_per_step(config)
        self.encoder = _recurrent(
            config,
            config.segment * features,
            config.hidden_size,
            **({"bidirectional": True} if config.bidirectional else {}),
        )
        self.head = DECODERS[config.decoder](config, horizon, features)
        if config.id_embedding:
            # row 0 is for series the model never saw: it stays all zeros
            self.id_table = nn.Embedding(config.ids + 1, config.id_embedding)
            nn.init.zeros_(self.id_table.weight)
            layers = config.num_layers * config.directions
            self.id_state = nn.Linear(config.id_embedding, layers * config.hidden_size)

    def forward(
        self,
        x: torch.Tensor,
        future: torch.Tensor | None = None,
        ids: torch.Tensor | None = None,
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, length, width = x.shape
        steps = x.reshape(b, length // self.config.segment, self.config.segment * width)
        # (B, L / segment, directions x hidden), final state
        out, state = self.encode(steps, self._initial_state(ids, b))
        y = self.head(self.encoder, out, state, steps, target, future)  # (B, horizon, outputs)
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
        layers = self.config.num_layers * self.config.directions
        h = torch.tanh(self.id_state(self.id_table(ids)))  # (B, layers * hidden)
        h = h.reshape(b, layers, self.config.hidden_size).transpose(0, 1).contiguous()
        return (h, torch.zeros_like(h)) if self.config.cell == "lstm" else h

    def encode(self, steps: torch.Tensor, start: State | None = None) -> tuple[torch.Tensor, State]:
        """The encoder over `steps` (B, T, input_size) from state `start` (None: zeros). With
        `checkpoint_activations`, in training, it runs in chunks of about sqrt(T) steps whose
        activations are recomputed in the backward pass rather than kept (only the states
        between chunks are)."""
        if not (self.config.checkpoint_activations and self.training and torch.is_grad_enabled()):
            return self.encoder(steps, start)
        size = math.ceil(math.sqrt(steps.shape[1]))
        outs, state = [], start
        for i in range(0, steps.shape[1], size):
            chunk = steps[:, i : i + size]
            args = (chunk,) if state is None else (chunk, state)
            out, state = checkpoint(self.encoder, *args, use_reentrant=False)
            outs.append(out)
        return torch.cat(outs, dim=1), state


def monotone(raw: torch.Tensor, median: int) -> torch.Tensor:
    """Quantiles that never cross from raw outputs (..., levels): level `median` is its raw
    value; each level above adds, each below subtracts, a softplus of its own raw value."""
    gaps = nn.functional.softplus(raw)
    centre = raw[..., median : median + 1]
    up = centre + torch.cumsum(gaps[..., median + 1 :], dim=-1)
    down = centre - torch.cumsum(gaps[..., :median].flip(-1), dim=-1).flip(-1)
    return torch.cat([down, centre, up], dim=-1)


class EchoStateForecaster(nn.Module):
    """An echo state network: a fixed random reservoir of `reservoir_size` leaky tanh units
    reads the lookback in segments,

        h_t = (1 - a) h_{t-1} + a tanh(W_in u_t + W h_{t-1} + b),   h_0 = 0,

    with W sparse (about 10 inputs per unit) and scaled to spectral radius `spectral_radius`,
    and a linear readout maps [h_T, u_T] (and a constant) to the whole horizon. Only the
    readout is learned, in closed form (`rnncast.esn`); the reservoir is drawn from torch's
    global generator and kept as buffers, so the model file holds it.
    """

    CONNECTIONS = 10  # average nonzero inputs per reservoir unit

    def __init__(self, config: ModelConfig, lookback: int, horizon: int):
        super().__init__()
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        if lookback % config.segment:
            raise ValueError(f"lookback {lookback} is not a multiple of segment {config.segment}")
        self.config, self.lookback, self.horizon = config, lookback, horizon
        n, d = config.reservoir_size, config.segment * inputs_per_step(config)
        self.register_buffer("w_in", (2 * torch.rand(n, d) - 1) / math.sqrt(d))
        self.register_buffer("w", reservoir(n, config.spectral_radius, self.CONNECTIONS))
        self.register_buffer("b", 0.2 * (2 * torch.rand(n) - 1))
        self.readout = nn.Linear(n + d, horizon)  # solved by rnncast.esn, not by gradients
        nn.init.zeros_(self.readout.weight)
        nn.init.zeros_(self.readout.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, features) -> (B, reservoir_size + segment x features): [h_T, u_T]."""
        b, length, features = x.shape
        steps = x.reshape(b, length // self.config.segment, self.config.segment * features)
        a = self.config.leak_rate
        h = steps.new_zeros(b, self.config.reservoir_size)
        for t in range(steps.shape[1]):
            drive = steps[:, t] @ self.w_in.T + h @ self.w.T + self.b
            h = (1 - a) * h + a * torch.tanh(drive)
        return torch.cat([h, steps[:, -1]], dim=1)

    def forward(
        self,
        x: torch.Tensor,
        future: torch.Tensor | None = None,
        ids: torch.Tensor | None = None,
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.readout(self.features(x))  # (B, horizon)


def reservoir(size: int, radius: float, connections: int = 10) -> torch.Tensor:
    """A random sparse (size, size) matrix, about `connections` nonzero entries per row drawn
    uniformly from [-1, 1], scaled so that its spectral radius (largest |eigenvalue|, computed
    in float64) is `radius`."""
    density = min(1.0, connections / size)
    for _ in range(10):
        w = (2 * torch.rand(size, size, dtype=torch.float64) - 1) * (
            torch.rand(size, size, dtype=torch.float64) < density
        )
        largest = torch.linalg.eigvals(w).abs().max().item()
        if largest > 1e-8:  # a tiny reservoir can come out nilpotent: draw again
            return (w * (radius / largest)).float()
    return torch.eye(size) * radius


class Ensemble(nn.Module):
    """Forecasters trained from different seeds, possibly reading different lookbacks; their
    forecasts are averaged (`rnncast.forecast` scales each member's own window). `lookback`
    is the longest member's: the history a forecast needs."""

    def __init__(self, members: list[Member]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        first = members[0]
        self.config, self.horizon = first.config, first.horizon
        self.lookback = max(member.lookback for member in members)


def members(network: Forecaster) -> list[Member]:
    """The networks whose forecasts are averaged: an ensemble's members, or the network."""
    return list(network.members) if isinstance(network, Ensemble) else [network]


Member = RecurrentForecaster | EchoStateForecaster
Forecaster = Member | Ensemble


def build(config: ModelConfig, lookback: int, horizon: int) -> Member:
    """The network `config` describes: an `EchoStateForecaster` for cell 'esn', else a
    `RecurrentForecaster`."""
    cls = EchoStateForecaster if config.cell == "esn" else RecurrentForecaster
    return cls(config, lookback, horizon)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
