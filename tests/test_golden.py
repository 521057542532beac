"""Golden files: what the product does, pinned, so that a redesign can prove it changed nothing.

Each run trains a small seeded model from the command line on real sample data (or a seeded
generated file), then predicts and evaluates. What it wrote is compared with `tests/golden/`:

- the model file, field by field (its settings, data record, history, summary, intervals,
  and each weight tensor's shape and sums);
- the forecast CSV and the metrics JSON;
- the train command's stderr transcript (seconds masked);
- `--help` of the app and its five commands, at 100 columns.

Strings, integers and structure must be identical. Floats are compared exactly when
RNNCAST_GOLDEN_STRICT=1 (on the machine that wrote the files), else to a relative 1e-5: a
CPU with other vector instructions may round the last bit of a float differently, and that is
not a change of behaviour. `RNNCAST_UPDATE_GOLDEN=1 pytest tests/test_golden.py` rewrites
the files; do that only for a change of behaviour that is meant, and say so in the commit.

`model_0.1.0.rnncast` is different: a model file written by rnncast 0.1.0 before the
redesign, never regenerated. It must load, and forecast what it forecast then.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from rnncast.cli.app import app
from tests.conftest import SAMPLE

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("RNNCAST_UPDATE_GOLDEN") == "1"
STRICT = os.environ.get("RNNCAST_GOLDEN_STRICT") == "1"
runner = CliRunner()

SMALL = ["--threads", "1", "--device", "cpu", "--epoch-size", "128", "--batch-size", "32"]
RUNS: dict[str, list[str]] = {
    # log transform, two networks, calibrated 80% intervals
    "air": ["air_passengers.csv", *SMALL, "--max-epochs", "3", "--hidden-size", "16",
            "--ensemble", "2", "--quantiles", "0.1,0.9", "--seed", "3"],
    # long data with zeros, series scaling, an id embedding, calendar features, parallel decoder
    "macro": ["us_macro_quarterly.csv", *SMALL, "--max-epochs", "2", "--hidden-size", "8",
              "--ensemble", "1", "--scaling", "series", "--id-embedding", "4", "--calendar",
              "--decoder", "parallel", "--ema", "0.9", "--holdout", "8"],
    # the echo state network, closed form (it takes no --batch-size)
    "esn": ["sunspots_monthly.csv", *SMALL[:-2], "--cell", "esn", "--reservoir-size", "40",
            "--ensemble", "2", "--holdout", "18"],
    # an LSTM read both ways, seq2seq with attention, a step limit
    "seq2seq": ["air_passengers.csv", *SMALL, "--cell", "lstm", "--hidden-size", "8",
                "--decoder", "seq2seq", "--attention", "--bidirectional", "--ensemble", "1",
                "--max-steps", "30", "--transform", "none", "--loss", "huber"],
    # past covariates in long data, given lookback and segment, recursive-free direct head
    "covariates": ["promo.csv", *SMALL, "--covariates", "promo", "--max-epochs", "2",
                   "--hidden-size", "8", "--ensemble", "1", "--lookback", "24",
                   "--segment", "6", "--horizon", "6", "--skip-short"],
}  # fmt: skip


def _promo_csv(path: Path) -> None:
    """Seeded hourly long data with a 0/1 covariate; one series too short to train on."""
    rng = np.random.default_rng(7)
    rows = []
    for name, n in (("a", 120), ("b", 100), ("short", 20)):
        promo = (rng.random(n) < 0.2).astype(int)
        t = np.arange(n)
        y = 20 + 5 * np.sin(2 * np.pi * t / 24) + 8 * promo + rng.normal(0, 0.5, n)
        times = pd.date_range("2024-03-01", periods=n, freq="h")
        rows += [(name, str(ts), f"{v:.3f}", p) for ts, v, p in zip(times, y, promo, strict=True)]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["unique_id", "ds", "y", "promo"])
        writer.writerows(rows)


def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: str) -> None:
    monkeypatch.chdir(tmp_path)
    if data == "promo.csv":
        _promo_csv(tmp_path / data)
    else:
        shutil.copy(SAMPLE / data, tmp_path / data)


def _invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.stderr, result.exception)
    return result


# ---- what a model file holds, as comparable plain data ----------------------------------


def _weights(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    out = {}
    for name, tensor in state.items():
        t = tensor.detach().double()
        out[name] = {
            "shape": list(t.shape),
            "sum": float(t.sum()),
            "abs_sum": float(t.abs().sum()),
            "square_sum": float((t * t).sum()),
        }
    return out


def payload_view(path: Path) -> dict[str, Any]:
    """The model file as plain data, without what differs from run to run (times, the
    absolute path of the data, the checksum of all that: the weights are compared by their
    sums, which a CPU may round differently)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    view = {k: v for k, v in payload.items() if k not in ("weights", "created", "checksum")}
    data = dict(view["data"])
    data.pop("abspath")
    data["units"] = [float(u) for u in data["units"].tolist()]
    view["data"] = data
    view["history"] = [{k: v for k, v in row.items() if k != "elapsed_s"}
                       for row in view["history"]]  # fmt: skip
    view["summary"] = {k: v for k, v in view["summary"].items() if k != "seconds"}
    view["weights"] = [_weights(state) for state in payload["weights"]]
    return json.loads(json.dumps(view, default=str))


