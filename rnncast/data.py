"""Read any supported input into one set of series, and validate it up front.

Inputs: a CSV file, a Parquet file, or a folder of Parquet files, in one of three layouts:

- long: one row per (series id, time, value), `unique_id, ds, y` by default;
- wide: a time column and one numeric column per series;
- values: numeric columns and no time column at all (times are row numbers 0, 1, 2, ...).

Everything wrong with the data is found here, before any training, and reported as a
`DataError` whose one-line message says what, where (line of a CSV, row of a Parquet file)
and how to fix it. The result is a `SeriesSet`: every series' values in one float32 array
with offsets, plus ids, first and last times, and the time axis.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnncast.config import ReadOptions
from rnncast.errors import DataError
from rnncast.filling import fill_missing
from rnncast.timeaxis import TimeAxis, infer_datetime_freq, parse_freq

DEFAULT_ID, DEFAULT_TIME, DEFAULT_TARGET = "unique_id", "ds", "y"
TIME_NAMES = {
    "ds", "date", "time", "timestamp", "datetime", "period", "month", "year", "week", "day",
    "hour", "t", "step", "index",
}  # fmt: skip
FILL_HINT = "--fill ffill, interpolate or zero"
CSV_SUFFIXES = {".csv", ".txt", ".tsv", ".gz", ".bz2", ".zip", ".xz"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


@dataclass(frozen=True)
class Schema:
    """How the columns of a file map onto series.

    `id_col` and `time_col` are the names the output uses for ids and times (the input's
    own names, or `unique_id` / `ds` where the input has no such column). `columns` lists
    the series columns of wide and values layouts.
    """

    layout: str
    id_col: str
    time_col: str
    target: str
    columns: tuple[str, ...] = ()

    @property
    def has_time(self) -> bool:
        return self.layout != "values"

    def describe(self) -> str:
        if self.layout == "long":
            return f"long (id '{self.id_col}', time '{self.time_col}', value '{self.target}')"
        cols = ", ".join(self.columns[:4]) + (", ..." if len(self.columns) > 4 else "")
        if self.layout == "wide":
            return f"wide (time '{self.time_col}'; series columns {cols})"
        return f"values without times (series columns {cols})"

    def to_dict(self) -> dict:
        return {
            "layout": self.layout,
            "id_col": self.id_col,
            "time_col": self.time_col,
            "target": self.target,
            "columns": list(self.columns),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Schema:
        return cls(
            layout=data["layout"],
            id_col=data["id_col"],
            time_col=data["time_col"],
            target=data["target"],
            columns=tuple(data.get("columns", ())),
        )


@dataclass
class SeriesSet:
    """Many series in one flat float32 array: series i is `values[offsets[i]:offsets[i+1]]`.

    Times are on a regular grid (checked when reading), so each series is described by its
    first and last time; `axis` says how times advance.
    """

    ids: np.ndarray
    values: np.ndarray
    offsets: np.ndarray
    starts: pd.Index
    ends: pd.Index
    axis: TimeAxis
    schema: Schema
    source: str = "<data>"
    notes: tuple[str, ...] = ()  # what reading changed (filled values): warnings to show
    covariates: np.ndarray | None = None  # (len(values), C) float32: past covariates

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.ids)

    def series(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def shorter_than(self, need: int) -> tuple[int, str]:
        """How many series have fewer than `need` values, and the first few of them in
        words: "'a' (12), 'b' (30) and 4 more"."""
        short = np.flatnonzero(self.lengths < need)
        names = ", ".join(f"'{self.ids[i]}' ({self.lengths[i]})" for i in short[:3])
        more = f" and {len(short) - 3} more" if len(short) > 3 else ""
        return len(short), names + more

    def subset(self, keep: np.ndarray) -> SeriesSet:
        """The series where `keep` (one bool per series) is true."""
        keep = np.asarray(keep, dtype=bool)
        lengths = self.lengths[keep]
        return dataclasses.replace(
            self,
            ids=self.ids[keep],
            values=self.values[np.repeat(keep, self.lengths)],
            covariates=None
            if self.covariates is None
            else self.covariates[np.repeat(keep, self.lengths)],
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            starts=self.starts[keep],
            ends=self.ends[keep],
        )

    def fingerprint(self) -> str:
        """A SHA-256 of the values, series lengths, ids and first times."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.values))  # the buffer itself, not a bytes copy
        h.update(np.ascontiguousarray(self.offsets, dtype=np.int64))
        h.update("\x1f".join(map(str, self.ids)).encode())
        h.update("\x1f".join(map(str, self.starts)).encode())
        if self.covariates is not None:
            h.update(np.ascontiguousarray(self.covariates))
        return h.hexdigest()


