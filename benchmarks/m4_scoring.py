"""Official M4 point-forecast scoring (sMAPE, MASE, OWA) and the Naive2 / seasonal naive
benchmarks, in plain NumPy.

Follows the organisers' R script ``Benchmarks and Evaluation.R`` (Mcompetitions/M4-methods),
which produced the published statistical benchmark scores:

* sMAPE = mean over the horizon of 200 |y - yhat| / (|y| + |yhat|).
* MASE = mean |y - yhat| over the horizon / mean |x_t - x_{t-m}| over the in-sample data.
* Both are averaged over series; OWA = (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) / 2.
* Naive2 = naive forecast of the seasonally adjusted series, reseasonalised. The series is
  adjusted only if it passes a 90% autocorrelation test at lag m and has at least 3 m values;
  the seasonal indices are those of R's ``decompose(type="multiplicative")``.

Usage (from the repository root)::

    python benchmarks/m4_scoring.py ../shared/data/m4
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "M4_HOURLY_NAIVE2_MASE",
    "M4_HOURLY_NAIVE2_SMAPE",
    "acf",
    "forecast_all",
    "mase",
    "mase_scale",
    "naive2",
    "owa",
    "score_all",
    "seasonal_indices",
    "seasonal_naive",
    "seasonality_test",
    "smape",
]

#: Official Naive2 scores on M4 Hourly, the OWA reference.
M4_HOURLY_NAIVE2_SMAPE = 18.383
M4_HOURLY_NAIVE2_MASE = 2.395

#: One-sided 90% critical value of the seasonality test.
TCRIT = 1.645


def _as_1d(x: np.ndarray | list[float]) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


# --------------------------------------------------------------------------- metrics


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE in percent, as in M4: mean of 200 |y - yhat| / (|y| + |yhat|)."""
    y, yhat = _as_1d(y), _as_1d(yhat)
    return float(np.mean(200.0 * np.abs(y - yhat) / (np.abs(y) + np.abs(yhat))))


