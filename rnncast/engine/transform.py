"""The value transform a model reads and forecasts in (`--transform`), before any scaling.

'none': the values as they are. 'log': their natural logarithm, for positive data whose
swings grow with its level (multiplicative seasonality, as in sales, traffic or load with
quiet nights): the network then sees and is trained on relative changes, and its forecasts
are turned back with exp, so they stay positive. Windows are logged as they are gathered
(`rnncast.engine.batches.Windows`): no transformed copy of the data is held. A
log model needs every value it reads, in training and in every history it forecasts from,
above 0 and at most `LOG_ROOM` (1e34: the exp of a forecast's log must stay in float32).
'auto' (the default) is 'log' when every training value is so, else 'none'; the model file
keeps which.

`--clip` says what forecasts are kept within, once they are back in the data's units: 'zero'
raises any below 0 to 0, 'none' leaves them as they are; 'auto' (the default) is 'zero' when
no training value is below 0 (sales with closed days, counts, rainfall), else 'none'. The
model file keeps which; files written before it read as 'none'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from rnncast.data.series import SeriesSet
from rnncast.errors import DataError

if TYPE_CHECKING:
    import torch

Array = TypeVar("Array", np.ndarray, "torch.Tensor")

# exp(88.72...) is float32's largest value: a forecast's log is capped a little below, so
# that it stays finite
_LOG_MAX = 88.0
# the largest value 'log' models: its forecasts can still grow e^(88 - 78.3), 16,000-fold
LOG_ROOM = 1e34


def resolve(series: SeriesSet, method: str) -> str:
    """The transform `method` ('auto', 'none' or 'log') means for training on `series`."""
    if method != "auto":
        return method
    values = series.values
    fits = len(values) and not _not_positive(values)[1] and not _too_large(values)[1]
    return "log" if fits else "none"


def resolve_clip(series: SeriesSet, method: str) -> str:
    """The clipping `method` ('auto', 'none' or 'zero') means for training on `series`:
    'auto' is 'zero' when no value is below 0."""
    if method != "auto":
        return method
    below = _first(series.values, lambda chunk: chunk < 0)[1]
    return "zero" if len(series.values) and not below else "none"


CHUNK = 1 << 22  # values checked at a time: the masks stay small however long the data


def _not_positive(values: np.ndarray) -> tuple[int, int]:
    """The flat index of the first value that is not above 0 (NaN included) and how many
    there are; (-1, 0) when there are none."""
    return _first(values, lambda chunk: ~(chunk > 0))


def _too_large(values: np.ndarray) -> tuple[int, int]:
    """As `_not_positive`, for the values above `LOG_ROOM`."""
    return _first(values, lambda chunk: chunk > LOG_ROOM)


def _first(values: np.ndarray, outside: Callable[[np.ndarray], np.ndarray]) -> tuple[int, int]:
    first, count = -1, 0
    for a in range(0, len(values), CHUNK):
        bad = outside(values[a : a + CHUNK])
        n = int(bad.sum())
        if n and first < 0:
            first = a + int(np.argmax(bad))
        count += n
    return first, count


def inverse(forecasts: Array, method: str) -> Array:
    """Forecasts made in the model's transform, back in the data's units: a NumPy array, or
    a torch tensor (as the exported graph computes them, `rnncast.forecast.graph`)."""
    if method in ("none", "auto"):
        return forecasts
    if method != "log":
        raise ValueError(f"unknown transform '{method}'")
    if isinstance(forecasts, np.ndarray):
        return np.exp(np.minimum(forecasts, _LOG_MAX)).astype(forecasts.dtype, copy=False)
    return forecasts.clamp_max(_LOG_MAX).exp()


def check(series: SeriesSet, method: str, fix: str) -> None:
    """Refuse, with a one-line `DataError` naming the first offending value and ending in
    `fix`, data the transform cannot take: under 'log', any value at or below 0."""
    if method != "log":
        return
    for found, needs in (
        (_not_positive, "needs every value above 0"),
        (_too_large, f"forecasts in float32 only values up to {LOG_ROOM:g}"),
    ):
        first, count = found(series.values)
        if not count:
            continue
        i = int(np.searchsorted(series.offsets, first, side="right") - 1)
        when = series.axis.at(series.starts[i : i + 1], np.array([first - series.offsets[i]]))[0]
        value = float(series.values[first])
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise DataError(
            f"series '{series.ids[i]}' has the value {value:g} at {when}{more} in "
            f"'{series.source}', but --transform log {needs}: {fix}"
        )
