from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncast.data.filling import fill_missing

NAN = np.nan


def slow_fill(series: list[np.ndarray], method: str) -> tuple[list[np.ndarray], list[int]]:
    """The obvious loop, one series and one value at a time."""
    out, dropped = [], []
    for s in series:
        s = list(s)
        if method == "zero":
            out.append(np.array([0.0 if np.isnan(v) else v for v in s]))
            dropped.append(0)
            continue
        lead = 0
        while lead < len(s) and np.isnan(s[lead]):
            lead += 1
        s = s[lead:]
        filled = []
        for i, v in enumerate(s):
            if not np.isnan(v):
                filled.append(v)
                continue
            prev = filled[-1]
            nxt = next((j for j in range(i + 1, len(s)) if not np.isnan(s[j])), None)
            if method == "interpolate" and nxt is not None:
                k = i - 1  # filled[k] is the value before, at distance 1
                while np.isnan(s[k]):
                    k -= 1
                filled.append(s[k] + (i - k) / (nxt - k) * (s[nxt] - s[k]))
            else:
                filled.append(prev)
        out.append(np.array(filled))
        dropped.append(lead)
    return out, dropped


def flat(series: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in series])]).astype(np.int64)
    return np.concatenate(series) if series else np.zeros(0), offsets


def test_hand_computed():
    values, offsets = flat([np.array([NAN, 1.0, NAN, NAN, 4.0, NAN]), np.array([5.0, NAN, 7.0])])
    out, off, dropped = fill_missing(values, offsets, "ffill")
    np.testing.assert_array_equal(out, [1, 1, 1, 4, 4, 5, 5, 7])
    assert off.tolist() == [0, 5, 8] and dropped.tolist() == [1, 0]
    out, off, dropped = fill_missing(values, offsets, "interpolate")
    np.testing.assert_allclose(out, [1, 2, 3, 4, 4, 5, 6, 7])
    assert off.tolist() == [0, 5, 8]
    out, off, dropped = fill_missing(values, offsets, "zero")
    np.testing.assert_array_equal(out, [0, 1, 0, 0, 4, 0, 5, 0, 7])
    assert off.tolist() == [0, 6, 9] and dropped.tolist() == [0, 0]


def test_never_fills_across_series():
    """A series ending in NaN must not take the next series' first value."""
    values, offsets = flat([np.array([1.0, NAN]), np.array([NAN, 9.0])])
    out, off, dropped = fill_missing(values, offsets, "interpolate")
    np.testing.assert_array_equal(out, [1, 1, 9])
    assert off.tolist() == [0, 2, 3] and dropped.tolist() == [0, 1]


series_lists = st.lists(
    st.lists(st.one_of(st.just(NAN), st.floats(-1e3, 1e3)), min_size=1, max_size=12).map(np.array),
    min_size=1,
    max_size=5,
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(series_lists, st.sampled_from(["ffill", "interpolate", "zero"]))
def test_matches_the_slow_loop(series, method):
    values, offsets = flat(series)
    out, off, dropped = fill_missing(values, offsets, method)
    expected, expected_dropped = slow_fill(series, method)
    assert dropped.tolist() == expected_dropped
    assert np.diff(off).tolist() == [len(e) for e in expected]
    np.testing.assert_allclose(out, np.concatenate(expected), rtol=1e-12, atol=1e-9)
    assert not np.isnan(out).any()


def test_unknown_method():
    with pytest.raises(ValueError):
        fill_missing(np.zeros(2), np.array([0, 2]), "mean")
