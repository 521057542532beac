"""Training-loop overhead: rnncast's training throughput (windows per second) divided by a
bare PyTorch loop over tensors already in memory, same network, batch, lookback and
optimiser, in the same process. Target: at least 0.90 for every cell, i.e. windowing,
per-window scaling, batching and progress events cost next to nothing.

The bare loop gets every batch ready-made: inputs already scaled, targets already scaled,
shuffled once; it only runs forward, loss, backward, clipping and the optimiser step.
rnncast's loop does what `rnncast train` does: draw window starts, gather windows from a
strided view of the flat values, scale each window, report each batch. Each side is timed
`--rounds` times, alternating, and the best round counts (the least disturbed). `--ema`
adds train's weight averaging to rnncast's side (the bare loop has none), so that the ratio
says what averaging costs too.

Usage (from the repository root)::

    python benchmarks/overhead.py                      # rnn, lstm, gru; 1 x 256; batch 256
    python benchmarks/overhead.py --cells gru --steps 100 --threads 1
    python benchmarks/overhead.py --ema 0.995          # with train's weight averaging
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common
import numpy as np
import torch
from torch import nn

from rnncast.data.build import from_frame
from rnncast.data.series import SeriesSet
from rnncast.data.windows import split_windows
from rnncast.engine import loop, models, scaling
from rnncast.settings import ModelConfig, TrainConfig, WindowConfig

TARGET = 0.90


def synthetic(n_series: int, length: int, seed: int = 0) -> SeriesSet:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    values = (
        10 * rng.uniform(1, 5, (n_series, 1))
        + 3 * np.sin(2 * np.pi * t / 24)[None, :]
        + rng.normal(0, 0.5, (n_series, length))
    ).astype(np.float32)
    import pandas as pd

    frame = pd.DataFrame(values.T, columns=[f"s{i}" for i in range(n_series)])
    return from_frame(frame)


def rnncast_rate(series, window, model_config, steps: int, batch: int, ema: float = 0.0) -> float:
    """Windows per second of rnncast's own loop (no validation, one network)."""
    # no weight averaging unless asked (--ema): the bare loop below has none
    config = TrainConfig(max_steps=steps, max_epochs=10**6, batch_size=batch, ensemble=1,
                         device="cpu", epoch_size=10**9, ema=ema)  # fmt: skip
    result = loop.fit(series, window, model_config, config)
    return result.steps * batch / result.seconds


def bare_rate(series, window, model_config, steps: int, batch: int) -> float:
    """Windows per second of a plain loop over ready-made scaled batches."""
    torch.manual_seed(0)
    flat = torch.from_numpy(series.values)
    view = flat.unfold(0, window.width, 1)
    starts, _ = split_windows(series.offsets, window)
    rng = np.random.default_rng(0)
    chosen = torch.from_numpy(rng.choice(starts, steps * batch))
    windows = view[chosen]  # materialised up front: (steps * batch, width)
    x, y = windows[:, : window.lookback], windows[:, window.lookback :]
    stats = scaling.fit(x, "window")
    x = scaling.transform(x, stats).unsqueeze(-1).contiguous()
    y = scaling.transform(y, stats).contiguous()
    network = models.RecurrentForecaster(model_config, window.lookback, window.horizon)
    optimiser = torch.optim.AdamW(network.parameters(), lr=3e-3, weight_decay=1e-4)
    criterion = nn.L1Loss()
    network.train()
    began = time.perf_counter()
    for b in range(steps):
        xb, yb = x[b * batch : (b + 1) * batch], y[b * batch : (b + 1) * batch]
        loss = criterion(network(xb), yb)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimiser.step()
    return steps * batch / (time.perf_counter() - began)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rnncast training loop vs a bare loop.")
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lookback", type=int, default=144)
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--segment", type=int, default=24)
    parser.add_argument("--steps", type=int, default=60, help="optimiser steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--length", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="rnncast's weight averaging (train's --ema; off, like the bare loop, unless "
        "given: then the ratio includes its cost)",
    )
    parser.add_argument("--out", type=Path, default=Path("results/overhead.json"))
    args = parser.parse_args(argv)
    common.apply_threads(args.threads)

    series = synthetic(args.series, args.length)
    window = WindowConfig(lookback=args.lookback, horizon=args.horizon, val_size=0)
    rows, results = [], {}
    for cell in args.cells.split(","):
        model_config = ModelConfig(cell=cell, hidden_size=args.hidden_size, num_layers=1,
                                   dropout=0.0, segment=args.segment)  # fmt: skip
        ours, bare = -math.inf, -math.inf
        for _ in range(args.rounds):  # alternate, keep the best of each
            bare = max(bare, bare_rate(series, window, model_config, args.steps, args.batch_size))
            ours = max(ours, rnncast_rate(series, window, model_config, args.steps,
                                          args.batch_size, args.ema))  # fmt: skip
        ratio = ours / bare
        results[cell] = {"rnncast_windows_per_s": ours, "bare_windows_per_s": bare,
                         "ratio": ratio}  # fmt: skip
        rows.append([cell, f"{ours:,.0f}", f"{bare:,.0f}", f"{ratio:.3f}",
                     "MET" if ratio >= TARGET else "MISSED"])  # fmt: skip
    print(
        f"{args.series} series x {args.length} steps; 1 x {args.hidden_size} network, "
        f"batch {args.batch_size}, lookback {args.lookback} in segments of {args.segment}, "
        f"horizon {args.horizon}; {args.steps} steps x best of {args.rounds} rounds; "
        f"{torch.get_num_threads()} threads"
    )
    print(common.markdown_table(
        ["cell", "rnncast windows/s", "bare loop windows/s", "ratio", f"target >= {TARGET}"],
        rows,
    ))  # fmt: skip
    common.write_json(args.out, {"machine": common.machine_info(), "args": vars(args),
                                 "results": results})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
