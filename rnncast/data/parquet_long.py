"""Long-layout Parquet straight into a SeriesSet, one record batch at a time.

The general reader (`rnncast.data`) goes through a whole pandas frame and then several
full-length 8-byte working arrays (times, float64 values, row numbers, grid positions): some
70 bytes a row at its peak, 7 GB for 100 million rows. Big inputs are usually long Parquet
(one row per series and time, in a file or a folder of files), so for those this module reads
only the id, time and value columns, a batch of rows at a time, straight into the flat
float32 values. Beyond the values it holds one batch and a few numbers per series.

It takes the clean, common case only: each series' rows together and in time order, no
missing or non-finite values, no gaps, one fixed step. For anything else (and anything it
cannot vouch for: other column types, calendar frequencies such as months, covariates)
`read` returns None and the caller reads the data the general way, which fills, sorts or
names the problem exactly as it always has. Where it applies, the result is the SeriesSet
the general reader builds (the tests compare the two).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rnncast.data.build import too_close_to_zero
from rnncast.data.remote import Remote, arrow_source
from rnncast.data.schema import long_schema
from rnncast.data.series import DEFAULT_ID, Schema, SeriesSet
from rnncast.data.timeaxis import TimeAxis, infer_datetime_freq, parse_freq
from rnncast.errors import ConfigError, DataError
from rnncast.settings import ReadOptions

BATCH_ROWS = 1 << 20


class _General(Exception):
    """The data are not the clean case: read them the general way."""


def read(source: str, files: list[Path | Remote], options: ReadOptions) -> SeriesSet | None:
    """The long series of the Parquet `files` (one file, or a folder's files in order), or
    None where the general reader must take them; `source` names them in the result."""
    try:
        return _read(source, files, options)
    except _General:
        return None


def _read(source: str, files: list[Path | Remote], options: ReadOptions) -> SeriesSet:
    schema, (id_type, time_type, _), total = _clean_columns(source, files, options)
    columns = [schema.id_col, schema.time_col, schema.target]
    stream = _Stream(total)
    text_ids = pa.types.is_string(id_type) or pa.types.is_large_string(id_type)
    for f in files:
        try:
            batches = _open(  # pre-buffering would hold ~0.5 GB of file at once
                f, read_dictionary=[schema.id_col] if text_ids else None, pre_buffer=False
            )
            for batch in batches.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                stream.add(*batch.columns)
        except (pa.ArrowException, OSError):
            raise _General from None
    pa.default_memory_pool().release_unused()  # ~0.1 GB of batch buffers kept for reuse
    if stream.row != total:
        raise _General
    offsets = np.append(np.concatenate(stream.firsts), total).astype(np.int64)
    counts = np.diff(offsets)
    first_key = np.concatenate(stream.first_keys)  # each series' first time, in ticks
    axis = _axis(stream.step, counts, first_key, time_type, options)
    last_key = first_key + (counts - 1) * (stream.step or 0)
    if pa.types.is_timestamp(time_type):
        starts = _datetimes(first_key, time_type, schema.time_col)
        ends = _datetimes(last_key, time_type, schema.time_col)
    else:
        starts, ends = pd.Index(first_key), pd.Index(last_key)
    if options.fill != "none":  # as the general reader's filling builds them
        starts = axis.at(starts, np.zeros(len(starts), dtype=np.int64))
    return SeriesSet(
        ids=np.asarray(list(stream.ids), dtype=object),
        values=stream.values,
        offsets=offsets,
        starts=starts,
        ends=ends,
        axis=axis,
        schema=schema,
        source=source,
    )


def _open(f: Path | Remote, **options: object) -> pq.ParquetFile:
    """Parquet file `f` (local, or in a store), open to read."""
    where, filesystem = arrow_source(f)
    return pq.ParquetFile(where, filesystem=filesystem, **options)


def _clean_columns(source: str, files: list[Path | Remote],
                   options: ReadOptions) -> tuple[Schema, list[pa.DataType], int]:  # fmt: skip
    """The long schema of the files, the id, time and value columns' types and the rows in
    all; `_General` unless every file has the same columns, of types this reader takes."""
    if options.covariates or options.future_covariates:
        raise _General
    try:
        opened = [_open(f) for f in files]  # once each: a file in a store is a request
        schemas = [p.schema_arrow for p in opened]
        total = sum(p.metadata.num_rows for p in opened)
    except (pa.ArrowException, OSError):
        raise _General from None
    names = schemas[0].names
    if len(set(names)) < len(names) or any(set(s.names) != set(names) for s in schemas):
        raise _General
    if options.id_col is None and DEFAULT_ID not in names:
        raise _General  # not long data
    try:
        schema = long_schema(names, options, source)
    except DataError:
        raise _General from None
    columns = [schema.id_col, schema.time_col, schema.target]
    types = [schemas[0].field(c).type for c in columns]
    if total == 0 or any(s.field(c).type != t for s in schemas[1:] for c, t in
                         zip(columns, types, strict=True)):  # fmt: skip
        raise _General
    id_type, time_type, value_type = types
    if not (_plain_ids(id_type) or (pa.types.is_dictionary(id_type)
                                    and _plain_ids(id_type.value_type))):  # fmt: skip
        raise _General
    is_datetime = pa.types.is_timestamp(time_type)
    if not (is_datetime or (_integer(time_type) and options.time_format is None)):
        raise _General
    if not (pa.types.is_floating(value_type) or _integer(value_type)):
        raise _General
    return schema, types, total


def _plain_ids(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)


def _integer(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) and t != pa.uint64()


class _Stream:
    """What the batches have shown so far: values, series in order of first appearance,
    and where each series starts; `add` raises `_General` on anything unclean."""

    def __init__(self, total: int):
        self.values = np.empty(total, dtype=np.float32)
        self.ids: dict[object, int] = {}
        self.firsts: list[np.ndarray] = []  # row of each series' first value
        self.first_keys: list[np.ndarray] = []  # its time, in the column's integer ticks
        self.row = 0
        self.last_code, self.last_key = -1, 0
        self.step: int | None = None  # the one step between consecutive times

    def add(self, ids: pa.Array, times: pa.Array, values: pa.Array) -> None:
        if ids.null_count or times.null_count or values.null_count:
            raise _General
        codes = self._codes(ids)
        change = np.diff(codes, prepend=self.last_code)
        if ((change != 0) & (change != 1)).any():
            raise _General  # a series' rows are not together (the general reader sorts)
        ticks = times.to_numpy(zero_copy_only=False)  # datetime64 or integers
        keys = ticks.view(np.int64) if ticks.dtype.kind == "M" else ticks.astype(np.int64)
        same = change == 0
        steps = np.diff(keys, prepend=self.last_key)[same]
        if len(steps):
            self.step = int(steps[0]) if self.step is None else self.step
            if self.step <= 0 or (steps != self.step).any():
                raise _General  # gaps, repeats, disorder or several steps
        x = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            x32 = x.astype(np.float32)
        if not (np.isfinite(x).all() and np.isfinite(x32).all()):
            raise _General  # missing, infinite or too large for float32
        if too_close_to_zero(x).any():
            raise _General  # too close to zero for float32
        new = np.flatnonzero(~same)
        self.firsts.append(self.row + new)
        self.first_keys.append(keys[new])
        n = len(codes)
        self.values[self.row : self.row + n] = x32
        self.row += n
        self.last_code, self.last_key = int(codes[-1]), int(keys[-1])

    def _codes(self, ids: pa.Array) -> np.ndarray:
        """Each row's series number (by first appearance), found per run of equal ids."""
        encoded = ids if pa.types.is_dictionary(ids.type) else ids.dictionary_encode()
        index = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        heads = np.flatnonzero(np.diff(index, prepend=-1))
        names = encoded.dictionary.take(pa.array(index[heads])).to_pylist()
        if any(name is None for name in names):
            raise _General
        run_codes = np.array([self.ids.setdefault(name, len(self.ids)) for name in names])
        return np.repeat(run_codes, np.diff(np.append(heads, len(index))))


def _datetimes(keys: np.ndarray, time_type: pa.DataType, name: str) -> pd.DatetimeIndex:
    """Integer ticks as the times pandas reads from the column (unit and zone alike)."""
    return pd.DatetimeIndex(pa.array(keys, type=time_type).to_pandas(), name=name)


def _axis(rows_step: int | None, counts: np.ndarray, first_key: np.ndarray,
          time_type: pa.DataType, options: ReadOptions) -> TimeAxis:  # fmt: skip
    """The time axis the general reader would find, checked to step exactly as the rows do
    (`rows_step` ticks between consecutive times; None where no series has two)."""
    if not pa.types.is_timestamp(time_type):
        step = rows_step or 1
        if options.freq is not None:
            try:
                step = int(options.freq)
            except ValueError:
                raise _General from None
            if step < 1 or rows_step not in (None, step):
                raise _General
        return TimeAxis("integer", step=step)
    tz = _datetimes(np.zeros(1, dtype=np.int64), time_type, "").tz  # as pandas names it
    if options.freq is not None:
        try:
            offset = parse_freq(options.freq)
        except ConfigError:
            raise _General from None
    else:
        if counts.max() < 3:
            raise _General
        longest = int(np.argmax(counts))  # the general reader tries this series first
        steps = np.arange(counts[longest]) * rows_step
        times = _datetimes(first_key[longest] + steps, time_type, "")
        offset = infer_datetime_freq(times)
        if offset is None:
            raise _General
    axis = TimeAxis("datetime", freq=offset.freqstr, tz=None if tz is None else str(tz))
    fixed = axis.fixed_step(tz is not None)
    if fixed is None:
        raise _General  # calendar steps (weeks, months, zoned days): the general reader checks
    if rows_step is not None and fixed != pd.Timedelta(rows_step, unit=time_type.unit):
        raise _General
    return axis
