"""Latency of one forecast batch in onnxruntime beside torch: the graph `rnncast export`
writes against rnncast's own predict path, on the same windows.

Trains a model on `sample_data/sunspots_monthly.csv` (rnncast's defaults but for the cell,
the ensemble, the hidden size and a few epochs, which do not change the time a forecast
takes), exports it, and forecasts batches of windows taken along the series three ways:

- torch, predict's path: `rnncast.forecast.forecasting.outputs_at` (gathers the windows from
  the series, scales them, runs every member, averages, undoes the scaling and transform;
  then the model's `--clip`, as predict does);
- torch, the exported module: `rnncast.forecast.graph.ForecastGraph` on ready-made inputs
  (what was traced: the same arithmetic without the gathering);
- onnxruntime on the exported file, the same ready-made inputs.

Each is run `--runs` times per batch size after `--warmup` runs; the median counts, and the
ratio onnx / torch is onnxruntime's median over predict's. Both run on `--threads` threads
(torch's `set_num_threads`, onnxruntime's intra-op threads). The forecasts are checked to
agree (1e-4 relative) before anything is timed.

Usage (from the repository root; needs the onnx extra, `pip install -e '.[onnx]'`)::

    python benchmarks/onnx_latency.py
    python benchmarks/onnx_latency.py --cell lstm --batches 1,32,512 --runs 200 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout, not installed

import numpy as np
import torch

import rnncast
from rnncast import jobs
from rnncast.forecast.forecasting import outputs_at
from rnncast.forecast.graph import ForecastGraph, graph_inputs

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sample_data" / "sunspots_monthly.csv"


def median_ms(call: Callable[[], object], runs: int, warmup: int) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell", default="gru", choices=("rnn", "lstm", "gru"))
    parser.add_argument("--ensemble", type=int, default=3)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--max-epochs", type=int, default=2)
    parser.add_argument("--batches", default="1,64,1024", help="batch sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import onnxruntime

    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = rnncast.train(DATA, cell=args.cell, ensemble=args.ensemble, seed=0,
                              hidden_size=args.hidden_size, max_epochs=args.max_epochs,
                              device="cpu")  # fmt: skip
    folder = tempfile.mkdtemp(prefix="rnncast-onnx-")
    exported = rnncast.export(model, Path(folder) / "model.onnx")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = args.threads
    session = onnxruntime.InferenceSession(str(Path(folder) / "model.onnx"), options,
                                           providers=["CPUExecutionProvider"])  # fmt: skip
    series = jobs.load_data_for(model, DATA)
    network = model.network("cpu")
    graph = ForecastGraph(network, model.intervals).eval()
    window, clip = model.window, model.model.clip  # the graph clips last, as predict does
    print(f"{model.model.describe()} x {len(model.weights)}, lookback {network.lookback}, "
          f"horizon {window.horizon}, {exported.size / 2**20:.1f} MB ONNX; torch "
          f"{torch.__version__}, onnxruntime {onnxruntime.__version__}, {args.threads} "
          f"thread(s); median of {args.runs} runs", file=sys.stderr)  # fmt: skip
    print("| batch | torch, predict's path (ms) | torch, exported module (ms) | onnxruntime (ms) "
          "| onnx / torch |\n|---:|---:|---:|---:|---:|")  # fmt: skip
    last = len(series.values) - network.lookback
    for batch in (int(b) for b in args.batches.split(",")):
        starts = np.linspace(0, last, batch).astype(np.int64)
        given = graph_inputs(network, series, starts=starts)
        tensors = {k: torch.from_numpy(v) for k, v in given.items()}
        want = outputs_at(network, series, starts, device="cpu").clipped(clip).point
        got = session.run(None, given)[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())

        def module(tensors: dict[str, torch.Tensor] = tensors) -> object:
            with torch.no_grad():
                return graph(**tensors)

        def predict(starts: np.ndarray = starts) -> object:
            return outputs_at(network, series, starts, device="cpu").clipped(clip)

        def ort(given: dict[str, np.ndarray] = given) -> object:
            return session.run(None, given)

        torch_ms, module_ms, ort_ms = (median_ms(f, args.runs, args.warmup)
                                       for f in (predict, module, ort))  # fmt: skip
        print(f"| {batch} | {torch_ms:.2f} | {module_ms:.2f} | {ort_ms:.2f} | "
              f"{ort_ms / torch_ms:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
