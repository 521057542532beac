"""Reading and validating data: layouts, formats, SeriesSet invariants, every bad input."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnncast.data.readers import CSVText, load
from rnncast.settings import ReadOptions
from tests.data.conftest import LONG, csv, error, parquet, write


def test_single_column_csv_without_header_is_one_series_of_values(tmp_path):
    s = load(csv(tmp_path, "5\n6.5\n7"))
    assert s.schema.layout == "values"
    assert list(s.ids) == ["y"]
    assert s.values.tolist() == [5, 6.5, 7]
    assert list(s.starts) == [0] and list(s.ends) == [2]


def test_tsv_is_read_with_tabs(tmp_path):
    s = load(write(tmp_path, "d.tsv", "ds\tv\n1\t1\n2\t2\n3\t3\n"))
    assert s.values.tolist() == [1, 2, 3]


EUROPEAN = "store;date;sales\nS01;2023-01-01;130,63\nS01;2023-01-02;131,5\nS01;2023-01-03;129\n"
LONG_EU = ReadOptions(id_col="store", time_col="date", target=("sales",))


def test_semicolons_and_decimal_commas_are_sniffed_and_said(tmp_path):
    path = write(tmp_path, "eu.csv", EUROPEAN)
    s = load(path, LONG_EU)
    assert s.values.tolist() == pytest.approx([130.63, 131.5, 129])
    assert s.detected == (
        f"read '{path}' with columns separated by ';' and ',' as the decimal mark (detected: "
        "name them with --sep and --decimal to read it otherwise)",
    )
    assert s.read_as == {"sep": ";", "decimal": ","}


def test_sep_and_decimal_given_are_used_as_given(tmp_path):
    path = write(tmp_path, "eu.csv", EUROPEAN.replace(";", "|"))
    s = load(path, ReadOptions(id_col="store", time_col="date", target=("sales",), sep="|",
                               decimal=","))  # fmt: skip
    assert s.values.tolist() == pytest.approx([130.63, 131.5, 129]) and s.detected == ()
    assert "'store' not found" in error(path, ReadOptions(id_col="store", sep=","))


def test_commas_win_where_they_split_every_line_alike(tmp_path):
    path = csv(tmp_path, "ds,a;b\n2024-01-01,1;2\n2024-01-02,3;4\n2024-01-03,5;6")
    assert "column 'a;b'" in error(path)  # one column, as the commas say


def test_two_other_separators_that_both_fit_are_refused(tmp_path):
    path = csv(tmp_path, "ds;a|b\n1;2|3\n2;4|5\n3;6|7")
    assert error(path) == (
        f"'{path}' could be split into columns at ';' or '|': name the separator with --sep "
        "(e.g. --sep ';')"
    )


@pytest.mark.parametrize("name", ["d.tsv.gz", "d.tsv.bz2", "d.tsv.xz", "d.TSV.GZ"])
def test_compressed_tsv_is_read_with_tabs(tmp_path, name):
    frame = pd.DataFrame({"ds": [1, 2, 3], "v": [1.5, 2.0, 3.0], "w": [1.0, 2.0, 3.0]})
    frame.to_csv(tmp_path / name, sep="\t", index=False)
    s = load(tmp_path / name)
    assert s.schema.columns == ("v", "w") and s.values.tolist() == [1.5, 2, 3, 1, 2, 3]
    assert s.detected == ()


def test_compressed_semicolon_csv_is_sniffed(tmp_path):
    path = tmp_path / "eu.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write(EUROPEAN)
    assert load(path, LONG_EU).values.tolist() == pytest.approx([130.63, 131.5, 129])


def test_parquet_file_reads_like_the_csv(tmp_path):
    s_csv = load(csv(tmp_path, LONG))
    df = pd.read_csv(tmp_path / "data.csv", parse_dates=["ds"])
    df.to_parquet(tmp_path / "data.parquet")
    s_pq = load(tmp_path / "data.parquet")
    assert list(s_pq.ids) == list(s_csv.ids)
    assert np.array_equal(s_pq.values, s_csv.values)
    assert np.array_equal(s_pq.offsets, s_csv.offsets)
    assert s_pq.axis == s_csv.axis
    assert s_pq.fingerprint() == s_csv.fingerprint()


def test_folder_of_parquet_files_is_read_as_one(tmp_path):
    folder = tmp_path / "parts"
    (folder / "sub").mkdir(parents=True)
    parquet(folder / "b.parquet", {"unique_id": ["b"] * 3, "ds": [1, 2, 3], "y": [4, 5, 6]})
    parquet(
        folder / "sub" / "a.parquet",
        {"unique_id": ["a"] * 3, "ds": [1, 2, 3], "y": [1.0, 2.0, 3.0]},
    )
    write(folder, "README.txt", "not data")
    s = load(folder)
    assert sorted(s.ids) == ["a", "b"]
    assert sorted(s.values.tolist()) == [1, 2, 3, 4, 5, 6]
    assert s.lengths.tolist() == [3, 3]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    assert error(path) == f"data file '{path}' not found: check the path"


def test_unsupported_suffix(tmp_path):
    path = write(tmp_path, "data.json", "{}")
    assert error(path) == (
        f"'{path}' has an unsupported file type '.json': give a .csv or .parquet file, "
        "or a folder of .parquet files"
    )


def test_empty_csv(tmp_path):
    path = write(tmp_path, "data.csv", "")
    assert error(path) == f"'{path}' is empty: give a CSV file with a header row and data"


def test_header_only_csv(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y")
    assert error(path) == f"'{path}' has a header but no rows: add data below the header"


def test_binary_file_named_csv(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert error(path) == (
        f"'{path}' is not a readable CSV file ('utf-8' codec can't decode byte 0x89 in position "
        "0: invalid start byte): check its format"
    )


def test_not_a_parquet_file(tmp_path):
    path = write(tmp_path, "data.parquet", "this is not parquet at all")
    assert error(path) == (
        f"'{path}' is not a readable Parquet file: check that it is a complete Parquet file"
    )


def test_parquet_file_without_rows(tmp_path):
    path = parquet(tmp_path / "d.parquet", {"ds": pa.array([], pa.int64())})
    assert error(path) == f"'{path}' has no rows: give a Parquet file with data"


def test_folder_without_parquet_files(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    write(folder, "data.csv", "ds,y\n1,2\n")
    assert error(folder) == (
        f"folder '{folder}' holds no .parquet files: point at a file or a folder of them"
    )


def test_folder_with_an_unreadable_file(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    parquet(folder / "a.parquet", {"ds": [1, 2, 3], "v": [1.0, 2.0, 3.0]})
    bad = write(folder, "b.parquet", "garbage")
    assert error(folder) == (
        f"'{bad}' is not a readable Parquet file: check that it is a complete Parquet file, or "
        "move it out of the folder"
    )


def test_folder_whose_files_have_different_columns(tmp_path):
    # pyarrow alone would read 'b' with the columns of 'a': 'y' all empty, 'value' dropped.
    folder = tmp_path / "parts"
    folder.mkdir()
    parquet(folder / "a.parquet", {"unique_id": ["a"], "ds": [1], "y": [1.0]})
    parquet(folder / "b.parquet", {"unique_id": ["b"], "ds": [1], "value": [1.0]})
    assert error(folder) == (
        f"the Parquet files in '{folder}' have different columns ('a.parquet': unique_id, ds, "
        "y; 'b.parquet': unique_id, ds, value): give every file the same columns"
    )


def test_folder_whose_files_disagree_on_a_column_type(tmp_path):
    # pyarrow alone would quietly cast the strings of 'b' to the integers of 'a'.
    folder = tmp_path / "parts"
    folder.mkdir()
    parquet(folder / "a.parquet", {"unique_id": ["a"] * 3, "ds": [1, 2, 3], "y": [1.0] * 3})
    parquet(folder / "b.parquet", {"unique_id": ["b"] * 3, "ds": ["1", "2", "3"], "y": [1.0] * 3})
    assert error(folder) == (
        f"column 'ds' of the Parquet files in '{folder}' is int64 in 'a.parquet' but string "
        "in 'b.parquet': write it with one type in every file"
    )


def test_folder_whose_files_mix_integer_and_float_values_reads(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    parquet(folder / "a.parquet", {"unique_id": ["a"] * 3, "ds": [1, 2, 3], "y": [1, 2, 3]})
    parquet(folder / "b.parquet", {"unique_id": ["b"] * 3, "ds": [1, 2, 3], "y": [0.5] * 3})
    assert load(folder).values.tolist() == [1, 2, 3, 0.5, 0.5, 0.5]


def test_csv_ids_are_text(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\n" + "".join(
        f"{i},{t},{v}\n" for i in ("007", "NA", "010") for t, v in ((1, 1.0), (2, 2.0), (3, 3.0))
    ))  # fmt: skip
    series = load(path)
    assert list(series.ids) == ["007", "NA", "010"]
    empty = csv(tmp_path, "unique_id,ds,y\na,1,1\n,2,2\n", name="empty_id.csv")
    assert error(empty) == (
        f"column 'unique_id' in '{empty}' has an empty series id at line 3: give every row an id"
    )


def test_repeated_column_names(tmp_path):
    path = csv(tmp_path, "ds,a,a\n1,2,3\n")
    assert error(path) == (
        f"'{path}' has more than one column named 'a' (line 1): give every column its own name"
    )
    table = pa.table([pa.array([1, 2]), pa.array([3, 4]), pa.array([5, 6])], names=["ds", "a", "a"])
    pq.write_table(table, tmp_path / "dup.parquet")
    assert error(tmp_path / "dup.parquet") == (
        f"'{tmp_path / 'dup.parquet'}' has more than one column named 'a': give every column its "
        "own name"
    )


def test_folders_are_searched_only_as_deep_as_a_dataset_goes(tmp_path):
    frame = pd.DataFrame({"ds": [1, 2, 3], "v": [1.0, 2.0, 3.0]})
    hive = tmp_path / "hive" / "a=1" / "b=2" / "c=3"
    hive.mkdir(parents=True)
    frame.to_parquet(hive / "part.parquet")
    assert load(tmp_path / "hive").values.tolist() == [1, 2, 3]
    deep = tmp_path / "deep" / "1" / "2" / "3" / "4" / "5"
    deep.mkdir(parents=True)
    frame.to_parquet(deep / "part.parquet")
    assert error(tmp_path / "deep") == (
        f"folder '{tmp_path / 'deep'}' holds no .parquet files: point at a file or a folder of them"
    )


def test_a_folder_too_big_to_be_a_dataset_is_refused_before_it_is_searched(tmp_path, monkeypatch):
    from rnncast.data import readers

    monkeypatch.setattr(readers, "FOLDER_ENTRIES", 10)
    for i in range(11):
        (tmp_path / f"{i}.txt").write_text("")
    assert error(tmp_path) == (
        f"folder '{tmp_path}' holds more than 10 files and folders within 4 levels: point at a "
        "Parquet file, or at the folder of one dataset"
    )


def test_paths_the_system_refuses_are_one_line_naming_them(tmp_path, monkeypatch):
    import errno
    import os

    loop = tmp_path / "loop.csv"
    os.symlink(tmp_path / "other.csv", loop)
    os.symlink(loop, tmp_path / "other.csv")
    assert error(loop) == (
        f"cannot read data '{loop}': Too many levels of symbolic links (Errno 40): check the "
        "path and its permissions"
    )
    long = tmp_path / ("x" * 300 + ".csv")
    assert error(long) == (
        f"cannot read data '{long}': File name too long (Errno 36): check the path and its "
        "permissions"
    )
    locked = csv(tmp_path, LONG)  # root reads anything: the system's refusal is simulated
    opened = os.open

    def refuse(path, *args, **kwargs):
        if str(path) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    assert error(locked) == (
        f"cannot read data '{locked}': Permission denied (Errno 13): check the path and its "
        "permissions"
    )


def test_a_damaged_or_cut_short_compressed_csv_is_one_line(tmp_path):
    """A half-written .csv.gz was click's bare 'Aborted.' (an EOFError), exit 1."""
    import bz2
    import lzma

    text = b"ds,y\n" + b"".join(b"2020-01-%02d,%d\n" % (d, d) for d in range(1, 29))
    for suffix, compress in ((".gz", gzip.compress), (".bz2", bz2.compress),
                             (".xz", lzma.compress)):  # fmt: skip
        whole = compress(text)
        (tmp_path / f"cut.csv{suffix}").write_bytes(whole[: len(whole) // 2])
        assert error(tmp_path / f"cut.csv{suffix}") == (
            f"'{tmp_path / f'cut.csv{suffix}'}' is damaged or cut short (Compressed file ended "
            "before the end-of-stream marker was reached): check that it was written whole"
        )
    (tmp_path / "junk.csv.bz2").write_bytes(b"x" * 100)
    assert error(tmp_path / "junk.csv.bz2") == (
        f"cannot read data '{tmp_path / 'junk.csv.bz2'}': Invalid data stream: check the file "
        "and that it was written whole"
    )


def test_csv_text_in_no_file_reads_as_the_file_does(tmp_path):
    """Standard input's CSV (`CSVText`): the same series as from a file, named '<stdin>'
    where a file would be named, its separator and decimal mark sniffed alike."""
    path = csv(tmp_path, LONG)
    text = CSVText(path.read_bytes())
    from_file, from_text = load(path), load(text)
    assert from_text.source == "<stdin>" and str(text) == "<stdin>"
    assert from_text.values.tolist() == from_file.values.tolist()
    assert list(from_text.ids) == list(from_file.ids)
    assert list(from_text.starts) == list(from_file.starts)
    s = load(CSVText(EUROPEAN.encode()), LONG_EU)
    assert s.values.tolist() == pytest.approx([130.63, 131.5, 129])
    assert s.detected == (
        "read '<stdin>' with columns separated by ';' and ',' as the decimal mark (detected: "
        "name them with --sep and --decimal to read it otherwise)",
    )
    assert error(CSVText(b"")) == ("'<stdin>' is empty: give a CSV file with a header row and data")
    assert error(CSVText(b"unique_id,ds,y\n")) == (
        "'<stdin>' has a header but no rows: add data below the header"
    )
    assert error(CSVText(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))) == (
        "'<stdin>' is not a readable CSV file ('utf-8' codec can't decode byte 0x89 in position "
        "0: invalid start byte): check its format"
    )
