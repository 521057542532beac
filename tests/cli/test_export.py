"""`rnncast export MODEL OUT`: one ONNX graph whose forecasts are `rnncast predict`'s, its
output path checked as the other commands check theirs, and every refusal one line with
exit 1 and nothing written."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from tests.cli.conftest import FAST, error, run
from tests.conftest import help_imports, make_long

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture
def trained(here):
    make_long(n_series=2, length=120).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "-o", "m.rnncast", "-q")
    assert result.exit_code == 0, result.stderr
    return here


def test_export_writes_a_graph_that_forecasts_as_predict(trained):
    result = run("export", "m.rnncast", "m.onnx")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        "wrote m.onnx (0.1 MB): windows (batch, 24) float32, floor (batch, 1) float32 -> "
        "forecast (batch, 6) float32\n"
    )
    assert run("predict", "-m", "m.rnncast", "-o", "f.csv", "-q").exit_code == 0
    want = pd.read_csv(trained / "f.csv")["y_hat"].to_numpy().reshape(2, 6)
    import rnncast

    inputs = rnncast.onnx_inputs(rnncast.load("m.rnncast"))
    session = ort.InferenceSession("m.onnx", providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, inputs)[0], want, rtol=1e-4)


def test_a_model_with_future_covariates_exports_them_as_an_input(here):
    """The graph reads the future covariates over the lookback and the horizon, as predict
    reads them from the rows after each series' last value."""
    frame = make_long(n_series=2, length=106)
    frame["promo"] = (np.random.default_rng(1).random(len(frame)) < 0.3).astype(int)
    frame.loc[frame.groupby("unique_id").cumcount() >= 100, "y"] = np.nan
    frame.to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--future-covariates", "promo", "-q")
    assert result.exit_code == 0, result.stderr
    result = run("export", "model.rnncast", "m.onnx")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        "wrote m.onnx (0.1 MB): windows (batch, 24) float32, floor (batch, 1) float32, "
        "future_covariates (batch, 30, 1) float32 -> forecast (batch, 6) float32\n"
    )
    assert run("predict", "-o", "f.csv", "-q").exit_code == 0
    want = pd.read_csv(here / "f.csv")["y_hat"].to_numpy().reshape(2, 6)
    import rnncast

    inputs = rnncast.onnx_inputs(rnncast.load("model.rnncast"), "s.csv")
    session = ort.InferenceSession("m.onnx", providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, inputs)[0], want, rtol=1e-4)


