"""The networks: a recurrent encoder (RNN, LSTM or GRU) over the lookback read in segments,
then a decoder (`rnncast.engine.decoders`) that turns its final state into the whole horizon;
an echo state network; and ensembles of either.

Names follow `torch.nn.RNN` (`hidden_size`, `num_layers`, `dropout`; batch-first tensors);
`features` is the number of inputs per time step (1 for a plain series), and the recurrent
layer's `input_size` is segment x features. Calendar features and past and future-known
covariates widen each input step (`rnncast.engine.batches.step_inputs`), and the decoder
reads the horizon's future covariates and calendar features; an id embedding sets the
encoder's initial state. `bidirectional` encoders read the lookback both ways.

A quantile model's raw outputs become quantiles that never cross (`monotone`): the median is
the raw median output, and each level above (below) it adds (subtracts) a softplus of its raw
output to the next level's value. `EchoStateForecaster` (cell 'esn') is a fixed random
reservoir with a linear readout, fitted in closed form by `rnncast.engine.esn`.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from rnncast.engine.decoders import DECODERS, State, recurrent
from rnncast.settings import ModelConfig


def inputs_per_step(config: ModelConfig) -> int:
    """Inputs per time step: the value, the past covariates, the future-known covariates,
    then the calendar features (`rnncast.data.calendar`)."""
    return 1 + config.covariate_count + config.future_covariate_count + 2 * len(config.calendar)


def _check_window(config: ModelConfig, lookback: int, horizon: int) -> None:
    """A window both networks can read: a horizon of at least 1, whole lookback segments."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if lookback % config.segment:
        raise ValueError(f"lookback {lookback} is not a multiple of segment {config.segment}")


class RecurrentForecaster(nn.Module):
    """Encoder over the lookback window read in segments, then a decoder (`config.decoder`)
    from its final state to the horizon.

    forward: (B, L, features) and, with future covariates or calendar features, the
    horizon's (B, horizon, F + 2 n) (see `rnncast.engine.batches.step_inputs`) -> (B,
    horizon), in the scaled units of the input, or (B, horizon,
    levels) for a quantile model (`config.levels`, increasing, never crossing). The L steps
    are regrouped into L / segment recurrent steps of segment x features inputs each.
    `ids` (B,) are the windows' rows in the id embedding; `target` (B, horizon), the true
    future in the same units, is read only in training mode and only by the decoders that
    feed back values (teacher forcing).
    """

    def __init__(self, config: ModelConfig, lookback: int, horizon: int):
        super().__init__()
        _check_window(config, lookback, horizon)
        self.config, self.lookback, self.horizon = config, lookback, horizon
        if config.cell == "esn":
            raise ValueError("cell 'esn' is an EchoStateForecaster: build it with models.build")
        features = inputs_per_step(config)
        self.encoder = recurrent(
            config,
            config.segment * features,
            config.hidden_size,
            **({"bidirectional": True} if config.bidirectional else {}),
        )
        self.head = DECODERS[config.decoder](config, horizon, features)
        if config.blend == "naive":  # the weight of the network against naive, fitted later
            self.register_buffer("blend_weight", torch.ones(()))
        if config.anchor == "linear":  # a linear map of the lookback's values, from 0
            self.skip = nn.Linear(lookback, horizon)
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)
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
        median = self._median
        y = y[..., 0] if median is None else monotone(y, median)
        if self.config.anchor == "last":  # a correction to the last value: 0 repeats it
            y = y + x[:, -1, 0].reshape(b, *([1] * (y.dim() - 1)))
        elif self.config.anchor == "linear":
            skip = self.skip(x[:, :, 0])
            y = y + (skip if y.dim() == 2 else skip.unsqueeze(-1))
        if self.config.blend == "naive":
            y = blend(y, x[:, -1, 0], self.blend_weight, median)
        return y

    @property
    def _median(self) -> int | None:
        """The median's index among a quantile model's outputs; None for a point model."""
        return self.config.levels.index(0.5) if self.config.quantiles else None

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


def blend(
    y: torch.Tensor, last: torch.Tensor, weight: torch.Tensor, median: int | None = None
) -> torch.Tensor:
    """Forecasts `y` (B, H) or quantiles (B, H, levels) moved toward each window's `last`
    value (B,) by 1 - `weight`: the point (median) becomes w y + (1 - w) last, and the other
    quantiles move with it, their distances from the median kept."""
    centre = y if median is None else y[..., median]
    shift = (1 - weight) * (last.unsqueeze(-1) - centre)
    return y + (shift if median is None else shift.unsqueeze(-1))


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
    readout is learned, in closed form (`rnncast.engine.esn`); the reservoir is drawn from torch's
    global generator and kept as buffers, so the model file holds it.
    """

    CONNECTIONS = 10  # average nonzero inputs per reservoir unit

    def __init__(self, config: ModelConfig, lookback: int, horizon: int):
        super().__init__()
        _check_window(config, lookback, horizon)
        self.config, self.lookback, self.horizon = config, lookback, horizon
        n, d = config.reservoir_size, config.segment * inputs_per_step(config)
        self.register_buffer("w_in", (2 * torch.rand(n, d) - 1) / math.sqrt(d))
        self.register_buffer("w", reservoir(n, config.spectral_radius, self.CONNECTIONS))
        self.register_buffer("b", 0.2 * (2 * torch.rand(n) - 1))
        self.readout = nn.Linear(n + d, horizon)  # solved by rnncast.engine.esn, not by gradients
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


def training_bytes(config: ModelConfig, lookback: int, horizon: int, ema: bool = False) -> int:
    """About how many bytes training the network takes beyond the data, counted without
    allocating it: each weight with its gradient and AdamW's two moments (and its average
    under --ema), or the echo state network's float64 reservoir while it is drawn."""
    if config.cell == "esn":
        n, d = config.reservoir_size, config.segment * inputs_per_step(config)
        return 8 * (4 * n * n + (n + d + 1) ** 2)
    try:
        with torch.device("meta"):  # shapes only
            network = RecurrentForecaster(config, lookback, horizon)
    except RuntimeError as e:  # sizes whose bytes overflow a 64-bit count
        if "overflow" not in str(e):
            raise
        return 2**63 - 1
    numbers = sum(t.numel() for t in (*network.parameters(), *network.buffers()))
    return 4 * numbers * (5 if ema else 4)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
