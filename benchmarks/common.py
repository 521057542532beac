"""Helpers shared by the benchmark harnesses (``m4.py``, ``ett.py``).

- ``add_request_args`` / ``request_from_args``: the options of ``rnncast train``, generated
  from its ``TrainRequest`` itself, so an option left out keeps rnncast's own default and a
  harness trains exactly as ``rnncast train`` would (the same request, plan and job).
- ``epoch_printer``: a training-progress callback that prints one line per epoch to stderr.
- ``markdown_table``, ``fmt``: tables for the terminal.
- ``machine_info``, ``write_json``: what the results file records, and writing it safely.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import rnncast
from rnncast.engine import events
from rnncast.settings import (
    ACTIVATIONS,
    ANCHORS,
    BLENDS,
    CELLS,
    DECODERS,
    LOSSES,
    SCALINGS,
    SCHEDULES,
    TRANSFORMS,
    TrainRequest,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

# What `rnncast train` is given as text: the request parses these itself.
_TYPES: dict[str, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "str": str,
    "int | None": int,
    "str | None": str,
    "tuple[str, ...]": str,
    "tuple[int, ...]": str,
    "tuple[float, ...]": str,
}
_CHOICES = {
    "cell": CELLS,
    "scaling": SCALINGS,
    "transform": TRANSFORMS,
    "loss": LOSSES,
    "decoder": DECODERS,
    "activation": ACTIVATIONS,
    "anchor": ANCHORS,
    "blend": BLENDS,
    "schedule": SCHEDULES,
}


def _bool(text: str) -> bool:
    """``--bidirectional true`` / ``false`` (also 1 / 0, yes / no)."""
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")


# ---- the training request -----------------------------------------------------------------


def add_request_args(parser: argparse.ArgumentParser, fixed: set[str],
                     defaults: dict[str, str] | None = None) -> None:  # fmt: skip
    """One option per option of ``rnncast train`` (`rnncast.settings.TrainRequest`), named
    as there, except the `fixed` ones the harness sets itself; all default to None, meaning
    rnncast's own default (or the harness's, as `defaults` says in words). Flags take an
    optional true / false: ``--calendar``, ``--bidirectional true``."""
    group = parser.add_argument_group("rnncast train options (default: rnncast's)")
    rnncast_defaults = TrainRequest()
    for f in dataclasses.fields(TrainRequest):
        if f.name in fixed:
            continue
        name, default = "--" + f.name.replace("_", "-"), getattr(rnncast_defaults, f.name)
        default = (defaults or {}).get(f.name, default)
        if str(f.type) in ("bool", "bool | None"):
            group.add_argument(name, dest=f.name, type=_bool, nargs="?", const=True,
                               default=None, help=f"[default: {default}]")  # fmt: skip
            continue
        group.add_argument(name, dest=f.name, type=_TYPES[str(f.type)],
                           choices=_CHOICES.get(f.name), default=None,
                           help=f"[default: {default}]")  # fmt: skip


def given_options(args: argparse.Namespace, fixed: set[str]) -> dict[str, Any]:
    """The options of ``rnncast train`` given on the command line but the `fixed` ones, as
    given (text for lists, which `TrainRequest.of` parses)."""
    return {
        name: getattr(args, name)
        for name in TrainRequest.names()
        if name not in fixed and getattr(args, name, None) is not None
    }


def request_from_args(args: argparse.Namespace, fixed: set[str], **values: Any) -> TrainRequest:
    """The training request of the options given (rnncast's defaults elsewhere) but the
    `fixed` ones, with the harness's `values`, made as ``rnncast train`` makes it."""
    return TrainRequest.of(**given_options(args, fixed), **values)


def add_run_args(parser: argparse.ArgumentParser, default_out: str) -> None:
    """Options every harness has: the results file, torch threads, quiet."""
    parser.add_argument(
        "--out", type=Path, default=Path(default_out), help=f"results JSON [{default_out}]"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads [default: torch's]"
    )
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")


def apply_threads(threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)


def epoch_printer(label: str, quiet: bool = False) -> Callable[[events.Event], None] | None:
    """An ``on_event`` callback printing one line per epoch (stderr), or None when quiet."""
    if quiet:
        return None

    def on_event(event: events.Event) -> None:
        if isinstance(event, events.TrainStart):
            print(
                f"[{label}] {event.device}: {event.train_windows:,} train / "
                f"{event.val_windows:,} validation windows, {event.batches_per_epoch} batches "
                f"per epoch, {event.parameters:,} parameters",
                file=sys.stderr,
                flush=True,
            )
        elif isinstance(event, events.EpochEnd):
            val = "-" if event.val_loss is None else f"{event.val_loss:.4f}"
            print(
                f"[{label}] epoch {event.epoch}/{event.max_epochs} train {event.train_loss:.4f} "
                f"val {val}{' *' if event.improved else ''} lr {event.lr:.2g} "
                f"{event.elapsed:.1f} s",
                file=sys.stderr,
                flush=True,
            )

    return on_event


def run_summary(results: list[events.TrainResult], train_seconds: float) -> dict[str, Any]:
    """What a results file records about one training run (one entry per ensemble member
    where members differ, a plain value for a single network)."""

    def each(value: Callable[[events.TrainResult], Any]) -> Any:
        values = [value(r) for r in results]
        return values[0] if len(values) == 1 else values

    first = results[0]
    return {
        "members": len(results),
        "epochs": each(lambda r: len(r.history)),
        "best_epoch": each(lambda r: r.best_epoch),
        "best_val_loss": each(lambda r: r.best_val_loss),
        "stopped": each(lambda r: r.stopped),
        "steps": each(lambda r: r.steps),
        "train_windows": first.train_windows,
        "val_windows": first.val_windows,
        "parameters": sum(p.numel() for r in results for p in r.network.parameters()),
        "device": first.device,
        "train_seconds": round(train_seconds, 3),
        "fit_loop_seconds": round(sum(r.seconds for r in results), 3),
        "history": each(lambda r: r.history),
    }


class Stopwatch:
    """Seconds since creation: ``watch()``."""

    def __init__(self) -> None:
        self.began = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.began


# ---- output ------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table; an em dash for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table with padded columns (numbers right-aligned)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [
        any(r[i] for r in cells[1:]) and all(_is_number(r[i]) for r in cells[1:])
        for i in range(len(headers))
    ]

    def line(row: list[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if num else "-" * (w + 2)
        for w, num in zip(widths, numeric, strict=True)
    )
    return "\n".join([line(cells[0]), rule + "|", *(line(r) for r in cells[1:])])


def _is_number(text: str) -> bool:
    if text in ("", "—"):
        return True
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def machine_info() -> dict[str, Any]:
    """Where and with what the benchmark ran."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "numpy": np.__version__,
        "rnncast": rnncast.__version__,
        "git": _git_state(),
    }
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def _git_state() -> dict[str, Any] | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON, atomically (temporary file beside the target, then
    ``os.replace``); creates the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2, default=_plain)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
