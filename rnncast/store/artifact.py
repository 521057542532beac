"""Save and load the single model file.

The file is a `torch.save` archive of plain data only (dicts, lists, strings, numbers and
tensors), loaded with `torch.load(weights_only=True)`: loading never runs code from the file.
It holds the format version, the rnncast and torch versions, the resolved configuration, how
the data was read, the time axis, each series' training cut-off (and, under 'series'
scaling, its unit), the training history, a fingerprint of the training data, and the
weights (always stored on the CPU, so a model trained on a GPU loads anywhere).

Every file written since the checksum was added also holds a SHA-256 of everything else in
it (`checksum`), checked at load: a file damaged on disk or in transit is refused, not
forecast with. Files without one (written before) load as they did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import torch

from rnncast.data import remote
from rnncast.data.readers import opens
from rnncast.data.remote import is_url, shown
from rnncast.data.series import Schema, SeriesSet
from rnncast.data.timeaxis import TimeAxis
from rnncast.engine import models, scaling
from rnncast.engine.events import TrainResult
from rnncast.errors import ArtifactError, RnncastError, os_cause
from rnncast.settings import ModelConfig, ReadOptions, TrainConfig, WindowConfig, from_dict, to_dict
from rnncast.store.atomic import atomic_write
from rnncast.version import __version__

FORMAT = "rnncast-model"
FORMAT_VERSION = 1
# Settings added since format 1, with what a model file written without them meant: a
# missing field reads as this, not as today's default (which may differ).
BEFORE_FIELD: dict[str, dict[str, object]] = {
    "model": {
        "decoder": "direct",
        "quantiles": [],
        "calendar": [],
        "id_embedding": 0,
        "ids": 0,
        "covariate_count": 0,
        "future_covariate_count": 0,
        "activation": "tanh",
        "bidirectional": False,
        "attention": False,
        "checkpoint_activations": False,
        "reservoir_size": 500,
        "spectral_radius": 0.9,
        "leak_rate": 1.0,
        "ridge": 1.0,
        "transform": "none",
        "clip": "none",  # forecasts as they came, below 0 too
        "anchor": "none",
        "blend": "none",
    },
    "train": {"ema": 0.0, "schedule": "plateau"},
}


@dataclass
class Artifact:
    """Everything `predict`, `evaluate` and `info` need, in memory."""

    read_options: ReadOptions
    schema: Schema
    axis: TimeAxis
    window: WindowConfig
    model: ModelConfig
    train: TrainConfig
    weights: list[dict[str, torch.Tensor]]  # one state dict per ensemble member
    data_path: str = ""
    data_abspath: str = ""
    series_ids: list[str] = field(default_factory=list)
    # each series' unit under 'series' scaling, float32 (empty: another scaling, or older file)
    units: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    cutoffs: list[Any] = field(default_factory=list)
    values: int = 0
    fingerprint: str = ""
    history: list[dict] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)  # width factors, `intervals`
    # the model an update started from (`rnncast train --init-from`): its path as given, the
    # SHA-256 of its file, when it was written and the fingerprint of its training data;
    # empty for a model trained from scratch
    init_from: dict[str, Any] = field(default_factory=dict)
    rnncast_version: str = __version__
    torch_version: str = str(torch.__version__)
    created: str = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    )
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_training(cls, series: SeriesSet, results: list[TrainResult], *,
                      read: ReadOptions, window: WindowConfig, model: ModelConfig,
                      train: TrainConfig, data_path: str | None = None, fingerprint: str = "",
                      processes: int = 1) -> Artifact:  # fmt: skip
        """The model file's contents for networks `results` trained on `series` with these
        settings (`processes`: how many trained together under torchrun)."""
        history = [{"member": k + 1, **row} for k, r in enumerate(results) for row in r.history]
        return cls(
            read_options=read,
            schema=series.schema,
            axis=series.axis,
            window=window,
            model=model,
            train=train,
            weights=[r.network.state_dict() for r in results],
            data_path=shown(data_path) if data_path else "",
            data_abspath=_absolute(data_path) if data_path else "",
            series_ids=[str(i) for i in series.ids],
            units=_series_units(series, model),
            cutoffs=_plain_times(series.ends),
            values=len(series.values),
            fingerprint=fingerprint,
            history=history,
            summary=_summary(series, results, processes),
        )

    def network(self, device: torch.device | str = "cpu") -> models.Forecaster:
        """The trained network (an `Ensemble` when there are several members), in eval mode."""
        if not self.weights:
            raise ArtifactError("the model file holds no weights")
        members = []
        for k, state in enumerate(self.weights):
            lookback = self.window.member(k).lookback
            net = models.build(self.model, lookback, self.window.horizon)
            try:
                net.load_state_dict(state)
            except RuntimeError as e:
                first = str(e).splitlines()[0]
                raise ArtifactError(
                    f"the weights in the model file do not fit its configuration ({first})"
                ) from None
            members.append(net)
        net = members[0] if len(members) == 1 else models.Ensemble(members)
        return net.to(device).eval()

    def save(self, path: str | Path) -> None:
        """Write the model file (atomically)."""
        save(self, path)

    def describe(self) -> dict[str, Any]:
        """What `rnncast info` shows: versions, data, settings, training, as plain data."""
        history, summary, ids = self.history, self.summary, self.series_ids
        return {
            "format_version": self.format_version,
            "rnncast_version": self.rnncast_version,
            "torch_version": self.torch_version,
            "created": self.created,
            "data": {
                "path": self.data_path,
                "layout": self.schema.describe(),
                "times": self.axis.describe(),
                "series": len(ids),
                "values": self.values,
                "first_ids": ids[:5],
                "cutoff_range": [min(self.cutoffs), max(self.cutoffs)] if self.cutoffs else [],
                "fingerprint": self.fingerprint[:16],
            },
            "window": to_dict(self.window),
            "model": {**to_dict(self.model), "parameters": summary.get("parameters")},
            "intervals": dict(self.intervals),
            **({"blend_weights": self.blend_weights} if self.blend_weights else {}),
            "train": to_dict(self.train),
            **({"init_from": dict(self.init_from)} if self.init_from else {}),
            "training": {
                **{k: summary.get(k) for k in ("device", "members", "epochs", "best_epoch",
                                               "best_val_loss")},
                "final_train_loss": history[-1]["train_loss"] if history else None,
                "steps": summary.get("steps"),
                "processes": summary.get("processes", 1),
                **{k: summary.get(k) for k in ("stopped", "seconds", "train_windows",
                                               "val_windows")},
            },
        }  # fmt: skip

    @property
    def blend_weights(self) -> list[float]:
        """Each network's weight against naive under --blend naive (fitted on the validation
        windows; `rnncast.engine.models.blend`); [] without a blend."""
        return [round(float(s["blend_weight"]), 4) for s in self.weights if "blend_weight" in s]

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "rnncast_version": self.rnncast_version,
            "torch_version": self.torch_version,
            "created": self.created,
            "config": {
                "read": to_dict(self.read_options),
                "window": to_dict(self.window),
                "model": to_dict(self.model),
                "train": to_dict(self.train),
            },
            "data": {
                "path": self.data_path,
                "abspath": self.data_abspath,
                "schema": self.schema.to_dict(),
                "axis": self.axis.to_dict(),
                "series_ids": list(self.series_ids),
                "units": torch.from_numpy(np.asarray(self.units, dtype=np.float32).copy()),
                "cutoffs": list(self.cutoffs),
                "values": self.values,
                "fingerprint": self.fingerprint,
            },
            "history": self.history,
            "summary": self.summary,
            "intervals": dict(self.intervals),
            **({"init_from": dict(self.init_from)} if self.init_from else {}),
            "weights": [
                {k: v.detach().cpu().contiguous() for k, v in state.items()}
                for state in self.weights
            ],
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> Artifact:
        c, d = p["config"], p["data"]
        return cls(
            read_options=from_dict(ReadOptions, c["read"]),
            schema=Schema.from_dict(d["schema"]),
            axis=TimeAxis.from_dict(d["axis"]),
            window=from_dict(WindowConfig, c["window"]),
            model=from_dict(ModelConfig, {**BEFORE_FIELD["model"], **c["model"]}),
            train=from_dict(TrainConfig, {**BEFORE_FIELD["train"], **c["train"]}),
            weights=[dict(state) for state in p["weights"]],
            data_path=d.get("path", ""),
            data_abspath=d.get("abspath", ""),
            series_ids=list(d.get("series_ids", [])),
            units=_units(d.get("units"), len(d.get("series_ids", []))),
            cutoffs=list(d.get("cutoffs", [])),
            values=int(d.get("values", 0)),
            fingerprint=d.get("fingerprint", ""),
            history=list(p.get("history", [])),
            summary=dict(p.get("summary", {})),
            intervals={str(k): float(v) for k, v in dict(p.get("intervals", {})).items()},
            init_from=dict(p.get("init_from", {})),
            rnncast_version=p.get("rnncast_version", "?"),
            torch_version=p.get("torch_version", "?"),
            created=p.get("created", ""),
            format_version=int(p["format_version"]),
        )


def _absolute(path: str) -> str:
    """The training data's path as recorded: absolute, or a URL as shown (no credentials,
    no query string: a signed URL's signature is not kept in the file)."""
    return shown(path) if is_url(path) else os.path.abspath(path)


