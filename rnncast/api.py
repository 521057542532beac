"""The three jobs, as plain functions over a `SeriesSet`: train, predict, evaluate.

The CLI calls these; so can Python code. Nothing here prints: progress goes to `on_event`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnncast import backtest, checkpoint, forecast, intervals
from rnncast.artifact import Artifact
from rnncast.data.calendar import periods as calendar_periods
from rnncast.data.readers import load as read_data
from rnncast.data.series import SeriesSet
from rnncast.data.timeaxis import LOOKBACK_PER_HORIZON
from rnncast.data.windows import ranged_starts, split_windows
from rnncast.engine import devices, distributed, esn, events, loop, models, scaling, transform
from rnncast.errors import ConfigError, DataError
from rnncast.settings import ModelConfig, ReadOptions, TrainConfig, WindowConfig, check_together

MEMBER_LOOKBACKS_PER_HORIZON = (3, 5, 7)  # ensemble members' lookbacks, in horizons


def resolve_shapes(
    series: SeriesSet,
    model: ModelConfig,
    horizon: int | None = None,
    lookback: int | None = None,
    val_size: int | None = None,
    segment: int | None = None,
    lookbacks: tuple[int, ...] = (),
    members: int = 1,
    calendar: bool = False,
) -> tuple[WindowConfig, ModelConfig]:
    """Fill unset window lengths from the data's frequency, the calendar features' periods
    (`rnncast.calendar.periods`; none when `calendar` is false) and the number of series
    ids an id embedding knows.

    horizon: by frequency (M4's: hourly 48, daily 14, weekly 13, monthly 18, quarterly 8,
    yearly 6; 10 for integer steps). segment: the seasonal period when it is 2 to 24 steps
    (hourly 24, daily 7, monthly 12, quarterly 4), else lookback / 8 rounded up. lookback:
    3 x horizon, rounded up to whole segments. validation: one horizon. transform: 'auto'
    becomes 'log' or 'none' (`rnncast.transform.resolve`).

    Ensembles (`members` > 1) without a given `lookback` or `lookbacks` read different
    lookbacks, as N-BEATS's ensembles do: member k reads (3, 5, 7)[k % 3] x horizon,
    rounded up to whole segments, at most half of what the shortest series leaves after its
    horizon and validation tail (so that every series keeps training windows), and never
    less than the 3 x horizon rule. `lookbacks` given: members read those, in turn.
    """
    given = [("--horizon", horizon), ("--lookback", lookback), ("--segment", segment)]
    for name, value in [*given, *(("--lookbacks", n) for n in lookbacks)]:
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    if lookback is not None and lookbacks:
        raise ConfigError(
            "give --lookback (every member) or --lookbacks (one per member), not both"
        )
    h = horizon if horizon is not None else series.axis.default_horizon
    v = val_size if val_size is not None else h
    chosen = list(lookbacks) or ([lookback] if lookback is not None else [])
    for n in chosen:
        if segment is not None and n % segment:
            lower, upper = n // segment * segment, -(-n // segment) * segment
            name = "--lookbacks" if lookbacks else "--lookback"
            raise ConfigError(
                f"{name} {n} is not a multiple of --segment {segment}: use "
                + (f"{lower} or {upper}" if lower else f"{upper}")
            )
    if segment is None:
        segment = default_segment(
            series.axis.season_length, chosen[0] if chosen else LOOKBACK_PER_HORIZON * h
        )
        while any(n % segment for n in chosen):
            segment -= 1  # the largest segment at most the default that divides the lookbacks
    if not chosen:
        chosen = default_lookbacks(h, v, segment, int(series.lengths.min()), members)
    window = WindowConfig(
        lookback=chosen[0],
        horizon=h,
        val_size=v,
        lookbacks=tuple(chosen) if len(set(chosen)) > 1 else (),
    )
    periods = calendar_periods(series.axis) if calendar else ()
    ids = len(series) if model.id_embedding else 0
    count = 0 if series.covariates is None else series.covariates.shape[1]
    return window, dataclasses.replace(
        model,
        segment=segment,
        calendar=periods,
        ids=ids,
        covariate_count=count,
        transform=transform.resolve(series, model.transform),
    )


def prepare(
    series: SeriesSet,
    model: ModelConfig,
    options: ReadOptions,
    horizon: int | None = None,
    lookback: int | None = None,
    val_size: int | None = None,
    segment: int | None = None,
    lookbacks: tuple[int, ...] = (),
    members: int = 1,
    holdout: int = 0,
    calendar: bool = False,
) -> tuple[SeriesSet, WindowConfig, ModelConfig, list[tuple[str, str]]]:
    """What `train` does between reading the data and fitting: hold out the last `holdout`
    steps, choose the window shapes (`resolve_shapes`), leave out series too short for them
    (`options.skip_short`). Returns the series, the shapes, and ('info' | 'warning', text)
    notes for the user."""
    notes: list[tuple[str, str]] = []
    if holdout:
        series = hold_out(series, holdout)
        notes.append(
            ("info", f"holding out the last {holdout} steps of each series for 'rnncast evaluate'")
        )
    asked = model.transform
    window, model = resolve_shapes(
        series, model, horizon, lookback, val_size, segment, lookbacks, members, calendar
    )
    if asked == "auto" and model.transform == "log":
        notes.append(
            ("info", "modelling the log of the values, since every one is above 0; forecasts "
             "will need histories above 0 too (--transform none models the values as they are)")
        )  # fmt: skip
    if options.skip_short:
        longest = max(window.lookbacks or (window.lookback,))
        need = longest + window.horizon
        what = f"lookback {longest} + horizon {window.horizon} = {need} values"
        series, note = leave_out_short(series, need, what)
        if note:
            notes.append(("warning", note))
    return series, window, model, notes


def default_lookbacks(
    horizon: int, val_size: int, segment: int, shortest: int, members: int
) -> list[int]:
    """Member k's lookback: (3, 5, 7)[k % 3] x horizon in whole segments, at most half of
    what the shortest series leaves after horizon and validation, at least 3 x horizon."""

    def whole(n: int) -> int:
        return -(-n // segment) * segment

    base = whole(LOOKBACK_PER_HORIZON * horizon)
    cap = (shortest - horizon - val_size) // 2 // segment * segment
    spread = [whole(m * horizon) for m in MEMBER_LOOKBACKS_PER_HORIZON]
    return [max(base, min(spread[k % len(spread)], cap)) for k in range(members)]


def default_segment(season_length: int, lookback: int) -> int:
    if 2 <= season_length <= 24:
        return season_length
    return max(1, -(-lookback // 8))


def fit(
    series: SeriesSet,
    window: WindowConfig,
    model: ModelConfig,
    config: TrainConfig,
    read_options: ReadOptions | None = None,
    data_path: str | None = None,
    on_event: Callable[[events.Event], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: str | Path | None = None,
    resume: checkpoint.Checkpoint | None = None,
    on_saved: Callable[[str], None] | None = None,
) -> tuple[Artifact, list[events.TrainResult]]:
    """Train `config.ensemble` networks (seeds seed, seed + 1, ...) on every series; return
    the model file's contents and each network's training result.

    `should_stop` is asked after every batch (`events.TrainingStopped` when it says yes);
    with `checkpoint_path` the whole training state is saved there after every epoch, and
    `resume` (a loaded checkpoint of the same settings and data) continues from it;
    `on_saved` hears where training stands after each save (`Checkpoint.describe`).

    In a torch.distributed process group (`rnncast.distributed.session`) every process
    calls this alike; only rank 0 writes the checkpoint (every process hears `on_saved`)."""
    check_together(model, config)
    model = dataclasses.replace(model, transform=transform.resolve(series, model.transform))
    transform.check(series, model.transform, "fix those values, or train with --transform none")
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

    results = [
        events.TrainResult.from_plain(
            plain, models.build(model, window.member(k).lookback, window.horizon)
        )
        for k, plain in enumerate(state.finished)
    ]  # fmt: skip
    for k in range(len(results), config.ensemble):
        member = k + 1
        now = state.current
        seeded = dataclasses.replace(config, seed=config.seed + k)
        if model.cell == "esn":  # a closed-form readout: no epochs, nothing to resume
            result = esn.fit(series, window.member(k), model, seeded, on_event, member,
                             should_stop)  # fmt: skip
        else:
            result = loop.fit(
                series, window.member(k), model, seeded, on_event,
                member=member, should_stop=should_stop,
                resume=now["state"] if now is not None and now["member"] == member else None,
                on_checkpoint=lambda snapshot, m=member: keep({"member": m, "state": snapshot}),
            )  # fmt: skip
        results.append(result)
        state.finished.append(result.to_plain())
        keep(None)
    history = [{"member": k + 1, **row} for k, r in enumerate(results) for row in r.history]
    artifact = Artifact(
        read_options=read_options or ReadOptions(),
        schema=series.schema,
        axis=series.axis,
        window=window,
        model=model,
        train=config,
        weights=[r.network.state_dict() for r in results],
        data_path=data_path or "",
        data_abspath=os.path.abspath(data_path) if data_path else "",
        series_ids=[str(i) for i in series.ids],
        units=series_units(series, model),
        cutoffs=_as_plain_times(series.ends),
        values=len(series.values),
        fingerprint=fingerprint,
        history=history,
        summary={
            "series": len(series),
            "members": len(results),
            "best_epoch": [r.best_epoch for r in results],
            "best_val_loss": [r.best_val_loss for r in results],
            "epochs": [len(r.history) for r in results],
            "steps": [r.steps for r in results],
            "stopped": [r.stopped for r in results],
            "seconds": round(sum(r.seconds for r in results), 3),
            "device": results[0].device,
            "processes": world.size,
            "train_windows": results[0].train_windows,
            "val_windows": results[0].val_windows,
            "parameters": models.count_parameters(results[0].network) * len(results),
        },
    )
    if model.quantiles:
        artifact.intervals = calibrate_intervals(artifact, series, results[0].device)
    return artifact, results


def series_units(series: SeriesSet, model: ModelConfig) -> np.ndarray:
    """Each training series' unit under 'series' scaling (its standard deviation over the
    training data, as training measured it), kept in the model file so that `predict` and
    `evaluate` scale a known series as training did, whatever history they are given; empty
    for the other scalings."""
    if model.scaling != "series":
        return np.zeros(0, dtype=np.float32)
    return scaling.series_units(series.values, series.offsets, model.logs)


def calibrate_intervals(artifact: Artifact, series: SeriesSet, device: str = "cpu") -> dict:
    """Width factors that make each central interval cover its nominal share of the
    validation windows (`rnncast.intervals`); {} without validation."""
    window = artifact.window
    longest = WindowConfig(window.longest, window.horizon, window.val_size)
    _, starts = split_windows(series.offsets, longest)
    if not len(starts):
        return {}
    codes = np.arange(1, len(series) + 1)  # the training series, in order
    units = artifact.units if len(artifact.units) else None  # training's, same order
    out = forecast.series_outputs(artifact.network(device), series, starts, device=device,
                                  codes=codes, units=units)  # fmt: skip
    targets = series.values[starts[:, None] + longest.lookback + np.arange(window.horizon)]
    return intervals.calibrate(out, targets)


def leave_out_short(
    series: SeriesSet, need: int, what: str, fix: str = "pass a smaller --lookback"
) -> tuple[SeriesSet, str | None]:
    """`--skip-short`: the series with at least `need` values (`what` says why that many,
    e.g. 'lookback 48 + horizon 12 = 60 values'), and a warning naming those left out (None
    when none were)."""
    count, names = series.shorter_than(need)
    if not count:
        return series, None
    if count == len(series):
        raise DataError(f"every series is shorter than {what} ({names}): pass a smaller --lookback")
    return series.subset(series.lengths >= need), (
        f"--skip-short: left out {count} series shorter than {what}: {names}"
    )


def hold_out(series: SeriesSet, steps: int) -> SeriesSet:
    """The series without their last `steps` values (kept back for an honest `evaluate`)."""
    if steps < 0:
        raise ConfigError(f"--holdout must be 0 or more, got {steps}")
    if steps == 0:
        return series
    lengths = series.lengths - steps
    if (lengths < 1).any():
        i = int(np.flatnonzero(lengths < 1)[0])
        raise DataError(
            f"--holdout {steps} leaves nothing of series '{series.ids[i]}' "
            f"({series.lengths[i]} values): hold out fewer steps"
        )
    keep = np.ones(len(series.values), dtype=bool)
    keep[ranged_starts(series.offsets, lengths, series.lengths - 1)] = False
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return dataclasses.replace(
        series,
        values=series.values[keep],
        covariates=None if series.covariates is None else series.covariates[keep],
        offsets=offsets,
        ends=series.axis.at(series.starts, lengths - 1),
    )


def _as_plain_times(times: pd.Index) -> list[Any]:
    if isinstance(times, pd.DatetimeIndex):
        return [t.isoformat() for t in times]
    return [int(t) for t in times]


def load_data_for(artifact: Artifact, path: str | None, fill: str | None = None) -> SeriesSet:
    """Read `path`, or the model's own training data when `path` is None, the way the model
    was trained (but with `fill`, when given), and check that it is laid out as the training
    data was and that its times advance as the model's did."""
    if path is None:
        recorded = artifact.data_abspath or artifact.data_path
        if not recorded:
            raise DataError("the model does not record its training data: pass DATA")
        if not Path(recorded).exists():
            raise DataError(
                f"the training data recorded in the model ('{artifact.data_path}') no longer "
                "exists: pass DATA"
            )
        path = recorded
    series = read_data(path, read_options_for(artifact, fill))
    check_like_training(artifact, series)
    return series


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


