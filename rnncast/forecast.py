"""Model + history -> future values with timestamps.

`forecast_at` runs the network on the lookback windows that start at given flat positions
and returns forecasts in the data's own units; `forecast_frame` forecasts past the end of
every series and stamps the values with real future times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from rnncast import models, scaling
from rnncast.data import SeriesSet
from rnncast.errors import DataError
from rnncast.models import Forecaster, RecurrentForecaster
from rnncast.windows import last_starts

FORECAST_COL = "y_hat"


@torch.no_grad()
def forecast_at(
    network: Forecaster,
    values: np.ndarray,
    offsets: np.ndarray,
    starts: np.ndarray,
    horizon: int | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 1024,
) -> np.ndarray:
    """Forecasts (len(starts), horizon) from the lookback windows values[s : s + lookback].

    `values` holds the series one after another, series i at offsets[i]:offsets[i + 1]
    (used for each window's scale floor); the lookback (an ensemble's longest), scaling and
    trained horizon come from the network. An ensemble member with a shorter lookback reads
    the end of each window, scaled by its own statistics; members' forecasts are averaged in
    the data's units. `horizon` (default: the trained one) keeps the first steps.
    """
    network.eval()
    horizon = network.horizon if horizon is None else horizon
    device = torch.device(device)
    if not values.flags.writeable:  # torch wants writable memory; copy only then
        values = values.copy()
    flat = torch.from_numpy(values).to(device)
    starts = np.asarray(starts, dtype=np.int64)
    nets = models.members(network)
    out = np.zeros((len(starts), horizon), dtype=np.float64)
    for net in nets:
        ends_at = starts + network.lookback - net.lookback  # the member's window, same end
        out += _forecast_member(net, flat, values, offsets, ends_at, horizon, device, batch_size)
    return (out / len(nets)).astype(np.float32)


def _forecast_member(network: RecurrentForecaster, flat: torch.Tensor, values: np.ndarray,
                     offsets: np.ndarray, starts: np.ndarray, horizon: int, device: torch.device,
                     batch_size: int) -> np.ndarray:  # fmt: skip
    config, lookback = network.config, network.lookback
    view = flat.unfold(0, lookback, 1)  # (N - lookback + 1, lookback): a strided view
    per_series = scaling.series_floors(values, offsets, lookback, config.scale_floor)
    floors = torch.from_numpy(scaling.window_floors(per_series, offsets, starts)).to(device)
    starts_t = torch.from_numpy(starts).to(device)
    out = np.empty((len(starts), horizon), dtype=np.float32)
    for i in range(0, len(starts), batch_size):
        x = view[starts_t[i : i + batch_size]]
        stats = scaling.fit(x, config.scaling, floors[i : i + batch_size])
        y = scaling.inverse(network(scaling.transform(x, stats).unsqueeze(-1)), stats)
        out[i : i + len(x)] = y[:, :horizon].float().cpu().numpy()
    return out


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
) -> pd.DataFrame:
    """The next `horizon` values of every series, long format: id, time, y_hat."""
    lookback = network.lookback
    horizon = network.horizon if horizon is None else horizon
    check_history(series, lookback)
    starts = last_starts(series.offsets, lookback)
    yhat = forecast_at(network, series.values, series.offsets, starts, horizon, device)
    schema = series.schema
    return pd.DataFrame(
        {
            schema.id_col: pd.Series(np.repeat(series.ids, horizon)).infer_objects(),
            schema.time_col: series.axis.future(series.ends, horizon),
            FORECAST_COL: yhat.ravel(),
        }
    )
