"""Building and checking series: order, frequency, the time grid, gaps, missing values,
--fill, covariates."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from rnncast.data.build import from_frame
from rnncast.data.readers import load
from rnncast.errors import ConfigError, DataError
from rnncast.settings import ReadOptions
from tests.data.conftest import csv, error, parquet, stamps, write


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


def test_from_frame_names_rows_in_messages():
    df = pd.DataFrame({"unique_id": ["a", "a"], "ds": [1, 2], "y": [1.0, np.nan]})
    with pytest.raises(DataError, match=None) as e:
        from_frame(df, source="frame")
    assert str(e.value) == (
        "column 'y' in 'frame' has 1 missing value (first: series 'a' at 2, row 2): "
        "fill or remove them, or pass "
        "--fill ffill, interpolate or zero"
    )


# ---- bad columns ------------------------------------------------------------------------


def test_wide_column_without_values(tmp_path):
    path = csv(tmp_path, "ds,a,b\n1,1,\n2,2,")
    assert error(path) == f"column 'b' in '{path}' has no values: drop it or fill it"


def test_empty_series_id(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y\na,1,1\n,2,2")
    assert error(path) == (
        f"column 'unique_id' in '{path}' has an empty series id at line 3: give every row an id"
    )


# ---- bad times --------------------------------------------------------------------------


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


@pytest.mark.parametrize("tiny", ["1e-40", "-1e-39", "1e-300"])
def test_value_too_close_to_zero_for_float32(tmp_path, tiny):
    path = csv(tmp_path, f"unique_id,ds,y\na,1,1e-30\na,2,{tiny}\na,3,0\na,4,2e-30")
    assert error(path) == (
        f"series 'a' in '{path}' has a value too close to zero for float32 at line 3 "
        f"({float(tiny):g}): rescale the data (e.g. to millionths)"
    )


def test_covariate_too_close_to_zero_for_float32(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y,c\na,1,1,1\na,2,2,1e-42\na,3,3,0")
    assert error(path, ReadOptions(covariates=("c",))) == (
        f"a covariate column in '{path}' has values too close to zero for float32: rescale it"
    )


def test_grid_messages_ask_for_the_date_order_where_it_may_be_swapped(tmp_path):
    months = pd.date_range("2021-01-01", periods=24, freq="MS")
    path = write(tmp_path, "d.csv", "date,y\n" + "".join(
        f"{t.strftime('%d/%m/%Y')},{i}\n" for i, t in enumerate(months)))  # fmt: skip
    hint = (
        "; if day and month are swapped in times such as '01/02/2021', give their order with "
        "--dayfirst, --monthfirst or --time-format"
    )
    assert error(path, ReadOptions(dayfirst=False)).endswith(
        "the times are irregular or have gaps; pass --freq (e.g. h, D, W-SUN, MS) to check "
        "them against" + hint
    )
    assert error(path, ReadOptions(time_format="%m/%d/%Y", freq="D")).endswith(
        "add the missing rows with values, or pass --fill ffill, interpolate or zero" + hint
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


def test_times_with_differing_offsets_are_read_as_utc_with_a_note():
    zoned = pd.date_range("2024-03-30", periods=48, freq="h", tz="Europe/Berlin")  # DST on 31st
    frame = pd.DataFrame({"ds": [t.isoformat() for t in zoned], "y": np.arange(48.0)})
    series = from_frame(frame, source="dst.csv")
    assert series.axis.tz == "UTC"
    assert series.notes == (
        "times with offsets are converted to UTC: column 'ds' of 'dst.csv' has offsets +01:00, "
        "+02:00, which differ, so its times and forecasts are in UTC",
    )
    one = pd.date_range("2024-01-01", periods=48, freq="h", tz="Etc/GMT-2")  # +02:00 kept
    assert from_frame(pd.DataFrame({"ds": [t.isoformat() for t in one], "y": 1.0})).notes == ()
    utc = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    assert from_frame(pd.DataFrame({"ds": [t.isoformat() for t in utc], "y": 1.0})).notes == ()


# ---- future-known covariates ----------------------------------------------------------------

FUTURE = """
unique_id,ds,y,price,promo
b,2024-01-03,,2.5,1
a,2024-01-01,1,1.0,0
a,2024-01-02,2,1.5,1
b,2024-01-01,10,2.0,0
a,2024-01-03,3,1.0,0
a,2024-01-04,,1.0,1
a,2024-01-05,,0.5,0
b,2024-01-02,20,2.0,0
"""


def test_future_covariates_run_past_each_series_last_value(tmp_path):
    """Rows after a series' last value (the target empty) give its future covariates: the
    values stop there, the future covariates go on."""
    series = load(csv(tmp_path, FUTURE), ReadOptions(future_covariates=("promo", "price")))
    assert list(series.ids) == ["b", "a"]
    np.testing.assert_array_equal(series.values, [10, 20, 1, 2, 3])
    assert [str(t.date()) for t in series.ends] == ["2024-01-02", "2024-01-03"]
    np.testing.assert_array_equal(series.known_offsets, [0, 3, 8])
    np.testing.assert_array_equal(series.ahead, [1, 2])
    np.testing.assert_array_equal(
        series.known,
        [[0, 2.0], [0, 2.0], [1, 2.5], [0, 1.0], [1, 1.5], [0, 1.0], [1, 1.0], [0, 0.5]],
    )
    assert series.known.dtype == np.float32
    np.testing.assert_array_equal(series.known_at_values()[:, 1], [2.0, 2.0, 1.0, 1.5, 1.0])
    a = series.subset(np.array([False, True]))
    np.testing.assert_array_equal(a.known[:, 0], [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(a.known_offsets, [0, 5])
    assert a.ahead.tolist() == [2]


def test_the_fingerprint_reads_the_future_covariates_of_the_history_only(tmp_path):
    options = ReadOptions(future_covariates=("promo",))
    series = load(csv(tmp_path, FUTURE), options)
    later = FUTURE.replace("a,2024-01-05,,0.5,0", "a,2024-01-05,,0.5,1")
    assert load(csv(tmp_path, later, "later.csv"), options).fingerprint() == series.fingerprint()
    changed = FUTURE.replace("a,2024-01-02,2,1.5,1", "a,2024-01-02,2,1.5,0")
    assert load(csv(tmp_path, changed, "c.csv"), options).fingerprint() != series.fingerprint()
    assert load(csv(tmp_path, FUTURE.replace(",,", ",9,"), "p.csv")).known is None


def test_past_covariates_need_no_values_in_the_rows_after_the_last_value(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y,promo,temp\na,1,1,0,5\na,2,2,1,6\na,3,,1,\n")
    series = load(path, ReadOptions(future_covariates=("promo",), covariates=("temp",)))
    np.testing.assert_array_equal(series.covariates[:, 0], [5, 6])
    np.testing.assert_array_equal(series.known[:, 0], [0, 1, 1])


def test_future_covariate_mistakes(tmp_path):
    options = ReadOptions(future_covariates=("promo",))
    path = csv(tmp_path, FUTURE.replace("a,2024-01-04,,1.0,1", "a,2024-01-04,,1.0,"))
    assert error(path, options) == (
        f"future covariate column 'promo' in '{path}' has 1 missing or infinite value (first: "
        "series 'a' at 2024-01-04 00:00:00, line 7): fill them, in the rows after each series' "
        "last value too"
    )
    gap = csv(tmp_path, FUTURE.replace("a,2024-01-04,,1.0,1\n", ""), "gap.csv")
    assert error(gap, options) == (
        f"series 'a' in '{gap}' skips 1 step of the daily ('D') grid before 2024-01-05 "
        "00:00:00 (line 7), in the rows after its last value: give one row per step, with the "
        "future covariates filled and the target empty"
    )
    twice = csv(tmp_path, FUTURE + "a,2024-01-05,,0.5,0\n", "twice.csv")
    assert error(twice, options) == (
        f"'{twice}' has 1 duplicate (unique_id, ds) row (first: series 'a' at 2024-01-05 "
        "00:00:00, line 8 and line 10): keep one row per series and time"
    )
    empty = csv(tmp_path, FUTURE + "c,2024-01-01,,1,0\n", "empty.csv")
    assert error(empty, options) == (
        f"series 'c' in '{empty}' has no values in column 'y', only rows with its future "
        "covariates (first: 2024-01-01 00:00:00, line 10): give it values, or drop its rows"
    )
    assert error(path, ReadOptions(future_covariates=("prmo",))) == (
        f"column 'prmo' not found in '{path}' (columns: unique_id, ds, y, price, promo): did "
        "you mean 'promo'? name the right column with --future-covariates"
    )
    assert error(path, ReadOptions(future_covariates=("ds",))) == (
        f"--future-covariates 'ds' is the id, time or value column of '{path}': name other columns"
    )
    wide = csv(tmp_path, "ds,a,b\n2024-01-01,1,2\n2024-01-02,3,4\n", "wide.csv")
    assert error(wide, ReadOptions(future_covariates=("b",))) == (
        "--future-covariates needs long data (one row per series and time, covariates as "
        f"columns beside the value), but '{wide}' is laid out as wide (time 'ds'; series "
        "columns a, b)"
    )
    assert error(path).startswith(f"column 'y' in '{path}' has 3 missing values")  # no option


def test_future_covariate_options_are_checked():
    for given, message in (
        ({"future_covariates": ("a", " ")}, "--future-covariates has an empty column name: "
         "give names separated by commas, e.g. --future-covariates price,promo"),
        ({"future_covariates": ("a",), "fill": "ffill"}, "--future-covariates cannot be "
         "combined with --fill ffill yet: fill the gaps and missing values of the data (values "
         "and covariates) first"),
        ({"future_covariates": ("a", "b"), "covariates": ("b",)}, "column 'b' is given to both "
         "--covariates and --future-covariates: name it in one (a future covariate is read "
         "over the lookback too)"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            ReadOptions(**given)
        assert str(e.value) == message