def _series_units(series: SeriesSet, model: ModelConfig) -> np.ndarray:
    """Each training series' unit under 'series' scaling (its standard deviation over the
    training data, as training measured it), kept so that `predict` and `evaluate` scale a
    known series as training did, whatever history they are given; empty for the other
    scalings."""
    if model.scaling != "series":
        return np.zeros(0, dtype=np.float32)
    return scaling.series_units(series.values, series.offsets, model.logs)


def _plain_times(times: pd.Index) -> list[Any]:
    if isinstance(times, pd.DatetimeIndex):
        return [t.isoformat() for t in times]
    return [int(t) for t in times]


def _summary(series: SeriesSet, results: list[TrainResult], processes: int) -> dict[str, Any]:
    """The training at a glance: each member's epochs, best epoch and loss, and totals."""
    first = results[0]
    return {
        "series": len(series),
        "members": len(results),
        "best_epoch": [r.best_epoch for r in results],
        "best_val_loss": [r.best_val_loss for r in results],
        "epochs": [len(r.history) for r in results],
        "steps": [r.steps for r in results],
        "stopped": [r.stopped for r in results],
        "seconds": round(sum(r.seconds for r in results), 3),
        "device": first.device,
        "processes": processes,
        "train_windows": first.train_windows,
        "val_windows": first.val_windows,
        "parameters": models.count_parameters(first.network) * len(results),
    }


