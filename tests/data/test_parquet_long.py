from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnncast.data import parquet_long
from rnncast.data.build import from_frame
from rnncast.data.readers import _parquet_files, load, read_table
from rnncast.data.series import SeriesSet
from rnncast.errors import DataError
from rnncast.settings import ReadOptions


def _long(n=3, length=40, freq="h", tz=None, start="2024-03-30", seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame(
            {
                "unique_id": f"s{i}",
                "ds": pd.date_range(start, periods=length - 3 * i, freq=freq, tz=tz),
                "y": rng.normal(10 * (i + 1), 1, length - 3 * i),
            }
        )
        for i in range(n)
    ]
    return pd.concat(frames, ignore_index=True)


def _general(path, options: ReadOptions) -> SeriesSet:
    """What the pandas reader makes of the same file or folder."""
    df, kind = read_table(path, options=options)
    return from_frame(df, options, source=str(path), kind=kind)


def _assert_same(a: SeriesSet, b: SeriesSet) -> None:
    assert list(a.ids) == list(b.ids)
    assert [type(x) for x in a.ids] == [type(x) for x in b.ids]
    np.testing.assert_array_equal(a.values, b.values)
    assert a.values.dtype == b.values.dtype == np.float32
    np.testing.assert_array_equal(a.offsets, b.offsets)
    for x, y in ((a.starts, b.starts), (a.ends, b.ends)):
        assert x.equals(y) and x.dtype == y.dtype and x.name == y.name
    assert (a.axis, a.schema, a.source, a.notes) == (b.axis, b.schema, b.source, b.notes)
    if a.covariates is None or b.covariates is None:
        assert a.covariates is None and b.covariates is None
    else:
        np.testing.assert_array_equal(a.covariates, b.covariates)


def _streamed(path, options: ReadOptions) -> SeriesSet:
    files = _parquet_files(path)
    got = parquet_long.read(str(path), files, options)
    assert got is not None, "the clean case must not fall back"
    return got


@pytest.fixture(params=[1 << 20, 7])
def batch_rows(request, monkeypatch):
    """One batch, and batches of 7 rows that split series (and their steps) across batches."""
    monkeypatch.setattr(parquet_long, "BATCH_ROWS", request.param)
    return request.param


@pytest.mark.parametrize(
    "make, options",
    [
        (lambda: _long(), ReadOptions()),
        (lambda: _long(tz="Europe/Berlin"), ReadOptions()),  # across a DST change, hourly
        (lambda: _long(freq="D"), ReadOptions()),
        (lambda: _long(freq="15min"), ReadOptions(freq="15min")),
        (lambda: _long(), ReadOptions(fill="ffill")),
        (lambda: (lambda d: pd.concat([d.iloc[40:], d.iloc[:40]]))(_long()), ReadOptions()),
        (lambda: _long().astype({"y": "float32"}), ReadOptions()),
        (lambda: _long().assign(y=lambda d: (d.y * 10).round().astype("int64")), ReadOptions()),
        (
            lambda: _long().assign(unique_id=lambda d: d.unique_id.str[1:].astype("int64") + 7),
            ReadOptions(),
        ),
        (
            lambda: _long().rename(columns={"unique_id": "shop", "ds": "t", "y": "sales"}),
            ReadOptions(id_col="shop", time_col="t", target=("sales",)),
        ),
        (
            lambda: _long().assign(ds=lambda d: d.groupby("unique_id").cumcount() * 5 + 100),
            ReadOptions(),
        ),
        (
            lambda: _long().assign(ds=lambda d: d.groupby("unique_id").cumcount() * 5),
            ReadOptions(freq="5"),
        ),
    ],
)
def test_the_clean_case_reads_as_the_general_reader_does(tmp_path, batch_rows, make, options):
    path = tmp_path / "d.parquet"
    make().to_parquet(path, index=False)
    _assert_same(_streamed(path, options), _general(path, options))


