from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rnncast.engine import scaling

windows = arrays(
    np.float32,
    st.tuples(st.integers(1, 6), st.integers(2, 30)),
    elements=st.floats(-1e5, 1e5, width=32),
)


@settings(max_examples=60, deadline=None)
@given(windows)
def test_inverse_undoes_transform(x):
    t = torch.from_numpy(x)
    stats = scaling.fit(t, "window")
    back = scaling.inverse(scaling.transform(t, stats), stats)
    assert torch.isfinite(scaling.transform(t, stats)).all()
    np.testing.assert_allclose(back.numpy(), x, rtol=1e-4, atol=1e-2)


def test_window_scaling_standardises_each_row():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0], [100.0, 300.0, 200.0, 400.0]])
    z = scaling.transform(x, scaling.fit(x, "window"))
    torch.testing.assert_close(z.mean(dim=1), torch.zeros(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(z.std(dim=1, unbiased=False), torch.ones(2))


def test_flat_windows_get_a_floor_not_a_division_by_zero():
    x = torch.tensor([[5.0, 5.0, 5.0], [0.0, 0.0, 0.0], [-2.0, -2.0, -2.0]])
    stats = scaling.fit(x, "window")
    torch.testing.assert_close(stats.scale.squeeze(1), torch.tensor([0.005, 1.0, 0.002]))
    y = scaling.transform(torch.tensor([[6.0], [1.0], [-1.0]]), stats)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.squeeze(1), torch.tensor([200.0, 1.0, 500.0]))


def test_none_is_the_identity():
    x = torch.randn(3, 5)
    stats = scaling.fit(x, "none")
    torch.testing.assert_close(scaling.transform(x, stats), x)
    torch.testing.assert_close(scaling.inverse(x, stats), x)


def test_series_scaling_centres_on_the_window_and_divides_by_the_series_scale():
    x = torch.tensor([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0]])
    stats = scaling.fit(x, "series", torch.tensor([4.0, 0.5]))
    torch.testing.assert_close(stats.loc, torch.tensor([[2.0], [10.0]]))
    torch.testing.assert_close(stats.scale, torch.tensor([[4.0], [0.5]]))  # not the row's std


def test_series_scaling_of_a_flat_series_stays_finite():
    stats = scaling.fit(torch.tensor([[5.0, 5.0], [0.0, 0.0]]), "series", torch.zeros(2))
    torch.testing.assert_close(stats.scale, torch.tensor([[5e-3], [1.0]]))


def test_series_scaling_needs_the_series_scale():
    with pytest.raises(ValueError, match="scaling 'series' needs"):
        scaling.fit(torch.zeros(1, 3), "series")


def test_series_floors_for_series_scaling_are_each_series_std():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 50), rng.normal(100, 7, 80)]).astype(np.float32)
    offsets = np.array([0, 50, 130])
    got = scaling.series_floors(values, offsets, 24, 0.1, "series")
    want = [values[:50].std(), values[50:].std()]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    window = scaling.series_floors(values, offsets, 24, 0.1)
    np.testing.assert_allclose(window, 0.1 * scaling.typical_spread(values, offsets, 24), rtol=1e-6)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown scaling 'robust'"):
        scaling.fit(torch.zeros(1, 3), "robust")


def test_typical_spread_matches_a_loop():
    rng = np.random.default_rng(5)
    lengths = np.array([50, 7, 24, 1, 100])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    values = (rng.normal(size=lengths.sum()) * 3 + 1000).astype(np.float32)
    got = scaling.typical_spread(values, offsets, 12)
    for i, n in enumerate(lengths):
        x = values[offsets[i] : offsets[i + 1]].astype(np.float64)
        size = min(12, n)
        chunks = [x[k * size : (k + 1) * size] for k in range(n // size)]
        assert got[i] == pytest.approx(np.mean([c.std() for c in chunks]), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("chunk", [1, 30, 60, 10_000])
def test_typical_spread_in_groups_of_series_is_the_same(monkeypatch, chunk):
    """Groups of whole series (each at least one, however long) give the same floats as one
    pass over everything."""
    rng = np.random.default_rng(6)
    lengths = np.array([50, 7, 24, 1, 100, 33])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    values = (rng.normal(size=lengths.sum()) * 3 + 1000).astype(np.float32)
    whole = scaling._typical_spread(values, offsets, 12)
    monkeypatch.setattr(scaling, "SPREAD_CHUNK", chunk)
    np.testing.assert_array_equal(scaling.typical_spread(values, offsets, 12), whole)


def test_a_flat_stretch_is_scaled_by_its_series_typical_spread():
    t = np.arange(200)
    values = np.sin(2 * np.pi * t / 24).astype(np.float32)
    values[100:150] = 0.01  # stuck sensor, near the centred level
    offsets = np.array([0, 200])
    per_series = scaling.series_floors(values, offsets, 24, 0.1)
    floors = scaling.window_floors(per_series, offsets, np.array([10, 110]))
    spread = scaling.typical_spread(values, offsets, 24)[0]
    np.testing.assert_allclose(floors, [0.1 * spread] * 2, rtol=1e-6)
    x = torch.from_numpy(values[110:134])[None]
    stats = scaling.fit(x, "window", torch.from_numpy(floors[1:]))
    assert stats.scale.item() == pytest.approx(0.1 * spread, rel=1e-5)
    # without the floor the scale would be 0.1% of the level 0.01
    assert scaling.fit(x, "window").scale.item() == pytest.approx(1e-5, rel=1e-3)


def test_statistics_of_huge_values_do_not_overflow():
    """float32 holds values up to 3.4e38, but their squares overflow above ~1.8e19."""
    rng = np.random.default_rng(0)
    big = (rng.normal(size=(3, 48)) * 1e20).astype(np.float32)
    stats = scaling.fit(torch.from_numpy(big), "window")
    expected = big.astype(np.float64).std(axis=1)
    np.testing.assert_allclose(stats.scale.numpy().ravel(), expected, rtol=1e-5)
    np.testing.assert_allclose(
        stats.loc.numpy().ravel(), big.astype(np.float64).mean(axis=1), rtol=1e-4, atol=1e15
    )
    flat = big.ravel()
    spread = scaling.typical_spread(flat, np.array([0, 48, 144]), 24)
    chunks = flat.astype(np.float64).reshape(-1, 24).std(axis=1)
    np.testing.assert_allclose(spread, [chunks[:2].mean(), chunks[2:].mean()], rtol=1e-5)
    near_max = torch.tensor([[3.0e38, -3.0e38, 1.0, 0.0]])
    assert torch.isfinite(scaling.fit(near_max, "window").scale).all()


def test_windows_of_logs_have_an_absolute_level_floor():
    """A log's size depends on the data's units, so 0.1% of it means nothing: a flat window of
    logs gets the least scale 0.001 (a 0.1% change) wherever its level lies."""
    x = torch.tensor([[6.0, 6.0, 6.0], [-3.0, -3.0, -3.0], [0.0, 0.0, 0.0]])
    stats = scaling.fit(x, "window", logs=True)
    torch.testing.assert_close(stats.scale.squeeze(1), torch.full((3,), 1e-3))
    wide = torch.tensor([[6.0, 7.0, 8.0]])
    torch.testing.assert_close(
        scaling.fit(wide, "window", logs=True).scale, scaling.fit(wide, "window").scale
    )