def mase_scale(insample: np.ndarray, m: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast: mean |x_t - x_{t-m}|."""
    x = _as_1d(insample)
    if len(x) <= m:
        raise ValueError(f"MASE needs more than m={m} in-sample values, got {len(x)}")
    return float(np.mean(np.abs(x[m:] - x[:-m])))


def mase(insample: np.ndarray, y: np.ndarray, yhat: np.ndarray, m: int) -> float:
    """Mean absolute scaled error, as in M4 (scaled by the in-sample seasonal naive MAE)."""
    y, yhat = _as_1d(y), _as_1d(yhat)
    return float(np.mean(np.abs(y - yhat)) / mase_scale(insample, m))


def owa(
    smape_value: float,
    mase_value: float,
    naive2_smape: float = M4_HOURLY_NAIVE2_SMAPE,
    naive2_mase: float = M4_HOURLY_NAIVE2_MASE,
) -> float:
    """Overall weighted average relative to Naive2 (defaults: official M4 Hourly Naive2)."""
    return 0.5 * (smape_value / naive2_smape + mase_value / naive2_mase)


# --------------------------------------------------------------------------- Naive2


def acf(x: np.ndarray, nlags: int) -> np.ndarray:
    """Sample autocorrelations at lags 0..nlags, as R's ``acf``: demeaned, divided by the
    lag-0 sum of squares (denominator n at every lag)."""
    x = _as_1d(x)
    d = x - x.mean()
    denom = float(d @ d)
    out = np.empty(nlags + 1)
    out[0] = 1.0
    for k in range(1, nlags + 1):
        out[k] = float(d[k:] @ d[:-k]) / denom if denom > 0 else np.nan
    return out


def seasonality_test(insample: np.ndarray, m: int, tcrit: float = TCRIT) -> bool:
    """M4 seasonality test: |r_m| > tcrit * sqrt((1 + 2 sum_{k=1}^{m-1} r_k^2) / n).

    Series shorter than 3 m, or with an undefined ACF (constant), count as not seasonal.
    """
    x = _as_1d(insample)
    n = len(x)
    if m <= 1 or n < 3 * m:
        return False
    r = acf(x, m)
    if not np.all(np.isfinite(r)):
        return False
    limit = tcrit * np.sqrt((1.0 + 2.0 * np.sum(r[1:m] ** 2)) / n)
    return bool(abs(r[m]) > limit)


def _centered_moving_average(x: np.ndarray, m: int) -> np.ndarray:
    """Centred moving average of order m (2 x m for even m), NaN where the window does not
    fit; the same as R's ``decompose`` trend (``filter(x, w, sides = 2)``)."""
    w = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    half = len(w) // 2
    trend = np.full(len(x), np.nan)
    trend[half : len(x) - half] = np.convolve(x, w, mode="valid")
    return trend


def seasonal_indices(insample: np.ndarray, m: int) -> np.ndarray:
    """Multiplicative seasonal indices of R's ``decompose(type = "multiplicative")``.

    Returns ``m`` factors averaging 1, where factor ``i`` applies to positions ``t`` with
    ``t % m == i`` counted from the first in-sample value.
    """
    x = _as_1d(insample)
    ratio = x / _centered_moving_average(x, m)
    n_cycles = -(-len(x) // m)
    padded = np.full(n_cycles * m, np.nan)
    padded[: len(x)] = ratio
    figure = np.nanmean(padded.reshape(n_cycles, m), axis=0)
    return figure / figure.mean()


def seasonal_naive(insample: np.ndarray, h: int, m: int) -> np.ndarray:
    """Repeat the last ``m`` in-sample values over the horizon (plain naive if m <= 1)."""
    x = _as_1d(insample)
    if m <= 1:
        return np.full(h, x[-1])
    return np.resize(x[-m:], h)


def naive2(insample: np.ndarray, h: int, m: int) -> np.ndarray:
    """M4 Naive2: naive forecast of the seasonally adjusted series, reseasonalised.

    Seasonal adjustment (classical multiplicative decomposition) is applied only when
    ``seasonality_test`` passes; otherwise this is the plain naive forecast.
    """
    x = _as_1d(insample)
    if m <= 1 or not seasonality_test(x, m):
        return np.full(h, x[-1])
    si = seasonal_indices(x, m)
    n = len(x)
    last_adjusted = x[-1] / si[(n - 1) % m]
    return last_adjusted * si[(n + np.arange(h)) % m]


# --------------------------------------------------------------------------- scoring


def score_all(
    train: Mapping[str, np.ndarray],
    test: Mapping[str, np.ndarray],
    forecasts: Mapping[str, np.ndarray],
    m: int = 24,
    naive2_smape: float = M4_HOURLY_NAIVE2_SMAPE,
    naive2_mase: float = M4_HOURLY_NAIVE2_MASE,
) -> dict[str, float]:
    """Score forecasts of every test series: sMAPE and MASE averaged over series, plus OWA.

    ``forecasts`` must hold a forecast of the test length for every id in ``test``.
    Returns ``{"sMAPE", "MASE", "OWA", "n_series"}``.
    """
    missing = [uid for uid in test if uid not in forecasts]
    if missing:
        raise KeyError(f"{len(missing)} series have no forecast, e.g. {missing[:3]}")
    smapes, mases = [], []
    for uid, y in test.items():
        yhat = _as_1d(forecasts[uid])
        if yhat.shape != _as_1d(y).shape:
            raise ValueError(f"{uid}: forecast length {len(yhat)} != test length {len(y)}")
        if not np.all(np.isfinite(yhat)):
            raise ValueError(f"{uid}: forecast has non-finite values")
        smapes.append(smape(y, yhat))
        mases.append(mase(train[uid], y, yhat, m))
    s, k = float(np.mean(smapes)), float(np.mean(mases))
    return {
        "sMAPE": s,
        "MASE": k,
        "OWA": owa(s, k, naive2_smape, naive2_mase),
        "n_series": float(len(smapes)),
    }


def score_intervals(
    train: Mapping[str, np.ndarray],
    test: Mapping[str, np.ndarray],
    lower: Mapping[str, np.ndarray],
    upper: Mapping[str, np.ndarray],
    alpha: float,
    m: int = 24,
) -> dict[str, float]:
    """Score a (1 - alpha) prediction interval the way M4 did: coverage (the share of test
    values inside, pooled over series), ACD = |coverage - (1 - alpha)|, and MSIS, the mean
    over series of the interval score (width + 2/alpha x each miss) over MASE's scale."""
    inside, msis = [], []
    for uid, y in test.items():
        y, lo, hi = _as_1d(y), _as_1d(lower[uid]), _as_1d(upper[uid])
        inside.append((y >= lo) & (y <= hi))
        score = (hi - lo) + 2 / alpha * ((lo - y) * (y < lo) + (y - hi) * (y > hi))
        msis.append(float(np.mean(score)) / mase_scale(train[uid], m))
    coverage = float(np.concatenate(inside).mean())
    return {
        "coverage": coverage,
        "ACD": abs(coverage - (1 - alpha)),
        "MSIS": float(np.mean(msis)),
    }


def forecast_all(
    train: Mapping[str, np.ndarray],
    h: int,
    m: int,
    method: Callable[[np.ndarray, int, int], np.ndarray],
) -> dict[str, np.ndarray]:
    """Apply ``method(insample, h, m)`` to every series."""
    return {uid: method(x, h, m) for uid, x in train.items()}


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from m4_data import read_m4

    parser = argparse.ArgumentParser(description="Reproduce the official M4 benchmark scores.")
    parser.add_argument("folder", nargs="?", default="../shared/data/m4", help="M4 data folder")
    parser.add_argument("--frequency", default="Hourly")
    parser.add_argument("-m", "--season", type=int, default=24, help="seasonal period")
    args = parser.parse_args(argv)

    folder = Path(args.folder)
    train, test = read_m4(folder, args.frequency)
    h = len(next(iter(test.values())))
    official = pd.read_csv(folder / "official_results_by_frequency.csv", dtype={"method_id": str})
    official = official.set_index("method_id")
    ref_smape = float(official.loc["Naive2", f"sMAPE_{args.frequency}"])
    ref_mase = float(official.loc["Naive2", f"MASE_{args.frequency}"])

    n_seasonal = sum(seasonality_test(x, args.season) for x in train.values())
    print(
        f"M4 {args.frequency}: {len(train)} series, h={h}, m={args.season}; "
        f"{n_seasonal} pass the seasonality test"
    )
    print(
        f"{'method':<8} {'sMAPE':>8} {'official':>8}  {'MASE':>7} {'official':>8}  "
        f"{'OWA':>6} {'official':>8}  {'raw OWA':>8}"
    )
    exit_code = 0
    for name, method in (("Naive2", naive2), ("sNaive", seasonal_naive)):
        forecasts = forecast_all(train, h, args.season, method)
        scores = score_all(train, test, forecasts, args.season, ref_smape, ref_mase)
        s3, k3 = round(scores["sMAPE"], 3), round(scores["MASE"], 3)
        # The official table computes OWA from the published 3-decimal sMAPE and MASE.
        o3 = round(owa(s3, k3, ref_smape, ref_mase), 3)
        ref = official.loc[name]
        theirs = tuple(
            round(float(ref[f"{metric}_{args.frequency}"]), 3)
            for metric in ("sMAPE", "MASE", "OWA")
        )
        ok = (s3, k3, o3) == theirs
        exit_code |= not ok
        print(
            f"{name:<8} {s3:8.3f} {theirs[0]:8.3f}  {k3:7.3f} {theirs[1]:8.3f}  "
            f"{o3:6.3f} {theirs[2]:8.3f}  {scores['OWA']:8.4f}  {'match' if ok else 'MISMATCH'}"
        )
    print("OWA: from the 3-decimal sMAPE/MASE, as the official table; raw OWA: unrounded")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
