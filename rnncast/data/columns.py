"""Parsing one column of a frame: values as float64, times as datetimes or integer steps,
with messages that name the column and the first bad cell's line (CSV) or row (Parquet).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from rnncast.errors import DataError, first_line
from rnncast.settings import ReadOptions


class Located:
    """Turns a row number of the frame into words: a CSV line or a Parquet row; and keeps
    what reading the frame found out by itself (`notes`: the separator, the date order,
    the layout), for the user to be told."""

    def __init__(self, name: str, kind: str):
        self.name, self.kind = name, kind
        self.notes: list[str] = []

    def at(self, row: int) -> str:
        return f"line {row + 2}" if self.kind == "csv" else f"row {row + 1}"


def numeric_like(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def bool_column(name: str, where: str) -> DataError:
    return DataError(
        f"column '{name}' in '{where}' holds true/false values: forecast a numeric column, or "
        "write it as 0/1"
    )


def parse_values(col: pd.Series, name: str, loc: Located) -> np.ndarray:
    """The value column as float64; non-numeric cells are an error naming the first."""
    if pd.api.types.is_bool_dtype(col):
        raise bool_column(name, loc.name)
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col):
        raise DataError(
            f"column '{name}' in '{loc.name}' holds times, not values: name the value column "
            "with --target"
        )
    if numeric_like(col):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(col, errors="coerce")
    bad = numbers.isna().to_numpy() & col.notna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"{loc.at(r)}: '{col.iloc[r]}'" for r in rows[:3])
        more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
        raise DataError(
            f"column '{name}' in '{loc.name}' has {len(rows)} non-numeric value"
            f"{'s' if len(rows) > 1 else ''} ({shown}{more}): fix the values or pick another "
            "column with --target"
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def parse_times(col: pd.Series, name: str, loc: Located, options: ReadOptions) -> pd.Index:
    """The time column as a DatetimeIndex or an integer Index."""
    missing = col.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        raise DataError(
            f"column '{name}' in '{loc.name}' has {len(rows)} empty time"
            f"{'s' if len(rows) > 1 else ''} (first at {loc.at(rows[0])}): fill in every time"
        )
    if pd.api.types.is_datetime64_any_dtype(col):
        return pd.DatetimeIndex(col)
    if options.time_format is None:
        steps = _integer_times(col, name, loc)
        if steps is not None:
            return steps
    return _datetimes(col, name, loc, options.time_format)


def _integer_times(col: pd.Series, name: str, loc: Located) -> pd.Index | None:
    """Whole-number times as integer steps; None for a column that holds no numbers (text
    times); an error for fractional numbers or mostly numbers with a few stray cells."""
    if pd.api.types.is_integer_dtype(col):
        return pd.Index(col.to_numpy(dtype=np.int64))
    if pd.api.types.is_float_dtype(col):
        arr = col.to_numpy(dtype=np.float64)
        if np.all(arr == np.round(arr)):
            return pd.Index(arr.astype(np.int64))
        raise DataError(
            f"column '{name}' in '{loc.name}' holds fractional numbers "
            f"({loc.at(int(np.flatnonzero(arr != np.round(arr))[0]))}): times must be dates "
            "or whole-number steps"
        )
    numbers = pd.to_numeric(col, errors="coerce")
    if 0.5 < numbers.notna().mean() < 1:
        # mostly whole numbers with a few stray cells: integer steps, badly written
        bad = np.flatnonzero(numbers.isna().to_numpy() | (numbers != np.round(numbers)).to_numpy())
        what = (
            "values that are not whole numbers"
            if len(bad) > 1
            else "value that is not a whole number"
        )
        raise DataError(
            f"column '{name}' in '{loc.name}' has {len(bad)} {what} "
            f"(first at {loc.at(int(bad[0]))}: '{col.iloc[bad[0]]}'): integer times must all "
            "be whole numbers"
        )
    return None


def _datetimes(col: pd.Series, name: str, loc: Located, time_format: str | None) -> pd.Index:
    """Text times as datetimes (in `time_format` when given), every cell read or an error
    naming the first that is not."""
    text = col.astype(str)
    zoned = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    if zoned.any() and not zoned.all():
        raise _mixed_zones(name, loc, int(np.flatnonzero(~zoned.to_numpy())[0]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' format guesses are not for the user
            parsed = _to_datetime(text, time_format)
    except (ValueError, TypeError) as e:
        raise DataError(
            f"column '{name}' in '{loc.name}' cannot be read as times ({first_line(e)}): fix "
            "the times or give their format with --time-format"
        ) from None
    bad = parsed.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        hint = (
            f"match --time-format '{time_format}'"
            if time_format
            else "use ISO dates such as 2024-01-31 or give --time-format"
        )
        raise DataError(
            f"column '{name}' in '{loc.name}' has {len(rows)} "
            f"{'values that are not times' if len(rows) > 1 else 'value that is not a time'} "
            f"(first at {loc.at(rows[0])}: "
            f"'{text.iloc[rows[0]]}'): {hint}"
        )
    return pd.DatetimeIndex(parsed)


def _to_datetime(text: pd.Series, time_format: str | None) -> pd.Series:
    """Parse times; unparseable ones become NaT. Times with differing UTC offsets (one zone
    across a daylight-saving change, as `to_csv` writes it) are read as UTC."""
    try:
        parsed = pd.to_datetime(text, errors="coerce", format=time_format)
    except ValueError as e:
        if "utc=True" not in str(e):
            raise
        return pd.to_datetime(text, errors="coerce", format=time_format, utc=True)
    if time_format is None and parsed.isna().any():
        # pandas applies the format of the first time to all, so ISO times with and
        # without a clock ('2024-01-01', '2024-01-01 06:00') need the ISO parser.
        iso = pd.to_datetime(text, errors="coerce", format="ISO8601")
        if iso.isna().sum() < parsed.isna().sum():
            parsed = iso
    if parsed.dtype == object:  # differing offsets that pandas kept as objects
        parsed = pd.to_datetime(text, errors="coerce", format=time_format, utc=True)
    return parsed


def _mixed_zones(name: str, loc: Located, row: int) -> DataError:
    return DataError(
        f"column '{name}' in '{loc.name}' mixes times with and without a time zone (first "
        f"without at {loc.at(row)}): write every time with its zone, or none"
    )
