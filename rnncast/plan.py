"""A training request and the data it reads -> the resolved plan: every setting the data
decide is chosen here, with a note for the person where a choice is worth saying.

What is chosen (each only where the request leaves it unset):

- horizon: by frequency (M4's: hourly 48, daily 14, weekly 13, monthly 18, quarterly 8,
  yearly 6; 10 for integer steps);
- segment: the seasonal period when it is 2 to 24 steps (hourly 24, daily 7, monthly 12,
  quarterly 4), else lookback / 8 rounded up (the largest at most that which divides every
  given lookback);
- lookback: 3 x horizon, rounded up to whole segments; ensembles read different lookbacks,
  as N-BEATS's ensembles do: member k reads (3, 5, 7)[k % 3] x horizon, rounded up to whole
  segments, at most half of what the shortest series leaves after its horizon and validation
  tail (so that every series keeps training windows), and never less than the 3 x horizon
  rule;
- validation: a tail long enough for 256 validation windows over all series (each series
  holds tail - horizon + 1), at most a tenth of the shortest series, at least one horizon;
- transform: 'auto' becomes 'log' when every training value is above 0, else 'none';
- clip: 'auto' becomes 'zero' (forecasts below 0 raised to 0) when no training value is
  below 0, else 'none';
- calendar periods (`--calendar`), the number of series ids an id embedding knows, and the
  numbers of past and future-known covariates: from the data.

`--holdout` steps are cut from every series first; `--skip-short` then leaves out the
series too short for the chosen window.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncast.data.calendar import periods as calendar_periods
from rnncast.data.series import SeriesSet
from rnncast.data.timeaxis import LOOKBACK_PER_HORIZON
from rnncast.data.windows import ranged_starts
from rnncast.engine import transform
from rnncast.errors import ConfigError, DataError, Notice
from rnncast.settings import (
    CLI,
    ModelConfig,
    ReadOptions,
    Spelling,
    TrainConfig,
    TrainRequest,
    WindowConfig,
)

MEMBER_LOOKBACKS_PER_HORIZON = (3, 5, 7)  # ensemble members' lookbacks, in horizons
VAL_WINDOWS = 256  # validation windows the default tail aims for, all series together
VAL_SHARE = 0.1  # the most of the shortest series the default validation tail takes
Note = tuple[str, str]  # ('info' | 'warning', text)


@dataclass(frozen=True)
class Plan:
    """What training will do: the series it reads (held out, short ones left out), and the
    settings with every 'auto' and every unset window length resolved; `holdout`: the steps
    cut from the end of every series (--holdout)."""

    series: SeriesSet
    read: ReadOptions
    window: WindowConfig
    model: ModelConfig
    train: TrainConfig
    notes: tuple[Note, ...] = ()
    holdout: int = 0

    def resolved(self) -> dict[str, Any]:
        """The settings chosen from the data, as options (what `--print-config` fills in)."""
        window = self.window
        return {
            "horizon": window.horizon,
            "lookback": None if window.lookbacks else window.lookback,
            "lookbacks": ",".join(map(str, window.lookbacks)) or None,
            "val_size": window.val_size,
            "segment": self.model.segment,
            "transform": self.model.transform,
            "clip": self.model.clip,
        }


def make(request: TrainRequest, series: SeriesSet, spell: Spelling = CLI) -> Plan:
    """The plan for training on `series` as `request` asks (see the module docstring); its
    notes name options as `spell` does."""
    read, model, train = request.configs()
    # what reading found by itself (a sniffed separator, the date order, long data's
    # columns) the model keeps as if given, so that predict reads tomorrow's data alike
    unset = {k: v for k, v in series.read_as.items() if getattr(read, k) in (None, ())}
    read = dataclasses.replace(read, **unset)
    notes: list[Note] = []
    if request.holdout:
        series = hold_out(series, request.holdout, spell)
        notes.append(("info", f"holding out the last {request.holdout} steps of each series "
                              "for 'rnncast evaluate'"))  # fmt: skip
    window, resolved = resolve(request, series, model, spell)
    notes += _lookbacks_cut(request, series, window, resolved.segment, spell)
    if model.transform == "auto" and resolved.transform == "log":
        notes.append(
            ("info", "modelling the log of the values, since every one is above 0; forecasts "
             f"will need histories above 0 too ({spell('transform', 'none')} models the "
             "values as they are)")
        )  # fmt: skip
    notes += _clip_chosen(model, resolved, spell)
    if read.skip_short:
        longest = window.longest
        need = longest + window.horizon
        what = f"lookback {longest} + horizon {window.horizon} = {need} values"
        fix = f"pass a smaller {spell.name('lookback')}"
        series, note = leave_out_short(series, need, what, fix, spell.name("skip_short"))
        if note:
            notes.append(("warning", note))
    return Plan(series, read, window, resolved, train, tuple(notes), request.holdout)


def resolve(
    request: TrainRequest, series: SeriesSet, model: ModelConfig, spell: Spelling = CLI
) -> tuple[WindowConfig, ModelConfig]:
    """The window, and `model` with its segment, calendar periods, id count, covariate
    counts and transform, for `series` (see the module docstring)."""
    h = request.horizon if request.horizon is not None else series.axis.default_horizon
    shortest = int(series.lengths.min())
    v = request.val_size
    if v is None:
        v = default_val_size(h, len(series), shortest)
    chosen = _given_lookbacks(request, spell)
    segment = request.segment
    if segment is None:
        first = chosen[0] if chosen else LOOKBACK_PER_HORIZON * h
        segment = default_segment(series.axis.season_length, first)
        while any(n % segment for n in chosen):
            segment -= 1  # the largest segment at most the default that divides the lookbacks
    if not chosen:
        chosen = default_lookbacks(h, v, segment, shortest, request.ensemble)
    window = WindowConfig(
        lookback=chosen[0],
        horizon=h,
        val_size=v,
        lookbacks=tuple(chosen) if len(set(chosen)) > 1 else (),
    )
    return window, dataclasses.replace(
        model,
        segment=segment,
        calendar=calendar_periods(series.axis) if request.calendar else (),
        ids=len(series) if model.id_embedding else 0,
        covariate_count=0 if series.covariates is None else series.covariates.shape[1],
        future_covariate_count=0 if series.known is None else series.known.shape[1],
        transform=transform.resolve(series, model.transform),
        clip=transform.resolve_clip(series, model.clip),
    )


def _clip_chosen(asked: ModelConfig, resolved: ModelConfig, spell: Spelling) -> list[Note]:
    """A note when `--clip auto` chose to clip forecasts at 0 and that can matter: not under
    logs, whose forecasts (exp of a log) are above 0 anyway."""
    if asked.clip != "auto" or resolved.clip != "zero" or resolved.transform == "log":
        return []
    return [("info", "clipping forecasts at 0, since no training value is below 0 "
                     f"({spell('clip', 'none')} lets them go below)")]  # fmt: skip


def _given_lookbacks(request: TrainRequest, spell: Spelling = CLI) -> list[int]:
    """The lookbacks the request gives (none, one for every member, or one per member),
    checked against each other, the ensemble and a given segment."""
    given = [
        ("horizon", request.horizon),
        ("lookback", request.lookback),
        ("segment", request.segment),
        *(("lookbacks", n) for n in request.lookbacks),
    ]
    for name, value in given:
        if value is not None and value < 1:
            raise ConfigError(f"{spell.name(name)} must be at least 1, got {value}")
    if request.lookback is not None and request.lookbacks:
        raise ConfigError(
            f"give {spell.name('lookback')} (every member) or {spell.name('lookbacks')} (one "
            "per member), not both"
        )
    if len(request.lookbacks) > request.ensemble:
        raise ConfigError(
            f"{spell.name('lookbacks')} gives {len(request.lookbacks)} lookbacks for "
            f"{spell('ensemble', request.ensemble)} (one per member): give at most "
            f"{request.ensemble}, or pass {spell('ensemble', len(request.lookbacks))}"
        )
    chosen = list(request.lookbacks) or ([request.lookback] if request.lookback is not None else [])
    segment = request.segment
    for n in chosen:
        if segment is not None and n % segment:
            lower, upper = n // segment * segment, -(-n // segment) * segment
            name = spell.name("lookbacks" if request.lookbacks else "lookback")
            raise ConfigError(
                f"{name} {n} is not a multiple of {spell('segment', segment)}: use "
                + (f"{lower} or {upper}" if lower else f"{upper}")
            )
    return chosen


def _lookbacks_cut(request: TrainRequest, series: SeriesSet, window: WindowConfig,
                   segment: int, spell: Spelling) -> list[Note]:  # fmt: skip
    """A note when the ensemble's default lookbacks (3, 5, 7 x horizon) were cut to fit the
    shortest series: what the members read instead, and why."""
    if request.lookbacks or request.lookback is not None or request.ensemble < 2:
        return []
    h, v, shortest = window.horizon, window.val_size, int(series.lengths.min())
    spread = default_lookbacks(h, v, segment, 10**12, request.ensemble)
    chosen = [window.member(k).lookback for k in range(request.ensemble)]
    if chosen == spread:
        return []
    reads = (f"every member reads lookback {chosen[0]}" if len(set(chosen)) == 1
             else f"the members read lookbacks {', '.join(map(str, chosen))}")  # fmt: skip
    why = (f"a lookback is kept to half of what the shortest series ({shortest} values) leaves "
           f"after horizon {h} and validation {v}, and to at least 3 x horizon")  # fmt: skip
    rule = f"{', '.join(map(str, spread))} (3, 5, 7 x horizon in turn)"
    return [("info", f"ensemble: {reads}, not {rule}: {why}; pass {spell.name('lookbacks')} to "
                     "choose them")]  # fmt: skip


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


def default_val_size(horizon: int, series: int, shortest: int) -> int:
    """The validation tail: enough steps that the series hold `VAL_WINDOWS` validation
    windows between them (each series holds tail - horizon + 1), at most `VAL_SHARE` of the
    shortest series, and never less than one horizon."""
    want = horizon - 1 + -(-VAL_WINDOWS // max(series, 1))
    return max(horizon, min(want, int(VAL_SHARE * shortest)))


def default_segment(season_length: int, lookback: int) -> int:
    """The seasonal period when it is 2 to 24 steps, else an eighth of the lookback."""
    if 2 <= season_length <= 24:
        return season_length
    return max(1, -(-lookback // 8))


def leave_out_short(
    series: SeriesSet,
    need: int,
    what: str,
    fix: str = "pass a smaller --lookback",
    option: str = "--skip-short",
) -> tuple[SeriesSet, str | None]:
    """The series with at least `need` values (`what` says why that many, e.g. 'lookback 48
    + horizon 12 = 60 values'), and a warning naming those left out, as `option` left them
    (None when none were); when every series is too short, a `DataError` ending in `fix`."""
    count, names = series.shorter_than(need)
    if not count:
        return series, None
    if count == len(series):
        raise DataError(f"every series is shorter than {what} ({names}): {fix}")
    short = series.lengths < need
    return series.subset(~short), Notice(
        f"{option}: left out {count} series shorter than {what}: {names}",
        kind="left_out_short", left_out=count, need=need, series=series.ids[short].tolist(),
    )  # fmt: skip


def hold_out(series: SeriesSet, steps: int, spell: Spelling = CLI) -> SeriesSet:
    """The series without their last `steps` values (kept back for an honest `evaluate`);
    their future-known covariates stay, known for the steps held out as for those after."""
    if steps < 0:
        raise ConfigError(f"{spell.name('holdout')} must be 0 or more, got {steps}")
    if steps == 0:
        return series
    lengths = series.lengths - steps
    if (lengths < 1).any():
        i = int(np.flatnonzero(lengths < 1)[0])
        raise DataError(
            f"{spell('holdout', steps)} leaves nothing of series '{series.ids[i]}' "
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
