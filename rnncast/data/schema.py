"""Which layout a frame is in (long, wide or values) and which columns hold the ids, the
times and the values, from the columns themselves and the options that name them."""

from __future__ import annotations

import dataclasses
import difflib
import warnings

import pandas as pd

from rnncast.data.columns import Found, bool_column, numeric_like
from rnncast.data.series import DEFAULT_ID, DEFAULT_TARGET, DEFAULT_TIME, Schema
from rnncast.errors import DataError, MissingColumn
from rnncast.settings import ReadOptions

TIME_NAMES = {
    "ds", "date", "time", "timestamp", "datetime", "period", "month", "year", "week", "day",
    "hour", "t", "step", "index",
}  # fmt: skip


def _missing_column(name: str, columns: list[str], where: str, option: str) -> DataError:
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    return MissingColumn(
        name, f"column '{name}' not found in '{where}' (columns: {shown})",
        f"{hint}name the right column with {option}", option, close[0] if close else None,
    )  # fmt: skip


def detect_schema(df: pd.DataFrame, options: ReadOptions, where: str,
                  found: Found | None = None) -> Schema:  # fmt: skip
    """Decide the layout from the columns and the options (long data found without its
    options is noted in `found`)."""
    columns = [str(c) for c in df.columns]
    if options.id_col is not None or DEFAULT_ID in columns:
        return long_schema(columns, options, where)
    long = _long_columns(df, columns, options, where)
    if long is not None:
        schema = long_schema(columns, long, where)
        if found is not None:
            found.add(
                f"read '{where}' as long data: series id '{schema.id_col}', time "
                f"'{schema.time_col}', value '{schema.target}' (detected: name them with "
                "--id-col, --time-col, --target to read it otherwise)",
                id_col=schema.id_col, time_col=schema.time_col, target=(schema.target,),
            )  # fmt: skip
        return schema
    time_col = options.time_col
    if time_col is not None and time_col not in columns:
        raise _missing_column(time_col, columns, where, "--time-col")
    if time_col is None:
        time_col = _guess_time_column(df, columns)
    rest = [c for c in columns if c != time_col]
    if options.target:
        for t in options.target:
            if t not in columns:
                raise _missing_column(t, columns, where, "--target")
            if t == time_col:
                raise DataError(
                    f"--target '{t}' is the time column of '{where}': name the value columns"
                )
        series = list(options.target)
    else:
        for c in rest:
            if numeric_like(df[c]):
                continue
            if pd.api.types.is_bool_dtype(df[c]):
                raise bool_column(c, where)
            if options.time_col is None and _looks_like_times(df[c]):
                if time_col is not None:
                    raise DataError(
                        f"'{where}' has times in column '{c}' besides the time column "
                        f"'{time_col}': pick the value columns with --target, or the time "
                        f"column with --time-col {c}"
                    )
                raise DataError(
                    f"'{where}' has times in column '{c}', which is not the first column: name "
                    f"it with --time-col {c}"
                )
            raise DataError(
                f"'{where}' has a non-numeric column '{c}' besides the time column: for long "
                "data name the id column with --id-col, or pick the value columns with --target"
            )
        series = rest
    if not series:
        raise DataError(f"'{where}' has no value columns besides '{time_col}': add one")
    if time_col is None:
        return Schema("values", DEFAULT_ID, DEFAULT_TIME, DEFAULT_TARGET, tuple(series))
    return Schema("wide", DEFAULT_ID, time_col, DEFAULT_TARGET, tuple(series))


def _long_columns(df: pd.DataFrame, columns: list[str], options: ReadOptions,
                  where: str) -> ReadOptions | None:  # fmt: skip
    """The options that read `df` as long data when its columns show it: one text column
    (the series id), one time column and numeric columns, one of them the value (or
    --target's); None when they do not. Text columns or numeric columns that leave the
    roles open are an error naming every option needed."""
    if len(options.target) > 1 or (options.time_col and options.time_col not in columns):
        return None
    numeric = [c for c in columns if numeric_like(df[c])]
    kinds = {c: _kind(df[c]) for c in columns if c not in numeric}
    times = [options.time_col] if options.time_col else [c for c, k in kinds.items() if k == "time"]
    if not times:  # integer steps, named as times
        times = [c for c in numeric if c.strip().lower() in TIME_NAMES]
    text = [c for c, k in kinds.items() if k == "text" and c not in times]
    covariates = (*options.covariates, *options.future_covariates)
    values = [c for c in numeric if c not in times and c not in covariates]
    if len(times) != 1 or not text or not (values or options.target):
        return None
    time = times[0]
    value = options.target[0] if options.target else values[0]
    flags = f"--id-col {text[0]} --time-col {time} --target {value}"
    if len(text) > 1:
        raise DataError(
            f"'{where}' looks like long data (time '{time}') with {len(text)} text columns "
            f"({', '.join(text[:6])}): name the series id and value columns, e.g. {flags}"
        )
    if len(values) > 1 and not options.target:
        raise DataError(
            f"'{where}' looks like long data (series id '{text[0]}', time '{time}') with "
            f"{len(values)} numeric columns ({', '.join(values[:6])}): name the value column, "
            f"e.g. {flags} (or --target {','.join(values)} for one series per column)"
        )
    return dataclasses.replace(options, id_col=text[0], time_col=time, target=(value,))


def _kind(col: pd.Series) -> str:
    """A non-numeric column's kind: 'time', 'bool' or 'text'."""
    if pd.api.types.is_bool_dtype(col):
        return "bool"
    return "time" if _looks_like_times(col) else "text"


def long_schema(columns: list[str], options: ReadOptions, where: str) -> Schema:
    id_col = options.id_col or DEFAULT_ID
    time_col = options.time_col or DEFAULT_TIME
    if len(options.target) > 1:
        raise DataError(
            f"long data takes one --target column, got {len(options.target)} "
            f"({', '.join(options.target)}): name the single value column"
        )
    target = options.target[0] if options.target else DEFAULT_TARGET
    for name, option in ((id_col, "--id-col"), (time_col, "--time-col"), (target, "--target")):
        if name not in columns:
            raise _missing_column(name, columns, where, option)
    if len({id_col, time_col, target}) < 3:
        raise DataError(
            f"the id, time and value columns of '{where}' must differ, got id '{id_col}', time "
            f"'{time_col}', value '{target}': name them with --id-col, --time-col, --target"
        )
    for names, option in ((options.covariates, "--covariates"),
                          (options.future_covariates, "--future-covariates")):  # fmt: skip
        for name in names:
            if name not in columns:
                raise _missing_column(name, columns, where, option)
            if name in (id_col, time_col, target):
                raise DataError(
                    f"{option} '{name}' is the id, time or value column of '{where}': name "
                    "other columns"
                )
    return Schema("long", id_col, time_col, target)


def _looks_like_times(col: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(col):
        return True
    head = col.dropna().astype(str).head(20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(head, errors="coerce", format="mixed")
        except (ValueError, TypeError):  # times in several zones (or none) are still times
            parsed = pd.to_datetime(head, errors="coerce", format="mixed", utc=True)
    return len(head) > 0 and bool(parsed.notna().all())


def _guess_time_column(df: pd.DataFrame, columns: list[str]) -> str | None:
    if DEFAULT_TIME in columns:
        return DEFAULT_TIME
    first = columns[0]
    col = df.iloc[:, 0]
    if pd.api.types.is_datetime64_any_dtype(col) or not numeric_like(col):
        return first
    if first.strip().lower() in TIME_NAMES:
        return first
    return None
