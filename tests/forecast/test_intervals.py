"""Interval calibration: the conformal width factor, and applying it."""

from __future__ import annotations

import numpy as np
import pytest

from rnncast.forecast import intervals
from rnncast.forecast.forecasting import Forecasts


def _outputs(k: int, lo: float, hi: float, levels=(0.1, 0.5, 0.9)) -> Forecasts:
    q = np.zeros((k, 4, len(levels)), dtype=np.float32)
    q[..., levels.index(lo)] = -1.0
    q[..., levels.index(hi)] = 2.0  # asymmetric: above the median reaches twice as far
    return Forecasts(point=q[..., levels.index(0.5)], quantiles=q, levels=levels)


def test_factor_makes_the_interval_cover_its_share():
    rng = np.random.default_rng(0)
    out = _outputs(2500, 0.1, 0.9)
    size = rng.uniform(0, 3, (2500, 4))
    y = np.where(rng.uniform(size=(2500, 4)) < 0.5, -1.0 * size, 2.0 * size)
    factor = intervals.calibrate(out, y)["0.1-0.9"]
    # |y| / reach is uniform on [0, 3] on both sides: 80% of it lies below 2.4
    assert factor == pytest.approx(2.4, abs=0.05)
    fixed = intervals.apply(out, {"0.1-0.9": factor})
    inside = (y >= fixed.at(0.1)) & (y <= fixed.at(0.9))
    assert 0.8 <= inside.mean() <= 0.8 + 2 / y.size
    np.testing.assert_array_equal(fixed.point, out.point)


def test_conformal_rank_on_a_small_set():
    out = _outputs(1, 0.1, 0.9)
    y = np.array([[0.5, -0.5, 4.0, 1.0]])  # factors 0.25, 0.5, 2.0, 0.5
    # n = 4: rank ceil(5 x 0.8) = 4, the largest
    assert intervals.calibrate(out, y) == {"0.1-0.9": 2.0}


def test_apply_sorts_nested_intervals_and_leaves_unpaired_levels():
    levels = (0.05, 0.1, 0.5, 0.9, 0.95, 0.99)
    q = np.array([[[-2.0, -1.0, 0.0, 1.0, 2.0, 5.0]]], dtype=np.float32)
    out = Forecasts(point=q[..., 2], quantiles=q, levels=levels)
    fixed = intervals.apply(out, {"0.1-0.9": 3.0})  # 80% now wider than the 90% one
    np.testing.assert_array_equal(fixed.quantiles[0, 0], [-3.0, -2.0, 0.0, 2.0, 3.0, 5.0])
    assert intervals.apply(Forecasts(point=q[..., 2]), {"0.1-0.9": 3.0}).quantiles is None


def test_level_factors_widen_as_apply_does():
    """The exported graph widens every level by its factor at once, then sorts."""
    levels = (0.05, 0.1, 0.5, 0.9, 0.95, 0.99)
    factors = {"0.1-0.9": 3.0, "0.05-0.95": 0.5}
    widths = intervals.level_factors(levels, factors)
    assert widths == [0.5, 3.0, 1.0, 3.0, 0.5, 1.0]
    q = np.random.default_rng(0).normal(size=(4, 3, 6)).cumsum(-1).astype(np.float32)
    median = q[..., 2:3]
    widened = np.sort(median + np.array(widths, np.float32) * (q - median), axis=-1)
    out = intervals.apply(Forecasts(point=q[..., 2], quantiles=q, levels=levels), factors)
    np.testing.assert_allclose(widened, out.quantiles, rtol=1e-6)
    assert intervals.level_factors((0.1, 0.5, 0.9), {}) == [1.0, 1.0, 1.0]
