"""ETTh1 benchmark under the Informer protocol: rnncast against published results.

Protocol (Zhou et al., Informer, AAAI 2021; used since by Autoformer, DLinear, PatchTST, ...):
rows 0-8639 train, 8640-11519 validation, 11520-14399 test (later rows unused); every column
z-scored with the mean and standard deviation (ddof 0) of the train rows; MSE and MAE on the
scaled values over EVERY stride-1 test window (targets inside the test rows, lookback allowed
to reach back into the validation rows), averaged over windows, steps and channels, no
window dropped.

Two settings:
- multivariate: the 7 columns as 7 series of one channel-independent global model,
  lookback 96, horizons 96, 192, 336, 720;
- univariate: OT only, horizons 24, 48, 168, lookback by rnncast's default rule.

rnncast is trained on the scaled rows 0-11519 with ``val_size=2880``: its validation windows
are exactly those whose targets lie in rows 8640-11519, the protocol's validation set.
A repeat-last baseline (the last lookback value repeated) is scored on the same windows as a
check of the protocol: at horizon 96 (7 columns) it must give the published 1.295 / 0.713.

Usage (from the repository root)::

    python benchmarks/ett.py                      # both settings, results/ett_h1.json
    python benchmarks/ett.py --quick              # smoke run: one horizon each, a few steps
    python benchmarks/ett.py --setting univariate --horizons 24 --max-epochs 5
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common
import numpy as np
import pandas as pd

from rnncast import jobs
from rnncast import plan as plans
from rnncast.data.build import from_frame
from rnncast.forecast.forecasting import Known, outputs_at
from rnncast.settings import TrainRequest, to_dict

COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
TRAIN_END, VAL_END, TEST_END = 8640, 11520, 14400  # exclusive row bounds
VAL_SIZE = VAL_END - TRAIN_END

MULTI_LOOKBACK = 96
# What the harness sets itself: the horizon, the validation rows, how its frames are read.
FIXED = {"horizon", "val_size", "id_col", "time_col", "target", "freq", "time_format", "fill",
         "skip_short", "covariates", "holdout", "init_from"}  # fmt: skip
SETTINGS = {
    "multivariate": {"columns": COLUMNS, "horizons": (96, 192, 336, 720)},
    "univariate": {"columns": ("OT",), "horizons": (24, 48, 168)},
}
QUICK = {"horizons": {"multivariate": (96,), "univariate": (24,)}, "max_steps": 10}

# The repeat-last baseline on 7 columns at horizon 96 must reproduce this (MSE, MAE).
REPEAT_LAST_96 = (1.295, 0.713)
REPEAT_LAST_TOLERANCE = 0.002


@dataclass(frozen=True)
class Published:
    method: str
    source: str
    mse: dict[int, float]
    mae: dict[int, float]


# Published test scores (z-scored ETTh1, Informer split). MAE is left out where we have no
# checked number.
PUBLISHED: dict[str, list[Published]] = {
    "multivariate": [
        Published(
            "SegRNN (single GRU), lookback 96",
            "Lin et al. 2023, arXiv:2308.11200; lookback-96 numbers as quoted in the rnncast issue",
            {96: 0.368, 192: 0.408, 336: 0.444, 720: 0.446},
            {},
        ),
        Published(
            "PatchTST, lookback 96",
            "Nie et al., ICLR 2023, arXiv:2211.14730; lookback-96 numbers as listed in the issue",
            {96: 0.414, 192: 0.460, 336: 0.501, 720: 0.500},
            {},
        ),
        Published(
            "PatchTST, own paper's lookback",
            "../shared/data/SOURCES.md (PatchTST paper, longer lookback)",
            {96: 0.370},
            {96: 0.400},
        ),
        Published(
            "DLinear, lookback 96",
            "Zeng et al., AAAI 2023, arXiv:2205.13504; lookback-96 numbers as listed in the issue",
            {96: 0.386, 192: 0.437, 336: 0.481, 720: 0.519},
            {},
        ),
        Published(
            "DLinear, own paper's lookback",
            "../shared/data/SOURCES.md (DLinear paper, lookback 336)",
            {96: 0.375},
            {96: 0.399},
        ),
        Published(
            "repeat-last (published)",
            "../shared/data/SOURCES.md (the 'Repeat' row of the DLinear paper)",
            {96: REPEAT_LAST_96[0]},
            {96: REPEAT_LAST_96[1]},
        ),
    ],
    "univariate": [
        Published(
            "LSTMa",
            "Zhou et al., Informer, AAAI 2021, arXiv:2012.07436, univariate ETTh1",
            {24: 0.114, 48: 0.193, 168: 0.236},
            {24: 0.272},
        ),
        Published(
            "DeepAR",
            "Zhou et al., Informer, AAAI 2021, arXiv:2012.07436, univariate ETTh1",
            {24: 0.107, 48: 0.162, 168: 0.239},
            {24: 0.280},
        ),
    ],
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="ETTh1 (Informer protocol): rnncast vs published results.",
    )
    default_data = "../shared/data/ett/ETTh1.csv"
    parser.add_argument("--data", type=Path, default=Path(default_data), help=f"[{default_data}]")
    parser.add_argument(
        "--setting",
        choices=("multivariate", "univariate", "both"),
        default="both",
        help="7 columns, OT only, or both [both]",
    )
    parser.add_argument(
        "--horizons",
        type=lambda text: tuple(int(h) for h in text.split(",")),
        default=None,
        help="comma-separated horizons, for every setting run "
        "[default: multivariate 96,192,336,720; univariate 24,48,168]",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: horizon 96 (multivariate) and 24 (univariate), "
        f"--max-steps {QUICK['max_steps']} unless given",
    )
    common.add_run_args(parser, "results/ett_h1.json")
    parser.add_argument(
        "--covariates",
        action="store_true",
        help="univariate: the six load columns as past covariates of OT (rnncast --covariates)",
    )
    common.add_request_args(
        parser, FIXED, {"lookback": f"multivariate {MULTI_LOOKBACK}; univariate rnncast's rule"}
    )
    args = parser.parse_args(argv)
    if args.quick and args.max_steps is None:
        args.max_steps = QUICK["max_steps"]
    return args


# ---- data and protocol --------------------------------------------------------------------


def load_scaled(path: Path) -> pd.DataFrame:
    """Rows 0-14399 of ETTh1, every column z-scored with the train rows' mean and std."""
    frame = pd.read_csv(path)
    missing = [c for c in ("date", *COLUMNS) if c not in frame.columns]
    if missing or len(frame) < TEST_END:
        raise SystemExit(f"{path}: expected ETTh1 (>= {TEST_END} rows, columns date + {COLUMNS})")
    frame = frame.iloc[:TEST_END].reset_index(drop=True)
    values = frame[list(COLUMNS)].to_numpy(dtype=np.float64)
    mean = values[:TRAIN_END].mean(axis=0)
    std = values[:TRAIN_END].std(axis=0)
    scaled = pd.DataFrame((values - mean) / std, columns=list(COLUMNS))
    scaled.insert(0, "date", frame["date"])
    return scaled


