"""A model file as one ONNX graph (`rnncast export`): raw lookback windows in, forecasts in
the data's units out, with every ensemble member, the scaling and the transform inside
(`rnncast.forecast.graph.ForecastGraph`).

The graph is traced by torch's dynamo exporter (`torch.onnx.export(..., dynamo=True)`, the
default in torch 2.13; it needs onnxscript), with the batch dimension dynamic. The older
TorchScript exporter cannot write the scaling's exp2 (`rnncast.engine.scaling`). The
recurrent cells become ONNX's own RNN / LSTM / GRU operators. Before the file is written the
graph is run in onnxruntime on a batch of another size than the one it was traced with, and
must give torch's forecasts: a trace that kept a batch size or a branch fails there, never in
the user's serving code.

What the graph takes and gives, and what a caller needs to feed it (horizon, lookbacks,
frequency, the training series' order for the id embedding and 'series' scaling), are
written into the ONNX model's `metadata_props` (`metadata`); docs/onnx.md describes them.
The file is written atomically (`rnncast.store.atomic`). onnx, onnxscript and onnxruntime
are the optional extra `rnncast[onnx]` (`require`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnncast.errors import ConfigError
from rnncast.forecast.graph import ForecastGraph, Port, not_carried
from rnncast.store.artifact import Artifact
from rnncast.store.atomic import atomic_write
from rnncast.version import __version__

EXTRA = ("onnx", "onnxscript", "onnxruntime")  # the packages of rnncast[onnx]
# protobuf serialises at most 2 GiB in one message: a bigger model needs ONNX's external
# data files, and the export is one file
MAX_BYTES = 2**31 - 1
TRACE_BATCH, CHECK_BATCH = 2, 3  # traced with one batch size, checked with another
EXPORTER = "torch.onnx.export(dynamo=True)"


@dataclass
class Exported:
    """What was written: the graph's inputs and outputs, the file's size in bytes, and the
    metadata it holds."""

    inputs: list[Port]
    outputs: list[Port]
    size: int
    metadata: dict[str, str]


def require(what: str = "rnncast export") -> None:
    """Fail early, with the fix, where a package of the onnx extra is missing."""
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"{what} needs the onnx extra ({', '.join(missing)} not installed): "
            "pip install 'rnncast[onnx]'"
        )


def check(artifact: Artifact) -> None:
    """Models the graph cannot hold are refused: one with a setting the graph does not
    carry over (`rnncast.forecast.graph.CARRIED`), one too big for one ONNX file."""
    names = not_carried(artifact.model)
    if names:
        given = ", ".join("--" + n.replace("_", "-") for n in names)
        raise ConfigError(
            f"rnncast export cannot carry the model's {given} into an ONNX graph yet: its "
            "forecasts would differ from 'rnncast predict'; export a model trained without it"
        )
    size = sum(t.numel() * t.element_size() for state in artifact.weights for t in state.values())
    if size > MAX_BYTES:
        sizes = (
            "--reservoir-size" if artifact.model.cell == "esn" else "--hidden-size or --num-layers"
        )
        raise ConfigError(
            f"the model's weights take {size / 2**30:,.1f} GB, more than the 2 GB one ONNX file "
            f"can hold: export a smaller model (fewer --ensemble members, a smaller {sizes})"
        )


def export(artifact: Artifact, path: str | Path) -> Exported:
    """Write `artifact` as one ONNX graph to `path`, atomically (see the module docstring)."""
    require()
    check(artifact)
    graph = ForecastGraph(artifact.network("cpu"), artifact.intervals)
    proto = _trace(graph)
    meta = metadata(artifact, graph)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = (
        f"rnncast {__version__}: forecasts of {graph.horizon} steps from windows of "
        f"{graph.lookback} values; see metadata_props 'inputs' and 'outputs'"
    )
    data = proto.SerializeToString()
    _check_runs(graph, data)
    atomic_write(path, lambda f: f.write(data))
    return Exported(graph.inputs(), graph.outputs(), len(data), meta)


def example_inputs(graph: ForecastGraph, batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Inputs of `batch` windows the graph can read (positive values, valid rows)."""
    rng = np.random.default_rng(seed)
    given = {}
    for port in graph.inputs():
        shape = tuple(batch if d == "batch" else d for d in port.shape)
        if port.name == "ids":
            given[port.name] = torch.zeros(shape, dtype=torch.int64)
            continue
        low, high = {"windows": (1.0, 2.0), "floor": (0.0, 0.1)}.get(port.name, (0.0, 3.0))
        given[port.name] = torch.from_numpy(rng.uniform(low, high, shape).astype(np.float32))
    return given