def _mask(text: str, folder: Path) -> str:
    """What varies from run to run: seconds ('0.1s', '1.1 s' -> '<s>', with the padding
    before a table's border, whose width they change) and the run's folder."""
    text = re.sub(r"\b\d+\.\d+ ?s\b", "<s>", text.replace(str(folder), "<tmp>"))
    return re.sub(r" +│", " │", text)


# ---- comparison ----------------------------------------------------------------------------


def same(got: Any, want: Any, where: str = "") -> None:
    """`got` equals `want`: structure, strings and integers exactly, floats as the module
    docstring says."""
    if isinstance(want, dict):
        assert isinstance(got, dict), where
        assert list(got) == list(want), (where, list(got), list(want))
        for k in want:
            same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, int | float), (where, got, want)
        if STRICT or math.isnan(want) or math.isinf(want):
            assert got == want or (math.isnan(got) and math.isnan(want)), (where, got, want)
        else:
            assert math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-7), (where, got, want)
    else:
        assert got == want, (where, got, want)


def _cell(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def same_csv(got: str, want: str, where: str) -> None:
    if got == want:
        return
    rows = [[_cell(c) for c in row] for row in csv.reader(io.StringIO(got))]
    same(rows, [[_cell(c) for c in row] for row in csv.reader(io.StringIO(want))], where)


def check(name: str, got: Any, kind: str) -> None:
    """Compare with, or under RNNCAST_UPDATE_GOLDEN=1 write, tests/golden/NAME."""
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        text = json.dumps(got, indent=1) + "\n" if kind == "json" else got
        path.write_text(text)
        return
    assert path.exists(), f"no golden file {path}: run with RNNCAST_UPDATE_GOLDEN=1"
    want = path.read_text()
    if kind == "json":
        same(got, json.loads(want), name)
    elif kind == "csv":
        same_csv(got, want, name)
    else:
        assert got == want, name


# ---- the runs --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(RUNS))
def test_train_predict_evaluate_as_before(tmp_path, monkeypatch, name):
    args = RUNS[name]
    _workdir(tmp_path, monkeypatch, args[0])
    trained = _invoke("train", *args)
    check(f"{name}.train.txt", _mask(trained.stderr, tmp_path), "text")
    check(f"{name}.model.json", payload_view(tmp_path / "model.rnncast"), "json")
    predicted = _invoke("predict", "--threads", "1")
    check(f"{name}.predict.txt", _mask(predicted.stderr, tmp_path), "text")
    check(f"{name}.forecast.csv", (tmp_path / "forecast.csv").read_text(), "csv")
    evaluated = _invoke("evaluate", "--windows", "2", "--threads", "1")
    check(f"{name}.evaluate.txt", _mask(evaluated.stdout + evaluated.stderr, tmp_path), "text")
    metrics = (tmp_path / "metrics.json").read_text().replace(str(tmp_path), "<tmp>")
    check(f"{name}.metrics.json", json.loads(metrics), "json")
    info = _invoke("info", "--json")
    described = json.loads(info.stdout.replace(str(tmp_path), "<tmp>"))
    described.pop("created")
    described["training"].pop("seconds")
    check(f"{name}.info.json", described, "json")


@pytest.mark.parametrize("command", ["", "train", "predict", "evaluate", "info", "export"])
def test_help_as_before(command):
    args = [command, "--help"] if command else ["--help"]
    result = runner.invoke(app, args, env={"COLUMNS": "100", "TERM": "dumb"})
    assert result.exit_code == 0
    check(f"help.{command or 'app'}.txt", result.stdout, "text")


def test_a_model_file_from_before_the_redesign_forecasts_as_it_did(tmp_path, monkeypatch):
    """Written by rnncast 0.1.0 (`main` at 4fa2d71): `rnncast train air_passengers.csv
    --max-epochs 3 --hidden-size 8 --ensemble 2 --quantiles 0.1,0.9 --threads 1 --device cpu
    --epoch-size 128 --batch-size 32 -o model_0.1.0.rnncast`, then `rnncast predict`."""
    _workdir(tmp_path, monkeypatch, "air_passengers.csv")
    shutil.copy(GOLDEN / "model_0.1.0.rnncast", tmp_path / "old.rnncast")
    _invoke("predict", "air_passengers.csv", "-m", "old.rnncast", "--threads", "1")
    same_csv((tmp_path / "forecast.csv").read_text(),
             (GOLDEN / "model_0.1.0.forecast.csv").read_text(), "old model")  # fmt: skip


def test_a_model_file_from_before_clip_does_not_clip():
    """The 0.1.0 model has no --clip: it reads as 'none' (its logs keep its forecasts above
    0 anyway; `tests/store/test_artifact.py` shows such a file forecasting below 0)."""
    from rnncast.store import artifact

    old = artifact.load(GOLDEN / "model_0.1.0.rnncast")
    assert old.model.clip == "none" and old.describe()["model"]["clip"] == "none"