def test_windows(n_columns: int, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat lookback starts and flat target starts of every stride-1 test window of every
    column, in a flat array holding the columns one after another (TEST_END rows each)."""
    first, last = VAL_END - lookback, TEST_END - lookback - horizon  # lookback starts per column
    if first < 0:
        raise SystemExit(f"lookback {lookback} reaches before the first row")
    per_column = np.arange(first, last + 1, dtype=np.int64)
    starts = (np.arange(n_columns, dtype=np.int64)[:, None] * TEST_END + per_column).ravel()
    return starts, starts + lookback


def errors(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """MSE and MAE over every window, step and channel."""
    diff = pred.astype(np.float64) - target.astype(np.float64)
    return float(np.mean(diff**2)), float(np.mean(np.abs(diff)))


def run_horizon(scaled: pd.DataFrame, columns: tuple[str, ...], request: TrainRequest,
                label: str, quiet: bool) -> dict[str, Any]:  # fmt: skip
    """Train on rows 0-11519 as ``rnncast train`` would with `request`, then score rnncast
    and repeat-last on every test window. `request.covariates`: columns read as past
    covariates of the (one) forecast column."""
    watch = common.Stopwatch()
    read, _, _ = request.configs()
    train_rows = _frame(scaled.iloc[:VAL_END], columns, request.covariates)
    series = from_frame(train_rows, read, source="ETTh1 (scaled)")
    plan = plans.make(request, series)
    trained = jobs.train(plan, on_event=common.epoch_printer(label, quiet))
    train_seconds = watch()

    # every row, the columns one after another, each starting at row 0 as in training
    full = from_frame(_frame(scaled, columns, request.covariates), read, source="ETTh1 (scaled)")
    artifact, horizon = trained.artifact, request.horizon
    network = artifact.network()
    starts, targets = test_windows(len(columns), network.lookback, horizon)  # longest lookback
    flat = full.values
    truth = np.lib.stride_tricks.sliding_window_view(flat, horizon)[targets]  # (windows, H)
    test_watch = common.Stopwatch()
    # 'series' scaling: each column's unit as training measured it (rows 0-11519), not over
    # rows that hold the test windows' actuals
    known = Known.of(artifact.series_ids, artifact.units, full.ids)
    pred = outputs_at(network, full, starts, known=known).point
    forecast_seconds = test_watch()
    mse, mae = errors(pred, truth)
    repeat_mse, repeat_mae = errors(np.repeat(flat[targets - 1, None], horizon, axis=1), truth)
    window, model = plan.window, plan.model
    return {
        "horizon": horizon,
        "lookback": ", ".join(map(str, window.lookbacks)) or window.lookback,
        "segment": model.segment,
        "test_windows": len(starts),
        "mse": mse,
        "mae": mae,
        "repeat_last_mse": repeat_mse,
        "repeat_last_mae": repeat_mae,
        "forecast_seconds": round(forecast_seconds, 3),
        "config": {"window": to_dict(window), "model": to_dict(model)},
        **common.run_summary(trained.results, train_seconds),
    }


def _frame(
    rows: pd.DataFrame, columns: tuple[str, ...], covariates: tuple[str, ...]
) -> pd.DataFrame:
    """The columns as wide data, or the one column as long data with its covariates."""
    if not covariates:
        return rows[["date", *columns]]
    (target,) = columns
    frame = rows[["date", target, *covariates]].rename(columns={"date": "ds", target: "y"})
    frame.insert(0, "unique_id", target)
    return frame


def check_repeat_last(setting: str, runs: list[dict[str, Any]]) -> None:
    """Stop loudly unless repeat-last reproduces the published score at horizon 96."""
    for run in runs:
        if setting != "multivariate" or run["horizon"] != 96:
            continue
        got = (run["repeat_last_mse"], run["repeat_last_mae"])
        if not np.allclose(got, REPEAT_LAST_96, atol=REPEAT_LAST_TOLERANCE):
            raise SystemExit(
                f"PROTOCOL CHECK FAILED: repeat-last at horizon 96 gives MSE/MAE "
                f"{got[0]:.4f}/{got[1]:.4f}, published {REPEAT_LAST_96[0]}/{REPEAT_LAST_96[1]}: "
                "the split, scaling or windows differ from the Informer protocol"
            )


# ---- report -------------------------------------------------------------------------------


def _pair(mse: float | None, mae: float | None) -> str:
    return f"{common.fmt(mse)} / {common.fmt(mae)}"


def results_table(setting: str, runs: list[dict[str, Any]]) -> str:
    """Methods as rows, horizons as columns, cells 'MSE / MAE'."""
    horizons = [run["horizon"] for run in runs]
    rows = [
        ["**rnncast**", *(_pair(r["mse"], r["mae"]) for r in runs)],
        ["repeat-last (computed here)"]
        + [_pair(r["repeat_last_mse"], r["repeat_last_mae"]) for r in runs],
    ]
    for p in PUBLISHED[setting]:
        if any(h in p.mse for h in horizons):
            rows.append([p.method, *(_pair(p.mse.get(h), p.mae.get(h)) for h in horizons)])
    return common.markdown_table(["method (MSE / MAE)", *(f"H={h}" for h in horizons)], rows)


def runs_table(runs: list[dict[str, Any]]) -> str:
    headers = ["H", "lookback", "segment", "epochs", "best", "train s", "test windows", "stop"]
    rows = [
        [
            r["horizon"],
            r["lookback"],
            r["segment"],
            r["epochs"],
            r["best_epoch"],
            f"{r['train_seconds']:.1f}",
            f"{r['test_windows']:,}",
            r["stopped"],
        ]
        for r in runs
    ]
    return common.markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.apply_threads(args.threads)
    total = common.Stopwatch()
    machine = common.machine_info()
    request = common.request_from_args(args, FIXED, horizon=1, val_size=VAL_SIZE)
    scaled = load_scaled(args.data)
    settings = list(SETTINGS) if args.setting == "both" else [args.setting]

    results: dict[str, Any] = {}
    for setting in settings:
        spec = SETTINGS[setting]
        horizons = args.horizons or (QUICK["horizons"][setting] if args.quick else spec["horizons"])
        univariate = setting == "univariate"
        runs = [
            run_horizon(
                scaled,
                spec["columns"],
                dataclasses.replace(
                    request,
                    horizon=h,
                    lookback=args.lookback or (None if univariate else MULTI_LOOKBACK),
                    lookbacks=request.lookbacks if univariate else (),
                    covariates=COLUMNS[:-1] if args.covariates and univariate else (),
                ),
                f"{setting} H={h}",
                args.quiet,
            )
            for h in horizons
        ]
        check_repeat_last(setting, runs)
        results[setting] = {"columns": list(spec["columns"]), "runs": runs}
        title = "7 columns, channel-independent" if setting == "multivariate" else "OT only"
        print(f"\n## ETTh1 {setting} ({title}), test MSE / MAE on z-scored values\n")
        print(results_table(setting, runs))
        print()
        print(runs_table(runs))
    total_seconds = total()

    payload = {
        "benchmark": "ETTh1, Informer protocol",
        "data": str(args.data),
        "split_rows": {
            "train": [0, TRAIN_END - 1],
            "validation": [TRAIN_END, VAL_END - 1],
            "test": [VAL_END, TEST_END - 1],
        },
        "quick": args.quick,
        "machine": machine,
        "train_config": to_dict(request.configs()[2]),
        "results": results,
        "published": {
            setting: [
                {"method": p.method, "source": p.source, "mse": p.mse, "mae": p.mae}
                for p in PUBLISHED[setting]
            ]
            for setting in settings
        },
        "total_seconds": round(total_seconds, 3),
    }
    common.write_json(args.out, payload)
    print(f"\nwrote {args.out}; total {total_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
