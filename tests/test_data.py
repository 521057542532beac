"""Reading and validating data: layouts, formats, SeriesSet invariants, every bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnncast.data.build import from_frame
from rnncast.data.readers import load
from rnncast.errors import ConfigError, DataError
from rnncast.settings import ReadOptions


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    """A CSV file from lines given without their trailing newline."""
    return write(tmp_path, name, text.strip() + "\n")


def parquet(path: Path, columns: dict) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def error(path: Path, options: ReadOptions | None = None, kind=DataError) -> str:
    with pytest.raises(kind, match=None) as e:
        load(path, options)
    return str(e.value)


def stamps(*texts: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in texts]


LONG = """
unique_id,ds,y
a,2024-01-01,1
a,2024-01-02,2
a,2024-01-03,3
b,2024-01-02,10
b,2024-01-03,20
b,2024-01-04,30
b,2024-01-05,40
"""


# ---- layouts ----------------------------------------------------------------------------


def test_long_layout_with_default_columns(tmp_path):
    s = load(csv(tmp_path, LONG))
    assert s.schema.layout == "long"
    assert (s.schema.id_col, s.schema.time_col, s.schema.target) == ("unique_id", "ds", "y")
    assert list(s.ids) == ["a", "b"]
    assert s.values.tolist() == [1, 2, 3, 10, 20, 30, 40]
    assert s.offsets.tolist() == [0, 3, 7]
    assert s.axis.kind == "datetime" and s.axis.freq == "D"
    assert list(s.starts) == stamps("2024-01-01", "2024-01-02")
    assert list(s.ends) == stamps("2024-01-03", "2024-01-05")


def test_long_layout_with_renamed_columns(tmp_path):
    path = csv(
        tmp_path,
        """
item,when,sales,price
x,1,5,9
x,2,6,9
x,3,7,9
""",
    )
    s = load(path, ReadOptions(id_col="item", time_col="when", target=("sales",)))
    assert s.schema.layout == "long"
    assert (s.schema.id_col, s.schema.time_col, s.schema.target) == ("item", "when", "sales")
    assert list(s.ids) == ["x"]
    assert s.series(0).tolist() == [5, 6, 7]
    assert s.axis.kind == "integer" and s.axis.step == 1


def test_wide_layout_takes_every_numeric_column(tmp_path):
    path = csv(
        tmp_path,
        """
date,north,south
2024-01-01,1,10
2024-01-02,2,20
2024-01-03,3,30
""",
    )
    s = load(path)
    assert s.schema.layout == "wide"
    assert s.schema.time_col == "date"
    assert s.schema.columns == ("north", "south")
    assert list(s.ids) == ["north", "south"]
    assert s.values.tolist() == [1, 2, 3, 10, 20, 30]
    assert s.axis.freq == "D"


def test_wide_layout_target_picks_a_subset_in_the_given_order(tmp_path):
    path = csv(
        tmp_path,
        """
ds,a,b,c
1,1,2,3
2,4,5,6
3,7,8,9
""",
    )
    s = load(path, ReadOptions(target=("c", "a")))
    assert list(s.ids) == ["c", "a"]
    assert s.values.tolist() == [3, 6, 9, 1, 4, 7]


def test_wide_columns_are_trimmed_of_leading_and_trailing_empty_cells(tmp_path):
    path = csv(
        tmp_path,
        """
ds,early,late,short
2024-01-01,1,,5
2024-01-02,2,,6
2024-01-03,3,30,
2024-01-04,,40,
""",
    )
    s = load(path)
    assert s.lengths.tolist() == [3, 2, 2]
    assert s.values.tolist() == [1, 2, 3, 30, 40, 5, 6]
    assert list(s.starts) == stamps("2024-01-01", "2024-01-03", "2024-01-01")
    assert list(s.ends) == stamps("2024-01-03", "2024-01-04", "2024-01-02")


def test_values_layout_has_integer_steps_from_zero(tmp_path):
    path = csv(
        tmp_path,
        """
