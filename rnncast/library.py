"""The Python API: train, predict, evaluate and load, over pandas DataFrames or files, by
the same code the command line runs.

    import rnncast

    model = rnncast.train(frame, horizon=24, ensemble=1)   # long, wide or values layout
    forecast = rnncast.predict(model, frame)               # unique_id, ds, y_hat
    report = rnncast.evaluate(model, frame, windows=2)     # what metrics.json holds
    report.forecasts                                       # every backtest window's rows
    model.save("model.rnncast")
    model = rnncast.load("model.rnncast")

`train` takes the options of `rnncast train` as keyword arguments, named as the options
with underscores (`hidden_size=128`, `fill="ffill"`, `target=("a", "b")`): they make the
same `TrainRequest` (`rnncast.settings`), the same plan (`rnncast.plan`) and the same jobs
(`rnncast.jobs`) as the command line; `init_from="model.rnncast"` updates that model on the
new data instead of training from scratch (see docs/training.md). `threads=N` (all three)
runs torch on N CPU threads for the call; left out, torch's setting stays as it is (a
library does not change process-wide settings unasked). Problems a user can fix raise
`rnncast.errors.RnncastError` (its subclasses `DataError`, `ConfigError`, `ArtifactError`)
with the command line's one-line message; where it names what to pass, it names the keyword
arguments (`skip_short=True`, `horizon=6`, `transform='none'`) rather than options (but the
data reader's messages still name options). `predict` and `evaluate` take `predict`'s and
`evaluate`'s options (`horizon`, `fill`, `skip_short`; `windows`, `fill`). `export` writes a
model as one ONNX graph (the `rnncast[onnx]` extra; docs/onnx.md), and `onnx_inputs` gives
that graph's inputs for forecasting past the end of some data, as `predict` reads them.

`mlflow=True` (train and evaluate) logs the call as an MLflow run, as `--mlflow` does (see
`rnncast.tracking`): the tracking MLflow is set up for (`MLFLOW_TRACKING_URI`) is checked to
answer before any data is read, and the model file is logged from a temporary copy.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnncast import jobs
from rnncast import plan as plans
from rnncast.data.series import SeriesSet
from rnncast.engine import threads as cpu_threads
from rnncast.engine.events import Event
from rnncast.forecast.backtest import Backtest, forecasts_frame
from rnncast.jobs import Data
from rnncast.settings import PYTHON, TrainRequest
from rnncast.store import artifact, onnxfile
from rnncast.store.artifact import Artifact
from rnncast.tracking import connect, evaluation, training


def train(
    data_or_path: Data,
    *,
    on_event: Callable[[Event], None] | None = None,
    threads: int | None = None,
    mlflow: bool = False,
    **options: Any,
) -> Artifact:
    """Train a model on a DataFrame (or a CSV / Parquet file or folder) and return it;
    `options` are `rnncast train`'s (see the module docstring), `on_event` hears progress;
    `mlflow=True` logs the run to MLflow."""
    TrainRequest.check_names(options, also=("threads", "on_event", "mlflow"))
    request = TrainRequest.of(**options)
    cpu_threads.check(threads)
    request.configs()  # the options themselves, before any file is read
    request, source = jobs.updating(request, options, PYTHON)
    tracking = connect(PYTHON) if mlflow else None
    read, _, _ = request.configs()
    series = jobs.read(data_or_path, read)
    path = None if isinstance(data_or_path, pd.DataFrame) else str(data_or_path)
    plan = plans.make(request, series, PYTHON)
    for message in (*series.notes, *(text for kind, text in plan.notes if kind == "warning")):
        _warn(message, stacklevel=3)  # what reading filled, what skip-short left out
    with cpu_threads.using(threads), training(tracking, plan, path) as tracker:
        trained = jobs.train(plan, path, on_event=tracker.hearing(on_event), spell=PYTHON,
                             source=source)  # fmt: skip
        tracker.trained(trained)
    return trained.artifact


def predict(
    model: Artifact, data_or_path: Data | None = None, *, horizon: int | None = None,
    fill: str | None = None, skip_short: bool | None = None, device: str = "auto",
    threads: int | None = None,
) -> pd.DataFrame:  # fmt: skip
    """The next `horizon` (default: the trained horizon) values of every series, in long
    format (id, time, y_hat, and a quantile model's quantile columns q0.1, ...); data: a
    DataFrame or file, default the training data file, its gaps filled by `fill` (default:
    as the model was trained). Series shorter than the model's lookback are left out with a
    `UserWarning` when `skip_short` says so (default: as the model was trained), else
    refused, as `rnncast predict` does."""
    with cpu_threads.using(cpu_threads.check(threads)):
        series = jobs.load_data_for(model, data_or_path, fill, spell=PYTHON)
        for message in series.notes:
            _warn(message, stacklevel=3)  # what reading filled
        return jobs.predict(
            model, series, horizon, device, skip_short=skip_short, spell=PYTHON, warn=_warn
        ).frame


def _warn(message: str, stacklevel: int = 4) -> None:
    """What reading, planning or a job warns of, as a `UserWarning` pointing at the caller's
    line (`stacklevel` counts the frames between)."""
    warnings.warn(message, UserWarning, stacklevel=stacklevel)


class Evaluation(dict):
    """What `evaluate` returns: the report `rnncast evaluate` writes to metrics.json (this
    dict), and its backtest windows' forecasts as a DataFrame (`forecasts`), one row per
    series, window and step: what `rnncast evaluate --forecasts` writes, from the numbers
    the report scored."""

    def __init__(self, result: Backtest, series: SeriesSet):
        super().__init__(result.report)
        self._made = (result, series)

    @functools.cached_property
    def forecasts(self) -> pd.DataFrame:
        """id, cutoff, time, step, actual, y_hat, quantiles (q0.1, ...), naive,
        seasonal_naive, mase_scale, sample (in-sample, out-of-sample or unknown); made when
        first asked for (`rnncast.forecast.backtest.forecasts_frame`)."""
        return forecasts_frame(*self._made)


def evaluate(
    model: Artifact, data_or_path: Data | None = None, *, windows: int = 1,
    fill: str | None = None, device: str = "auto", threads: int | None = None,
    mlflow: bool = False,
) -> Evaluation:  # fmt: skip
    """Backtest the last `windows` horizons of every series against naive baselines: the
    report `rnncast evaluate` writes to metrics.json, a dict, whose `forecasts` attribute
    holds every window's forecasts (`Evaluation`). `fill`: as `predict`'s; `mlflow=True`
    logs the backtest to MLflow."""
    tracking = connect(PYTHON) if mlflow else None
    path = None if data_or_path is None else _source(data_or_path)
    with cpu_threads.using(cpu_threads.check(threads)):
        series = jobs.load_data_for(model, data_or_path, fill, spell=PYTHON)
        for message in series.notes:
            _warn(message, stacklevel=3)
        with evaluation(tracking, model, windows, path, None) as tracker:
            result = jobs.backtest(model, series, windows, device, spell=PYTHON)
            tracker.evaluated(result)
        return Evaluation(result, series)


def _source(data: Data) -> str:
    return "<DataFrame>" if isinstance(data, pd.DataFrame) else str(data)


def export(model: Artifact | str | Path, out: str | Path) -> onnxfile.Exported:
    """Write `model` (a model or its file) as one ONNX graph to `out` (a .onnx path), as
    `rnncast export` does; returns its inputs, outputs, size and metadata."""
    source = model if isinstance(model, str | Path) else "<model>"
    jobs.check_export(source, out, PYTHON)
    artifact = load(model) if isinstance(model, str | Path) else model
    return jobs.export(artifact, out)


def onnx_inputs(model: Artifact, data_or_path: Data | None = None, *,
                fill: str | None = None, skip_short: bool | None = None,
                threads: int | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """The exported graph's inputs (name -> array, for `onnxruntime`'s `run`) that forecast
    past the end of every series of the data, read and left out as `predict` does (same
    arguments): the last lookback of each series, in the order of `predict`'s rows."""
    with cpu_threads.using(cpu_threads.check(threads)):
        series = jobs.load_data_for(model, data_or_path, fill, spell=PYTHON)
        for message in series.notes:
            _warn(message, stacklevel=3)
        return jobs.graph_inputs(model, series, skip_short, PYTHON, _warn)


def load(path: str | Path) -> Artifact:
    """A model file written by `rnncast train` or `Artifact.save`."""
    return artifact.load(path)