def test_dictionary_ids_and_microseconds(tmp_path, batch_rows):
    df = _long(n=4)
    table = pa.table(
        {
            "unique_id": pa.array(df.unique_id).dictionary_encode(),
            "ds": pa.array(df.ds, pa.timestamp("us")),
            "y": pa.array(df.y, pa.float32()),
            "extra": pa.array(np.arange(len(df))),  # columns not needed are not read
        }
    )
    path = tmp_path / "d.parquet"
    pq.write_table(table, path, row_group_size=50)
    _assert_same(_streamed(path, ReadOptions()), _general(path, ReadOptions()))


def test_a_folder_with_a_series_split_across_files(tmp_path, batch_rows):
    df = _long(n=3)
    (tmp_path / "b").mkdir()  # files are read in path order: a, b/part, c
    df.iloc[:50].to_parquet(tmp_path / "a.parquet", index=False)
    df.iloc[50:90].to_parquet(tmp_path / "b" / "part.parquet", index=False)
    df.iloc[90:].to_parquet(tmp_path / "c.parquet", index=False)
    (tmp_path / "notes.txt").write_text("not data")
    _assert_same(_streamed(tmp_path, ReadOptions()), _general(tmp_path, ReadOptions()))


def _swap(df):
    return df.iloc[[1, 0, *range(2, len(df))]]


@pytest.mark.parametrize(
    "change, options",
    [
        (_swap, ReadOptions()),  # rows out of time order: the general reader sorts them
        (lambda d: pd.concat([d.iloc[:20], d.iloc[40:], d.iloc[20:40]]), ReadOptions()),
        (lambda d: d.drop(index=5), ReadOptions(fill="interpolate")),  # a gap, filled
        (lambda d: d.assign(y=d.y.where(d.index != 7)), ReadOptions(fill="zero")),  # a NaN
        (lambda d: _long(freq="MS"), ReadOptions()),  # calendar steps
        (lambda d: _long(freq="W-SUN"), ReadOptions()),
        (lambda d: _long(freq="D", tz="Europe/Berlin"), ReadOptions()),  # zoned days
        (lambda d: d.assign(c=1.0), ReadOptions(covariates=("c",))),
        (lambda d: d.assign(y=d.y.astype(str)), ReadOptions()),  # numbers as text
        (lambda d: d.assign(ds=d.ds.astype(str)), ReadOptions()),  # times as text
        (lambda d: d.rename(columns={"unique_id": "id"}), ReadOptions()),  # wide layout
    ],
)
def test_anything_else_is_left_to_the_general_reader(tmp_path, change, options):
    path = tmp_path / "d.parquet"
    change(_long()).to_parquet(path, index=False)
    assert parquet_long.read(str(path), [path], options) is None
    _assert_same_or_both_fail(path, options)


def _assert_same_or_both_fail(path, options):
    try:
        expected = _general(path, options)
    except DataError as e:
        with pytest.raises(DataError) as got:
            load(path, options)
        assert str(got.value) == str(e)
        return
    _assert_same(load(path, options), expected)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.drop(index=5), "has gaps in the hourly ('h') time grid: 1 missing step"),
        (lambda d: d.assign(y=d.y.where(d.index != 7)), "has 1 missing value (first: series"),
        (lambda d: pd.concat([d, d.iloc[[3]]]), "has 1 duplicate (unique_id, ds) row"),
        (lambda d: d.assign(y=d.y.where(d.index != 9, 1e39)), "too large for float32"),
        (lambda d: d.assign(y=d.y.where(d.index != 9, 1e-40)), "too close to zero for float32"),
    ],
)
def test_bad_data_gets_the_general_readers_message(tmp_path, change, message):
    path = tmp_path / "d.parquet"
    change(_long()).to_parquet(path, index=False)
    with pytest.raises(DataError) as streamed:
        load(path)
    df, kind = read_table(path)
    with pytest.raises(DataError) as general:
        from_frame(df, ReadOptions(), source=str(path), kind=kind)
    assert str(streamed.value) == str(general.value)
    assert message in str(streamed.value)
