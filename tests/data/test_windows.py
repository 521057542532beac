from __future__ import annotations

import numpy as np
import pytest

from rnncast.data.windows import (
    backtest_origins,
    check_lengths,
    last_starts,
    ranged_starts,
    split_windows,
)
from rnncast.errors import DataError
from rnncast.settings import PYTHON, WindowConfig
from tests.conftest import flat_series


def _offsets(lengths):
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def test_ranged_starts_matches_a_loop():
    rng = np.random.default_rng(1)
    lengths = rng.integers(0, 30, size=20)
    offsets = _offsets(lengths)
    lo = rng.integers(0, 10, size=20)
    hi = rng.integers(-3, 30, size=20)
    expected = [offsets[i] + k for i in range(20) for k in range(lo[i], hi[i] + 1)]
    np.testing.assert_array_equal(ranged_starts(offsets, lo, hi), expected)


def test_ranged_starts_empty():
    assert ranged_starts(_offsets([5, 5]), [3, 3], [1, 2]).shape == (0,)


@pytest.mark.parametrize("val_size", [0, 4, 7])
def test_split_windows_matches_a_loop(val_size):
    lengths = np.array([30, 11, 17, 9])
    offsets = _offsets(lengths)
    window = WindowConfig(lookback=5, horizon=4, val_size=val_size)
    train, val = split_windows(offsets, window)
    exp_train, exp_val = [], []
    for i, n in enumerate(lengths):
        for s in range(n - window.width + 1):
            end = s + window.width
            if end <= n - val_size:
                exp_train.append(offsets[i] + s)
            elif val_size and s + window.lookback >= n - val_size:
                exp_val.append(offsets[i] + s)
    np.testing.assert_array_equal(train, exp_train)
    np.testing.assert_array_equal(val, exp_val)


def test_windows_never_cross_series():
    lengths = np.array([12, 9, 15])
    offsets = _offsets(lengths)
    window = WindowConfig(lookback=4, horizon=2, val_size=2)
    train, val = split_windows(offsets, window)
    series_of = np.searchsorted(offsets, np.concatenate([train, val]), side="right") - 1
    ends = np.concatenate([train, val]) + window.width - 1
    assert (ends < offsets[series_of + 1]).all()


def test_last_starts_and_backtest_origins():
    offsets = _offsets([10, 6])
    np.testing.assert_array_equal(last_starts(offsets, 4), [6, 12])
    np.testing.assert_array_equal(backtest_origins(np.array([10, 6, 3]), 4, 2, 5), [3, 1, 0])


def test_check_lengths_names_what_the_caller_can_pass():
    series = flat_series(np.ones(90, dtype=np.float32), [0, 60, 90])
    window = WindowConfig(lookback=24, horizon=12, val_size=12)
    with pytest.raises(DataError) as e:
        check_lengths(series, window)
    assert str(e.value) == (
        "1 series is shorter than lookback 24 + horizon 12 = 36 values: 's1' (30); pass a "
        "smaller --lookback, or --skip-short to leave them out"
    )
    with pytest.raises(DataError) as e:
        check_lengths(series, window, PYTHON)
    assert str(e.value).endswith("pass a smaller lookback, or skip_short=True to leave them out")
    with pytest.raises(DataError) as e:
        check_lengths(series.subset(np.array([True, False])), WindowConfig(24, 12, 30), PYTHON)
    assert str(e.value) == (
        "no series is long enough to train on: the longest has 60 values but lookback 24 + "
        "horizon 12 + validation 30 needs 66; pass a smaller lookback or val_size"
    )
