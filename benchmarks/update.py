"""Update instead of retrain, on M4 Hourly: is `rnncast train --init-from` cheap and good?

(a) trains with rnncast's defaults (horizon 48) on the 414 training series with their last
``--cut`` (96) values cut, as if trained two days ago; (b) updates that model on the full
histories (``init_from``, the update's own defaults unless options are given here);
(c) trains from scratch on the full histories. (b) and (c) forecast the 48 test hours of
every series and are scored as ``benchmarks/m4.py`` scores (official sMAPE / MASE / OWA,
m = 24); so is (a) forecasting from the full histories without any update. Prints the
seconds of (b) and (c) (the networks' training loops, as the model files record them) and
their ratio: the target is an update in at most a quarter of a retraining's time, within
0.01 OWA of it.

Usage (from the repository root)::

    python benchmarks/update.py --data ../shared/data/m4 --threads 1
    python benchmarks/update.py --threads 1 --base results/update_base.rnncast --lr 0.001

``--base PATH`` keeps model (a) there and reuses it when it exists (so that update options
can be compared on one base; its seconds are then not measured again); ``--no-retrain``
leaves (c) out. Options of ``rnncast train`` given here (``--lr``, ``--max-epochs``,
``--patience``, ...) apply to the update (b) only, but for ``--seed``, which (a) and (c) take
too.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common
import m4
import m4_scoring
from m4_data import read_m4, to_long

from rnncast import jobs
from rnncast import plan as plans
from rnncast.data.build import from_frame
from rnncast.settings import TrainRequest
from rnncast.store import artifact as artifacts

CUT = 96  # two horizons of new data per series
# what the harness sets itself (m4.py's, and how a frame is read), and the update's source
FIXED = m4.FIXED | {"sep", "decimal", "dayfirst", "init_from"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="M4 Hourly: update (--init-from) vs retrain.")
    default_data = "../shared/data/m4"
    parser.add_argument("--data", type=Path, default=Path(default_data), help=f"[{default_data}]")
    parser.add_argument("--cut", type=int, default=CUT, help=f"values cut for (a) [{CUT}]")
    parser.add_argument("--base", type=Path, default=None,
                        help="model (a): reused when it exists, else written there")  # fmt: skip
    parser.add_argument("--no-retrain", action="store_true", help="leave out (c)")
    common.add_run_args(parser, "results/m4_update.json")
    common.add_request_args(parser, FIXED)
    return parser.parse_args(argv)


def _series(values: dict[str, Any], label: str) -> Any:
    return from_frame(to_long(values, freq="h"), source=f"M4 Hourly ({label})")


def _train(label: str, series: Any, request: TrainRequest, given: list[str], quiet: bool):
    """One training (from scratch, or an update where the request says init_from)."""
    request, source = jobs.updating(request, given)
    plan = plans.make(request, series)
    watch = common.Stopwatch()
    trained = jobs.train(plan, on_event=common.epoch_printer(label, quiet), source=source)
    return trained.artifact, watch()


def _score(model: Any, series: Any, full: dict, test: dict) -> dict[str, float]:
    frame = jobs.predict(model, series).frame
    return m4_scoring.score_all(full, test, m4.forecasts_by_id(frame, m4.HORIZON), m4.SEASON)


def _row(label: str, scores: dict[str, float], model: Any, wall: float | None) -> list[str]:
    s = model.summary
    return [label, common.fmt(scores["sMAPE"]), common.fmt(scores["MASE"]),
            common.fmt(scores["OWA"]), f"{s['seconds']:.1f}",
            "" if wall is None else f"{wall:.1f}", ", ".join(map(str, s["epochs"])),
            ", ".join(map(str, s["best_epoch"]))]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.apply_threads(args.threads)
    machine = common.machine_info()
    full, test = read_m4(args.data, m4.FREQUENCY)
    cut = {k: v[: -args.cut] for k, v in full.items()}
    old, new = _series(cut, f"last {args.cut} cut"), _series(full, "full")
    seeded = {} if args.seed is None else {"seed": args.seed}  # all three; (b) as (a)'s
    scratch = TrainRequest.of(horizon=m4.HORIZON, **seeded)
    base_path = args.base or Path(tempfile.mkdtemp()) / "base.rnncast"
    base_wall = None
    if base_path.exists():
        base = artifacts.load(base_path)
    else:
        base, base_wall = _train("a", old, scratch, [], args.quiet)
        base.save(base_path)
    given = common.given_options(args, FIXED)
    update_request = TrainRequest.of(horizon=m4.HORIZON, init_from=str(base_path), **given)
    updated, update_wall = _train("b", new, update_request, list(given), args.quiet)
    rows = [_row("(a) base, not updated", _score(base, new, full, test), base, base_wall),
            _row("(b) update (--init-from)", scores_b := _score(updated, new, full, test),
                 updated, update_wall)]  # fmt: skip
    payload: dict[str, Any] = {"benchmark": "M4 Hourly update", "machine": machine,
                               "cut": args.cut, "update_options": given,
                               "update": {**scores_b, "summary": updated.summary,
                                          "train": updated.describe()["train"]}}  # fmt: skip
    if not args.no_retrain:
        retrained, retrain_wall = _train("c", new, scratch, [], args.quiet)
        scores_c = _score(retrained, new, full, test)
        rows.append(_row("(c) retrain from scratch", scores_c, retrained, retrain_wall))
        ratio = updated.summary["seconds"] / retrained.summary["seconds"]
        payload |= {"retrain": {**scores_c, "summary": retrained.summary}, "seconds_ratio": ratio,
                    "owa_difference": scores_b["OWA"] - scores_c["OWA"]}  # fmt: skip
    print(f"## M4 Hourly: update vs retrain ({len(full)} series, {args.cut} new values each)\n")
    print(common.markdown_table(["model", "sMAPE", "MASE", "OWA", "train s", "wall s", "epochs",
                                 "best epoch"], rows))  # fmt: skip
    if "seconds_ratio" in payload:
        print(f"\nupdate / retrain seconds: {payload['seconds_ratio']:.3f}; OWA update - retrain: "
              f"{payload['owa_difference']:+.4f}")  # fmt: skip
    common.write_json(args.out, payload)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
