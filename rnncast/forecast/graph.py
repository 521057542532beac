"""A model's whole forecast as one torch module, from raw lookback windows to forecasts in
the data's units: what `rnncast export` writes as an ONNX graph (`rnncast.store.onnxfile`).

`ForecastGraph` runs what `rnncast.forecast.forecasting.outputs_at` and `jobs.predict` run
on a batch of windows, in the same order and through the same functions: the transform
(logarithms under 'log'), each ensemble member's own end of the window turned into its input
by `rnncast.engine.batches.network_input` (its scaling, covariates, calendar features), the
network, the scaling undone, the members' average, the transform undone, and for a quantile
model the calibrated interval widths (`rnncast.forecast.intervals`), and last the model's
`--clip` (under 'zero', forecasts and quantiles below 0 raised to 0). Its inputs:

    windows     (B, L) float32     the last L = lookback values of each series, raw
    floor       (B, M) float32     each window's least scale for each of the M members
                                   (only when the scaling uses one; `graph_inputs`)
    phases      (B, P) float32     the window's first step modulo each calendar period
                                   (only with calendar features)
    ids         (B,)   int64       each series' row in the id embedding (only with one)
    covariates  (B, L, C) float32  the windows' past covariates (only with covariates)
    future_covariates  (B, L + H, F) float32  the future-known covariates over the lookback
                                   and the H = horizon steps after it (only with them)

and outputs: `forecast` (B, H) float32 (the median for a quantile model) and, for a
quantile model, `quantiles` (B, H, Q) float32 at the model's levels (increasing).

What a window's input needs from its whole series (the floor, measured on its history; its
calendar phase; its row in the id embedding; its future covariates, from the rows after its
series' last value) comes from `graph_inputs`, by the functions predict uses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnncast.data.calendar import first_steps, window_phases
from rnncast.data.series import SeriesSet
from rnncast.data.windows import last_starts
from rnncast.engine import models, scaling, transform
from rnncast.engine.batches import Batch, network_input, series_floors
from rnncast.engine.models import Forecaster
from rnncast.forecast import intervals
from rnncast.forecast.forecasting import Known, with_measured
from rnncast.settings import ModelConfig

# The model settings the graph carries over (through the networks, `network_input`, the
# scaling and the transform). A setting added to `ModelConfig` later is refused by `rnncast
# export` (`not_carried`) at any value but its default until it is added here, with a test
# that the graph still forecasts as `predict` does with it.
CARRIED = frozenset({
    "cell", "hidden_size", "num_layers", "dropout", "scaling", "transform", "segment",
    "scale_floor", "decoder", "activation", "bidirectional", "attention",
    "checkpoint_activations", "reservoir_size", "spectral_radius", "leak_rate", "ridge",
    "quantiles", "calendar", "id_embedding", "ids", "covariate_count", "clip",
    "future_covariate_count", "anchor", "blend",
})  # fmt: skip


@dataclass(frozen=True)
class Port:
    """One input or output of the graph: its name, its shape (a name for a dimension that
    varies, a number for one that does not) and its element type."""

    name: str
    shape: tuple[str | int, ...]
    dtype: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


def not_carried(config: ModelConfig) -> list[str]:
    """The settings of `config` the graph does not carry over (not in `CARRIED`) that are
    not at their defaults."""
    return [
        f.name for f in dataclasses.fields(config)
        if f.name not in CARRIED and getattr(config, f.name) != getattr(ModelConfig(), f.name)
    ]  # fmt: skip


def uses_floor(config: ModelConfig) -> bool:
    """Whether windows are scaled with a least scale measured on their series (`floor`)."""
    return config.scaling == "series" or (config.scaling == "window" and config.scale_floor > 0)


class ForecastGraph(nn.Module):
    """Raw lookback windows -> forecasts in the data's units (see the module docstring);
    `factors`: the model's calibrated interval widths (`Artifact.intervals`)."""

    def __init__(self, network: Forecaster, factors: dict[str, float] | None = None):
        super().__init__()
        self.nets = nn.ModuleList(models.members(network)).eval()
        self.config, self.lookback = network.config, network.lookback
        self.horizon = network.horizon
        levels = self.config.levels
        widths = intervals.level_factors(levels, factors or {}) if levels else []
        self.register_buffer("widths", torch.tensor(widths, dtype=torch.float32))
        self.register_buffer("periods", torch.tensor(self.config.calendar, dtype=torch.float32))

    def inputs(self) -> list[Port]:
        """The graph's inputs, in order."""
        config, b, lookback = self.config, "batch", self.lookback
        ports = [Port("windows", (b, lookback), "float32")]
        if uses_floor(config):
            ports.append(Port("floor", (b, len(self.nets)), "float32"))
        if config.calendar:
            ports.append(Port("phases", (b, len(config.calendar)), "float32"))
        if config.id_embedding:
            ports.append(Port("ids", (b,), "int64"))
        if config.covariate_count:
            ports.append(Port("covariates", (b, lookback, config.covariate_count), "float32"))
        if config.future_covariate_count:
            span, count = lookback + self.horizon, config.future_covariate_count
            ports.append(Port("future_covariates", (b, span, count), "float32"))
        return ports

    def outputs(self) -> list[Port]:
        """The graph's outputs, in order."""
        ports = [Port("forecast", ("batch", self.horizon), "float32")]
        if self.config.levels:
            ports.append(Port("quantiles", ("batch", self.horizon, len(self.config.levels)),
                              "float32"))  # fmt: skip
        return ports

    def forward(
        self,
        windows: torch.Tensor,
        floor: torch.Tensor | None = None,
        phases: torch.Tensor | None = None,
        ids: torch.Tensor | None = None,
        covariates: torch.Tensor | None = None,
        future_covariates: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        config = self.config
        values = windows.log() if config.logs else windows  # as `Windows.gather` reads them
        total = None
        for k, net in enumerate(self.nets):
            skip = self.lookback - net.lookback  # the member reads the window's end
            batch = Batch(
                values[:, skip:],
                floor[:, k] if floor is not None else values.new_zeros(values.shape[0]),
                None if phases is None else torch.remainder(phases + skip, self.periods),
                ids,
                None if covariates is None else covariates[:, skip:],
                None if future_covariates is None else future_covariates[:, skip:],
            )
            given = network_input(config, batch, net.lookback, net.horizon)
            y = scaling.inverse(net(given.x, given.future, batch.ids), given.stats)
            y = y if y.dim() == 3 else y.unsqueeze(-1)  # (B, H, outputs)
            total = y if total is None else total + y
        out = transform.inverse(total / len(self.nets), config.transform)
        if not config.levels:
            return self._clipped(out[..., 0])
        median = out[..., config.levels.index(0.5)]
        widened = median.unsqueeze(-1) + self.widths * (out - median.unsqueeze(-1))
        return self._clipped(median), self._clipped(torch.sort(widened, dim=-1).values)

    def _clipped(self, out: torch.Tensor) -> torch.Tensor:
        """`out` under the model's `--clip`, as `Forecasts.clipped` does: under 'zero' those
        below 0 raised to 0 (NaN stays NaN); else as it is."""
        if self.config.clip != "zero":
            return out
        return torch.where(out < 0, torch.zeros_like(out), out)


def graph_inputs(
    network: Forecaster, series: SeriesSet, known: Known | None = None,
    starts: np.ndarray | None = None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The graph's inputs for the lookback windows of `series` that start at flat positions
    `starts` (default: each series' last, to forecast past its end), as `outputs_at` reads
    them: the windows, each member's floors measured on the window's whole series
    (`series_floors`; under 'series' scaling the units in `known`, else measured), the
    calendar phases, the id embedding's rows, the covariates, and the future covariates over
    each lookback and the horizon after it (which `series` must hold: `jobs.check_future`)."""
    config, lookback = network.config, network.lookback
    known = known or Known()
    values, offsets = series.values, series.offsets
    starts = last_starts(offsets, lookback) if starts is None else np.asarray(starts, np.int64)
    rows = np.searchsorted(offsets, starts, side="right") - 1  # each window's series
    at = starts[:, None] + np.arange(lookback)
    given: dict[str, np.ndarray] = {"windows": np.ascontiguousarray(values[at], np.float32)}
    if uses_floor(config):
        units = known.units
        if config.scaling == "series":
            units = with_measured(units, values, offsets, config.logs)
        given["floor"] = np.stack(
            [series_floors(values, offsets, net.lookback, config, units)[rows]
             for net in models.members(network)], axis=1,
        ).astype(np.float32)  # fmt: skip
    if config.calendar:
        given["phases"] = window_phases(first_steps(series), offsets, starts, config.calendar)
    if config.id_embedding:
        codes = known.codes if known.codes is not None else np.zeros(len(series), np.int64)
        given["ids"] = np.asarray(codes, dtype=np.int64)[rows]
    if config.covariate_count:
        given["covariates"] = np.ascontiguousarray(series.covariates[at], np.float32)
    if config.future_covariate_count:
        span = lookback + network.horizon
        given["future_covariates"] = known_windows(series, starts, rows, span, config)
    return given


def known_windows(series: SeriesSet, starts: np.ndarray, rows: np.ndarray, span: int,
                  config: ModelConfig) -> np.ndarray:  # fmt: skip
    """The future-known covariates (B, span, F) of the windows starting at flat positions
    `starts` (of the series `rows`), from each window's first step on, as `Windows.gather`
    reads them: they run past a window's last value into its series' rows after it."""
    known, known_offsets = series.known, series.known_offsets
    count = config.future_covariate_count
    if known is None or known_offsets is None or known.shape[1] != count:
        raise ValueError(f"the model reads {count} future covariates")
    first = known_offsets[rows] + (starts - series.offsets[rows])
    if (first + span > known_offsets[rows + 1]).any():
        raise ValueError(f"a window's future covariates run past its series' rows ({span})")
    return np.ascontiguousarray(known[first[:, None] + np.arange(span)], np.float32)
