"""Small real data sets and a random walk: rnncast's defaults held out against naive.

Each set is trained as ``rnncast train DATA --holdout W*H`` would (every other option
rnncast's default unless given here), then backtested over those W held-out horizons as
``rnncast evaluate --windows W`` does; the table gives the model's MASE (the mean over
series, as M4 and ``evaluate`` score it), naive's (the last value repeated), their ratio,
the 80% interval's out-of-sample coverage when ``--quantiles`` makes one, and the seconds.

The sets: air passengers, US macro (12 quarterly series) and sunspots from
``sample_data/``; weekly CO2 from ``../shared/data/co2`` (skipped when absent); and
``random walk``: 30 series of 600 daily Gaussian steps from 100, made here from the seed,
where the last value is the best forecast there is: a forecaster should not lose to naive.

Usage (from the repository root)::

    python benchmarks/small.py --seeds 0,1           # results/small.json
    python benchmarks/small.py --seeds 0 --quantiles 0.1,0.5,0.9 --sets air,walk
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common
import numpy as np
import pandas as pd

import rnncast
from rnncast import jobs
from rnncast.settings import ReadOptions, TrainRequest

FIXED = {"holdout", "init_from"}


@dataclass(frozen=True)
class Set:
    """A data set, how it is read, and how many horizons are held out (W)."""

    name: str
    path: str
    windows: int
    read: dict[str, Any] = field(default_factory=dict)


SETS = [
    Set("air", "sample_data/air_passengers.csv", 1),
    Set("macro", "sample_data/us_macro_quarterly.csv", 1),
    Set("sunspots", "sample_data/sunspots_monthly.csv", 4),
    Set("co2", "{shared}/co2/co2.csv", 4, {"time_format": "%Y%m%d", "fill": "interpolate"}),
    Set("walk", "", 4),
]


def random_walk(seed: int, series: int = 30, length: int = 600) -> pd.DataFrame:
    """`series` random walks of `length` daily Gaussian steps (sd 1) from 100, long layout."""
    rng = np.random.default_rng(1000 + seed)
    values = 100 + np.cumsum(rng.normal(size=(series, length)), axis=1)
    days = pd.date_range("2020-01-01", periods=length, freq="D")
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"w{i:02d}" for i in range(series)], length),
            "ds": np.tile(days, series),
            "y": values.ravel(),
        }
    )


def run_set(entry: Set, data: Any, options: dict[str, Any], seed: int,
            threads: int | None) -> dict[str, Any]:  # fmt: skip
    """Train with W horizons held out, backtest them; the scores."""
    watch = common.Stopwatch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        read = ReadOptions(**entry.read)
        horizon = options.get("horizon") or jobs.read(data, read).axis.default_horizon
        model = rnncast.train(data, **entry.read, **options, seed=seed, threads=threads,
                              holdout=entry.windows * horizon)  # fmt: skip
        seconds = watch()
        report = rnncast.evaluate(model, data, windows=entry.windows, threads=threads)
    overall = report["overall"]
    coverage = (report.get("quantiles") or {}).get("intervals", {}).get("80%", {})
    return {
        "set": entry.name,
        "seed": seed,
        "horizon": horizon,
        "windows": entry.windows,
        "mase": overall["model"]["mase"],
        "naive_mase": overall["naive"]["mase"],
        "vs_naive": report["skill"]["vs_naive"]["mase"],
        "coverage_80": coverage.get("coverage"),
        "windows_in_training": report["windows_in_training"],
        "train_seconds": round(seconds, 2),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=common.REPO_ROOT.parent / "shared" / "data",
                        help="the shared data folder [../shared/data]")  # fmt: skip
    parser.add_argument("--seeds", default="0", help="seeds, comma-separated [0]")
    parser.add_argument("--sets", default=",".join(s.name for s in SETS),
                        help="which sets, comma-separated [all]")  # fmt: skip
    common.add_request_args(parser, FIXED)
    common.add_run_args(parser, "results/small.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = common.given_options(args, FIXED)
    TrainRequest.of(**options)  # a malformed option fails before any training
    chosen = args.sets.split(",")
    rows = []
    for entry in (s for s in SETS if s.name in chosen):
        path = entry.path.format(shared=args.shared)
        if entry.path and not Path(path).exists():
            print(f"skipping {entry.name}: {path} not found", file=sys.stderr)
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            data = random_walk(seed) if entry.name == "walk" else path
            row = run_set(entry, data, options, seed, args.threads)
            rows.append(row)
            print(f"{row['set']} seed {seed}: MASE {row['mase']:.3f} naive "
                  f"{row['naive_mase']:.3f} ({row['vs_naive']:.3f}) "
                  f"{row['train_seconds']:.1f} s", file=sys.stderr, flush=True)  # fmt: skip
    headers = ["set", "seed", "H x W", "MASE", "naive", "vs naive", "80% covered", "train s"]
    table = [
        [r["set"], r["seed"], f"{r['horizon']} x {r['windows']}", common.fmt(r["mase"]),
         common.fmt(r["naive_mase"]), common.fmt(r["vs_naive"]), common.fmt(r["coverage_80"]),
         f"{r['train_seconds']:.1f}"]
        for r in rows
    ]  # fmt: skip
    print(common.markdown_table(headers, table))
    common.write_json(args.out, {"benchmark": "small sets", "options": options,
                                 "machine": common.machine_info(), "rows": rows})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