def test_export_under_json_logs_says_the_inputs_and_outputs(trained):
    result = run("export", "m.rnncast", "m.onnx", "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    start, done = (json.loads(line) for line in result.stderr.splitlines())
    assert (start["event"], start["model"], start["out"]) == ("start", "m.rnncast", "m.onnx")
    assert done["event"] == "done" and done["bytes"] == (trained / "m.onnx").stat().st_size
    assert [p["name"] for p in done["inputs"]] == ["windows", "floor"]
    assert done["outputs"] == [{"name": "forecast", "shape": ["batch", 6], "dtype": "float32"}]


def test_export_refuses_in_one_line_and_writes_nothing(trained):
    (trained / "old.onnx").write_bytes(b"kept")
    (trained / "folder.onnx").mkdir()
    cases = {
        ("m.rnncast", "m.txt"): "error: OUT 'm.txt' must end in .onnx: the extension picks the "
        "format",
        ("m.rnncast", "no/m.onnx"): "error: OUT 'no/m.onnx': folder 'no' does not exist; create "
        "it or choose another path",
        ("m.rnncast", "folder.onnx"): "error: OUT 'folder.onnx' is a folder: give a file name",
        ("none.rnncast", "old.onnx"): "error: model file 'none.rnncast' not found: train one with "
        "'rnncast train DATA' or give its path as MODEL",
        ("s.csv", "old.onnx"): "error: 's.csv' is not a readable rnncast model file (truncated, "
        "damaged or another kind of file): pass a file written by 'rnncast train', or retrain",
    }
    for (model, out), message in cases.items():
        assert error(run("export", model, out)) == message
    m = trained / "m.rnncast"
    m.rename(trained / "m.onnx")
    assert error(run("export", "m.onnx", "m.onnx")) == (
        "error: OUT 'm.onnx' is the model file 'm.onnx': writing it would destroy it; choose "
        "another path"
    )
    assert (trained / "old.onnx").read_bytes() == b"kept"
    assert sorted(p.name for p in trained.iterdir()) == ["folder.onnx", "m.onnx", "old.onnx",
                                                         "s.csv"]  # fmt: skip


def test_models_it_cannot_hold_are_refused(trained, monkeypatch):
    from rnncast.forecast import graph
    from rnncast.store import onnxfile

    monkeypatch.setattr(onnxfile, "MAX_BYTES", 1000)
    assert error(run("export", "m.rnncast", "m.onnx")) == (
        "error: the model's weights take 0.0 GB, more than the 2 GB one ONNX file can hold: "
        "export a smaller model (fewer --ensemble members, a smaller --hidden-size or "
        "--num-layers)"
    )
    monkeypatch.setattr(graph, "CARRIED", graph.CARRIED - {"hidden_size"})
    monkeypatch.setattr(onnxfile, "MAX_BYTES", 2**31 - 1)
    assert error(run("export", "m.rnncast", "m.onnx")) == (
        "error: rnncast export cannot carry the model's --hidden-size into an ONNX graph yet: its "
        "forecasts would differ from 'rnncast predict'; export a model trained without it"
    )
    assert not (trained / "m.onnx").exists()


def test_without_the_onnx_extra_export_names_it(trained, monkeypatch):
    real = importlib.util.find_spec
    missing = {"onnx", "onnxruntime"}
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in missing else real(name, *a))  # fmt: skip
    assert error(run("export", "m.rnncast", "m.onnx")) == (
        "error: rnncast export needs the onnx extra (onnx, onnxruntime not installed): "
        "pip install 'rnncast[onnx]'"
    )
    assert not (trained / "m.onnx").exists()


@pytest.mark.parametrize("argv", [["--help"], ["export", "--help"]])
def test_help_imports_neither_torch_nor_onnx(argv):
    done = help_imports(argv, ("torch", "onnx", "onnxruntime", "onnxscript"))
    assert "rnncast export" in done.stdout or "Write the model as one ONNX graph" in done.stdout
    assert done.stderr.strip() == ""


def test_export_reads_and_writes_urls(trained, bucket):
    """MODEL and OUT may be objects in a store, as --model and --out may: the graph is the
    one a local export writes, written whole (no temporary or lock keys left)."""
    assert run("export", "m.rnncast", "m.onnx", "-q").exit_code == 0
    bucket.put("m.rnncast", (trained / "m.rnncast").read_bytes())
    result = run("export", bucket.url("m.rnncast"), bucket.url("out/m.onnx"))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"wrote {bucket.url('out/m.onnx')} (0.1 MB): ")
    assert bucket.get("out/m.onnx") == (trained / "m.onnx").read_bytes()
    assert bucket.names() == ["m.rnncast", "out/m.onnx"]
    assert error(run("export", bucket.url("none.rnncast"), "x.onnx")) == (
        f"error: model file '{bucket.url('none.rnncast')}' not found: check the URL"
    )


def test_a_missing_model_says_how_each_command_names_it(trained):
    """export and info take MODEL as an argument, not --model."""
    said = "error: model file 'none.rnncast' not found: train one with 'rnncast train DATA' or "
    assert error(run("export", "none.rnncast", "x.onnx")) == said + "give its path as MODEL"
    assert error(run("info", "none.rnncast")) == said + "give its path as MODEL"
    assert error(run("predict", "-m", "none.rnncast")) == said + "pass --model"
    assert (
        error(run("info", ".")) == "error: model file '.' is a folder: give the model file as MODEL"
    )