a,b
1,2
3,4
,5
""",
    )
    s = load(path)
    assert s.schema.layout == "values" and not s.schema.has_time
    assert list(s.ids) == ["a", "b"]
    assert s.values.tolist() == [1, 3, 2, 4, 5]
    assert list(s.starts) == [0, 0] and list(s.ends) == [1, 2]
    assert s.axis.kind == "integer" and s.axis.step == 1


def test_single_column_csv_without_header_is_one_series_of_values(tmp_path):
    s = load(csv(tmp_path, "5\n6.5\n7"))
    assert s.schema.layout == "values"
    assert list(s.ids) == ["y"]
    assert s.values.tolist() == [5, 6.5, 7]
    assert list(s.starts) == [0] and list(s.ends) == [2]


def test_integer_times_with_a_common_step(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,10,1
a,15,2
a,20,3
b,0,4
b,5,5
""",
    )
    s = load(path)
    assert s.axis.kind == "integer" and s.axis.step == 5
    assert list(s.starts) == [10, 0] and list(s.ends) == [20, 5]


def test_float_times_that_are_whole_numbers_are_integer_steps(tmp_path):
    path = parquet(tmp_path / "d.parquet", {"ds": [1.0, 2.0, 3.0], "v": [1.0, 2.0, 3.0]})
    s = load(path)
    assert s.axis.kind == "integer"
    assert list(s.starts) == [1] and list(s.ends) == [3]


@pytest.mark.parametrize(
    ("freq", "expected", "family"),
    [
        ("h", "h", "hourly"),
        ("D", "D", "daily"),
        ("MS", "MS", "monthly"),
        ("QS", "QS-JAN", "quarterly"),
        ("W-SUN", "W-SUN", "weekly"),
        ("W-WED", "W-WED", "weekly"),
    ],
)
def test_datetime_frequency_is_inferred(tmp_path, freq, expected, family):
    times = pd.date_range("2023-01-01", periods=6, freq=freq)
    text = "ds,v\n" + "".join(f"{t.isoformat()},{i}\n" for i, t in enumerate(times))
    s = load(write(tmp_path, "d.csv", text))
    assert s.axis.kind == "datetime"
    assert s.axis.freq == expected
    assert s.axis.family == family
    assert s.starts[0] == times[0] and s.ends[0] == times[-1]


def test_frequency_is_inferred_from_the_longest_series(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
short,2024-01-01,1
short,2024-02-01,2
long,2024-01-01,1
long,2024-02-01,2
long,2024-03-01,3
""",
    )
    assert load(path).axis.freq == "MS"


def test_forced_freq_checks_series_too_short_to_infer(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,2024-01-01,1
a,2024-01-08,2
""",
    )
    s = load(path, ReadOptions(freq="W-MON"))
    assert s.axis.freq == "W-MON"
    assert s.lengths.tolist() == [2]


