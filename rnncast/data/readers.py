"""Reading files: a CSV file, a Parquet file or a folder of Parquet files, into a frame
(`read_table`) and on into a `SeriesSet` (`load`, which takes long Parquet in the clean case
straight to float32 through `rnncast.data.parquet_long`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnncast.data.build import from_frame
from rnncast.data.series import DEFAULT_ID, DEFAULT_TARGET, SeriesSet
from rnncast.errors import DataError, first_line
from rnncast.settings import ReadOptions

CSV_SUFFIXES = {".csv", ".txt", ".tsv", ".gz", ".bz2", ".zip", ".xz"}


PARQUET_SUFFIXES = {".parquet", ".pq"}


def load(path: str | Path, options: ReadOptions | None = None) -> SeriesSet:
    """Read and validate a data file or folder (see the module docstring)."""
    options = options or ReadOptions()
    files = _parquet_files(Path(path))
    if files:  # long Parquet in the clean, common case: read in batches, not through pandas
        from rnncast.data import parquet_long

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
            f"'{p}' is not a readable CSV file ({first_line(e)}): check its format"
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
            f"the Parquet files in '{p}' cannot be read together ({first_line(e)}): "
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


def _is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True
