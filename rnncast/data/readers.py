"""Reading files: a CSV file, a Parquet file or a folder of Parquet files, into a frame
(`read_table`) and on into a `SeriesSet` (`load`, which takes long Parquet in the clean case
straight to float32 through `rnncast.data.parquet_long`); and CSV text that is in no file
(standard input, `CSVText`), read as a CSV file is.

Each may be local or a URL (`rnncast.data.remote`): a CSV object (compressed too), a Parquet
object, or a prefix of Parquet objects (a "folder") in S3, GCS or Azure, or a file on the
web. Parquet is read through pyarrow with the store's filesystem, long data's columns only.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from rnncast.data import remote
from rnncast.data.build import from_frame
from rnncast.data.columns import Found
from rnncast.data.remote import Remote, arrow_source, is_url
from rnncast.data.schema import long_schema
from rnncast.data.series import DEFAULT_ID, DEFAULT_TARGET, SeriesSet
from rnncast.errors import DataError, first_line, os_cause
from rnncast.settings import ReadOptions

Source = Path | Remote  # a local file or folder, or an object or prefix in a store

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


CSVSource = Source | CSVText  # a CSV file, object or text


def load(path: str | Path | CSVText, options: ReadOptions | None = None) -> SeriesSet:
    """Read and validate a data file or folder, or CSV text (see the module docstring)."""
    options = options or ReadOptions()
    if isinstance(path, CSVText):
        found = Found()
        sep, decimal = csv_format(path, options, found)
        df = _read_csv(path, options.id_col or DEFAULT_ID, sep, decimal)
        return from_frame(df, options, source=str(path), kind="csv", found=found)
    with _source(path) as (p, folder):
        files = _folder_files(p) if folder else _parquet_files(p)
        if files:  # long Parquet in the clean, common case: read in batches, not through pandas
            from rnncast.data import parquet_long

            series = parquet_long.read(str(p), files, options)
            if series is not None:
                return series
        found = Found()
        df, kind = _read(p, folder, options.id_col or DEFAULT_ID, options, found)
    return from_frame(df, options, source=str(p), kind=kind, found=found)


@contextlib.contextmanager
def _source(path: str | Path) -> Iterator[tuple[Source, bool]]:
    """`path`, checked to open for reading, as a local `Path` or a `Remote`, and whether it
    is a folder (a prefix of objects); a store's error while it is read is one line."""
    if not is_url(path):
        check_readable(path)
        yield Path(path), Path(path).is_dir()
        return
    r = remote.resolve(path, "reading")
    with remote.reading(r, "data", DataError):
        yield r, remote.info(r, "data", DataError, "data file")["type"] == "directory"


def _parquet_files(p: Source) -> list[Source]:
    """The Parquet file `p`, or the Parquet files in folder `p` in reading order; [] for
    anything else."""
    if isinstance(p, Remote):
        return [p] if p.suffix.lower() in PARQUET_SUFFIXES else []
    if p.is_dir():
        return _folder_files(p)
    return [p] if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES else []


FOLDER_DEPTH = 4  # levels of subfolders searched: a Parquet dataset's partitions (year=/month=/...)
FOLDER_ENTRIES = 100_000  # entries looked at before a folder is taken for something else


def _folder_files(p: Source) -> list[Source]:
    """The Parquet files in folder `p` and its subfolders down to `FOLDER_DEPTH` levels, as a
    Parquet dataset lays them out (symbolic links to folders not followed), in order. A
    folder with more than `FOLDER_ENTRIES` entries in those levels is refused rather than
    searched (`rnncast predict /` would walk the whole file system)."""
    if isinstance(p, Remote):
        return _prefix_files(p)
    found, seen = [], 0
    for root, dirs, files in os.walk(p, onerror=_unreadable(p)):
        seen += len(dirs) + len(files)
        if seen > FOLDER_ENTRIES:
            raise _too_many(p)
        if len(Path(root).relative_to(p).parts) >= FOLDER_DEPTH:
            dirs.clear()  # deeper than a dataset's partitions go
        found += [Path(root, f) for f in files if Path(f).suffix.lower() in PARQUET_SUFFIXES]
    return sorted(f for f in found if f.is_file())


