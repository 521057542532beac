"""Reading and validating data: layouts, formats, SeriesSet invariants, every bad input."""

from __future__ import annotations

import numpy as np

from rnncast.data.readers import load
from tests.data.conftest import LONG, csv


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