# ---- reading files ----------------------------------------------------------------------


class _Located:
    """Turns a row number of the frame into words: a CSV line or a Parquet row."""

    def __init__(self, name: str, kind: str):
        self.name, self.kind = name, kind

    def at(self, row: int) -> str:
        return f"line {row + 2}" if self.kind == "csv" else f"row {row + 1}"


def read_table(path: str | Path, id_col: str = DEFAULT_ID) -> tuple[pd.DataFrame, str]:
    """Read a CSV file, a Parquet file or a folder of Parquet files; return (frame, kind).
    `id_col`, when the file has it, is read as text from a CSV."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file '{path}' not found: check the path")
    if p.is_dir():
        return _read_parquet_folder(p), "parquet"
    suffix = p.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(p), "parquet"
    if suffix in CSV_SUFFIXES:
        return _read_csv(p, id_col), "csv"
    raise DataError(
        f"'{path}' has an unsupported file type '{p.suffix}': give a .csv or .parquet file, "
        "or a folder of .parquet files"
    )


# pandas' default missing-value markers, applied to every column but the series id
NA_STRINGS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip


def _read_csv(p: Path, id_col: str) -> pd.DataFrame:
    """Read a CSV; the id column is read as text ('007' stays '007', 'NA' is an id)."""
    sep = "\t" if p.suffix.lower() == ".tsv" else ","
    try:
        names = pd.read_csv(p, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
        names = [str(n) for n in names.iloc[0]] if len(names) else []
        if all(_is_number(n) for n in names):
            # No header: the first row holds values, not names.
            df = pd.read_csv(p, sep=sep, header=None)
            df.columns = (
                [DEFAULT_TARGET] if df.shape[1] == 1 else [f"y{i}" for i in range(df.shape[1])]
            )
            return df
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DataError(
                f"'{p}' has more than one column named '{repeated[0]}' (line 1): give every "
                "column its own name"
            )
        na = {n: NA_STRINGS for n in names}
        text = {}
        if id_col in names:
            na[id_col], text[id_col] = [""], str
        df = pd.read_csv(p, sep=sep, dtype=text, keep_default_na=False, na_values=na)
    except pd.errors.EmptyDataError:
        raise DataError(f"'{p}' is empty: give a CSV file with a header row and data") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(
            f"'{p}' is not a readable CSV file ({_first_line(e)}): check its format"
        ) from None
    if df.empty:
        raise DataError(f"'{p}' has a header but no rows: add data below the header")
    return df


def _read_parquet(p: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        _check_unique_names(pq.read_schema(p).names, p)
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError):
        raise DataError(
            f"'{p}' is not a readable Parquet file: check that it is a complete Parquet file"
        ) from None
    df = table.to_pandas()
    if df.empty:
        raise DataError(f"'{p}' has no rows: give a Parquet file with data")
    return df


def _check_unique_names(names: list[str], p: Path) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(
            f"'{p}' has more than one column named '{repeated[0]}': give every column its own name"
        )


def _read_parquet_folder(p: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.dataset as ds

    files = _folder_files(p)
    if not files:
        raise DataError(
            f"folder '{p}' holds no .parquet files: point at a file or a folder of them"
        )
    # pyarrow would take the first file's schema for all: columns the others lack would
    # come back empty and columns only they have would be dropped. Check up front instead.
    schema = _parquet_schema(files[0])
    _check_unique_names(schema.names, files[0])
    for f in files[1:]:
        other = _parquet_schema(f)
        a, b = files[0].relative_to(p), f.relative_to(p)
        if set(other.names) != set(schema.names):
            raise DataError(
                f"the Parquet files in '{p}' have different columns ('{a}': "
                f"{', '.join(schema.names)}; '{b}': {', '.join(other.names)}): give every "
                "file the same columns"
            )
        for name in schema.names:
            try:  # int64 and double unify (to double); int64 and string do not
                merged = pa.unify_schemas(
                    [pa.schema([schema.field(name)]), pa.schema([other.field(name)])],
                    promote_options="permissive",
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                raise DataError(
                    f"column '{name}' of the Parquet files in '{p}' is {schema.field(name).type} "
                    f"in '{a}' but {other.field(name).type} in '{b}': write it with one type "
                    "in every file"
                ) from None
            schema = schema.set(schema.get_field_index(name), merged.field(name))
    try:
        table = ds.dataset([str(f) for f in files], schema=schema, format="parquet").to_table()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
        raise DataError(
            f"the Parquet files in '{p}' cannot be read together ({_first_line(e)}): "
            "check that every file is a complete Parquet file"
        ) from None
    df = table.to_pandas()
    if df.empty:
        raise DataError(f"the Parquet files in '{p}' have no rows: give files with data")
    return df


def _parquet_schema(f: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(f)
    except (pa.ArrowInvalid, OSError):
        raise DataError(
            f"'{f}' is not a readable Parquet file: check that it is a complete Parquet file, "
            "or move it out of the folder"
        ) from None


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


# ---- schema detection -------------------------------------------------------------------


def _missing_column(name: str, columns: list[str], where: str, option: str) -> DataError:
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    return DataError(
        f"column '{name}' not found in '{where}' (columns: {shown}): {hint}"
        f"name the right column with {option}"
    )


def detect_schema(df: pd.DataFrame, options: ReadOptions, where: str) -> Schema:
    """Decide the layout from the columns and the options."""
    columns = [str(c) for c in df.columns]
    if options.id_col is not None or DEFAULT_ID in columns:
        return _long_schema(columns, options, where)
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
            if _numeric_like(df[c]):
                continue
            if pd.api.types.is_bool_dtype(df[c]):
                raise _bool_column(c, where)
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


def _long_schema(columns: list[str], options: ReadOptions, where: str) -> Schema:
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
    for name in options.covariates:
        if name not in columns:
            raise _missing_column(name, columns, where, "--covariates")
        if name in (id_col, time_col, target):
            raise DataError(
                f"--covariates '{name}' is the id, time or value column of '{where}': name "
                "other columns"
            )
    return Schema("long", id_col, time_col, target)


def _bool_column(name: str, where: str) -> DataError:
    return DataError(
        f"column '{name}' in '{where}' holds true/false values: forecast a numeric column, or "
        "write it as 0/1"
    )


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
    if pd.api.types.is_datetime64_any_dtype(col) or not _numeric_like(col):
        return first
    if first.strip().lower() in TIME_NAMES:
        return first
    return None


def _numeric_like(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


# ---- column parsing ---------------------------------------------------------------------


def _parse_values(col: pd.Series, name: str, loc: _Located) -> np.ndarray:
    """The value column as float64; non-numeric cells are an error naming the first."""
    if pd.api.types.is_bool_dtype(col):
        raise _bool_column(name, loc.name)
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col):
        raise DataError(
            f"column '{name}' in '{loc.name}' holds times, not values: name the value column "
            "with --target"
        )
    if _numeric_like(col):
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


def _parse_times(col: pd.Series, name: str, loc: _Located, options: ReadOptions) -> pd.Index:
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
    if options.time_format is None and pd.api.types.is_integer_dtype(col):
        return pd.Index(col.to_numpy(dtype=np.int64))
    if options.time_format is None and pd.api.types.is_float_dtype(col):
        arr = col.to_numpy(dtype=np.float64)
        if np.all(arr == np.round(arr)):
            return pd.Index(arr.astype(np.int64))
        raise DataError(
            f"column '{name}' in '{loc.name}' holds fractional numbers "
            f"({loc.at(int(np.flatnonzero(arr != np.round(arr))[0]))}): times must be dates "
            "or whole-number steps"
        )
    numbers = pd.to_numeric(col, errors="coerce")
    if options.time_format is None and 0.5 < numbers.notna().mean() < 1:
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
    text = col.astype(str)
    zoned = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    if zoned.any() and not zoned.all():
        raise _mixed_zones(name, loc, int(np.flatnonzero(~zoned.to_numpy())[0]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' format guesses are not for the user
            parsed = _to_datetime(text, options.time_format)
    except (ValueError, TypeError) as e:
        raise DataError(
            f"column '{name}' in '{loc.name}' cannot be read as times ({_first_line(e)}): fix "
            "the times or give their format with --time-format"
        ) from None
    bad = parsed.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        hint = (
            f"match --time-format '{options.time_format}'"
            if options.time_format
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


def _mixed_zones(name: str, loc: _Located, row: int) -> DataError:
    return DataError(
        f"column '{name}' in '{loc.name}' mixes times with and without a time zone (first "
        f"without at {loc.at(row)}): write every time with its zone, or none"
    )


# ---- building and validating series -----------------------------------------------------


def from_frame(
    df: pd.DataFrame,
    options: ReadOptions | None = None,
    source: str = "<frame>",
    kind: str = "frame",
) -> SeriesSet:
    """Validate a DataFrame and turn it into a SeriesSet (`kind` 'csv' / 'parquet' / 'frame'
    only changes how rows are named in messages)."""
    options = options or ReadOptions()
    loc = _Located(source, "csv" if kind == "csv" else "parquet")
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
    schema = detect_schema(df, options, source)
    if schema.layout == "long":
        ids = df[schema.id_col]
        if ids.isna().any():
            row = int(np.flatnonzero(ids.isna().to_numpy())[0])
            raise DataError(
                f"column '{schema.id_col}' in '{source}' has an empty series id at {loc.at(row)}: "
                "give every row an id"
            )
        codes, uniques = pd.factorize(ids, sort=False)
        times = _parse_times(df[schema.time_col], schema.time_col, loc, options)
        values = _parse_values(df[schema.target], schema.target, loc)
        rows = np.arange(len(df))
        uniques = np.asarray(uniques, dtype=object)
    else:
        if options.covariates:
            raise DataError(
                f"--covariates needs long data (one row per series and time, covariates as "
                f"columns beside the value), but '{source}' is laid out as {schema.describe()}"
            )
        codes, uniques, times, values, rows = _unpivot(df, schema, loc, options)
    series = _assemble(codes, uniques, times, values, rows, schema, loc, options)
    if options.covariates:
        series.covariates = _covariates(df, codes, times, rows, uniques, loc, options)
    return series


def _covariates(df, codes, times, rows, uniques, loc, options: ReadOptions) -> np.ndarray:
    """The covariate columns in the order of the assembled values: (rows, C) float32. They
    must be finite (`--fill` does not fill them yet)."""
    key = times.asi8 if isinstance(times, pd.DatetimeIndex) else np.asarray(times, np.int64)
    order = _order(key, codes)  # as `_assemble` orders the values
    order = np.arange(len(codes)) if order is None else order
    out = np.empty((len(order), len(options.covariates)), dtype=np.float32)
    for j, name in enumerate(options.covariates):
        column = _parse_values(df[name], name, loc)[rows[order]]
        bad = ~np.isfinite(column)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"covariate column '{name}' in '{loc.name}' has {int(bad.sum())} missing or "
                f"infinite value{'s' if bad.sum() > 1 else ''} (first: series "
                f"'{uniques[codes[order[i]]]}', {loc.at(int(rows[order[i]]))}): fill them"
            )
        with np.errstate(over="ignore"):
            out[:, j] = column
    if not np.isfinite(out).all():
        raise DataError(
            f"a covariate column in '{loc.name}' has values too large for float32: rescale it"
        )
    return out


def load(path: str | Path, options: ReadOptions | None = None) -> SeriesSet:
    """Read and validate a data file or folder (see the module docstring)."""
    options = options or ReadOptions()
    files = _parquet_files(Path(path))
    if files:  # long Parquet in the clean, common case: read in batches, not through pandas
        from rnncast import parquet_long

        series = parquet_long.read(str(path), files, options)
        if series is not None:
            return series
    df, kind = read_table(path, options.id_col or DEFAULT_ID)
    return from_frame(df, options, source=str(path), kind=kind)


def _parquet_files(p: Path) -> list[Path]:
    """The Parquet file `p`, or the Parquet files in folder `p` in reading order; [] for
    anything else."""
    if p.is_dir():
        return _folder_files(p)
    return [p] if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES else []


def _folder_files(p: Path) -> list[Path]:
    return sorted(f for f in p.rglob("*") if f.suffix.lower() in PARQUET_SUFFIXES and f.is_file())


def _unpivot(df: pd.DataFrame, schema: Schema, loc: _Located, options: ReadOptions):
    """Wide or values layout -> long arrays. Leading and trailing empty cells of a column
    are where that series has not started or has ended; they are dropped."""
    n = len(df)
    if schema.has_time:
        times = _parse_times(df[schema.time_col], schema.time_col, loc, options)
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
        matrix[j] = _parse_values(df[name], name, loc)[order]
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


def _assemble(codes, uniques, times: pd.Index, values, rows, schema, loc, options) -> SeriesSet:
    n_series = len(uniques)
    is_datetime = isinstance(times, pd.DatetimeIndex)
    key = times.asi8 if is_datetime else np.asarray(times, dtype=np.int64)  # in times' own unit
    order = _order(key, codes)
    if order is not None:
        codes, times, values, rows, key = (
            codes[order],
            times[order],
            values[order],
            rows[order],
            key[order],
        )
        del order
    counts = np.bincount(codes, minlength=n_series)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    first, last = offsets[:-1], offsets[1:] - 1

    def label(i: int) -> str:
        return f"'{uniques[codes[i]]}'"

    dup = np.flatnonzero((codes[1:] == codes[:-1]) & (key[1:] == key[:-1]))
    if len(dup):
        i = dup[0]
        a, b = sorted((int(rows[i]), int(rows[i + 1])))
        raise DataError(
            f"'{loc.name}' has {len(dup)} duplicate ({schema.id_col}, {schema.time_col}) row"
            f"{'s' if len(dup) > 1 else ''} (first: series {label(i)} at {times[i]}, "
            f"{loc.at(a)} and {loc.at(b)}): keep one row per series and time"
        )

    filling = options.fill != "none"
    if not filling:
        _check_finite(values, codes, times, rows, schema, loc, label)
    with np.errstate(over="ignore", invalid="ignore"):  # too-large values become inf
        big = np.isfinite(values) & ~np.isfinite(values.astype(np.float32))
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise DataError(
            f"series {label(i)} in '{loc.name}' has a value too large for float32 at "
            f"{loc.at(int(rows[i]))} ({values[i]:g}): rescale the data (e.g. to thousands)"
        )

    axis = _time_axis(times, key, codes, first, counts, options, loc, schema)
    pos = axis.positions(times, first, codes)
    off = np.flatnonzero(pos < 0)
    if len(off):
        i = off[0]
        raise DataError(
            f"series {label(i)} in '{loc.name}' has a time off the {axis.describe()} grid "
            f"({loc.at(int(rows[i]))}: {times[i]}): make the times evenly spaced or pass the "
            "right --freq"
        )
    span = pos[last] + 1
    gappy = np.flatnonzero(span != counts)
    if len(gappy) and not filling:
        s = gappy[0]
        seg = pos[first[s] : last[s] + 1]
        j = int(np.flatnonzero(np.diff(seg) > 1)[0])
        missing = int(span[gappy].sum() - counts[gappy].sum())
        raise DataError(
            f"'{loc.name}' has gaps in the {axis.describe()} time grid: {missing} missing "
            f"step{'s' if missing > 1 else ''} in {len(gappy)} series (first: series "
            f"'{uniques[s]}' skips {int(seg[j + 1] - seg[j] - 1)} after {times[first[s] + j]}): "
            f"add the missing rows with values, or pass {FILL_HINT}"
        )
    starts, notes = times[first], ()
    if filling:
        values, offsets, starts, notes = _fill(
            values, codes, pos, span, times, first, axis, uniques, loc, options.fill
        )
    return SeriesSet(
        ids=np.asarray(uniques, dtype=object),
        values=values.astype(np.float32),
        offsets=offsets,
        starts=starts,
        ends=times[last],
        axis=axis,
        schema=schema,
        source=loc.name,
        notes=notes,
    )


def _fill(values, codes, pos, span, times, first, axis, uniques, loc, method):
    """Put the values on their full time grid, fill what is missing by `method`; returns
    (values, offsets, first times, notes saying what was filled)."""
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
        touched[span != np.bincount(codes, minlength=len(uniques))] = True
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


def _check_finite(values, codes, times, rows, schema, loc, label) -> None:
    nan, inf = np.isnan(values), np.isinf(values)
    if not (nan.any() or inf.any()):
        return
    parts = []
    for mask, what in ((nan, "missing"), (inf, "infinite")):
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            count = int(mask.sum())
            parts.append(
                f"{count} {what} value{'s' if count > 1 else ''} (first: series {label(i)} at "
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


def _time_axis(times, key, codes, first, counts, options: ReadOptions, loc, schema) -> TimeAxis:
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
    )