def save(artifact: Artifact, path: str | Path) -> None:
    """Write the model file atomically (temporary file, fsync, rename)."""
    save_plain(artifact.to_payload(), path)


def save_plain(payload: dict[str, Any], path: str | Path) -> None:
    """A `torch.save` archive of plain data (dicts, lists, numbers, strings, tensors) and
    its `checksum`, written atomically."""
    stamped = {**payload, "checksum": checksum(payload)}
    atomic_write(path, lambda f: _torch_save(stamped, f))


class _Watched:
    """A file for `torch.save` that keeps the first OS error of a write: torch's zip writer
    turns it into its own RuntimeError ('[enforce fail at inline_container.cc:...]'), or
    swallows it and fails later on the file's length."""

    def __init__(self, file: IO[bytes]):
        self.file, self.error = file, None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as e:
            self.error = self.error or e
            raise

    def flush(self) -> None:
        self.file.flush()


def _torch_save(payload: dict[str, Any], file: IO[bytes]) -> None:
    """`torch.save` to `file`; a write the system refused raises that OSError (a full
    disk, ...), which `atomic_write` reports as one line."""
    watched = _Watched(file)
    try:
        torch.save(payload, watched)
    except RuntimeError:
        if watched.error is not None:
            raise watched.error from None
        raise
    if watched.error is not None:
        raise watched.error


def checksum(payload: dict[str, Any]) -> str:
    """'sha256:HEX' of a plain-data payload (all but its own "checksum"): every tensor's
    dtype, shape and bytes, and every other value, in the payload's order."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in payload.items() if k != "checksum"})
    return "sha256:" + digest.hexdigest()


def intact(payload: dict[str, Any]) -> bool:
    """Whether a loaded payload matches the checksum it was saved with (True for a file
    written before checksums, which has none)."""
    stored = payload.get("checksum")
    return stored is None or stored == checksum(payload)


def _feed(digest: Any, value: Any) -> None:
    """Add `value` to `digest`, unambiguously (each item tagged with its kind and length)."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"T{t.dtype}{tuple(value.shape)}:".encode())
        if t.numel():  # (an empty tensor has no bytes, and a stride view() refuses)
            digest.update(t.view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}:".encode())
        for k, v in value.items():
            _feed(digest, k)
            _feed(digest, v)
    elif isinstance(value, list | tuple):
        digest.update(f"L{len(value)}:".encode())
        for v in value:
            _feed(digest, v)
    else:
        text = f"{type(value).__name__}:{value!r}"
        digest.update(f"V{len(text)}:{text}".encode())


