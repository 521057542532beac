"""Model + history -> future values with timestamps.

`outputs_at` runs a network on the lookback windows of a `SeriesSet` that start at given
flat positions and returns `Forecasts` in the data's own units (a quantile model's
quantiles too); `forecast_frame` stamps the forecasts past the end of every series with real
future times. What a model file knows of the series it forecasts (their rows in an id
embedding, their units under 'series' scaling) comes in as `Known`. This module is a leaf:
calibration of intervals (`rnncast.forecast.intervals`) is applied by its callers, and then
the model's `--clip` (`Forecasts.clipped`), last, so that what is written and what is scored
are the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rnncast.data.calendar import first_steps
from rnncast.data.series import SeriesSet
from rnncast.engine import distributed, models, scaling, staging, transform
from rnncast.engine.batches import KnownCovariates, Windows, network_input, series_floors
from rnncast.engine.models import Forecaster, RecurrentForecaster

FORECAST_COL = "y_hat"


def quantile_col(level: float) -> str:
    """The forecast column of quantile `level`: 'q0.1', 'q0.5', 'q0.975'."""
    return f"q{level:g}"


@dataclass
class Forecasts:
    """What a network forecast for each window: the point forecast `point` (K, horizon)
    and, for a quantile model, `quantiles` (K, horizon, len(levels)) at `levels`."""

    point: np.ndarray
    quantiles: np.ndarray | None = None
    levels: tuple[float, ...] = ()

    def at(self, level: float) -> np.ndarray:
        """The forecasts (K, horizon) of quantile `level`."""
        assert self.quantiles is not None
        return self.quantiles[..., self.levels.index(level)]

    def clipped(self, clip: str) -> Forecasts:
        """The forecasts, point and quantiles, with those below 0 raised to 0 when `clip` is
        'zero' (quantiles stay in order); as they are under 'none' (and 'auto', which
        training resolves: a network built by hand from unresolved settings is not clipped,
        as `rnncast.engine.transform.inverse` takes its 'auto' for 'none')."""
        if clip in ("none", "auto"):
            return self
        if clip != "zero":
            raise ValueError(f"unknown clip '{clip}'")
        quantiles = None if self.quantiles is None else _at_least_zero(self.quantiles)
        return Forecasts(_at_least_zero(self.point), quantiles, self.levels)


def _at_least_zero(values: np.ndarray) -> np.ndarray:
    """`values` with those below 0 set to 0 (NaN stays NaN: a bug must show), same dtype."""
    return np.where(values < 0, np.zeros((), values.dtype), values)


@dataclass(frozen=True)
class Known:
    """What a model knows of each series it forecasts: `codes[i]`, series i's row in the id
    embedding (0 for a series the model never saw; None: every series unseen), and
    `units[i]`, its unit under 'series' scaling as training measured it (NaN, or None for
    all: measured on the history given)."""

    codes: np.ndarray | None = None
    units: np.ndarray | None = None

    @classmethod
    def of(cls, trained: Sequence[str], units: np.ndarray, ids: Sequence[object]) -> Known:
        """For the series `ids`, from a model trained on the series `trained` (in order), whose
        file holds `units` (one per trained series, or none)."""
        row = {name: k + 1 for k, name in enumerate(trained)}
        codes = np.array([row.get(str(i), 0) for i in ids], dtype=np.int64)
        if len(units) == 0:  # another scaling, or a file written before units were kept
            return cls(codes, None)
        unit = dict(zip(trained, np.asarray(units, dtype=np.float32).tolist(), strict=True))
        return cls(codes, np.array([unit.get(str(i), np.nan) for i in ids], dtype=np.float32))


@torch.no_grad()
def outputs_at(
    network: Forecaster,
    series: SeriesSet,
    starts: np.ndarray,
    horizon: int | None = None,
    device: torch.device | str = "cpu",
    known: Known | None = None,
    batch_size: int = 1024,
) -> Forecasts:
    """Forecasts from the lookback windows values[s : s + lookback] of `series` (its
    values, calendar steps and covariates, and future-known covariates for the lookback and
    the trained horizon after it: a caller forecasting past a series' end checks that
    `series.ahead` holds them) for s in `starts`.

    The lookback (an ensemble's longest), scaling and trained horizon come from the network.
    An ensemble member with a shorter lookback reads the end of each window, scaled by its
    own statistics; members' forecasts (each quantile alike, which keeps them from crossing)
    are averaged (in the model's `transform`, then turned back into the data's units: under
    'log', their geometric mean). `horizon` (default: the trained one) keeps the first
    steps. Under torchrun each process forecasts its share of the windows and every
    process gets all forecasts (`rnncast.engine.distributed`).
    """
    network.eval()
    known = known or Known()
    horizon = network.horizon if horizon is None else horizon
    device = torch.device(device)
    values, offsets, covariates = series.values, series.offsets, series.covariates
    if not values.flags.writeable:  # torch wants writable memory; copy only then
        values = values.copy()
    home = staging.home(staging.nbytes(values, covariates, series.known), device)  # GPU or host
    flat = torch.from_numpy(values).to(home)
    world = distributed.current()  # under torchrun: this process's share, then all of them
    starts = np.asarray(starts, dtype=np.int64)[distributed.split_rows(len(starts), world)]
    nets = models.members(network)
    levels = network.config.levels
    out = np.zeros((len(starts), horizon, len(levels) or 1), dtype=np.float64)
    units = known.units
    if network.config.scaling == "series":  # one unit per series, whichever member reads it
        units = with_measured(units, values, offsets, network.config.logs)
    reading = _Reading(flat, values, offsets, first_steps(series), known.codes, covariates, units,
                       series.known, series.known_offsets)  # fmt: skip
    for net in nets:
        ends_at = starts + network.lookback - net.lookback  # the member's window, same end
        out += _forecast_member(net, reading, ends_at, horizon, device, batch_size)
    out = distributed.gather_rows((out / len(nets)).astype(np.float32), world)
    out = transform.inverse(out, network.config.transform)  # callers check the values fit it
    if not levels:
        return Forecasts(point=out[..., 0])
    return Forecasts(point=out[..., levels.index(0.5)], quantiles=out, levels=levels)


@dataclass
class _Reading:
    """The series as every ensemble member reads them: the flat values where they stay, and
    per series what a window's input needs."""

    flat: torch.Tensor
    values: np.ndarray
    offsets: np.ndarray
    steps: np.ndarray
    codes: np.ndarray | None
    covariates: np.ndarray | None
    units: np.ndarray | None
    known: np.ndarray | None = None
    known_offsets: np.ndarray | None = None


def _forecast_member(
    network: RecurrentForecaster, reading: _Reading, starts: np.ndarray, horizon: int,
    device: torch.device, batch_size: int,
) -> np.ndarray:  # fmt: skip
    """One network's forecasts (len(starts), horizon, outputs) from the windows of its
    lookback starting at `starts`, in the model's transform (logs, for a log model)."""
    config, lookback = network.config, network.lookback
    flat, offsets = reading.flat, reading.offsets
    cov = None
    if config.covariate_count:
        covariates = reading.covariates
        if covariates is None or covariates.shape[1] != config.covariate_count:
            raise ValueError(f"the model reads {config.covariate_count} past covariates")
        cov = torch.from_numpy(np.ascontiguousarray(covariates)).to(flat.device)
    future = None
    if config.future_covariate_count:
        if reading.known is None or reading.known.shape[1] != config.future_covariate_count:
            raise ValueError(f"the model reads {config.future_covariate_count} future covariates")
        future = KnownCovariates.of(reading.known, reading.known_offsets,
                                    lookback + network.horizon, flat.device)  # fmt: skip
    windows = Windows.of(
        flat, offsets, series_floors(reading.values, offsets, lookback, config, reading.units),
        lookback, steps=reading.steps, periods=config.calendar, covariates=cov,
        codes=reading.codes if config.id_embedding else None, device=device, logs=config.logs,
        known=future,
    )  # fmt: skip
    series = torch.from_numpy(np.searchsorted(offsets, starts, side="right") - 1).to(flat.device)
    starts_t = torch.from_numpy(starts).to(flat.device)
    out = np.empty((len(starts), horizon, len(config.levels) or 1), dtype=np.float32)
    for i in range(0, len(starts), batch_size):
        batch = windows.gather(series[i : i + batch_size], starts_t[i : i + batch_size])
        given = network_input(config, batch, lookback, network.horizon)
        y = scaling.inverse(network(given.x, given.future, batch.ids), given.stats)
        y = y if y.dim() == 3 else y.unsqueeze(-1)
        out[i : i + len(y)] = y[:, :horizon].float().cpu().numpy()
    return out


def with_measured(units: np.ndarray | None, values: np.ndarray, offsets: np.ndarray,
                   logs: bool = False) -> np.ndarray:  # fmt: skip
    """`units` (training's, NaN where unknown), each missing one measured on `values` (`logs`:
    on their logarithms); all of them measured when there are none. Measures only when
    something is missing."""
    if units is not None:
        units = np.asarray(units, dtype=np.float32)
        if not np.isnan(units).any():
            return units
    measured = scaling.series_units(values, offsets, logs)
    return measured if units is None else np.where(np.isnan(units), measured, units)


def forecast_frame(series: SeriesSet, forecasts: Forecasts,
                   quantiles: tuple[float, ...] = ()) -> pd.DataFrame:  # fmt: skip
    """The forecasts past the end of every series (one row of `forecasts` per series), long
    format: id, time, y_hat, and one column per quantile of `quantiles` (`quantile_col`)."""
    horizon = forecasts.point.shape[1]
    schema = series.schema
    columns = {
        # typed once per series, then repeated (not an object array per row)
        schema.id_col: pd.Series(series.ids)
        .infer_objects()
        .take(np.repeat(np.arange(len(series)), horizon))
        .reset_index(drop=True),
        schema.time_col: series.axis.future(series.ends, horizon),
        FORECAST_COL: forecasts.point.ravel(),
    }
    for level in quantiles:
        columns[quantile_col(level)] = forecasts.at(level).ravel()
    return pd.DataFrame(columns)
