"""The value transform a model reads and forecasts in (`--transform`), before any scaling.

'none': the values as they are. 'log': their natural logarithm, for positive data whose
swings grow with its level (multiplicative seasonality, as in sales, traffic or load with
quiet nights): the network then sees and is trained on relative changes, and its forecasts
are turned back with exp, so they stay positive. Windows are logged as they are gathered
(`rnncast.engine.batches.Windows`): no transformed copy of the data is held. A
log model needs every value it reads, in training and in every history it forecasts from,
above 0. 'auto' (the default) is 'log' when every training value is above 0, else 'none';
the model file keeps which.
"""

from __future__ import annotations

import numpy as np

from rnncast.data.series import SeriesSet
from rnncast.errors import DataError

# exp(88.72...) is float32's largest value: a forecast's log is capped a little below, so
# that it stays finite
_LOG_MAX = 88.0


def resolve(series: SeriesSet, method: str) -> str:
    """The transform `method` ('auto', 'none' or 'log') means for training on `series`."""
    if method != "auto":
        return method
    return "log" if len(series.values) and not _not_positive(series.values)[1] else "none"


CHUNK = 1 << 22  # values checked at a time: the masks stay small however long the data


def _not_positive(values: np.ndarray) -> tuple[int, int]:
    """The flat index of the first value that is not above 0 (NaN included) and how many
    there are; (-1, 0) when there are none."""
    first, count = -1, 0
    for a in range(0, len(values), CHUNK):
        bad = ~(values[a : a + CHUNK] > 0)
        n = int(bad.sum())
        if n and first < 0:
            first = a + int(np.argmax(bad))
        count += n
    return first, count


def inverse(forecasts: np.ndarray, method: str) -> np.ndarray:
    """Forecasts made in the model's transform, back in the data's units."""
    if method in ("none", "auto"):
        return forecasts
    if method == "log":
        return np.exp(np.minimum(forecasts, _LOG_MAX)).astype(forecasts.dtype, copy=False)
    raise ValueError(f"unknown transform '{method}'")


def check(series: SeriesSet, method: str, fix: str) -> None:
    """Refuse, with a one-line `DataError` naming the first offending value and ending in
    `fix`, data the transform cannot take: under 'log', any value at or below 0."""
    if method != "log":
        return
    first, count = _not_positive(series.values)
    if not count:
        return
    i = int(np.searchsorted(series.offsets, first, side="right") - 1)
    when = series.axis.at(series.starts[i : i + 1], np.array([first - series.offsets[i]]))[0]
    value = float(series.values[first])
    more = f" (and {count - 1} more)" if count > 1 else ""
    raise DataError(
        f"series '{series.ids[i]}' has the value {value:g} at {when}{more} in "
        f"'{series.source}', but --transform log needs every value above 0: {fix}"
    )
