"""Reading and validating data: layouts, formats, SeriesSet invariants, every bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnncast.data.readers import load
from rnncast.settings import ReadOptions
from tests.data.conftest import csv, error, parquet, stamps, write


def test_float_times_that_are_whole_numbers_are_integer_steps(tmp_path):
    path = parquet(tmp_path / "d.parquet", {"ds": [1.0, 2.0, 3.0], "v": [1.0, 2.0, 3.0]})
    s = load(path)
    assert s.axis.kind == "integer"
    assert list(s.starts) == [1] and list(s.ends) == [3]


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


def _dates(tmp_path, times, fmt: str, name: str = "d.csv"):
    rows = "".join(f"{t.strftime(fmt)},{i}\n" for i, t in enumerate(times))
    return write(tmp_path, name, "date,y\n" + rows)


MONTHS = pd.date_range("2021-01-01", periods=24, freq="MS")  # no day above 12


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m/%d/%y"])
def test_dates_whose_day_and_month_order_cannot_be_told_are_refused(tmp_path, fmt):
    path = _dates(tmp_path, MONTHS, fmt)
    example = MONTHS[1].strftime(fmt)
    assert error(path) == (
        f"column 'date' in '{path}' has dates such as '{example}' that read day first or "
        "month first alike (no day above 12 tells which): pass --dayfirst or --monthfirst, "
        "or give their format with --time-format (e.g. %d/%m/%Y)"
    )
    assert load(path, ReadOptions(dayfirst=fmt[1] == "d")).axis.freq == "MS"
    assert load(path, ReadOptions(time_format=fmt)).axis.freq == "MS"


def test_day_first_dates_are_read_so_when_a_day_above_12_shows_it(tmp_path):
    days = pd.date_range("2021-01-01", periods=40, freq="D")
    path = _dates(tmp_path, days, "%d/%m/%Y")
    series = load(path)
    assert series.axis.freq == "D" and list(series.starts) == [days[0]]
    assert series.detected == (
        f"read column 'date' of '{path}' day first, as in '13/01/2021' (detected: pass "
        "--monthfirst or --time-format to read it otherwise)",
    )
    assert series.read_as == {"dayfirst": True}
    month_first = load(_dates(tmp_path, days, "%m/%d/%Y", "m.csv"))
    assert month_first.axis.freq == "D" and month_first.detected == ()


def test_iso_dates_are_never_ambiguous(tmp_path):
    path = _dates(tmp_path, MONTHS, "%Y-%m-%d")
    series = load(path)
    assert series.axis.freq == "MS" and series.detected == ()