def test_forced_integer_step(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,0,1\na,3,2\na,6,3")
    s = load(path, ReadOptions(freq="3"))
    assert s.axis.step == 3 and s.lengths.tolist() == [3]
    # Inferred, 0, 6, 12 is a step of 6; forced to 3, it has gaps.
    path = csv(tmp_path, "unique_id,ds,y\na,0,1\na,6,2\na,12,3", name="b.csv")
    assert load(path).axis.step == 6
    assert error(path, ReadOptions(freq="3")) == (
        f"'{path}' has gaps in the integer steps of 3 time grid: 2 missing steps in 1 series "
        "(first: series 'a' skips 1 after 0): add the missing rows with values, or pass "
        "--fill ffill, interpolate or zero"
    )


def test_times_with_and_without_a_clock_are_read_together(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,2024-01-01,1
a,2024-01-01 01:00,2
a,2024-01-01 02:00,3
""",
    )
    s = load(path)
    assert s.axis.freq == "h"
    assert list(s.ends) == stamps("2024-01-01 02:00")


def test_time_zone_aware_times_keep_their_zone(tmp_path):
    times = pd.date_range("2024-03-30 22:00", periods=6, freq="h", tz="Europe/Berlin")
    path = parquet(tmp_path / "d.parquet", {"ds": times, "v": np.arange(6.0)})
    s = load(path)
    assert s.axis.freq == "h"
    assert str(s.starts.tz) == "Europe/Berlin"
    assert s.ends[0] == times[-1]


def test_rows_given_unsorted_come_out_sorted_per_series(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
b,3,30
a,2,2
b,1,10
a,1,1
b,2,20
a,3,3
""",
    )
    s = load(path)
    assert list(s.ids) == ["b", "a"]  # order of first appearance, not sorted
    assert s.series(0).tolist() == [10, 20, 30]
    assert s.series(1).tolist() == [1, 2, 3]


def test_ids_keep_first_appearance_order(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
zeta,1,1
alpha,1,2
mid,1,3
alpha,2,4
zeta,2,5
mid,2,6
""",
    )
    assert list(load(path).ids) == ["zeta", "alpha", "mid"]


def test_tsv_is_read_with_tabs(tmp_path):
    s = load(write(tmp_path, "d.tsv", "ds\tv\n1\t1\n2\t2\n3\t3\n"))
    assert s.values.tolist() == [1, 2, 3]


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


def test_from_frame_names_rows_in_messages():
    df = pd.DataFrame({"unique_id": ["a", "a"], "ds": [1, 2], "y": [1.0, np.nan]})
    with pytest.raises(DataError, match=None) as e:
        from_frame(df, source="frame")
    assert str(e.value) == (
        "column 'y' in 'frame' has 1 missing value (first: series 'a' at 2, row 2): "
        "fill or remove them, or pass "
        "--fill ffill, interpolate or zero"
    )


# ---- SeriesSet invariants ---------------------------------------------------------------


def test_series_set_invariants(tmp_path):
    s = load(csv(tmp_path, LONG))
    assert s.values.dtype == np.float32
    assert s.offsets.dtype == np.int64
    assert s.offsets[0] == 0 and s.offsets[-1] == len(s.values)
    assert np.array_equal(s.lengths, np.diff(s.offsets))
    assert len(s) == len(s.ids) == len(s.starts) == len(s.ends) == 2
    assert np.array_equal(np.concatenate([s.series(i) for i in range(len(s))]), s.values)
    for i in range(len(s)):
        end = s.axis.at(s.starts[i : i + 1], np.array([s.lengths[i] - 1]))
        assert end[0] == s.ends[i]


def test_fingerprint_is_stable_and_sensitive_to_values(tmp_path):
    a = load(csv(tmp_path, LONG, "a.csv"))
    b = load(csv(tmp_path, LONG, "b.csv"))
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64
    changed = load(csv(tmp_path, LONG.replace("b,2024-01-04,30", "b,2024-01-04,31"), "c.csv"))
    assert changed.fingerprint() != a.fingerprint()
    renamed = load(csv(tmp_path, LONG.replace("a,", "z,"), "d.csv"))
    assert renamed.fingerprint() != a.fingerprint()


# ---- bad files --------------------------------------------------------------------------


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


# ---- bad columns ------------------------------------------------------------------------


def test_missing_column_suggests_a_close_match(tmp_path):
    path = csv(tmp_path, "unique_id,ds,sales\na,1,1")
    assert error(path, ReadOptions(target=("Sales",))) == (
        f"column 'Sales' not found in '{path}' (columns: unique_id, ds, sales): did you mean "
        "'sales'? name the right column with --target"
    )


def test_missing_column_without_a_close_match(tmp_path):
    path = csv(tmp_path, "unique_id,when,y\na,1,1")
    assert error(path) == (
        f"column 'ds' not found in '{path}' (columns: unique_id, when, y): name the right "
        "column with --time-col"
    )


def test_missing_id_column(tmp_path):
    path = csv(tmp_path, "item_id,ds,y\na,1,1")
    assert error(path, ReadOptions(id_col="itemid")) == (
        f"column 'itemid' not found in '{path}' (columns: item_id, ds, y): did you mean "
        "'item_id'? name the right column with --id-col"
    )


def test_missing_time_column_of_wide_data(tmp_path):
    path = csv(tmp_path, "date,a\n1,1")
    assert error(path, ReadOptions(time_col="Date")) == (
        f"column 'Date' not found in '{path}' (columns: date, a): did you mean 'date'? "
        "name the right column with --time-col"
    )


def test_non_numeric_target_in_csv(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,1,1
a,2,n/a?
a,3,3
a,4,x
""",
    )
    assert error(path) == (
        f"column 'y' in '{path}' has 2 non-numeric values (line 3: 'n/a?', line 5: 'x'): fix "
        "the values or pick another column with --target"
    )
    many = csv(tmp_path, "unique_id,ds,y\n" + "".join(f"a,{i},x{i}\n" for i in range(6)), "m.csv")
    assert error(many) == (
        f"column 'y' in '{many}' has 6 non-numeric values (line 2: 'x0', line 3: 'x1', line 4: "
        "'x2' and 3 more): fix the values or pick another column with --target"
    )


def test_non_numeric_target_in_parquet(tmp_path):
    path = parquet(
        tmp_path / "d.parquet",
        {"unique_id": ["a"] * 3, "ds": [1, 2, 3], "y": ["1", "2", "three"]},
    )
    assert error(path) == (
        f"column 'y' in '{path}' has 1 non-numeric value (row 3: 'three'): fix the values or "
        "pick another column with --target"
    )


def test_long_layout_takes_one_target(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y,z\na,1,1,2")
    assert error(path, ReadOptions(target=("y", "z"))) == (
        "long data takes one --target column, got 2 (y, z): name the single value column"
    )


def test_non_numeric_extra_column_in_wide_data(tmp_path):
    path = csv(
        tmp_path,
        """
ds,a,region
2024-01-01,1,north
2024-01-02,2,north
""",
    )
    assert error(path) == (
        f"'{path}' has a non-numeric column 'region' besides the time column: for long data "
        "name the id column with --id-col, or pick the value columns with --target"
    )


def test_wide_column_without_values(tmp_path):
    path = csv(tmp_path, "ds,a,b\n1,1,\n2,2,")
    assert error(path) == f"column 'b' in '{path}' has no values: drop it or fill it"


def test_empty_series_id(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,1,1\n,2,2")
    assert error(path) == (
        f"column 'unique_id' in '{path}' has an empty series id at line 3: give every row an id"
    )


def test_empty_option_is_a_config_error():
    with pytest.raises(ConfigError, match=None) as e:
        ReadOptions(time_col=" ")
    assert str(e.value) == "--time-col is empty: give a column name"


# ---- bad times --------------------------------------------------------------------------


def test_empty_times(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,2024-01-01,1
a,,2
a,2024-01-03,3
a,,4
""",
    )
    assert error(path) == (
        f"column 'ds' in '{path}' has 2 empty times (first at line 3): fill in every time"
    )


def test_empty_time_in_parquet(tmp_path):
    path = parquet(tmp_path / "d.parquet", {"ds": [1, None, 3], "v": [1.0, 2.0, 3.0]})
    assert error(path) == (
        f"column 'ds' in '{path}' has 1 empty time (first at row 2): fill in every time"
    )


def test_unparseable_times(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,2024-01-01,1
a,2024-01-02,2
a,soon,3
a,later,4
""",
    )
    assert error(path) == (
        f"column 'ds' in '{path}' has 2 values that are not times (first at line 4: 'soon'): "
        "use ISO dates such as 2024-01-31 or give --time-format"
    )


def test_times_not_matching_the_given_format(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,01/02/2024,1\na,2024-01-03,2")
    assert error(path, ReadOptions(time_format="%d/%m/%Y")) == (
        f"column 'ds' in '{path}' has 1 value that is not a time (first at line 3: "
        "'2024-01-03'): match --time-format '%d/%m/%Y'"
    )


@pytest.mark.parametrize(
    ("times", "line"),
    [
        (("2024-01-01T00:00+01:00", "2024-01-01T01:00", "2024-01-01T02:00"), 3),
        (("2024-01-01T00:00", "2024-01-01T01:00", "2024-01-01T02:00Z"), 2),
    ],
)
def test_times_with_and_without_zones(tmp_path, times, line):
    text = "unique_id,ds,y\n" + "".join(f"a,{t},1\n" for t in times)
    path = write(tmp_path, "d.csv", text)
    assert error(path) == (
        f"column 'ds' in '{path}' mixes times with and without a time zone (first without at "
        f"line {line}): write every time with its zone, or none"
    )


def test_one_zone_across_daylight_saving_is_read_as_utc(tmp_path):
    times = pd.date_range("2024-03-31 00:00", periods=6, freq="h", tz="Europe/Paris")
    frame = pd.DataFrame({"unique_id": "a", "ds": times, "y": range(6)})
    frame.to_csv(tmp_path / "paris.csv", index=False)  # +01:00 then +02:00
    series = load(tmp_path / "paris.csv")
    assert str(series.starts.tz) == "UTC"
    assert series.axis.freq == "h"
    assert series.ends[0] == times[-1]
    differing = "unique_id,ds,y\n" + "".join(
        f"a,{t},1\n" for t in ("2024-01-01T01:00+01:00", "2024-01-01T00:00+00:00")
    )
    path = write(tmp_path, "d.csv", differing)
    assert error(path).startswith(f"'{path}' has 1 duplicate (unique_id, ds) row")


def test_fractional_integer_times(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,1,1\na,2,2\na,2.5,3\na,3.5,4")
    assert error(path) == (
        f"column 'ds' in '{path}' holds fractional numbers (line 4): times must be dates or "
        "whole-number steps"
    )


def test_frequency_that_cannot_be_inferred(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,2024-01-01,1
a,2024-01-02,2
a,2024-01-05,3
a,2024-01-09,4
""",
    )
    assert error(path) == (
        f"cannot infer the frequency of column 'ds' in '{path}': the times are irregular or "
        "have gaps; pass --freq (e.g. h, D, W-SUN, MS) to check them against"
    )


def test_bad_freq_alias(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,2024-01-01,1")
    assert error(path, ReadOptions(freq="fortnightly"), ConfigError) == (
        "--freq 'fortnightly' is not a pandas frequency: use e.g. h, 15min, D, B, W-SUN, MS, QS, YS"
    )


def test_datetime_freq_for_integer_times(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,1,1\na,2,2")
    assert error(path, ReadOptions(freq="D")) == (
        f"--freq 'D' does not fit the integer times in column 'ds' of '{path}': give a "
        "whole-number step, e.g. --freq 1"
    )
    assert error(path, ReadOptions(freq="0")) == (
        "--freq must be a positive step for integer times, got 0"
    )


def test_off_grid_time(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,2024-01-01,1
a,2024-01-02,2
a,2024-01-03,3
b,2024-01-01,1
b,2024-01-02 12:00,2
b,2024-01-03,3
""",
    )
    assert error(path) == (
        f"series 'b' in '{path}' has a time off the daily ('D') grid (line 6: "
        "2024-01-02 12:00:00): make the times evenly spaced or pass the right --freq"
    )


def test_off_grid_time_against_a_calendar_freq(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,2024-01-01,1
a,2024-02-01,2
a,2024-03-15,3
""",
    )
    assert error(path, ReadOptions(freq="MS")) == (
        f"series 'a' in '{path}' has a time off the monthly ('MS') grid (line 4: "
        "2024-03-15 00:00:00): make the times evenly spaced or pass the right --freq"
    )


def test_off_grid_integer_time(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,0,1\na,10,2\na,25,3")
    assert error(path, ReadOptions(freq="10")) == (
        f"series 'a' in '{path}' has a time off the integer steps of 10 grid (line 4: 25): "
        "make the times evenly spaced or pass the right --freq"
    )


def test_gaps(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,2024-01-01,1
a,2024-01-02,2
a,2024-01-03,3
a,2024-01-04,4
b,2024-01-01,1
b,2024-01-02,2
b,2024-01-05,3
b,2024-01-07,4
c,2024-01-01,1
c,2024-01-03,1
""",
    )
    assert error(path) == (
        f"'{path}' has gaps in the daily ('D') time grid: 4 missing steps in 2 series (first: "
        "series 'b' skips 2 after 2024-01-02 00:00:00): add the missing rows with values, or pass "
        "--fill ffill, interpolate or zero"
    )


def test_gap_in_integer_steps(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,0,1\na,1,2\na,2,3\na,5,4")
    assert error(path) == (
        f"'{path}' has gaps in the integer steps time grid: 2 missing steps in 1 series "
        "(first: series 'a' skips 2 after 2): add the missing rows with values, or pass "
        "--fill ffill, interpolate or zero"
    )


# ---- bad values -------------------------------------------------------------------------


def test_nan_and_inf_are_counted_with_first_locations(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
b,3,-inf
a,1,1
a,2,
a,3,inf
b,1,
b,2,2
""",
    )
    assert error(path) == (
        # "first" in series order (ids by first appearance, then time), not file order
        f"column 'y' in '{path}' has 2 missing values (first: series 'b' at 1, line 6) and "
        "2 infinite values (first: series 'b' at 3, line 2): fill or remove them, or pass "
        "--fill ffill, interpolate or zero"
    )


def test_inf_alone(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,1,1\na,2,-inf")
    assert error(path) == (
        f"column 'y' in '{path}' has 1 infinite value (first: series 'a' at 2, line 3): fill "
        "or remove them, or pass "
        "--fill ffill, interpolate or zero"
    )


def test_nan_inside_a_wide_column(tmp_path):
    path = csv(
        tmp_path,
        """
ds,a,b
2024-01-03,3,3
2024-01-01,1,1
2024-01-02,,2
2024-01-04,4,
2024-01-05,5,5
""",
    )
    assert error(path) == (
        f"the value columns in '{path}' have 2 missing values (first: series 'a' at "
        "2024-01-02 00:00:00, line 4): fill or remove them, or pass "
        "--fill ffill, interpolate or zero"
    )


def test_value_too_large_for_float32(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,1,1\na,2,1e39\na,3,2")
    with warnings.catch_warnings():  # the overflow is reported, not warned about
        warnings.simplefilter("error", RuntimeWarning)
        message = error(path)
    assert message == (
        f"series 'a' in '{path}' has a value too large for float32 at line 3 (1e+39): "
        "rescale the data (e.g. to thousands)"
    )


# ---- duplicates -------------------------------------------------------------------------


def test_duplicate_id_time_rows(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y
a,1,1
b,1,1
a,2,2
a,1,3
b,1,4
""",
    )
    assert error(path) == (
        f"'{path}' has 2 duplicate (unique_id, ds) rows (first: series 'a' at 1, line 2 and "
        "line 5): keep one row per series and time"
    )


def test_duplicate_times_in_wide_data(tmp_path):
    path = csv(
        tmp_path,
        """
ds,a,b
2024-01-02,1,2
2024-01-01,1,2
2024-01-03,1,2
2024-01-01,1,2
""",
    )
    assert error(path) == (
        f"column 'ds' in '{path}' repeats the time 2024-01-01 00:00:00 (line 3 and line 5; "
        "1 repeat in all): keep one row per time"
    )


def test_time_zone_aware_daily_series_at_different_clock_times(tmp_path):
    a = pd.date_range("2024-03-29 00:00", periods=4, freq="D", tz="Europe/Berlin")
    b = pd.date_range("2024-03-29 09:00", periods=4, freq="D", tz="Europe/Berlin")
    path = parquet(
        tmp_path / "d.parquet",
        {"unique_id": ["a"] * 4 + ["b"] * 4, "ds": a.append(b), "y": np.arange(8.0)},
    )
    s = load(path)
    assert s.axis.freq == "D"
    assert list(s.ends) == [a[-1], b[-1]]


# ---- found in review: inputs that used to be misread or crash ---------------------------


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


def test_parquet_datetime_index_is_the_time_column(tmp_path):
    frame = pd.DataFrame(
        {"ds": pd.date_range("2024-01-01", periods=30, freq="D"), "a": np.arange(30.0)}
    ).set_index("ds")
    frame.to_parquet(tmp_path / "w.parquet")
    series = load(tmp_path / "w.parquet")
    assert series.schema.layout == "wide" and series.schema.time_col == "ds"
    assert series.axis.freq == "D"


def test_pandas_row_numbers_are_dropped(tmp_path):
    pd.DataFrame({"a": np.arange(20.0) ** 2}).to_csv(tmp_path / "i.csv")  # index written
    series = load(tmp_path / "i.csv")
    assert list(series.ids) == ["a"] and series.schema.layout == "values"


def test_columns_that_cannot_be_values(tmp_path):
    long = tmp_path / "long.parquet"
    pd.DataFrame(
        {
            "unique_id": "a",
            "ds": pd.date_range("2024", periods=5, freq="D"),
            "y": range(5),
            "flag": [True, False] * 2 + [True],
        }
    ).to_parquet(long)
    assert error(long, ReadOptions(target=("ds",))) == (
        f"the id, time and value columns of '{long}' must differ, got id 'unique_id', time 'ds', "
        "value 'ds': name them with --id-col, --time-col, --target"
    )
    assert error(long, ReadOptions(target=("flag",))) == (
        f"column 'flag' in '{long}' holds true/false values: forecast a numeric column, or write "
        "it as 0/1"
    )
    wide = tmp_path / "wide.parquet"
    pd.DataFrame({"t": range(5), "a": range(5), "on": [True] * 5}).to_parquet(wide)
    assert error(wide) == (
        f"column 'on' in '{wide}' holds true/false values: forecast a numeric column, or write "
        "it as 0/1"
    )
    assert error(wide, ReadOptions(target=("t",), time_col="t")) == (
        f"--target 't' is the time column of '{wide}': name the value columns"
    )
    stamped = tmp_path / "stamped.parquet"
    pd.DataFrame({"a": range(5), "at": pd.date_range("2024", periods=5)}).to_parquet(stamped)
    assert error(stamped, ReadOptions(target=("at",))) == (
        f"column 'at' in '{stamped}' holds times, not values: name the value column with --target"
    )


def test_times_in_several_zones_beside_the_time_column(tmp_path):
    path = csv(tmp_path, "y,ds\n2000-01-01 00:00+02:00,2000-01-01\n2000-01-01 01:00,2000-01-02\n")
    assert error(path) == (
        f"'{path}' has times in column 'y' besides the time column 'ds': pick the value "
        "columns with --target, or the time column with --time-col y"
    )


def test_time_column_that_is_not_first(tmp_path):
    path = csv(tmp_path, "a,date\n1,2024-01-01\n2,2024-01-02\n3,2024-01-03\n")
    assert error(path) == (
        f"'{path}' has times in column 'date', which is not the first column: name it with "
        "--time-col date"
    )
    assert load(path, ReadOptions(time_col="date")).schema.columns == ("a",)


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


def test_too_few_times_to_infer_a_frequency(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,2024-01-01,1\na,2024-01-02,2\nb,2024-01-01,3\n")
    assert error(path) == (
        f"cannot infer the frequency of column 'ds' in '{path}': no series has 3 or more times; "
        "pass --freq (e.g. h, D, W-SUN, MS)"
    )
    assert load(path, ReadOptions(freq="D")).axis.freq == "D"


def test_no_pandas_warnings_reach_the_user(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,1,1\na,2,2\na,foo,3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert error(path) == (
            f"column 'ds' in '{path}' has 1 value that is not a whole number (first at line 4: "
            "'foo'): integer times must all be whole numbers"
        )


# ---- --fill ---------------------------------------------------------------------------------


GAPPY = """unique_id,ds,y
a,2024-01-01 00:00,1
a,2024-01-01 01:00,
a,2024-01-01 03:00,4
a,2024-01-01 04:00,inf
a,2024-01-01 05:00,6
b,2024-01-01 00:00,
b,2024-01-01 01:00,
b,2024-01-01 02:00,10
b,2024-01-01 03:00,11
"""


def test_fill_methods_on_the_full_grid(tmp_path):
    path = csv(tmp_path, GAPPY)
    ffill = load(path, ReadOptions(fill="ffill", freq="h"))
    np.testing.assert_array_equal(ffill.series(0), [1, 1, 1, 4, 4, 6])
    np.testing.assert_array_equal(ffill.series(1), [10, 11])
    assert str(ffill.starts[1]) == "2024-01-01 02:00:00"  # leading gaps left out
    assert str(ffill.ends[0]) == "2024-01-01 05:00:00"
    assert ffill.notes == (  # b's two leading gaps are left out, not filled
        f"--fill ffill: filled 1 missing value, 1 infinite value and 1 step missing from the "
        f"time grid in 1 series of '{path}'",
        "--fill ffill: left out 2 missing values at the start of 1 series (nothing before "
        "them to fill from)",
    )
    inter = load(path, ReadOptions(fill="interpolate", freq="h"))
    np.testing.assert_allclose(inter.series(0), [1, 2, 3, 4, 5, 6])
    zero = load(path, ReadOptions(fill="zero", freq="h"))
    np.testing.assert_array_equal(zero.series(0), [1, 0, 0, 4, 0, 6])
    np.testing.assert_array_equal(zero.series(1), [0, 0, 10, 11])
    assert zero.notes == (
        f"--fill zero: filled 3 missing values, 1 infinite value and 1 step missing from the "
        f"time grid in 2 series of '{path}'",
    )
    assert str(zero.starts[1]) == "2024-01-01 00:00:00"


def test_fill_none_is_an_error_naming_the_fix(tmp_path):
    path = csv(tmp_path, GAPPY)
    assert error(path, ReadOptions(freq="h")).endswith(
        ": fill or remove them, or pass --fill ffill, interpolate or zero"
    )


def test_fill_in_wide_data_and_integer_steps(tmp_path):
    path = csv(tmp_path, "t,a,b\n0,1,\n1,,5\n3,4,7\n4,5,8\n")
    series = load(path, ReadOptions(fill="interpolate"))
    np.testing.assert_allclose(series.series(0), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(series.series(1), [5, 6, 7, 8])  # b starts at t = 1
    assert series.starts.tolist() == [0, 1] and series.ends.tolist() == [4, 4]


def test_fill_clean_data_changes_nothing(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,1,1\na,2,2\na,3,3\n")
    assert load(path, ReadOptions(fill="ffill")).notes == ()
    assert load(path, ReadOptions(fill="ffill")).fingerprint() == load(path).fingerprint()


def test_fill_cannot_invent_a_series(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,1,1\na,2,2\nb,1,\nb,2,\n")
    assert error(path, ReadOptions(fill="ffill")) == (
        f"series 'b' in '{path}' has no values: drop it or give it some"
    )


def test_fill_option_is_checked():
    with pytest.raises(ConfigError) as e:
        ReadOptions(fill="mean")
    assert str(e.value) == "--fill must be one of none, ffill, interpolate, zero, got 'mean'"


def test_covariates_follow_their_rows(tmp_path):
    path = csv(
        tmp_path,
        """
unique_id,ds,y,price,temp
b,2024-01-02,20,2.5,-1
a,2024-01-02,2,1.5,10
a,2024-01-01,1,1.0,11
b,2024-01-01,10,2.0,-2
""",
    )
    series = load(path, ReadOptions(covariates=("temp", "price"), freq="D"))
    assert list(series.ids) == ["b", "a"]
    np.testing.assert_array_equal(series.values, [10, 20, 1, 2])
    np.testing.assert_array_equal(series.covariates, [[-2, 2.0], [-1, 2.5], [11, 1.0], [10, 1.5]])
    assert series.covariates.dtype == np.float32
    np.testing.assert_array_equal(series.subset(np.array([False, True])).covariates[:, 0], [11, 10])
    plain = load(path, ReadOptions(freq="D"))
    assert series.fingerprint() != plain.fingerprint() and plain.covariates is None


def test_covariate_mistakes(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y,price\na,2024-01-01,1,\na,2024-01-02,2,3\n")
    assert error(path, ReadOptions(covariates=("price",), freq="D")) == (
        f"covariate column 'price' in '{path}' has 1 missing or infinite value (first: series "
        "'a', line 2): fill them"
    )
    assert error(path, ReadOptions(covariates=("y",))) == (
        f"--covariates 'y' is the id, time or value column of '{path}': name other columns"
    )
    wide = csv(tmp_path, "ds,a,b\n2024-01-01,1,2\n2024-01-02,3,4\n", "wide.csv")
    assert error(wide, ReadOptions(covariates=("b",))) == (
        "--covariates needs long data (one row per series and time, covariates as columns beside "
        f"the value), but '{wide}' is laid out as wide (time 'ds'; series columns a, b)"
    )
    with pytest.raises(ConfigError) as e:
        ReadOptions(covariates=("price",), fill="zero")
    assert str(e.value) == (
        "--covariates cannot be combined with --fill zero yet: fill the gaps and missing values "
        "of the data (values and covariates) first"
    )
