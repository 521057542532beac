"""Fair under contention: the same short training run alone and beside N busy processes
(pure-Python loops), with the product's defaults and with other ways OpenMP threads wait.

For each variant, throughput beside N busy processes is (seconds alone) / (seconds busy),
and the fair share of a machine with C cores is C / (C + N): the script prints their ratio
(1.0 = exactly a fair share; the target is at least 0.8 for N = 1 and 2 with the defaults)
and, for each variant, its time alone against the defaults' (the cost on an idle machine).
Seconds are training seconds from the `done` event of `--log-format json` (start-up and
reading left out), the best of --repeats runs. Usage (from the repository root)::

    python benchmarks/contention.py                     # 20 hourly series, 300 steps
    python benchmarks/contention.py --busy 1,2 --max-steps 600 --repeats 2

Variants: 'defaults' (as installed); 'spin 300000' (GOMP_SPINCOUNT=300000: libgomp's own
default, rnncast before it set one); 'passive' (OMP_WAIT_POLICY=PASSIVE); 'threads 1'.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

VARIANTS = {
    "defaults": ({}, []),
    "spin 300000": ({"GOMP_SPINCOUNT": "300000"}, []),
    "passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, []),
    "threads 1": ({}, ["--threads", "1"]),
}


def write_data(path: Path, series: int, length: int) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(length)
    frames = [
        pd.DataFrame({
            "unique_id": f"s{i}",
            "ds": pd.date_range("2020-01-01", periods=length, freq="h"),
            "y": 100 + 10 * np.sin(2 * np.pi * t / 24 + i) + rng.normal(0, 1, length),
        })
        for i in range(series)
    ]  # fmt: skip
    pd.concat(frames).to_csv(path, index=False)


def train_seconds(data: Path, folder: Path, env: dict[str, str], extra: list[str],
                  max_steps: int) -> float:  # fmt: skip
    """Training seconds of one `rnncast train` in a new process."""
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    command = [sys.executable, "-m", "rnncast", "train", str(data), "--horizon", "24",
               "--ensemble", "1", "--max-steps", str(max_steps), "--seed", "0", "--quiet",
               "--log-format", "json", "-o", str(folder / "m.rnncast"), *extra]  # fmt: skip
    done = subprocess.run(command, env={**base, **env}, capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    return next(e["seconds"] for e in events if e["event"] == "done")


def busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", default="1,2", help="numbers of busy processes, e.g. 1,2")
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    loads = [int(n) for n in args.busy.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "hourly.csv"
        write_data(data, args.series, args.length)
        rows, alone_defaults = [], None
        for name in args.variants.split(","):
            env, extra = VARIANTS[name]

            def best(env: dict[str, str] = env, extra: list[str] = extra) -> float:
                runs = range(args.repeats)
                return min(train_seconds(data, folder, env, extra, args.max_steps) for _ in runs)

            alone = best()
            alone_defaults = alone_defaults or alone
            row = [name, f"{alone:.2f}", f"{alone / alone_defaults:.2f}"]
            for n in loads:
                others = busy(n)
                try:
                    seconds = best()
                finally:
                    for p in others:
                        p.kill()
                fair = cores / (cores + n)
                row += [f"{seconds:.2f}", f"{alone / seconds / fair:.2f}"]
            rows.append(row)
            print(" | ".join(row), flush=True)
    headers = ["variant", "alone s", "alone / defaults"]
    for n in loads:
        headers += [f"beside {n} busy s", f"throughput / fair share ({n})"]
    print(f"\n{cores} cores, {args.series} series x {args.length} hourly values, "
          f"--max-steps {args.max_steps}, best of {args.repeats}")  # fmt: skip
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
