"""Model + history -> future values with timestamps.

`forecast_at` runs the network on the lookback windows that start at given flat positions
and returns forecasts in the data's own units (`outputs_at` also a quantile model's
quantiles); `forecast_frame` forecasts past the end of every series and stamps the values with
real future times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rnncast.data import calendar
from rnncast.data.series import SeriesSet
from rnncast.data.windows import last_starts
from rnncast.engine import distributed, models, scaling, staging, transform
from rnncast.engine.batches import Windows, network_input, series_floors
from rnncast.engine.models import Forecaster, RecurrentForecaster
from rnncast.errors import DataError

FORECAST_COL = "y_hat"


def quantile_col(level: float) -> str:
    """The forecast column of quantile `level`: 'q0.1', 'q0.5', 'q0.975'."""
    return f"q{level:g}"


@dataclass
class Outputs:
    """What a network forecast for each window: the point forecast `point` (K, horizon)
    and, for a quantile model, `quantiles` (K, horizon, len(levels)) at `levels`."""

    point: np.ndarray
    quantiles: np.ndarray | None = None
    levels: tuple[float, ...] = ()

    def at(self, level: float) -> np.ndarray:
        """The forecasts (K, horizon) of quantile `level`."""
        assert self.quantiles is not None
        return self.quantiles[..., self.levels.index(level)]


def forecast_at(
    network: Forecaster,
    values: np.ndarray,
    offsets: np.ndarray,
    starts: np.ndarray,
    horizon: int | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 1024,
    steps: np.ndarray | None = None,
    codes: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
    units: np.ndarray | None = None,
) -> np.ndarray:
    """Point forecasts (len(starts), horizon) from the lookback windows values[s : s +
    lookback] (a quantile model's median); see `outputs_at`."""
    return outputs_at(
        network,
        values,
        offsets,
        starts,
        horizon,
        device,
        batch_size,
        steps,
        codes=codes,
        covariates=covariates,
        units=units,
    ).point


@torch.no_grad()
def outputs_at(
    network: Forecaster,
    values: np.ndarray,
    offsets: np.ndarray,
    starts: np.ndarray,
    horizon: int | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 1024,
    steps: np.ndarray | None = None,
    codes: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
    units: np.ndarray | None = None,
) -> Outputs:
    """Forecasts from the lookback windows values[s : s + lookback] for s in `starts`.

    `values` holds the series one after another, series i at offsets[i]:offsets[i + 1]
    (used for each window's scale floor), and `steps[i]` is the calendar step of series i's
    first value (`calendar.first_steps`; needed by models with calendar features);
    `codes[i]` is series i's row in the id embedding (`id_codes`; 0, unknown, when not given);
    `covariates` (len(values), C) the past covariates of a model that reads them; `units[i]`
    series i's scale under 'series' scaling as training measured it (`known_units`; NaN, or
    no `units`: measured on `values`). The lookback (an
    ensemble's longest), scaling and trained horizon come from the network. An ensemble
    member with a shorter lookback reads the end of each window, scaled by its own
    statistics; members' forecasts (each quantile alike, which keeps them from crossing) are
    averaged (in the model's `transform`, then turned back into the data's units: under
    'log', their geometric mean). `horizon` (default: the trained one) keeps the first
    steps. Under torchrun each process forecasts its share of the windows and every
    process gets all forecasts (`rnncast.distributed`).
    """
    network.eval()
    horizon = network.horizon if horizon is None else horizon
    device = torch.device(device)
    if not values.flags.writeable:  # torch wants writable memory; copy only then
        values = values.copy()
    home = staging.home(staging.nbytes(values, covariates), device)  # the GPU, or the host
    flat = torch.from_numpy(values).to(home)
    world = distributed.current()  # under torchrun: this process's share, then all of them
    starts = np.asarray(starts, dtype=np.int64)[distributed.split_rows(len(starts), world)]
    nets = models.members(network)
    levels = network.config.levels
    out = np.zeros((len(starts), horizon, len(levels) or 1), dtype=np.float64)
    if network.config.scaling == "series":  # one unit per series, whichever member reads it
        units = _with_measured(units, values, offsets, network.config.logs)
    for net in nets:
        ends_at = starts + network.lookback - net.lookback  # the member's window, same end
        out += _forecast_member(net, flat, values, offsets, ends_at, horizon, device, batch_size,
                                steps, codes, covariates, units)  # fmt: skip
    out = distributed.gather_rows((out / len(nets)).astype(np.float32), world)
    out = transform.inverse(out, network.config.transform)  # callers check the values fit it
    if not levels:
        return Outputs(point=out[..., 0])
    return Outputs(point=out[..., levels.index(0.5)], quantiles=out, levels=levels)


def series_outputs(
    network: Forecaster,
    series: SeriesSet,
    starts: np.ndarray,
    horizon: int | None = None,
    device: torch.device | str = "cpu",
    widths: dict[str, float] | None = None,
    codes: np.ndarray | None = None,
    units: np.ndarray | None = None,
) -> Outputs:
    """`outputs_at` for windows of `series` (flat `starts`), with everything the series
    itself says (values, calendar steps, covariates), and a quantile model's intervals
    scaled by its calibration `widths` (`rnncast.intervals`)."""
    out = outputs_at(network, series.values, series.offsets, starts, horizon, device,
                     steps=calendar.first_steps(series), codes=codes,
                     covariates=series.covariates, units=units)  # fmt: skip
    if not widths:
        return out
    from rnncast import intervals  # intervals imports this module

    return intervals.apply(out, widths)


def _forecast_member(network: RecurrentForecaster, flat: torch.Tensor, values: np.ndarray,
                     offsets: np.ndarray, starts: np.ndarray, horizon: int, device: torch.device,
                     batch_size: int, steps: np.ndarray | None, codes: np.ndarray | None,
                     covariates: np.ndarray | None,
                     units: np.ndarray | None) -> np.ndarray:  # fmt: skip
    config, lookback = network.config, network.lookback
    cov = None
    if config.covariate_count:
        if covariates is None or covariates.shape[1] != config.covariate_count:
            raise ValueError(f"the model reads {config.covariate_count} past covariates")
        cov = torch.from_numpy(np.ascontiguousarray(covariates)).to(flat.device)
    if config.calendar and steps is None:
        raise ValueError("a model with calendar features needs each series' first step")
    windows = Windows.of(
        flat, offsets, series_floors(values, offsets, lookback, config, units), lookback,
        steps=steps, periods=config.calendar, covariates=cov,
        codes=codes if config.id_embedding else None, device=device, logs=config.logs,
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


def id_codes(known: list[str], series: SeriesSet) -> np.ndarray:
    """Each series' row in the id embedding of a model trained on series `known` (in order):
    1, 2, ... for those, 0 for series the model never saw."""
    row = {name: k + 1 for k, name in enumerate(known)}
    return np.array([row.get(str(i), 0) for i in series.ids], dtype=np.int64)


def _with_measured(units: np.ndarray | None, values: np.ndarray, offsets: np.ndarray,
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


def known_units(known: list[str], units: np.ndarray, ids: Sequence[object]) -> np.ndarray | None:
    """Each of the series `ids`' unit under 'series' scaling as measured in training, where
    `units[k]` belongs to series `known[k]`; NaN for series training did not see, and None
    when the model holds no units (another scaling, or a file written before they were)."""
    if len(units) == 0:
        return None
    unit = dict(zip(known, np.asarray(units, dtype=np.float32).tolist(), strict=True))
    return np.array([unit.get(str(i), np.nan) for i in ids], dtype=np.float32)


def check_history(series: SeriesSet, lookback: int) -> None:
    count, names = series.shorter_than(lookback)
    if count:
        raise DataError(
            f"{count} series {'has' if count == 1 else 'have'} fewer values than the "
            f"model's lookback of {lookback}: {names}; give at least {lookback} values "
            "per series, or pass --skip-short to leave them out"
        )


def forecast_frame(
    network: Forecaster,
    series: SeriesSet,
    horizon: int | None = None,
    device: torch.device | str = "cpu",
    widths: dict[str, float] | None = None,
    codes: np.ndarray | None = None,
    units: np.ndarray | None = None,
) -> pd.DataFrame:
    """The next `horizon` values of every series, long format: id, time, y_hat, and for a
    quantile model one column per quantile asked for in training (`quantile_col`)."""
    lookback = network.lookback
    horizon = network.horizon if horizon is None else horizon
    check_history(series, lookback)
    starts = last_starts(series.offsets, lookback)
    out = series_outputs(network, series, starts, horizon, device, widths, codes, units)
    schema = series.schema
    columns = {
        # typed once per series, then repeated (not an object array per row)
        schema.id_col: pd.Series(series.ids)
        .infer_objects()
        .take(np.repeat(np.arange(len(series)), horizon))
        .reset_index(drop=True),
        schema.time_col: series.axis.future(series.ends, horizon),
        FORECAST_COL: out.point.ravel(),
    }
    for level in network.config.quantiles:
        columns[quantile_col(level)] = out.at(level).ravel()
    return pd.DataFrame(columns)