def _trace(graph: ForecastGraph) -> Any:
    """The graph as an ONNX ModelProto, its batch dimension dynamic."""
    example = example_inputs(graph, TRACE_BATCH)
    batch = torch.export.Dim("batch", min=1)
    with _quietly():
        program = torch.onnx.export(
            graph, (), kwargs=example, dynamo=True, verbose=False,
            input_names=list(example), output_names=[p.name for p in graph.outputs()],
            dynamic_shapes={name: {0: batch} for name in example},
        )  # fmt: skip
    return program.model_proto


@contextlib.contextmanager
def _quietly() -> Iterator[None]:
    """The exporter's warnings and log lines (about torchvision, symbolic shapes, ...) kept
    off the user's terminal: they are about torch's internals, not the model."""
    before = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(before)


def _check_runs(graph: ForecastGraph, data: bytes) -> None:
    """The written graph must give torch's forecasts in onnxruntime, for a batch of another
    size than the traced one; if not, that is a bug of ours, not the user's."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    example = example_inputs(graph, CHECK_BATCH, seed=1)
    got = session.run(None, {k: v.numpy() for k, v in example.items()})
    with torch.no_grad():
        want = graph(**example)
    want = want if isinstance(want, tuple) else (want,)
    for port, a, b in zip(graph.outputs(), got, want, strict=True):
        if not np.allclose(a, b.numpy(), rtol=1e-3, atol=1e-5):
            raise AssertionError(f"the exported graph's '{port.name}' differs from torch's")


def metadata(artifact: Artifact, graph: ForecastGraph) -> dict[str, str]:
    """What the ONNX file says of itself (`metadata_props`: strings; lists and objects as
    JSON): see docs/onnx.md."""
    model, axis = artifact.model, artifact.axis
    meta = {
        "rnncast_version": __version__,
        "model_rnncast_version": artifact.rnncast_version,
        "exporter": f"{EXPORTER}, torch {torch.__version__}",
        "inputs": json.dumps([p.to_dict() for p in graph.inputs()]),
        "outputs": json.dumps([p.to_dict() for p in graph.outputs()]),
        "horizon": str(graph.horizon),
        "lookback": str(graph.lookback),
        "lookbacks": json.dumps([net.lookback for net in graph.nets]),
        "frequency": axis.freq if axis.kind == "datetime" else "",
        "time_axis": json.dumps(axis.to_dict()),
        "transform": model.transform,
        "scaling": model.scaling,
        "scale_floor": repr(model.scale_floor),
        "clip": "zero" if model.clip == "zero" else "none",  # what the graph does last
    }
    if model.levels:
        meta["levels"] = json.dumps(list(model.levels))
    if model.calendar:
        meta["calendar_periods"] = json.dumps(list(model.calendar))
    if model.covariate_count:
        meta["covariates"] = json.dumps(list(artifact.read_options.covariates))
    if model.future_covariate_count:
        meta["future_covariates"] = json.dumps(list(artifact.read_options.future_covariates))
    if model.id_embedding or model.scaling == "series":
        meta["series"] = json.dumps(list(artifact.series_ids))
    if model.scaling == "series":
        meta["series_units"] = json.dumps([float(u) for u in artifact.units])
    return meta
