"""Training checkpoints: the whole state of an unfinished training run, in one file.

`rnncast train --checkpoint PATH` writes one after every epoch (atomically, like every
output), so a run that is stopped (SIGINT, SIGTERM, a crash, a reboot) keeps its best weights
so far, and `--resume PATH` continues it exactly where the last complete epoch left it: the
same weights, optimiser and schedule state and random streams, so the resumed run ends with
the model the uninterrupted run would have made.

Like the model file, a checkpoint is a `torch.save` archive of plain data, loaded with
`weights_only=True`: loading one never runs code from it; and like it, it carries a SHA-256
checksum of its contents, checked at load.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnncast.data.readers import opens
from rnncast.data.remote import is_url, shown
from rnncast.errors import ArtifactError, ConfigError
from rnncast.settings import ModelConfig, TrainConfig, WindowConfig, to_dict
from rnncast.store.artifact import (
    BEFORE_FIELD,
    intact,
    load_plain,
    read_remote,
    save_plain,
    unreadable,
)
from rnncast.version import __version__

FORMAT = "rnncast-checkpoint"
FORMAT_VERSION = 1
# Settings a resumed run may change: where it runs, and, while no ensemble member has
# finished, how long training may go on (to extend a run or cut it short); none of them
# changes what the steps compute.
MAY_DIFFER = {"device", "max_epochs", "max_steps"}
# Settings a resumed run may change freely: where it runs, and what only acts on the trained
# model's forecasts (`--clip`; a checkpoint written before it was kept reads as 'none').
ANY_VALUE = {"device", "clip"}
# Settings `rnncast.plan` chooses from the others and the data (the lookbacks from the
# horizon, the ensemble and the shortest series, ...): checked after those, so that a
# difference is blamed on what the person changed.
CHOSEN = {"lookback", "lookbacks", "segment"}


@dataclass
class Checkpoint:
    """The settings, the data's fingerprint, the finished ensemble members (each a
    `TrainResult.to_plain()`) and the state of the member in training (or None)."""

    config: dict[str, dict[str, Any]]
    fingerprint: str
    finished: list[dict[str, Any]] = field(default_factory=list)
    current: dict[str, Any] | None = None  # {"member": k, "state": train loop snapshot}
    source: str = ""  # the file it was loaded from, for messages

    @classmethod
    def start(
        cls, window: WindowConfig, model: ModelConfig, train: TrainConfig, fingerprint: str
    ) -> Checkpoint:
        config = {"window": to_dict(window), "model": to_dict(model), "train": to_dict(train)}
        return cls(config=config, fingerprint=fingerprint)

    def describe(self) -> str:
        """Where training stands, e.g. 'model 2 of 3 after epoch 7'."""
        members = self.config["train"]["ensemble"]
        if self.current is not None:
            k, epoch = self.current["member"], self.current["state"]["epoch"]
            of = f"model {k} of {members}" if members > 1 else "the model"
            return f"{of} after epoch {epoch}"
        done = len(self.finished)
        if done >= members:
            return "training complete"
        return f"{done} of {members} models trained" if done else "no epoch complete yet"

    def check_matches(
        self, window: WindowConfig, model: ModelConfig, train: TrainConfig, fingerprint: str
    ) -> None:
        """The resumed run must be the interrupted one: same settings, same data. A setting
        the checkpoint's version did not have reads as what it meant then (`BEFORE_FIELD`)."""
        path = self.source
        given = {"window": to_dict(window), "model": to_dict(model), "train": to_dict(train)}
        settings = [(section, name, value) for section, values in given.items()
                    for name, value in values.items()]  # fmt: skip
        for section, name, value in settings:  # those given first, those chosen from them last
            if name not in CHOSEN:
                self._check_setting(section, name, value)
        if fingerprint != self.fingerprint:
            raise ConfigError(
                f"--resume '{path}' was saved while training on other data (the data's "
                "fingerprint differs): resume with the same data, or start afresh without --resume"
            )
        for section, name, value in settings:
            if name in CHOSEN:
                self._check_setting(section, name, value)

    def _check_setting(self, section: str, name: str, value: Any) -> None:
        """Setting `name` of `section` must be as saved (where it may differ: see MAY_DIFFER)."""
        path = self.source
        saved = {**BEFORE_FIELD.get(section, {}), **self.config.get(section, {})}
        if saved.get(name) == value or name in ANY_VALUE:
            return
        option = "--" + name.replace("_", "-")
        if name in MAY_DIFFER and self.finished:
            raise ConfigError(
                f"--resume '{path}' holds {len(self.finished)} finished model(s) "
                f"trained with {option} {_show(saved.get(name))}: resume with "
                f"{option} {_show(saved.get(name))} so that every model trains alike, "
                "or start afresh without --resume"
            )
        if name in MAY_DIFFER:
            return
        raise ConfigError(
            f"--resume '{path}' was saved with {option} {_show(saved.get(name))}, not "
            f"{_show(value)}: resume with the settings of the interrupted run, or start "
            "afresh without --resume"
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "rnncast_version": __version__,
            "config": self.config,
            "fingerprint": self.fingerprint,
            "finished": self.finished,
            "current": self.current,
        }


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)


def save(checkpoint: Checkpoint, path: str | Path) -> None:
    save_plain(checkpoint.to_payload(), path)


def _read(path: str | Path) -> Any:
    """`load_plain` of the checkpoint at `path`; one line when the system cannot give it."""
    missing = ArtifactError(f"--resume '{path}' not found: give the file that --checkpoint wrote")
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise missing
        opens(path)
    except FileNotFoundError:
        raise missing from None
    except OSError as e:
        raise unreadable(path, e, "--resume", "check the path and its permissions") from None
    return load_plain(path)


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint; any problem with the file is one line (`ArtifactError`)."""
    payload = read_remote(path, "--resume") if is_url(path) else _read(path)
    path = shown(path)  # for messages: a URL without credentials
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ArtifactError(
            f"--resume '{path}' is not a readable rnncast checkpoint (truncated, damaged or "
            "another kind of file): give the file that --checkpoint wrote"
        )
    if payload.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"--resume '{path}' was written by rnncast {payload.get('rnncast_version', '?')} "
            f"(checkpoint format {payload.get('format_version')}); this rnncast {__version__} "
            f"resumes format {FORMAT_VERSION}: finish it with that version, or start afresh"
        )
    if not intact(payload):
        raise ArtifactError(
            f"--resume '{path}' is damaged: its contents do not match the SHA-256 checksum "
            "written when it was saved: start afresh without --resume, or restore a copy"
        )
    try:
        return Checkpoint(
            config={k: dict(v) for k, v in payload["config"].items()},
            fingerprint=str(payload["fingerprint"]),
            finished=list(payload["finished"]),
            current=payload["current"],
            source=str(path),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise ArtifactError(
            f"--resume '{path}' is a damaged rnncast checkpoint ({type(e).__name__}: {e}): "
            "start afresh without --resume"
        ) from None
