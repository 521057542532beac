"""Model + history -> future values with timestamps.

`forecast_at` runs the network on the lookback windows that start at given flat positions
and returns forecasts in the data's own units; `forecast_frame` forecasts past the end of
every series and stamps the values with real future times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnncast import scaling
from rnncast.data import SeriesSet
from rnncast.errors import DataError
from rnncast.windows import last_starts

FORECAST_COL = "y_hat"


@torch.no_grad()
def forecast_at(
    network: nn.Module,
    values: np.ndarray,
    starts: np.ndarray,
    lookback: int,
    horizon: int,
    scaling_method: str,
    device: torch.device | str = "cpu",
    batch_size: int = 1024,
) -> np.ndarray:
    """Forecasts (len(starts), horizon) from the windows values[s : s + lookback]."""
    network.eval()
    device = torch.device(device)
    flat = torch.from_numpy(values).to(device)
    view = flat.unfold(0, lookback, 1)  # (N - lookback + 1, lookback): a strided view
    out = np.empty((len(starts), horizon), dtype=np.float32)
    for i in range(0, len(starts), batch_size):
        idx = torch.from_numpy(np.asarray(starts[i : i + batch_size], dtype=np.int64)).to(device)
        x = view[idx]
        stats = scaling.fit(x, scaling_method)
        y = scaling.inverse(network(scaling.transform(x, stats).unsqueeze(-1)), stats)
        out[i : i + len(idx)] = y[:, :horizon].float().cpu().numpy()
    return out


def check_history(series: SeriesSet, lookback: int) -> None:
    short = np.flatnonzero(series.lengths < lookback)
    if len(short):
        names = ", ".join(f"'{series.ids[i]}' ({series.lengths[i]})" for i in short[:3])
        more = f" and {len(short) - 3} more" if len(short) > 3 else ""
        raise DataError(
            f"{len(short)} series {'has' if len(short) == 1 else 'have'} fewer values than the "
            f"model's lookback of {lookback}: {names}{more}; give at least {lookback} values "
            "per series"
        )


def forecast_frame(
    network: nn.Module,
    series: SeriesSet,
    lookback: int,
    horizon: int,
    scaling_method: str,
    device: torch.device | str = "cpu",
) -> pd.DataFrame:
    """The next `horizon` values of every series, long format: id, time, y_hat."""
    check_history(series, lookback)
    yhat = forecast_at(
        network,
        series.values,
        last_starts(series.offsets, lookback),
        lookback,
        horizon,
        scaling_method,
        device,
    )
    schema = series.schema
    return pd.DataFrame(
        {
            schema.id_col: np.repeat(series.ids, horizon),
            schema.time_col: series.axis.future(series.ends, horizon),
            FORECAST_COL: yhat.ravel(),
        }
    )
