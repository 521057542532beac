"""A frame in any layout -> a validated `SeriesSet`: rows sorted per series, duplicates,
missing and infinite values, values too large for float32, times off the grid and gaps found
(or, with `--fill`, filled), the time axis inferred, past covariates aligned."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from rnncast.data.columns import Found, Located, parse_times, parse_values, utc_note
from rnncast.data.filling import fill_missing
from rnncast.data.schema import detect_schema
from rnncast.data.series import Schema, SeriesSet
from rnncast.data.timeaxis import TimeAxis, infer_datetime_freq, parse_freq
from rnncast.errors import DataError
from rnncast.settings import ReadOptions

FILL_HINT = "--fill ffill, interpolate or zero"
FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # the least normal float32 above 0


def too_close_to_zero(x: np.ndarray) -> np.ndarray:
    """Where `x` is non-zero yet below float32's least normal: float32 keeps such a value
    only as a denormal or as 0, at the wrong scale."""
    return (x != 0) & (np.abs(x) < FLOAT32_TINY)


def from_frame(
    df: pd.DataFrame,
    options: ReadOptions | None = None,
    source: str = "<frame>",
    kind: str = "frame",
    found: Found | None = None,
) -> SeriesSet:
    """Validate a DataFrame and turn it into a SeriesSet (`kind` 'csv' / 'parquet' / 'frame'
    only changes how rows are named in messages; `found`: what reading the file found out
    by itself, added to with what the frame shows, in the set's `detected` and `read_as`)."""
    options = options or ReadOptions()
    loc = Located(source, "csv" if kind == "csv" else "parquet", found)
    # A named or datetime index (a Parquet file written from such a frame) is data.
    keep_index = isinstance(df.index, pd.DatetimeIndex) or any(
        name is not None for name in df.index.names
    )
    df = df.reset_index(drop=not keep_index)
    df.columns = [str(c) for c in df.columns]
    if len(df.columns) > 1 and df.columns[0].startswith("Unnamed: 0"):
        first = df.iloc[:, 0]  # the row numbers pandas' to_csv writes by default
        if pd.api.types.is_integer_dtype(first) and (first.to_numpy() == np.arange(len(df))).all():
            df = df.iloc[:, 1:]
    schema = detect_schema(df, options, source, loc.found)
    if schema.layout == "long":
        ids = df[schema.id_col]
        if ids.isna().any():
            row = int(np.flatnonzero(ids.isna().to_numpy())[0])
            raise DataError(
                f"column '{schema.id_col}' in '{source}' has an empty series id at {loc.at(row)}: "
                "give every row an id"
            )
        codes, uniques = pd.factorize(ids, sort=False)
        times = parse_times(df[schema.time_col], schema.time_col, loc, options)
        values = parse_values(df[schema.target], schema.target, loc)
        rows = np.arange(len(df))
        uniques = np.asarray(uniques, dtype=object)
    else:
        for given, option in ((options.covariates, "--covariates"),
                              (options.future_covariates, "--future-covariates")):  # fmt: skip
            if given:
                raise DataError(
                    f"{option} needs long data (one row per series and time, covariates as "
                    f"columns beside the value), but '{source}' is laid out as "
                    f"{schema.describe()}"
                )
        codes, uniques, times, values, rows = _unpivot(df, schema, loc, options)
    data = _Rows.sorted(codes, uniques, times, values, rows, schema, loc, options)
    history = _history(data) if options.future_covariates else data
    series = _assemble(history)
    if series.axis.tz == "UTC" and schema.time_col in df.columns:
        series.notes += utc_note(df[schema.time_col], schema.time_col, source)
    if options.covariates:
        series.covariates = _covariates(df, history, options.covariates)
    if options.future_covariates:
        _check_future_grid(data, series.axis)
        series.known = _covariates(df, data, options.future_covariates, future=True)
        series.known_offsets = data.offsets
    series.detected, series.read_as = tuple(loc.found.notes), dict(loc.found.options)
    return series


def _history(data: _Rows) -> _Rows:
    """Long data read with future covariates: the rows up to each series' last value. The
    rows after it (the target empty) give only the future covariates of the steps to
    forecast; a series with no value at all is refused."""
    present = np.where(~np.isnan(data.values), np.arange(len(data.values)), -1)
    last = np.maximum.reduceat(present, data.first)  # each series' last row with a value
    empty = np.flatnonzero(last < data.first)
    if len(empty):
        i = int(data.first[empty[0]])
        raise DataError(
            f"series {data.label(i)} in '{data.loc.name}' has no values in column "
            f"'{data.schema.target}', only rows with its future covariates (first: "
            f"{data.times[i]}, {data.loc.at(int(data.rows[i]))}): give it values, or drop "
            "its rows"
        )
    return data.take(np.arange(len(data.values)) <= last[data.codes])


def _check_future_grid(data: _Rows, axis: TimeAxis) -> None:
    """Every series' rows, those after its last value too, one grid step apart: no
    repeated time, none off the grid, no step left out."""
    _check_duplicates(data)
    pos = axis.positions(data.times, data.first, data.codes)
    bad = np.flatnonzero(pos != np.arange(len(pos)) - data.first[data.codes])
    if not len(bad):
        return
    i, loc = int(bad[0]), data.loc
    if pos[i] < 0:
        _check_grid(data, axis, pos)  # names the time off the grid
    skipped = int(pos[i] - pos[i - 1] - 1)
    raise DataError(
        f"series {data.label(i)} in '{loc.name}' skips {skipped} step{'s' if skipped > 1 else ''}"
        f" of the {axis.describe()} grid before {data.times[i]} ({loc.at(int(data.rows[i]))}), "
        "in the rows after its last value: give one row per step, with the future "
        "covariates filled and the target empty"
    )


def _covariates(df: pd.DataFrame, data: _Rows, names: tuple[str, ...],
                future: bool = False) -> np.ndarray:  # fmt: skip
    """Covariate columns `names` in the order of `data`'s rows: (rows, C) float32. They
    must be finite (`--fill` does not fill them yet); `future`: the future-known ones, whose
    message names the time."""
    loc = data.loc
    out = np.empty((len(data.rows), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        column = parse_values(df[name], name, loc)[data.rows]
        bad = ~np.isfinite(column)
        if bad.any():
            i, count = int(np.flatnonzero(bad)[0]), int(bad.sum())
            values = f"value{'s' if count > 1 else ''}"
            if future:
                raise DataError(
                    f"future covariate column '{name}' in '{loc.name}' has {count} missing or "
                    f"infinite {values} (first: series {data.label(i)} at {data.times[i]}, "
                    f"{loc.at(int(data.rows[i]))}): fill them, in the rows after each series' "
                    "last value too"
                )
            raise DataError(
                f"covariate column '{name}' in '{loc.name}' has {count} missing or infinite "
                f"{values} (first: series {data.label(i)}, {loc.at(int(data.rows[i]))}): "
                "fill them"
            )
        with np.errstate(over="ignore"):
            out[:, j] = column
    if not np.isfinite(out).all():
        raise DataError(
            f"a covariate column in '{loc.name}' has values too large for float32: rescale it"
        )
    if too_close_to_zero(out).any():
        raise DataError(
            f"a covariate column in '{loc.name}' has values too close to zero for float32: "
            "rescale it"
        )
    return out


def _unpivot(df: pd.DataFrame, schema: Schema, loc: Located, options: ReadOptions):
    """Wide or values layout -> long arrays. Leading and trailing empty cells of a column
    are where that series has not started or has ended; they are dropped."""
    n = len(df)
    if schema.has_time:
        times = parse_times(df[schema.time_col], schema.time_col, loc, options)
        order = np.argsort(times.to_numpy(), kind="stable")
        times = times[order]
        dup = np.flatnonzero(times[1:] == times[:-1])
        if len(dup):
            a, b = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
            raise DataError(
                f"column '{schema.time_col}' in '{loc.name}' repeats the time {times[dup[0] + 1]} "
                f"({loc.at(a)} and {loc.at(b)}; {len(dup)} repeat{'s' if len(dup) > 1 else ''} "
                "in all): keep one row per time"
            )
    else:
        order = np.arange(n)
        times = pd.Index(np.arange(n, dtype=np.int64))
    matrix = np.empty((len(schema.columns), n), dtype=np.float64)
    for j, name in enumerate(schema.columns):
        matrix[j] = parse_values(df[name], name, loc)[order]
    present = ~np.isnan(matrix)
    keep = np.zeros_like(present)
    for j in range(len(schema.columns)):  # one step per column, not per value
        idx = np.flatnonzero(present[j])
        if len(idx):
            keep[j, idx[0] : idx[-1] + 1] = True
    empty = [c for c, k in zip(schema.columns, keep.any(axis=1), strict=True) if not k]
    if empty:
        raise DataError(f"column '{empty[0]}' in '{loc.name}' has no values: drop it or fill it")
    codes = np.repeat(np.arange(len(schema.columns)), n)[keep.ravel()]
    flat_times = times[np.tile(np.arange(n), len(schema.columns))[keep.ravel()]]
    values = matrix[keep]
    rows = np.tile(order, len(schema.columns))[keep.ravel()]
    return codes, np.asarray(schema.columns, dtype=object), flat_times, values, rows


def _order(key: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
    """The stable order that sorts rows by series, then time; None when they already are
    (the usual case: no sort and no reordered copies of every column)."""
    if len(codes) < 2:
        return None
    same = codes[1:] == codes[:-1]
    if ((codes[1:] > codes[:-1]) | (same & (key[1:] >= key[:-1]))).all():
        return None
    return np.lexsort((key, codes))


@dataclass
class _Rows:
    """Every value of the data as long arrays sorted by series, then time: each row's
    series code (into `uniques`), time (and its integer `key`), value and row in the file;
    with the file's schema, how to name its rows, and the read options."""

    codes: np.ndarray
    uniques: np.ndarray
    times: pd.Index
    values: np.ndarray
    rows: np.ndarray
    key: np.ndarray  # the times as integers, in their own unit
    schema: Schema
    loc: Located
    options: ReadOptions

    @classmethod
    def sorted(cls, codes, uniques, times: pd.Index, values, rows, schema: Schema,
               loc: Located, options: ReadOptions) -> _Rows:  # fmt: skip
        is_datetime = isinstance(times, pd.DatetimeIndex)
        key = times.asi8 if is_datetime else np.asarray(times, dtype=np.int64)
        order = _order(key, codes)
        if order is not None:
            codes, times, values, rows, key = (
                codes[order], times[order], values[order], rows[order], key[order],
            )  # fmt: skip
        return cls(codes, uniques, times, values, rows, key, schema, loc, options)

    def take(self, keep: np.ndarray) -> _Rows:
        """The rows where `keep` is true, in order."""
        return dataclasses.replace(
            self, codes=self.codes[keep], times=self.times[keep], values=self.values[keep],
            rows=self.rows[keep], key=self.key[keep],
        )  # fmt: skip

    @cached_property
    def counts(self) -> np.ndarray:
        """Rows of each series."""
        return np.bincount(self.codes, minlength=len(self.uniques))

    @cached_property
    def offsets(self) -> np.ndarray:
        """Where each series' rows begin, then the total."""
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    @property
    def first(self) -> np.ndarray:
        """Each series' first row."""
        return self.offsets[:-1]

    def label(self, i: int) -> str:
        """Row i's series, quoted."""
        return f"'{self.uniques[self.codes[i]]}'"


def _assemble(data: _Rows) -> SeriesSet:
    """The series of `data`, checked: no duplicate rows, values float32 can hold, finite
    (unless filled), on one time grid without gaps (unless filled)."""
    _check_duplicates(data)
    filling = data.options.fill != "none"
    if not filling:
        _check_finite(data)
    _check_float32(data)
    offsets, first = data.offsets, data.first
    axis = _time_axis(data)
    pos = axis.positions(data.times, first, data.codes)
    span = _check_grid(data, axis, pos)
    values, starts, notes = data.values, data.times[first], ()
    if filling:
        values, offsets, starts, notes = _fill(data, pos, span, axis)
    return SeriesSet(
        ids=np.asarray(data.uniques, dtype=object),
        values=values.astype(np.float32),
        offsets=offsets,
        starts=starts,
        ends=data.times[data.offsets[1:] - 1],
        axis=axis,
        schema=data.schema,
        source=data.loc.name,
        notes=notes,
    )


def _check_duplicates(data: _Rows) -> None:
    codes, key, loc, schema = data.codes, data.key, data.loc, data.schema
    dup = np.flatnonzero((codes[1:] == codes[:-1]) & (key[1:] == key[:-1]))
    if len(dup):
        i = dup[0]
        a, b = sorted((int(data.rows[i]), int(data.rows[i + 1])))
        raise DataError(
            f"'{loc.name}' has {len(dup)} duplicate ({schema.id_col}, {schema.time_col}) row"
            f"{'s' if len(dup) > 1 else ''} (first: series {data.label(i)} at {data.times[i]}, "
            f"{loc.at(a)} and {loc.at(b)}): keep one row per series and time"
        )


def _check_float32(data: _Rows) -> None:
    """Every value float32 holds: none too large (it would become infinite) and none so
    close to zero that float32 keeps it only as a denormal or as 0 (values at the wrong
    scale); zero itself is fine."""
    values = data.values
    with np.errstate(over="ignore", invalid="ignore"):  # too-large values become inf
        big = np.isfinite(values) & ~np.isfinite(values.astype(np.float32))
    small = too_close_to_zero(values)
    for bad, what, fix in ((big, "large", "thousands"), (small, "close to zero", "millionths")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"series {data.label(i)} in '{data.loc.name}' has a value too {what} for "
                f"float32 at {data.loc.at(int(data.rows[i]))} ({values[i]:g}): rescale the data "
                f"(e.g. to {fix})"
            )


def _check_grid(data: _Rows, axis: TimeAxis, pos: np.ndarray) -> np.ndarray:
    """Every time on the axis's grid, and without gaps unless they are to be filled; returns
    each series' span of grid steps."""
    loc, counts, first = data.loc, data.counts, data.first
    off = np.flatnonzero(pos < 0)
    if len(off):
        i = off[0]
        raise DataError(
            f"series {data.label(i)} in '{loc.name}' has a time off the {axis.describe()} grid "
            f"({loc.at(int(data.rows[i]))}: {data.times[i]}): make the times evenly spaced or "
            f"pass the right --freq{loc.swapped()}"
        )
    last = first + counts - 1
    span = pos[last] + 1
    gappy = np.flatnonzero(span != counts)
    if len(gappy) and data.options.fill == "none":
        s = gappy[0]
        seg = pos[first[s] : last[s] + 1]
        j = int(np.flatnonzero(np.diff(seg) > 1)[0])
        missing = int(span[gappy].sum() - counts[gappy].sum())
        raise DataError(
            f"'{loc.name}' has gaps in the {axis.describe()} time grid: {missing} missing "
            f"step{'s' if missing > 1 else ''} in {len(gappy)} series (first: series "
            f"'{data.uniques[s]}' skips {int(seg[j + 1] - seg[j] - 1)} after "
            f"{data.times[first[s] + j]}): add the missing rows with values, or pass {FILL_HINT}"
            f"{loc.swapped()}"
        )
    return span


def _fill(data: _Rows, pos: np.ndarray, span: np.ndarray, axis: TimeAxis):
    """Put the values on their full time grid, fill what is missing by `--fill`; returns
    (values, offsets, first times, notes saying what was filled)."""
    values, codes, uniques, loc = data.values, data.codes, data.uniques, data.loc
    times, method, first = data.times, data.options.fill, data.first
    grid_offsets = np.concatenate([[0], np.cumsum(span)]).astype(np.int64)
    grid = np.full(int(grid_offsets[-1]), np.nan)
    missing, infinite = np.isnan(values), np.isinf(values)
    grid[grid_offsets[codes] + pos] = np.where(infinite, np.nan, values)
    filled, offsets, dropped = fill_missing(grid, grid_offsets, method)
    empty = np.flatnonzero(np.diff(offsets) == 0)
    if len(empty):
        raise DataError(
            f"series '{uniques[empty[0]]}' in '{loc.name}' has no values: drop it or give it some"
        )
    kept = pos >= dropped[codes]  # values not left out at the start of their series
    missing, infinite = missing & kept, infinite & kept
    parts = [
        f"{count} {what} value{'s' if count > 1 else ''}"
        for count, what in ((int(missing.sum()), "missing"), (int(infinite.sum()), "infinite"))
        if count
    ]
    steps = int(len(grid) - len(values))
    if steps:
        parts.append(f"{steps} step{'s' if steps > 1 else ''} missing from the time grid")
    notes = []
    if parts:
        touched = np.zeros(len(uniques), dtype=bool)
        touched[codes[missing | infinite]] = True
        touched[span != data.counts] = True
        notes.append(
            f"--fill {method}: filled {_and(parts)} in {int(touched.sum())} series of '{loc.name}'"
        )
    lead = int(dropped.sum())
    if lead:
        notes.append(
            f"--fill {method}: left out {lead} missing value{'s' if lead > 1 else ''} at the "
            f"start of {int((dropped > 0).sum())} series (nothing before them to fill from)"
        )
    return filled, offsets, axis.at(times[first], dropped), tuple(notes)


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _check_finite(data: _Rows) -> None:
    values, times, rows, schema, loc = data.values, data.times, data.rows, data.schema, data.loc
    nan, inf = np.isnan(values), np.isinf(values)
    if not (nan.any() or inf.any()):
        return
    parts = []
    for mask, what in ((nan, "missing"), (inf, "infinite")):
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            count = int(mask.sum())
            parts.append(
                f"{count} {what} value{'s' if count > 1 else ''} (first: series {data.label(i)} at "
                f"{times[i]}, {loc.at(int(rows[i]))})"
            )
    where, has = (
        (f"column '{schema.target}'", "has")
        if schema.layout == "long"
        else ("the value columns", "have")
    )
    raise DataError(
        f"{where} in '{loc.name}' {has} {' and '.join(parts)}: fill or remove them, or pass "
        f"{FILL_HINT}"
    )


def _time_axis(data: _Rows) -> TimeAxis:
    """The time axis: integer steps (their greatest common step, or --freq), or datetimes
    of the frequency --freq names or the longest series shows."""
    times, key, codes, options = data.times, data.key, data.codes, data.options
    loc, schema, first, counts = data.loc, data.schema, data.first, data.counts
    if not isinstance(times, pd.DatetimeIndex):
        if options.freq is not None:
            try:
                step = int(options.freq)
            except ValueError:
                raise DataError(
                    f"--freq '{options.freq}' does not fit the integer times in column "
                    f"'{schema.time_col}' of '{loc.name}': give a whole-number step, e.g. --freq 1"
                ) from None
            if step < 1:
                raise DataError(f"--freq must be a positive step for integer times, got {step}")
            return TimeAxis("integer", step=step)
        same = np.diff(codes) == 0
        diffs = np.diff(key)[same]
        diffs = diffs[diffs > 0]
        step = int(np.gcd.reduce(diffs)) if len(diffs) else 1
        return TimeAxis("integer", step=max(step, 1))
    tz = None if times.tz is None else str(times.tz)
    if options.freq is not None:
        return TimeAxis("datetime", freq=parse_freq(options.freq).freqstr, tz=tz)
    if counts.max() < 3:
        raise DataError(
            f"cannot infer the frequency of column '{schema.time_col}' in '{loc.name}': no "
            "series has 3 or more times; pass --freq (e.g. h, D, W-SUN, MS)"
        )
    for s in np.argsort(-counts, kind="stable")[:5]:
        offset = infer_datetime_freq(times[first[s] : first[s] + counts[s]])
        if offset is not None:
            return TimeAxis("datetime", freq=offset.freqstr, tz=tz)
    raise DataError(
        f"cannot infer the frequency of column '{schema.time_col}' in '{loc.name}': the times "
        "are irregular or have gaps; pass --freq (e.g. h, D, W-SUN, MS) to check them against"
        f"{loc.swapped()}"
    )
