"""Parsing one column of a frame: values as float64, times as datetimes or integer steps,
with messages that name the column and the first bad cell's line (CSV) or row (Parquet).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rnncast.errors import DataError, first_line
from rnncast.settings import ReadOptions


@dataclass
class Found:
    """What reading found out by itself (the separator, the date order, the layout): notes
    for the user, and the read options they amount to, for the model to keep so that
    `predict` reads alike."""

    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def add(self, note: str, **options: Any) -> None:
        self.notes.append(note)
        self.options.update(options)


class Located:
    """Turns a row number of the frame into words: a CSV line or a Parquet row; and keeps
    what reading found out by itself (`found`) and a time as written whose day and month
    only the options ordered (`swappable`), for messages about the time grid."""

    def __init__(self, name: str, kind: str, found: Found | None = None):
        self.name, self.kind = name, kind
        self.found = found or Found()
        self.swappable: str | None = None

    def swapped(self) -> str:
        """For a message about the time grid: where day and month may be swapped, how to
        say their order ('' where they cannot be)."""
        if self.swappable is None:
            return ""
        return (
            f"; if day and month are swapped in times such as '{self.swappable}', give their "
            "order with --dayfirst, --monthfirst or --time-format"
        )

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
    return _datetimes(col, name, loc, options)


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


def _datetimes(col: pd.Series, name: str, loc: Located, options: ReadOptions) -> pd.Index:
    """Text times as datetimes (in --time-format when given; day first where --dayfirst or
    the data says so), every cell read or an error naming the first that is not."""
    text, time_format = col.astype(str), options.time_format
    dayfirst = _day_first(text, name, loc, options)
    zoned = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    if zoned.any() and not zoned.all():
        raise _mixed_zones(name, loc, int(np.flatnonzero(~zoned.to_numpy())[0]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' format guesses are not for the user
            parsed = _to_datetime(text, time_format, dayfirst)
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


def _to_datetime(text: pd.Series, time_format: str | None, dayfirst: bool = False) -> pd.Series:
    """Parse times; unparseable ones become NaT. Times with differing UTC offsets (one zone
    across a daylight-saving change, as `to_csv` writes it) are read as UTC."""
    try:
        parsed = pd.to_datetime(text, errors="coerce", format=time_format, dayfirst=dayfirst)
    except ValueError as e:
        if "utc=True" not in str(e):
            raise
        return pd.to_datetime(
            text, errors="coerce", format=time_format, dayfirst=dayfirst, utc=True
        )
    if time_format is None and parsed.isna().any():
        # pandas applies the format of the first time to all, so ISO times with and
        # without a clock ('2024-01-01', '2024-01-01 06:00') need the ISO parser.
        iso = pd.to_datetime(text, errors="coerce", format="ISO8601")
        if iso.isna().sum() < parsed.isna().sum():
            parsed = iso
    if parsed.dtype == object:  # differing offsets that pandas kept as objects
        parsed = pd.to_datetime(
            text, errors="coerce", format=time_format, dayfirst=dayfirst, utc=True
        )
    return parsed


# dates written day and month first in some order: 01/02/2021, 1.2.21, 01-02-2021 12:00
_DAY_MONTH = re.compile(r"^\s*(\d{1,2})([/.-])(\d{1,2})\2(?:\d{4}|\d{2})(?:[ T].*)?$")


def _day_first(text: pd.Series, name: str, loc: Located, options: ReadOptions) -> bool:
    """Whether dates such as 01/02/2021 are day first: as --dayfirst / --monthfirst say, else
    as the data shows (a first field above 12: day first, said in a note; a second: month
    first), else an error asking. ISO and other times are read as pandas reads them. Dates
    whose order only the options set are kept in `loc.swappable` for messages on the grid."""
    unique = pd.Series(pd.unique(text))
    fields = unique.str.extract(_DAY_MONTH)
    if fields[0].isna().any():
        return False  # not all written so
    first, second = fields[0].astype(int).to_numpy(), fields[2].astype(int).to_numpy()
    told = (first > 12).any() or (second > 12).any()
    if not told and (first != second).any():
        loc.swappable = str(unique[int(np.flatnonzero(first != second)[0])])
    if options.time_format is not None or options.dayfirst is not None:
        return bool(options.dayfirst)
    if told:
        if (first > 12).any() and not (second > 12).any():
            example = str(unique[int(np.flatnonzero(first > 12)[0])])
            loc.found.add(
                f"read column '{name}' of '{loc.name}' day first, as in '{example}' (detected: "
                "pass --monthfirst or --time-format to read it otherwise)",
                dayfirst=True,
            )
            return True
        return False
    if loc.swappable is None:
        return False  # day and month alike in every date: either order reads the same
    raise DataError(
        f"column '{name}' in '{loc.name}' has dates such as '{loc.swappable}' that read day "
        "first or month first alike (no day above 12 tells which): pass --dayfirst or "
        "--monthfirst, or give their format with --time-format (e.g. %d/%m/%Y)"
    )


def utc_note(col: pd.Series, name: str, where: str) -> tuple[str, ...]:
    """A note when text times with UTC offsets other than zero were read as UTC (offsets that
    differ, e.g. across a daylight-saving change, have no one zone to keep)."""
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return ()  # times already zoned (Parquet), or steps
    offsets = col.astype(str).str.extract(r"([+-]\d{2}:?\d{2})$")[0].dropna()
    shown = sorted(set(offsets) - {"+00:00", "-00:00", "+0000", "-0000"})
    if not shown:
        return ()
    return (
        f"times with offsets are converted to UTC: column '{name}' of '{where}' has offsets "
        f"{', '.join(shown[:4])}, which differ, so its times and forecasts are in UTC",
    )


def _mixed_zones(name: str, loc: Located, row: int) -> DataError:
    return DataError(
        f"column '{name}' in '{loc.name}' mixes times with and without a time zone (first "
        f"without at {loc.at(row)}): write every time with its zone, or none"
    )
