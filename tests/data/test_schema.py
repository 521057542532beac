"""Reading and validating data: layouts, formats, SeriesSet invariants, every bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnncast.data.readers import load
from rnncast.data.series import Schema
from rnncast.errors import ConfigError
from rnncast.settings import ReadOptions
from tests.data.conftest import LONG, csv, error, stamps


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


def test_long_layout_takes_one_target(tmp_path):
    path = csv(tmp_path, "unique_id,ds,y,z\na,1,1,2")
    assert error(path, ReadOptions(target=("y", "z"))) == (
        "long data takes one --target column, got 2 (y, z): name the single value column"
    )


STORES = """
store,date,sales
S01,2023-01-01,1
S01,2023-01-02,2
S01,2023-01-03,3
S02,2023-01-01,4
S02,2023-01-02,5
S02,2023-01-03,6
"""


DATES_FIRST = "\n".join(
    f"{d},{i},{v}" for i, d, v in (line.split(",") for line in STORES.strip().splitlines())
)


@pytest.mark.parametrize("text", [STORES, DATES_FIRST])
def test_long_data_with_ordinary_names_is_detected_and_said(tmp_path, text):
    path = csv(tmp_path, text)
    series = load(path)
    assert series.schema == Schema("long", "store", "date", "sales")
    assert list(series.ids) == ["S01", "S02"] and series.values.tolist() == [1, 2, 3, 4, 5, 6]
    assert series.detected == (
        f"read '{path}' as long data: series id 'store', time 'date', value 'sales' (detected: "
        "name them with --id-col, --time-col, --target to read it otherwise)",
    )
    assert series.read_as == {"id_col": "store", "time_col": "date", "target": ("sales",)}


def test_long_data_with_integer_steps_named_as_times(tmp_path):
    path = csv(tmp_path, "store,t,sales\na,1,1\na,2,2\nb,1,3\nb,2,4")
    assert load(path).schema == Schema("long", "store", "t", "sales")


def test_long_data_left_open_names_every_option_needed(tmp_path):
    priced = csv(tmp_path, "\n".join(line + (",price" if line[0] == "s" else ",9")
                                     for line in STORES.strip().splitlines()))  # fmt: skip
    assert error(priced) == (
        f"'{priced}' looks like long data (series id 'store', time 'date') with 2 numeric "
        "columns (sales, price): name the value column, e.g. --id-col store --time-col date "
        "--target sales (or --target sales,price for one series per column)"
    )
    assert load(priced, ReadOptions(target=("price",))).schema.target == "price"
    regions = csv(tmp_path, "store,region,date,sales\nS01,N,2024-01-01,1\n", "r.csv")
    assert error(regions) == (
        f"'{regions}' looks like long data (time 'date') with 2 text columns (store, region): "
        "name the series id and value columns, e.g. --id-col store --time-col date --target sales"
    )


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


def test_empty_option_is_a_config_error():
    with pytest.raises(ConfigError, match=None) as e:
        ReadOptions(time_col=" ")
    assert str(e.value) == "--time-col is empty: give a column name"
