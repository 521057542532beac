from __future__ import annotations

import numpy as np
import pytest

from rnncast.forecast import metrics


def seasonal_scale(history: np.ndarray, m: int) -> float:
    """MASE's in-sample scale of one history, the obvious way (m -> 1 when too short)."""
    history = np.asarray(history, dtype=np.float64)
    if len(history) <= m:
        m = 1
    if len(history) <= m:
        return float("nan")
    return float(np.mean(np.abs(history[m:] - history[:-m])))


def test_hand_computed_values():
    y = np.array([[1.0, 2.0, 3.0, 4.0]])
    yhat = np.array([[2.0, 2.0, 1.0, 4.0]])
    assert metrics.mae(y, yhat)[0] == pytest.approx(0.75)
    assert metrics.rmse(y, yhat)[0] == pytest.approx(np.sqrt(5 / 4))
    # 200|e|/(|y|+|ŷ|): 200/3, 0, 400/4, 0 -> mean
    assert metrics.smape(y, yhat)[0] == pytest.approx((200 / 3 + 100) / 4)
    assert metrics.mase(y, yhat, np.array([0.5]))[0] == pytest.approx(1.5)


def test_smape_counts_zero_over_zero_as_zero():
    assert metrics.smape(np.zeros((1, 3)), np.zeros((1, 3)))[0] == 0.0
    assert metrics.smape(np.array([[0.0]]), np.array([[1.0]]))[0] == pytest.approx(200.0)


def test_mase_is_nan_for_a_flat_history():
    assert np.isnan(metrics.mase(np.ones((1, 2)), np.zeros((1, 2)), np.array([0.0]))[0])


def test_seasonal_scale_by_hand():
    history = np.array([1.0, 2.0, 4.0, 7.0])
    assert seasonal_scale(history, 2) == pytest.approx((3 + 5) / 2)
    assert seasonal_scale(history, 4) == pytest.approx((1 + 2 + 3) / 3)  # m -> 1
    assert np.isnan(seasonal_scale(history[:1], 1))


def test_seasonal_scales_match_the_one_series_function():
    rng = np.random.default_rng(3)
    lengths = np.array([40, 7, 25, 3])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    values = rng.normal(size=lengths.sum())
    series, origins = [], []
    for i, n in enumerate(lengths):
        for pos in range(1, n):
            series.append(i)
            origins.append(offsets[i] + pos)
    series, origins = np.array(series), np.array(origins)
    got = metrics.seasonal_scales(values, offsets, origins, series, m=6)
    for g, s, o in zip(got, series, origins, strict=True):
        want = seasonal_scale(values[offsets[s] : o], 6)
        if np.isnan(want):
            assert np.isnan(g)
        else:
            assert g == pytest.approx(want)


def test_naive_and_seasonal_naive_match_a_loop():
    values = np.arange(30, dtype=float) ** 1.5
    offsets = np.array([0, 12, 30])
    origins = np.array([10, 12 + 3, 12 + 14])
    series = np.array([0, 1, 1])
    m, h = 4, 6
    naive = metrics.naive(values, origins, h)
    snaive = metrics.seasonal_naive(values, offsets, origins, series, h, m)
    for k, (o, s) in enumerate(zip(origins, series, strict=True)):
        np.testing.assert_array_equal(naive[k], np.full(h, values[o - 1]))
        if o - offsets[s] >= m:
            expected = [values[o - m + (j % m)] for j in range(h)]
        else:
            expected = [values[o - 1]] * h
        np.testing.assert_array_equal(snaive[k], expected)


def test_score_returns_every_metric_per_window():
    y = np.ones((4, 3))
    out = metrics.score(y, y + 1, np.ones(4))
    assert set(out) == set(metrics.METRICS)
    assert all(v.shape == (4,) for v in out.values())


def test_pinball_coverage_and_intervals_by_hand():
    y = np.array([[1.0, 2.0, 3.0, 4.0]])
    q = np.array([[2.0, 2.0, 2.0, 2.0]])
    # level 0.25: errors -1, 0, 1, 2 -> 0.75, 0, 0.25, 0.5 -> mean 0.375
    np.testing.assert_allclose(metrics.pinball(y, q, 0.25), [0.375])
    np.testing.assert_allclose(metrics.scaled(np.array([0.375, 1.0]), np.array([0.5, 0.0])),
                               [0.75, np.nan])  # fmt: skip
    assert metrics.coverage(y, y - 1, np.array([[1.0, 1.0, 3.0, 5.0]])) == 0.75  # 2 misses 1
    assert metrics.central_intervals((0.05, 0.1, 0.5, 0.9, 0.95)) == [(0.05, 0.95), (0.1, 0.9)]
    assert metrics.central_intervals((0.1, 0.5, 0.8)) == []
