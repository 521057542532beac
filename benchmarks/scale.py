"""Scale: time and peak memory of `rnncast train` and `rnncast predict` as the number of
series grows, each in a fresh process, as a cron job runs them.

Synthetic data: N series of --length steps each (hourly, a daily cycle plus noise at
different levels), long layout (`unique_id, ds, y`) in one Parquet file; the raw size is N x
length x 4 bytes of float32 values. `train` takes a fixed amount of optimisation
(--max-steps, one network), so its time measures reading, checking, windowing and the fixed
steps; `predict` forecasts every series. For each command the script prints wall time, peak
resident memory (the child's ru_maxrss) and its ratio to the raw size, and the exponent b
of time ~ N^b and memory ~ N^b between the two largest sizes (1 means linear growth; fixed
costs such as importing torch pull it below 1 at small sizes).

Usage (from the repository root)::

    python benchmarks/scale.py                          # 1,000 and 10,000 series
    python benchmarks/scale.py --series 1000,10000,100000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def write_data(path: Path, series: int, length: int, seed: int = 0) -> None:
    """N series x `length` hourly values as long Parquet, written in chunks of series."""
    rng = np.random.default_rng(seed)
    times = np.arange(length, dtype="int64") * 3_600_000_000 + 1_704_067_200_000_000  # us
    t = np.arange(length, dtype=np.float32)
    cycle = np.sin(2 * np.pi * t / 24).astype(np.float32)
    writer = None
    chunk = max(1, 2_000_000 // length)
    for first in range(0, series, chunk):
        n = min(chunk, series - first)
        level = rng.uniform(10, 1000, (n, 1)).astype(np.float32)
        y = level * (1 + 0.2 * cycle) + rng.normal(0, 1, (n, length)).astype(np.float32)
        ids = pa.array(np.repeat([f"s{first + i}" for i in range(n)], length))
        table = pa.table(
            {
                "unique_id": ids.dictionary_encode(),
                "ds": pa.array(np.tile(times, n), pa.timestamp("us")),
                "y": pa.array(y.ravel()),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def run(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of `command` run in a fresh process."""
    script = (
        "import resource, subprocess, sys, time\n"
        "began = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "seconds = time.perf_counter() - began\n"
        "if done.returncode:\n"
        "    sys.exit(done.stderr[-2000:])\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(seconds, peak)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *command], cwd=cwd, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr}")
    seconds, peak = done.stdout.split()
    return float(seconds), float(peak)


def exponent(sizes: list[int], values: list[float]) -> float | None:
    """b in value ~ size^b, least squares on logs (None with fewer than two sizes)."""
    if len(sizes) < 2:
        return None
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rnncast time and memory against series.")
    parser.add_argument("--series", default="1000,10000", help="comma-separated [1000,10000]")
    parser.add_argument("--length", type=int, default=1000, help="steps per series [1000]")
    parser.add_argument("--max-steps", type=int, default=20, help="train's optimiser steps [20]")
    parser.add_argument("--threads", type=int, default=None, help="rnncast --threads")
    parser.add_argument("--out", type=Path, default=Path("results/scale.json"))
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.series.split(",")]
    threads = ["--threads", str(args.threads)] if args.threads else []
    rnncast = [sys.executable, "-m", "rnncast"]
    rows, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in sizes:
            data = folder / f"s{n}.parquet"
            write_data(data, n, args.length)
            raw_mib = n * args.length * 4 / 2**20
            train = [*rnncast, "train", str(data), "--ensemble", "1", "--max-steps",
                     str(args.max_steps), "--quiet", "--out", "m.rnncast", *threads]  # fmt: skip
            predict = [*rnncast, "predict", str(data), "--model", "m.rnncast", "--quiet", "--out",
                       "f.parquet", *threads]  # fmt: skip
            entry = {"series": n, "length": args.length, "raw_mib": raw_mib}
            for name, command in (("train", train), ("predict", predict)):
                seconds, peak = run(command, folder)
                entry[name] = {"seconds": seconds, "peak_mib": peak}
                rows.append([f"{n:,}", name, f"{seconds:.1f}", f"{peak:,.0f}", f"{raw_mib:,.1f}",
                             f"{peak / raw_mib:.1f}"])  # fmt: skip
            runs.append(entry)
            data.unlink()
    print(f"## rnncast at scale ({args.length} hourly steps per series)\n")
    print(common.markdown_table(["series", "command", "s", "peak MiB", "raw MiB", "peak / raw"],
                                rows))  # fmt: skip
    fits = {}
    for name in ("train", "predict"):
        # between the two largest sizes, where fixed costs (importing torch) weigh least
        top = runs[-2:]
        fits[name] = {
            "time_exponent": exponent([r["series"] for r in top],
                                      [r[name]["seconds"] for r in top]),
            "memory_exponent": exponent([r["series"] for r in top],
                                        [r[name]["peak_mib"] for r in top]),
        }  # fmt: skip
        t, m = fits[name]["time_exponent"], fits[name]["memory_exponent"]
        if t is not None:
            print(f"\n{name}, between the two largest sizes: time ~ N^{t:.2f}, "
                  f"peak memory ~ N^{m:.2f}")  # fmt: skip
    common.write_json(args.out, {"machine": common.machine_info(), "runs": runs, "fits": fits})
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