def load_plain(path: str | Path | IO[bytes]) -> Any:
    """What `save_plain` wrote, loaded without running code from the file (weights only,
    tensors on the CPU); None when the file cannot be read as such."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # an untrusted file: whatever the loader trips on, it is unreadable
        return None


def unreadable(path: str | Path, error: OSError, what: str, fix: str) -> ArtifactError:
    """The one line for an OS error reading `what` (e.g. "model file") at `path`."""
    return ArtifactError(f"cannot read {what} '{path}': {os_cause(error)}: {fix}")


def load(path: str | Path, named: str = "--model") -> Artifact:
    """Read a model file; any problem with the file is an `ArtifactError` with one line
    (which says how to give another as the caller names it: '--model', 'MODEL')."""
    payload = _read_model(path, named)
    path = shown(path)  # for messages: a URL without credentials
    if payload is None:
        raise ArtifactError(
            f"'{path}' is not a readable rnncast model file (truncated, damaged or another kind "
            "of file): pass a file written by 'rnncast train', or retrain"
        )
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ArtifactError(
            f"'{path}' is not an rnncast model file (it is a torch file without rnncast's "
            "header): pass a file written by 'rnncast train'"
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArtifactError(
            f"'{path}' was written by a newer rnncast ({payload.get('rnncast_version', '?')}, "
            f"model format {version}); this rnncast {__version__} reads format "
            f"{FORMAT_VERSION}: upgrade with 'pip install -U rnncast'"
        )
    if not intact(payload):
        raise ArtifactError(
            f"'{path}' is damaged: its contents do not match the SHA-256 checksum written when "
            "it was saved: train again with 'rnncast train', or restore a copy"
        )
    theirs = str(payload.get("rnncast_version", "?"))
    if _major(theirs) != _major(__version__):
        fix = (
            "upgrade with 'pip install -U rnncast'"
            if _major(theirs) > _major(__version__)
            else "retrain it with this version ('rnncast train')"
        )
        raise ArtifactError(
            f"'{path}' was written by rnncast {theirs}, another major version than this "
            f"rnncast {__version__}, whose models it cannot promise to read: {fix}"
        )
    try:
        artifact = Artifact.from_payload(payload)
        if artifact.axis.kind == "datetime":
            artifact.axis.offset  # noqa: B018 - the frequency must parse
        artifact.network()  # the weights must fit the configuration
    except (KeyError, TypeError, ValueError, AttributeError, RnncastError) as e:
        raise ArtifactError(
            f"'{path}' is a damaged rnncast model file ({type(e).__name__}: {e}): retrain with "
            "'rnncast train'"
        ) from None
    return artifact


def _read_model(path: str | Path, named: str) -> Any:
    """`load_plain` of the model file at `path`; one line when the system cannot give it,
    saying how to give another as the caller names it (`named`: '--model', 'MODEL')."""
    if is_url(path):
        return read_remote(path, "model file")
    verb, via = ("give", "as") if named.isupper() else ("pass", "with")  # MODEL: an argument
    fix = f"check the path and its permissions, or {verb} another {named}"
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            raise ArtifactError(
                f"model file '{path}' is a folder: {verb} the model file {via} {named}"
            )
        opens(path)
    except FileNotFoundError:
        how = f"pass {named}" if via == "with" else f"give its path as {named}"
        missing = (
            f"train one with 'rnncast train DATA' or {how}" if named in ("--model", "MODEL")
            else f"check the path given to {named}, or train from scratch without it"
        )  # fmt: skip
        raise ArtifactError(f"model file '{path}' not found: {missing}") from None
    except OSError as e:
        raise unreadable(path, e, "model file", fix) from None
    return load_plain(path)


def read_remote(url: str | Path, what: str) -> Any:
    """`load_plain` of the object at `url`, read whole into memory; not found, denied or
    unreachable is one line naming `what` ('model file')."""
    r = remote.resolve(str(url), "reading")
    if remote.info(r, what, ArtifactError)["type"] == "directory":
        raise ArtifactError(f"{what} '{r}' is a folder (a prefix of objects): pass the file")
    with remote.reading(r, what, ArtifactError):
        data = r.fs.cat_file(r.path)
    return load_plain(io.BytesIO(data))


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, in hex (what `sha256sum` prints)."""
    digest = hashlib.sha256()
    if is_url(path):
        r = remote.resolve(str(path), "reading")
        with remote.reading(r, "model file", ArtifactError):
            digest.update(r.fs.cat_file(r.path))
        return digest.hexdigest()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _units(stored: Any, series: int) -> np.ndarray:
    """The stored units as float32, one per series (empty when there are none)."""
    if stored is None:
        return np.zeros(0, dtype=np.float32)
    units = torch.as_tensor(stored, dtype=torch.float32).numpy()
    if units.ndim != 1 or len(units) not in (0, series):
        raise ValueError(f"{units.size} series units for {series} series")
    return units


def _major(version: str) -> int:
    """The major version number; -1 when there is none to read (a file that lost it)."""
    head = version.split(".")[0]
    return int(head) if head.isdigit() else -1
