"""Reading files: a CSV file, a Parquet file or a folder of Parquet files, into a frame
(`read_table`) and on into a `SeriesSet` (`load`, which takes long Parquet in the clean case
straight to float32 through `rnncast.data.parquet_long`); and CSV text that is in no file
(standard input, `CSVText`), read as a CSV file is."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd

from rnncast.data.build import from_frame
from rnncast.data.columns import Found
from rnncast.data.series import DEFAULT_ID, DEFAULT_TARGET, SeriesSet
from rnncast.errors import DataError, first_line, os_cause
from rnncast.settings import ReadOptions

CSV_SUFFIXES = {".csv", ".txt", ".tsv", ".gz", ".bz2", ".zip", ".xz"}


PARQUET_SUFFIXES = {".parquet", ".pq"}


STDIN = "<stdin>"


@dataclass(frozen=True)
class CSVText:
    """CSV text that is in no file (standard input), and the name messages give it where
    they would name a file: uncompressed CSV only, its separator and decimal mark the
    options' or sniffed, as a file's."""

    data: bytes
    name: str = STDIN

    def __str__(self) -> str:
        return self.name


def load(path: str | Path | CSVText, options: ReadOptions | None = None) -> SeriesSet:
    """Read and validate a data file or folder, or CSV text (see the module docstring)."""
    options = options or ReadOptions()
    if isinstance(path, CSVText):
        found = Found()
        sep, decimal = csv_format(path, options, found)
        df = _read_csv(path, options.id_col or DEFAULT_ID, sep, decimal)
        return from_frame(df, options, source=str(path), kind="csv", found=found)
    check_readable(path)
    files = _parquet_files(Path(path))
    if files:  # long Parquet in the clean, common case: read in batches, not through pandas
        from rnncast.data import parquet_long

        series = parquet_long.read(str(path), files, options)
        if series is not None:
            return series
    found = Found()
    df, kind = read_table(path, options.id_col or DEFAULT_ID, options, found)
    return from_frame(df, options, source=str(path), kind=kind, found=found)


def _parquet_files(p: Path) -> list[Path]:
    """The Parquet file `p`, or the Parquet files in folder `p` in reading order; [] for
    anything else."""
    if p.is_dir():
        return _folder_files(p)
    return [p] if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES else []


FOLDER_DEPTH = 4  # levels of subfolders searched: a Parquet dataset's partitions (year=/month=/...)
FOLDER_ENTRIES = 100_000  # entries looked at before a folder is taken for something else


def _folder_files(p: Path) -> list[Path]:
    """The Parquet files in folder `p` and its subfolders down to `FOLDER_DEPTH` levels, as a
    Parquet dataset lays them out (symbolic links to folders not followed), in order. A
    folder with more than `FOLDER_ENTRIES` entries in those levels is refused rather than
    searched (`rnncast predict /` would walk the whole file system)."""
    found, seen = [], 0
    for root, dirs, files in os.walk(p, onerror=_unreadable(p)):
        seen += len(dirs) + len(files)
        if seen > FOLDER_ENTRIES:
            raise DataError(
                f"folder '{p}' holds more than {FOLDER_ENTRIES:,} files and folders within "
                f"{FOLDER_DEPTH} levels: point at a Parquet file, or at the folder of one dataset"
            )
        if len(Path(root).relative_to(p).parts) >= FOLDER_DEPTH:
            dirs.clear()  # deeper than a dataset's partitions go
        found += [Path(root, f) for f in files if Path(f).suffix.lower() in PARQUET_SUFFIXES]
    return sorted(f for f in found if f.is_file())


def _unreadable(p: Path):
    def fail(e: OSError) -> None:
        if Path(e.filename or "") == p:  # the folder itself (a subfolder is skipped)
            raise DataError(
                f"folder '{p}' cannot be read ({e.strerror or e}): check its permissions"
            ) from None

    return fail


def read_table(path: str | Path, id_col: str = DEFAULT_ID, options: ReadOptions | None = None,
               found: Found | None = None) -> tuple[pd.DataFrame, str]:  # fmt: skip
    """Read a CSV file, a Parquet file or a folder of Parquet files; return (frame, kind).
    `id_col`, when the file has it, is read as text from a CSV; a CSV's separator and
    decimal mark are the options' or, when they give none, sniffed (what was sniffed is
    noted in `found`)."""
    p = Path(path)
    check_readable(path)
    if p.is_dir():
        return _read_parquet_folder(p), "parquet"
    suffix = p.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(p), "parquet"
    if suffix in CSV_SUFFIXES:
        sep, decimal = csv_format(p, options or ReadOptions(), found)
        return _read_csv(p, id_col, sep, decimal), "csv"
    raise DataError(
        f"'{path}' has an unsupported file type '{p.suffix}': give a .csv or .parquet file, "
        "or a folder of .parquet files"
    )


COMPRESSED = {".gz", ".bz2", ".zip", ".xz"}
SEPARATORS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}  # those sniffed, in words
_QUOTED = re.compile(r'"[^"]*"')
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
_DECIMAL_POINT = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?")


def csv_format(p: Path | CSVText, options: ReadOptions,
               found: Found | None = None) -> tuple[str, str]:  # fmt: skip
    """The separator and decimal mark of CSV `p`: the options', or else sniffed from its
    first lines. The separator is the one its name implies (tab for .tsv, .tsv.gz, ...;
    else ',') unless that one does not split every line alike and exactly one other of
    ';', tab, '|' does; the decimal mark is ',' where columns are not comma-separated and
    numbers are written with ',' but none with '.'. A guess is noted in `found`."""
    suffixes = [] if isinstance(p, CSVText) else [s.lower() for s in p.suffixes]
    if suffixes[-1:] and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]  # data.tsv.gz is a TSV
    usual = "\t" if suffixes[-1:] == [".tsv"] else ","
    lines = _head_lines(p)
    sep, said = options.sep, []
    if sep is None:
        split = [c for c in SEPARATORS if _splits_alike(lines, c)]
        sep = usual if usual in split or not split else split[0]
        if len(split) > 1 and usual not in split:
            raise DataError(
                f"'{p}' could be split into columns at {' or '.join(SEPARATORS[c] for c in split)}"
                f": name the separator with --sep (e.g. --sep '{split[0]}')"
            )
        if sep != usual:
            said.append(f"columns separated by {SEPARATORS[sep]}")
    decimal = options.decimal
    if decimal is None:
        decimal = "," if sep != "," and _decimal_commas(lines, sep) else "."
        if decimal == ",":
            said.append("',' as the decimal mark")
    if said and found is not None:
        found.add(
            f"read '{p}' with {' and '.join(said)} (detected: name them with --sep and "
            "--decimal to read it otherwise)",
            sep=sep, decimal=decimal,
        )  # fmt: skip
    return sep, decimal


def _head_lines(p: Path | CSVText, size: int = 16384, most: int = 50) -> list[str]:
    """The first complete, non-empty lines of CSV `p` (of its first `size` bytes,
    decompressed), quoted text taken out; [] where it cannot be read (pandas says why)."""
    suffix = "" if isinstance(p, CSVText) else p.suffix.lower()
    try:
        if isinstance(p, CSVText):
            head = p.data[:size]
        elif suffix == ".zip":
            with zipfile.ZipFile(p) as z, z.open(z.namelist()[0]) as f:
                head = f.read(size)
        else:
            opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(suffix, open)
            with opener(p, "rb") as f:
                head = f.read(size)
    except (OSError, EOFError, IndexError, lzma.LZMAError, zipfile.BadZipFile):
        return []
    lines = head.decode("utf-8", errors="replace").splitlines()
    if len(head) == size:
        lines = lines[:-1]  # cut short
    return [_QUOTED.sub("", line) for line in lines if line.strip()][:most]


def _splits_alike(lines: list[str], sep: str) -> bool:
    counts = {line.count(sep) for line in lines}
    return len(counts) == 1 and counts.pop() > 0


def _decimal_commas(lines: list[str], sep: str) -> bool:
    cells = [c.strip() for line in lines[1:] for c in line.split(sep)]
    return any(_DECIMAL_COMMA.fullmatch(c) for c in cells) and not any(
        _DECIMAL_POINT.fullmatch(c) for c in cells
    )


def opens(path: str | Path) -> None:
    """Open `path` for reading and close it: raises the OSError the system gives for it
    (not found, permission denied, a symbolic link loop, ...), which a reader would hide or
    word its own way. Non-blocking, so that a FIFO does not hang here."""
    os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))


def check_readable(path: str | Path) -> None:
    """The data file or folder at `path` must open for reading: whatever the system says
    instead (not found, permission denied, a name too long, a symbolic link loop) is one
    line naming the path."""
    try:
        opens(path)
    except FileNotFoundError:
        raise DataError(f"data file '{path}' not found: check the path") from None
    except OSError as e:
        raise DataError(
            f"cannot read data '{path}': {os_cause(e)}: check the path and its permissions"
        ) from None


# pandas' default missing-value markers, applied to every column but the series id
NA_STRINGS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip


def _source(p: Path | CSVText) -> Path | IO[bytes]:
    """What pandas reads CSV `p` from: its path, or a fresh stream over the text."""
    return io.BytesIO(p.data) if isinstance(p, CSVText) else p


def _read_csv(p: Path | CSVText, id_col: str, sep: str, decimal: str) -> pd.DataFrame:
    """Read a CSV; the id column is read as text ('007' stays '007', 'NA' is an id)."""
    try:
        names = pd.read_csv(_source(p), sep=sep, header=None, nrows=1, dtype=str,
                            keep_default_na=False)  # fmt: skip
        names = [str(n) for n in names.iloc[0]] if len(names) else []
        if all(_is_number(n.replace(decimal, ".")) for n in names):
            # No header: the first row holds values, not names.
            df = pd.read_csv(_source(p), sep=sep, header=None, decimal=decimal)
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
        df = pd.read_csv(
            _source(p), sep=sep, dtype=text, keep_default_na=False, na_values=na, decimal=decimal
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"'{p}' is empty: give a CSV file with a header row and data") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(
            f"'{p}' is not a readable CSV file ({first_line(e)}): check its format"
        ) from None
    except (EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, gzip.BadGzipFile) as e:
        raise DataError(
            f"'{p}' is damaged or cut short ({first_line(e)}): check that it was written whole"
        ) from None
    except OSError as e:  # bz2's damaged stream, an I/O error
        raise DataError(
            f"cannot read data '{p}': {os_cause(e)}: check the file and that it was written whole"
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
