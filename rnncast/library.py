"""The Python API: train, predict, evaluate and load, over pandas DataFrames or files, by
the same code the command line runs.

    import rnncast

    model = rnncast.train(frame, horizon=24, ensemble=1)   # long, wide or values layout
    forecast = rnncast.predict(model, frame)               # unique_id, ds, y_hat
    report = rnncast.evaluate(model, frame, windows=2)     # what metrics.json holds
    model.save("model.rnncast")
    model = rnncast.load("model.rnncast")

`train` takes the options of `rnncast train` as keyword arguments, named as the options
with underscores (`hidden_size=128`, `fill="ffill"`, `target=("a", "b")`). `threads=N`
(all three) runs torch on N CPU threads for the call; left out, torch's setting stays as it
is (a library does not change process-wide settings unasked). Problems a user
can fix raise `rnncast.errors.RnncastError` (its subclasses `DataError`, `ConfigError`,
`ArtifactError`) with the same one-line message the command line prints.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from rnncast import api, artifact
from rnncast.artifact import Artifact
from rnncast.data.build import from_frame
from rnncast.data.readers import load as read_data
from rnncast.data.series import SeriesSet
from rnncast.engine import events
from rnncast.engine import threads as cpu_threads
from rnncast.settings import (
    ModelConfig,
    ReadOptions,
    TrainConfig,
    parse_lookbacks,
    parse_quantiles,
)

WINDOW_OPTIONS = (
    "horizon", "lookback", "val_size", "segment", "lookbacks", "holdout", "calendar",
)  # fmt: skip
Data = pd.DataFrame | str | Path


def train(
    data_or_path: Data,
    *,
    on_event: Callable[[events.Event], None] | None = None,
    threads: int | None = None,
    **options: Any,
) -> Artifact:
    """Train a model on a DataFrame (or a CSV / Parquet file or folder) and return it;
    `options` are `rnncast train`'s (see the module docstring), `on_event` hears progress."""
    groups = {cls: {f.name for f in dataclasses.fields(cls)}
              for cls in (ReadOptions, ModelConfig, TrainConfig)}  # fmt: skip
    known = set(WINDOW_OPTIONS).union(*groups.values(), {"threads"})
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise TypeError(f"train() got an unexpected option '{name}'{hint}")
    cpu_threads.check(threads)
    options = {k: _setting(k, v) for k, v in options.items()}
    read, model, config = (
        cls(**{k: v for k, v in options.items() if k in names and k not in WINDOW_OPTIONS})
        for cls, names in groups.items()
    )
    series = _read(data_or_path, read)
    series, window, model, _ = api.prepare(
        series, model, read, options.get("horizon"), options.get("lookback"),
        options.get("val_size"), options.get("segment"), options.get("lookbacks", ()),
        config.ensemble, options.get("holdout", 0), options.get("calendar", False),
    )  # fmt: skip
    path = None if isinstance(data_or_path, pd.DataFrame) else str(data_or_path)
    with cpu_threads.using(threads):
        fitted, _ = api.fit(series, window, model, config, read, path, on_event)
    return fitted


def predict(
    model: Artifact, data_or_path: Data | None = None, *, horizon: int | None = None,
    device: str = "auto", threads: int | None = None,
) -> pd.DataFrame:  # fmt: skip
    """The next `horizon` (default: the trained horizon) values of every series, in long
    format (id, time, y_hat, and a quantile model's quantile columns q0.1, ...); data: a
    DataFrame or file, default the training data file."""
    with cpu_threads.using(cpu_threads.check(threads)):
        return api.predict(model, _series_for(model, data_or_path), horizon, device)


def evaluate(
    model: Artifact, data_or_path: Data | None = None, *, windows: int = 1, device: str = "auto",
    threads: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Backtest the last `windows` horizons of every series against naive baselines; the
    report `rnncast evaluate` writes to metrics.json."""
    with cpu_threads.using(cpu_threads.check(threads)):
        return api.evaluate(model, _series_for(model, data_or_path), windows, device)


def load(path: str | Path) -> Artifact:
    """A model file written by `rnncast train` or `Artifact.save`."""
    return artifact.load(path)


def _read(data_or_path: Data, options: ReadOptions) -> SeriesSet:
    if isinstance(data_or_path, pd.DataFrame):
        return from_frame(data_or_path, options, source="<DataFrame>")
    return read_data(data_or_path, options)


def _series_for(model: Artifact, data_or_path: Data | None) -> SeriesSet:
    if data_or_path is None or not isinstance(data_or_path, pd.DataFrame):
        path = None if data_or_path is None else str(data_or_path)
        return api.load_data_for(model, path)
    series = from_frame(data_or_path, api.read_options_for(model), source="<DataFrame>")
    api.check_like_training(model, series)
    return series


def _setting(name: str, value: Any) -> Any:
    """Settings that hold several values (`target`, `lookbacks`, `quantiles`) as tuples, from
    a list or, as on the command line, a comma-separated string."""
    if name == "lookbacks":
        return parse_lookbacks(value)
    if name == "quantiles":
        return parse_quantiles(value)
    if name not in ("target", "covariates"):
        return value
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)
