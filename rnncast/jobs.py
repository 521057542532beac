"""The three jobs, once, for every entry point: train a planned model, forecast with a model
file, backtest it; and the rules a model applies to the data it is given (laid out and timed
as its training data, values its transform can take, histories long enough, skip-short).

The command line (`rnncast.cli`) and the Python API (`rnncast.library`) both call these, so
a rule cannot hold in one and not the other. Messages name options through a `Spelling`, so
that each caller is told what it can pass. Nothing here prints: progress goes to callbacks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnncast.data.build import from_frame
from rnncast.data.readers import CSVText
from rnncast.data.readers import load as read_data
from rnncast.data.remote import is_url
from rnncast.data.series import SeriesSet
from rnncast.data.windows import check_lengths, last_starts, split_windows
from rnncast.engine import devices, distributed, esn, loop, models, transform
from rnncast.engine.devices import resolve_device
from rnncast.engine.events import Event, TrainResult
from rnncast.errors import ConfigError, DataError, MissingColumn
from rnncast.forecast import backtest as backtests
from rnncast.forecast import graph, intervals
from rnncast.forecast.forecasting import Known, forecast_frame, outputs_at
from rnncast.plan import Plan, leave_out_short
from rnncast.settings import (
    CLI,
    ModelConfig,
    ReadOptions,
    Spelling,
    TrainRequest,
    WindowConfig,
    check_together,
    trained_options,
)
from rnncast.store import checkpoint, onnxfile
from rnncast.store.artifact import Artifact, file_sha256
from rnncast.store.artifact import load as load_artifact
from rnncast.store.atomic import check_writable

Data = pd.DataFrame | str | Path | CSVText  # CSVText: CSV from no file (standard input)


# ---- train --------------------------------------------------------------------------------


@dataclass
class Trained:
    """A trained model (the model file's contents) and each network's training result."""

    artifact: Artifact
    results: list[TrainResult]


def train(
    plan: Plan,
    data_path: str | None = None,
    *,
    on_event: Callable[[Event], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: str | Path | None = None,
    resume: checkpoint.Checkpoint | None = None,
    on_saved: Callable[[str], None] | None = None,
    spell: Spelling = CLI,
    source: Source | None = None,
) -> Trained:
    """Train `plan.train.ensemble` networks (seeds seed, seed + 1, ...) on the plan's series.

    `should_stop` is asked after every batch (`TrainingStopped` when it says yes); with
    `checkpoint_path` the whole training state is saved there after every epoch, and
    `resume` (a loaded checkpoint of the same settings and data) continues from it;
    `on_saved` hears where training stands after each save (`Checkpoint.describe`).

    In a torch.distributed process group (`rnncast.engine.distributed.session`) every
    process calls this alike; only rank 0 writes the checkpoint (every process hears
    `on_saved`). An update (`source`, see `updating`) starts every member from the source
    model's weights and records where it started. Messages name options as `spell` does."""
    series, window, config = plan.series, plan.window, plan.train
    model = check(plan, spell, source)
    world = distributed.current()
    fingerprint = series.fingerprint()
    if resume is not None:
        resume.check_matches(window, model, config, fingerprint)
    state = resume or checkpoint.Checkpoint.start(window, model, config, fingerprint)

    def keep(current: dict[str, Any] | None) -> None:
        state.current = current
        if checkpoint_path is not None:
            if world.main:  # the others hold the same state
                checkpoint.save(state, checkpoint_path)
            if on_saved is not None:
                on_saved(state.describe())

    members = dataclasses.replace(plan, model=model)
    results = _fit_members(members, state, keep, on_event, should_stop, source)
    artifact = Artifact.from_training(
        series, results, read=plan.read, window=window, model=model, train=config,
        data_path=data_path, fingerprint=fingerprint, processes=world.size,
    )  # fmt: skip
    if source is not None:
        artifact.init_from = source.record()
    if model.quantiles:
        artifact.intervals = _calibrate(artifact, series, results[0].device)
    return Trained(artifact, results)


def check(plan: Plan, spell: Spelling = CLI, source: Source | None = None) -> ModelConfig:
    """What training would refuse before its first step, checked without training (`rnncast
    train --print-config` runs it too): settings that do not go together, values the
    transform cannot take, series too short for the longest member's window, a network too
    big for the device's memory; for an update, data unlike the source model's (`Source.
    check`). Returns the model settings with the transform and the clipping resolved;
    messages name options as `spell` does."""
    series, window = plan.series, plan.window
    if source is not None:
        source.check(series, spell)
    check_together(plan.model, plan.train)
    asked = plan.model
    model = dataclasses.replace(asked, transform=transform.resolve(series, asked.transform),
                                clip=transform.resolve_clip(series, asked.clip))  # fmt: skip
    transform.check(series, model.transform,
                    f"fix those values, or train with {spell('transform', 'none')}")  # fmt: skip
    check_lengths(series, WindowConfig(window.longest, window.horizon, window.val_size), spell)
    _check_memory(plan, model, spell)
    return model


def _check_memory(plan: Plan, model: ModelConfig, spell: Spelling) -> None:
    """A network too big for the device's memory is refused before it is built (allocating
    it failed with torch's traceback, or got the process killed)."""
    window = plan.window
    need = max(
        models.training_bytes(model, window.member(k).lookback, window.horizon, plan.train.ema > 0)
        for k in range(min(plan.train.ensemble, max(1, len(window.lookbacks))))
    )
    device = resolve_device(plan.train.device)
    have = devices.memory(device)
    if have is None or need <= have:
        return
    names = (
        ["reservoir_size"] if model.cell == "esn"
        else ["hidden_size", "num_layers"] + ["id_embedding"] * bool(model.id_embedding)
    )  # fmt: skip
    sizes = [spell.name(n) for n in names]
    given = ", ".join(spell(n, getattr(model, n)) for n in names)
    needs = (
        f"needs about {need / 2**30:,.1f} GB to train" if need < 2**60 else "is too big to count"
    )
    raise ConfigError(
        f"the network ({given}) {needs}, more than the {have / 2**30:,.1f} GB of memory on "
        f"{device.type}: pass a smaller {' or '.join(sizes)}"
    )


def _fit_members(plan: Plan, state: checkpoint.Checkpoint,
                 keep: Callable[[dict[str, Any] | None], None],
                 on_event: Callable[[Event], None] | None,
                 should_stop: Callable[[], bool] | None,
                 source: Source | None = None) -> list[TrainResult]:  # fmt: skip
    """Every ensemble member: those the checkpoint holds finished, then the rest in turn
    (the one in training resumed where the checkpoint left it; each from the `source`
    model's member of the same place, in an update)."""
    window, model, config = plan.window, plan.model, plan.train
    results = [
        TrainResult.from_plain(plain, models.build(model, window.member(k).lookback,
                                                   window.horizon))
        for k, plain in enumerate(state.finished)
    ]  # fmt: skip
    for k in range(len(results), config.ensemble):
        member, now = k + 1, state.current
        seeded = dataclasses.replace(config, seed=config.seed + k)
        if model.cell == "esn":  # a closed-form readout: no epochs, nothing to resume
            result = esn.fit(plan.series, window.member(k), model, seeded, on_event, member,
                             should_stop)  # fmt: skip
        else:
            result = loop.fit(
                plan.series, window.member(k), model, seeded, on_event,
                member=member, should_stop=should_stop,
                resume=now["state"] if now is not None and now["member"] == member else None,
                on_checkpoint=lambda snapshot, m=member: keep({"member": m, "state": snapshot}),
                init=None if source is None else source.start(k, plan.series.ids),
            )  # fmt: skip
        results.append(result)
        state.finished.append(result.to_plain())
        keep(None)
    return results


# ---- an update: training that starts from a model file ----------------------------------


@dataclass
class Source:
    """The model an update starts from (`rnncast train --init-from`): what its file holds,
    its path as given, and the SHA-256 of the file's bytes (what `sha256sum` prints)."""

    artifact: Artifact
    path: str
    sha256: str

    def named(self, spell: Spelling = CLI) -> str:
        """The option as the caller gave it: `--init-from 'm.rnncast'`, `init_from='m.rnncast'`."""
        return spell("init_from", self.path) if spell.python else f"--init-from '{self.path}'"

    def record(self) -> dict[str, Any]:
        """What the updated model file keeps of its source (`Artifact.init_from`)."""
        a = self.artifact
        return {
            "path": self.path,
            "sha256": self.sha256,
            "created": a.created,
            "rnncast_version": a.rnncast_version,
            "data_fingerprint": a.fingerprint,
        }

    def check(self, series: SeriesSet, spell: Spelling = CLI) -> None:
        """The update's data must be laid out and timed as the source's training data, with
        values its transform can take."""
        check_like_training(self.artifact, series)
        transform.check(series, self.artifact.model.transform,
                        f"{self.named(spell)} was trained on them; fix those values, or train "
                        f"from scratch with {spell('transform', 'none')}")  # fmt: skip

    def start(self, k: int, ids: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Member k's weights, to start from on series `ids`: an id embedding's rows follow
        the series by id (a series the source never saw starts at the all-zero row, as
        `predict` treats it)."""
        state = dict(self.artifact.weights[k])
        table = state.get("id_table.weight")
        if table is not None:
            rows = {str(i): r + 1 for r, i in enumerate(self.artifact.series_ids)}
            state["id_table.weight"] = table[[0, *(rows.get(str(i), 0) for i in ids)]].clone()
        return state


def updating(request: TrainRequest, given: Iterable[str],
             spell: Spelling = CLI) -> tuple[TrainRequest, Source | None]:  # fmt: skip
    """The request and source of an update: the model file `request.init_from` names,
    loaded, and the request with that model's settings (`TrainRequest.updating`: an option
    in `given`, those the caller gave, may not ask for other networks); `(request, None)`
    for a training from scratch. The echo state network is refused: nothing of it is trained
    by gradient, so there is nothing to go on from."""
    if request.init_from is None:
        return request, None
    path = request.init_from
    artifact = load_artifact(path, spell.name("init_from"))
    source = Source(artifact, path, file_sha256(path))
    if artifact.model.cell == "esn":
        raise ConfigError(
            f"{source.named(spell)} is an echo state network ({spell('cell', 'esn')}), whose "
            "readout is solved in closed form, not trained step by step: there is nothing to "
            "go on from; train it from scratch on the new data (it takes seconds)"
        )
    trained = trained_options(artifact.read_options, artifact.window, artifact.model,
                              artifact.train)  # fmt: skip
    return request.updating(given, trained, source.named(spell), spell), source


def _calibrate(artifact: Artifact, series: SeriesSet, device: str = "cpu") -> dict:
    """Width factors that make each central interval cover its nominal share of the
    validation windows (`rnncast.forecast.intervals`); {} without validation. Measured on the
    forecasts before `--clip`: a clipped model's data has no value below 0, so raising an
    interval's bounds to 0 afterwards changes no value's coverage."""
    window = artifact.window
    longest = WindowConfig(window.longest, window.horizon, window.val_size)
    _, starts = split_windows(series.offsets, longest)
    if not len(starts):
        return {}
    known = Known.of(artifact.series_ids, artifact.units, series.ids)  # training's, in order
    out = outputs_at(artifact.network(device), series, starts, device=device, known=known)
    targets = series.values[starts[:, None] + longest.lookback + np.arange(window.horizon)]
    return intervals.calibrate(out, targets)


# ---- the data a model is given ------------------------------------------------------------


def load_data_for(artifact: Artifact, data: Data | None = None, fill: str | None = None,
                  spell: Spelling = CLI) -> SeriesSet:  # fmt: skip
    """`data` (a file, a folder, CSV text or a DataFrame), or the model's own training data
    when None, read the way the model was trained (but with `fill`, when given), and checked
    to be laid out as the training data was, with times that advance as the model's did."""
    options = read_options_for(artifact, fill)
    if not isinstance(data, pd.DataFrame):
        data = _data_path(artifact, data, spell)
    try:
        series = read(data, options)
    except MissingColumn as e:  # the model's columns: not for this caller to name otherwise
        raise DataError(f"{e.found}: {_model_reads(e)}") from None
    check_like_training(artifact, series)
    return series


ROLES = {"--id-col": "its series ids", "--time-col": "its times", "--target": "its values",
         "--covariates": "a past covariate",
         "--future-covariates": "a future covariate"}  # fmt: skip


def _model_reads(missing: MissingColumn) -> str:
    """What to do about a column the model reads that the data lacks."""
    fix = (f"rename column '{missing.close}' to '{missing.column}'" if missing.close
           else "give data with that column")  # fmt: skip
    return (
        f"the model reads {ROLES.get(missing.option, 'a column')} from column "
        f"'{missing.column}', as in its training data: {fix}, or retrain on this data"
    )


def read(data: Data, options: ReadOptions) -> SeriesSet:
    """`data` (a DataFrame, CSV text, or a CSV / Parquet file or folder) read as `options`
    say."""
    if isinstance(data, pd.DataFrame):
        return from_frame(data, options, source="<DataFrame>")
    return read_data(data, options)


def _data_path(artifact: Artifact, data: str | Path | CSVText | None,
               spell: Spelling) -> str | Path | CSVText:  # fmt: skip
    """`data`, or the training data the model records."""
    if data is not None:
        return data
    recorded = artifact.data_abspath or artifact.data_path
    if not recorded:
        raise DataError(f"the model does not record its training data: pass {spell.data}")
    if not is_url(recorded) and not Path(recorded).exists():  # (a URL: the reader says)
        raise DataError(
            f"the training data recorded in the model ('{artifact.data_path}') no longer "
            f"exists: pass {spell.data}"
        )
    return recorded


def read_options_for(artifact: Artifact, fill: str | None = None) -> ReadOptions:
    """How the model read its data, with `fill` instead when given."""
    options = artifact.read_options
    return options if fill is None else dataclasses.replace(options, fill=fill)


def check_like_training(artifact: Artifact, series: SeriesSet) -> None:
    """`series` must be laid out as the training data and on the same time axis."""
    path = series.source
    ours, theirs = artifact.schema, series.schema
    if theirs.layout != ours.layout:
        raise DataError(
            f"'{path}' is laid out as {theirs.describe()}, but the model was trained on data "
            f"laid out as {ours.describe()}: give data laid out like the training data"
        )
    if ours.has_time and theirs.time_col != ours.time_col:
        raise DataError(
            f"'{path}' has its times in column '{theirs.time_col}', the model's training data "
            f"in '{ours.time_col}': name the column '{ours.time_col}', or retrain"
        )
    why = artifact.axis.mismatch(series.axis)
    if why:
        raise DataError(f"'{path}' has {why}: give data like the model's training data")


def check_horizon(artifact: Artifact, horizon: int | None, spell: Spelling = CLI) -> int:
    """The horizon to forecast: the trained one by default, never more."""
    trained = artifact.window.horizon
    h = trained if horizon is None else horizon
    if h < 1:
        raise ConfigError(f"{spell.name('horizon')} must be at least 1, got {h}")
    if h > trained:
        raise ConfigError(
            f"{spell('horizon', h)} is beyond what the model was trained for ({trained}): use "
            f"1 to {trained}, or retrain with {spell('horizon', h)}"
        )
    return h


def check_transform(artifact: Artifact, series: SeriesSet, spell: Spelling = CLI) -> None:
    """`series` must be values the model's transform can take (`rnncast.engine.transform`)."""
    transform.check(
        series,
        artifact.model.transform,
        "the model was trained with it; fix those values, or retrain with "
        + spell("transform", "none"),
    )


# ---- predict and backtest -----------------------------------------------------------------


@dataclass
class Prediction:
    """Forecasts in long format, and the series they forecast (after skip-short)."""

    frame: pd.DataFrame
    series: SeriesSet


def predict(
    artifact: Artifact, series: SeriesSet, horizon: int | None = None, device: str = "auto",
    *, skip_short: bool | None = None, spell: Spelling = CLI,
    warn: Callable[[str], None] | None = None,
) -> Prediction:  # fmt: skip
    """Forecast the next `horizon` (default: the trained horizon) values of every series.
    Series shorter than the model's lookback are left out, and `warn` told which, when
    `skip_short` says so (default: as the model was trained); else they are refused."""
    h = check_horizon(artifact, horizon, spell)
    series = forecastable(artifact, series, skip_short, spell, warn)
    dev = distributed.device_for(resolve_device(device), distributed.current())
    network = artifact.network(dev)
    known = Known.of(artifact.series_ids, artifact.units, series.ids)
    out = outputs_at(network, series, last_starts(series.offsets, network.lookback), h, dev,
                     known)  # fmt: skip
    out = intervals.apply(out, artifact.intervals).clipped(artifact.model.clip)
    return Prediction(forecast_frame(series, out, artifact.model.quantiles), series)


def forecastable(artifact: Artifact, series: SeriesSet, skip_short: bool | None = None,
                 spell: Spelling = CLI,
                 warn: Callable[[str], None] | None = None) -> SeriesSet:  # fmt: skip
    """`series` as the model can forecast past their ends: those shorter than its lookback
    left out (and `warn` told) when `skip_short` says so (default: as the model was
    trained), else refused; values its transform can take; future covariates (when the
    model reads them) for its whole horizon after each series' last value."""
    lookback = artifact.window.longest
    if artifact.read_options.skip_short if skip_short is None else skip_short:
        series, note = leave_out_short(
            series, lookback, f"the model's lookback of {lookback} values",
            f"give at least {lookback} values per series", spell.name("skip_short"),
        )  # fmt: skip
        if note and warn is not None:
            warn(note)
    check_transform(artifact, series, spell)
    reads = max(
        (artifact.window.member(k).lookback for k in range(len(artifact.weights))), default=lookback
    )
    check_history(series, reads, spell)  # the members' longest lookback
    check_future(artifact, series)
    return series


def check_history(series: SeriesSet, lookback: int, spell: Spelling = CLI) -> None:
    """Every series must hold a lookback to forecast from."""
    count, names = series.shorter_than(lookback)
    if count:
        raise DataError(
            f"{count} series {'has' if count == 1 else 'have'} fewer values than the "
            f"model's lookback of {lookback}: {names}; give at least {lookback} values "
            f"per series, or pass {spell('skip_short')} to leave them out"
        )


def check_future(artifact: Artifact, series: SeriesSet) -> None:
    """A model with future covariates reads them for its whole trained horizon after every
    series' last value: each series must have that many rows after it."""
    names, horizon = artifact.read_options.future_covariates, artifact.window.horizon
    short = np.flatnonzero(series.ahead < horizon)
    if not names or not len(short):
        return
    i = int(short[0])
    have, end = int(series.ahead[i]), series.ends[i : i + 1]
    through = series.axis.future(end, horizon)[-1]
    more = f" ({len(short)} series short in all)" if len(short) > 1 else ""
    raise DataError(
        f"series '{series.ids[i]}' in '{series.source}' has future covariates "
        f"({', '.join(names)}) for {have} of the {horizon} steps after its last value at "
        f"{end[0]}: the model reads them for its whole horizon; add rows up to {through} with "
        f"them filled and '{series.schema.target}' empty{more}"
    )


def backtest(artifact: Artifact, series: SeriesSet, windows: int = 1,
             device: str = "auto", spell: Spelling = CLI) -> backtests.Backtest:  # fmt: skip
    """Backtest the last `windows` horizons of every series against naive baselines,
    keeping every window's actuals and forecasts; the report is what metrics.json holds."""
    if windows < 1:
        raise ConfigError(f"{spell.name('windows')} must be at least 1, got {windows}")
    check_transform(artifact, series, spell)
    dev = resolve_device(device)
    recorded = artifact.cutoffs  # none: whether a window is in-sample is unknown
    cutoffs = dict(zip(artifact.series_ids, recorded, strict=True)) if recorded else None
    known = Known.of(artifact.series_ids, artifact.units, series.ids)
    result = backtests.run(artifact.network(dev), series, windows, cutoffs, dev,
                           artifact.intervals, known)  # fmt: skip
    result.report["data_fingerprint_matches_training"] = (
        series.fingerprint() == artifact.fingerprint
    )
    return result


# ---- export -------------------------------------------------------------------------------


def check_export(model: str | Path, out: str | Path, spell: Spelling = CLI) -> Path:
    """Before any work: the onnx extra is installed, and `out` is a writable .onnx path that
    is not the model file (named as `spell` says: OUT, or out)."""
    onnxfile.require("rnncast export" if spell is CLI else "rnncast.export")
    option = "out" if spell.python else "OUT"
    return check_writable(out, option, (".onnx",), inputs=(("the model file", model),))


def graph_inputs(artifact: Artifact, series: SeriesSet, skip_short: bool | None = None,
                 spell: Spelling = CLI,
                 warn: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """The exported graph's inputs for forecasting past the end of every series of
    `series` that `predict` forecasts, in its order (`rnncast.forecast.graph.graph_inputs`)."""
    series = forecastable(artifact, series, skip_short, spell, warn)
    known = Known.of(artifact.series_ids, artifact.units, series.ids)
    return graph.graph_inputs(artifact.network(), series, known)


def export(artifact: Artifact, out: str | Path) -> onnxfile.Exported:
    """The model as one ONNX graph at `out`, written atomically: raw lookback windows in,
    forecasts in the data's units out (`rnncast.store.onnxfile`)."""
    return onnxfile.export(artifact, out)