def _prefix_files(p: Remote) -> list[Source]:
    """`_folder_files` of a prefix in a store: listed a folder at a time down to the same
    levels, and refused as soon as the entries pass `FOLDER_ENTRIES` (one listing of the
    whole prefix, fsspec's `find`, would fetch every object under it first: all of a bucket
    for 's3://bucket/')."""
    found, seen = [], 0
    for root, dirs, files in p.fs.walk(p.path, maxdepth=FOLDER_DEPTH + 1, on_error="raise"):
        seen += len(dirs) + len(files)
        if seen > FOLDER_ENTRIES:
            raise _too_many(p)
        found += [p.child(f"{root.rstrip('/')}/{name}") for name in files
                  if Path(name).suffix.lower() in PARQUET_SUFFIXES]  # fmt: skip
    return sorted(found, key=lambda f: f.path.split("/"))


def _too_many(p: Source) -> DataError:
    return DataError(
        f"folder '{p}' holds more than {FOLDER_ENTRIES:,} files and folders within "
        f"{FOLDER_DEPTH} levels: point at a Parquet file, or at the folder of one dataset"
    )


def _relative(f: Source, p: Source) -> str:
    """File `f`'s path within folder `p`, for messages."""
    return p.relative(f) if isinstance(p, Remote) else str(f.relative_to(p))


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
    noted in `found`). Of long Parquet data only the columns read are read."""
    with _source(path) as (p, folder):
        return _read(p, folder, id_col, options or ReadOptions(), found)


def _read(p: Source, folder: bool, id_col: str, options: ReadOptions,
          found: Found | None) -> tuple[pd.DataFrame, str]:  # fmt: skip
    if folder:
        return _read_parquet_folder(p, options), "parquet"
    suffix = p.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(p, options), "parquet"
    if suffix in CSV_SUFFIXES:
        sep, decimal = csv_format(p, options, found)
        return _read_csv(p, id_col, sep, decimal), "csv"
    raise DataError(
        f"'{p}' has an unsupported file type '{p.suffix}': give a .csv or .parquet file, "
        "or a folder of .parquet files"
    )


COMPRESSED = {".gz", ".bz2", ".zip", ".xz"}
SEPARATORS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}  # those sniffed, in words
_QUOTED = re.compile(r'"[^"]*"')
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
_DECIMAL_POINT = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?")


def csv_format(p: CSVSource, options: ReadOptions,
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


def _head_lines(p: CSVSource, size: int = 16384, most: int = 50) -> list[str]:
    """The first complete, non-empty lines of CSV `p` (of its first `size` bytes,
    decompressed), quoted text taken out; [] where it cannot be read (pandas says why)."""
    suffix = "" if isinstance(p, CSVText) else p.suffix.lower()
    try:
        with _raw(p) as raw:
            if suffix == ".zip":
                with zipfile.ZipFile(raw) as z, z.open(z.namelist()[0]) as f:
                    head = f.read(size)
            else:
                opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(suffix)
                if opener is None:
                    head = raw.read(size)
                else:
                    with opener(raw, "rb") as f:
                        head = f.read(size)
    except (OSError, EOFError, IndexError, lzma.LZMAError, zipfile.BadZipFile):
        return []
    lines = head.decode("utf-8", errors="replace").splitlines()
    if len(head) == size:
        lines = lines[:-1]  # cut short
    return [_QUOTED.sub("", line) for line in lines if line.strip()][:most]


def _raw(p: CSVSource) -> IO[bytes]:
    """File `p`, open for reading bytes (a fresh stream over CSV text)."""
    if isinstance(p, CSVText):
        return io.BytesIO(p.data)
    return p.open() if isinstance(p, Remote) else open(p, "rb")


# pandas' compression of a file object, by the name's extension (it infers a path's itself)
COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz"}


@contextlib.contextmanager
def _csv_input(p: CSVSource) -> Iterator[tuple[Any, str | None]]:
    """What pandas reads CSV `p` from, and its compression."""
    if isinstance(p, CSVText):
        yield io.BytesIO(p.data), None
        return
    if isinstance(p, Remote):
        with p.open() as f:
            yield f, COMPRESSION.get(p.suffix.lower())
    else:
        yield p, "infer"


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


def _read_csv(p: CSVSource, id_col: str, sep: str, decimal: str) -> pd.DataFrame:
    """Read a CSV; the id column is read as text ('007' stays '007', 'NA' is an id)."""
    try:
        with _csv_input(p) as (f, compression):
            names = pd.read_csv(f, sep=sep, header=None, nrows=1, dtype=str,
                                keep_default_na=False, compression=compression)  # fmt: skip
        names = [str(n) for n in names.iloc[0]] if len(names) else []
        if all(_is_number(n.replace(decimal, ".")) for n in names):
            # No header: the first row holds values, not names.
            with _csv_input(p) as (f, compression):
                df = pd.read_csv(f, sep=sep, header=None, decimal=decimal,
                                 compression=compression)  # fmt: skip
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
        with _csv_input(p) as (f, compression):
            df = pd.read_csv(f, sep=sep, dtype=text, keep_default_na=False, na_values=na,
                             decimal=decimal, compression=compression)  # fmt: skip
    except _store_errors(p) as e:
        raise remote.unreadable(p, "data", DataError, e) from None
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


def _read_parquet(p: Source, options: ReadOptions) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source, filesystem = arrow_source(p)
    try:
        names = pq.read_schema(source, filesystem=filesystem).names
        _check_unique_names(names, p)
        table = pq.read_table(source, filesystem=filesystem, columns=_columns(names, options))
    except _store_errors(p) as e:
        raise remote.unreadable(p, "data", DataError, e) from None
    except (pa.ArrowInvalid, OSError):
        raise DataError(
            f"'{p}' is not a readable Parquet file: check that it is a complete Parquet file"
        ) from None
    df = table.to_pandas()
    if df.empty:
        raise DataError(f"'{p}' has no rows: give a Parquet file with data")
    return df


def _columns(names: list[str], options: ReadOptions) -> list[str] | None:
    """The columns to read of a Parquet file with columns `names`: those of long data
    (id, time, value, covariates, future covariates) when the options or the columns say it
    is long data and it has them (as `rnncast.data.schema.detect_schema` decides); None
    (all) otherwise."""
    if options.id_col is None and DEFAULT_ID not in names:
        return None
    try:
        schema = long_schema(names, options, "")
    except DataError:
        return None  # reading all of them, the frame's reader says what is missing
    return [schema.id_col, schema.time_col, schema.target, *options.covariates,
            *options.future_covariates]  # fmt: skip


def _check_unique_names(names: list[str], p: Source) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(
            f"'{p}' has more than one column named '{repeated[0]}': give every column its own name"
        )


def _read_parquet_folder(p: Source, options: ReadOptions) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.dataset as ds

    files = _folder_files(p)
    if not files:
        raise DataError(
            f"folder '{p}' holds no .parquet files: point at a file or a folder of them"
        )
    schema = _folder_schema(p, files)
    paths, filesystem = zip(*map(arrow_source, files), strict=True)
    try:
        dataset = ds.dataset(list(paths), schema=schema, format="parquet",
                             filesystem=filesystem[0])  # fmt: skip
        table = dataset.to_table(columns=_columns(schema.names, options))
    except _store_errors(p) as e:
        raise remote.unreadable(p, "data", DataError, e) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
        raise DataError(
            f"the Parquet files in '{p}' cannot be read together ({first_line(e)}): "
            "check that every file is a complete Parquet file"
        ) from None
    df = table.to_pandas()
    if df.empty:
        raise DataError(f"the Parquet files in '{p}' have no rows: give files with data")
    return df


def _folder_schema(p: Source, files: list[Source]) -> Any:
    """The one schema of the Parquet `files` of folder `p`. pyarrow would take the first
    file's schema for all: columns the others lack would come back empty and columns only
    they have would be dropped. Checked up front instead."""
    import pyarrow as pa

    schema = _parquet_schema(files[0])
    _check_unique_names(schema.names, files[0])
    for f in files[1:]:
        other = _parquet_schema(f)
        a, b = _relative(files[0], p), _relative(f, p)
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
    return schema


def _parquet_schema(f: Source):
    import pyarrow as pa
    import pyarrow.parquet as pq

    source, filesystem = arrow_source(f)
    try:
        return pq.read_schema(source, filesystem=filesystem)
    except _store_errors(f) as e:
        raise remote.unreadable(f, "data", DataError, e) from None
    except (pa.ArrowInvalid, OSError):
        raise DataError(
            f"'{f}' is not a readable Parquet file: check that it is a complete Parquet file, "
            "or move it out of the folder"
        ) from None


def _store_errors(p: CSVSource) -> tuple[type[BaseException], ...]:
    """The errors by which a store tells why `p` cannot be read, when `p` is in one (a
    damaged file is pyarrow's or pandas' error, not one of these); none for a local file."""
    if not isinstance(p, Remote):
        return ()
    import pyarrow as pa

    return tuple(k for k in remote.store_errors() if not issubclass(k, pa.ArrowException))


def _is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True