def check_horizon(artifact: Artifact, horizon: int | None) -> int:
    """The horizon to forecast: the trained one by default, never more."""
    trained = artifact.window.horizon
    h = trained if horizon is None else horizon
    if h < 1:
        raise ConfigError(f"--horizon must be at least 1, got {h}")
    if h > trained:
        raise ConfigError(
            f"--horizon {h} is beyond what the model was trained for ({trained}): use 1 to "
            f"{trained}, or retrain with --horizon {h}"
        )
    return h


def check_transform(artifact: Artifact, series: SeriesSet) -> None:
    """`series` must be values the model's transform can take (`rnncast.transform`)."""
    transform.check(
        series,
        artifact.model.transform,
        "the model was trained with it; fix those values, or retrain with --transform none",
    )


def predict(
    artifact: Artifact, series: SeriesSet, horizon: int | None = None, device: str = "auto"
) -> pd.DataFrame:
    """Forecast the next `horizon` (default: the trained horizon) values of every series."""
    h = check_horizon(artifact, horizon)
    check_transform(artifact, series)
    dev = distributed.device_for(devices.resolve_device(device), distributed.current())
    codes = forecast.id_codes(artifact.series_ids, series)
    units = forecast.known_units(artifact.series_ids, artifact.units, series.ids)
    network = artifact.network(dev)
    return forecast.forecast_frame(network, series, h, dev, artifact.intervals, codes, units)


def evaluate(
    artifact: Artifact, series: SeriesSet, windows: int = 1, device: str = "auto"
) -> dict[str, Any]:
    """Backtest the last `windows` horizons of every series against naive baselines."""
    return run_backtest(artifact, series, windows, device).report


def run_backtest(
    artifact: Artifact, series: SeriesSet, windows: int = 1, device: str = "auto"
) -> backtest.Backtest:
    """`evaluate`, keeping every window's actuals and forecasts."""
    if windows < 1:
        raise ConfigError(f"--windows must be at least 1, got {windows}")
    check_transform(artifact, series)
    dev = devices.resolve_device(device)
    cutoffs = dict(zip(artifact.series_ids, artifact.cutoffs, strict=True))
    codes = forecast.id_codes(artifact.series_ids, series)
    units = forecast.known_units(artifact.series_ids, artifact.units, series.ids)
    result = backtest.run(
        artifact.network(dev), series, windows, cutoffs, dev, artifact.intervals, codes, units
    )
    result.report["data_fingerprint_matches_training"] = (
        series.fingerprint() == artifact.fingerprint
    )
    return result
