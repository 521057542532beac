"""Experiment tracking with MLflow (the optional `mlflow` extra): `rnncast train --mlflow`,
`rnncast evaluate --mlflow`, and `mlflow=True` in the Python API each log one MLflow run.

Where: the tracking URI MLflow itself chooses (`MLFLOW_TRACKING_URI`; unset, MLflow's own
default: `sqlite:///mlflow.db` in the working folder for MLflow 3, or `./mlruns` where that
already holds runs), in the experiment `MLFLOW_EXPERIMENT_NAME` names, else 'rnncast'
(created when missing).

A training run logs
- parameters: the plan's settings, every 'auto' resolved (`rnncast.plan`: horizon, lookback,
  segment, transform...; the device and precision as training will use them), `holdout`
  and `data`; a sequence as its items joined by commas;
- each epoch's losses as it ends (step = epoch, from 1), one name per ensemble member,
  counted from 1 as the model file's history does: `train_loss/member1`,
  `val_loss/member1`, `lr/member1` (epochs a resumed run did not hear are logged at the end);
- the summary: `best_val_loss/memberK`, `best_epoch/memberK`, `epochs/memberK`,
  `steps/memberK`, `training_seconds`, `parameters`, `series`, `train_windows`,
  `val_windows`; tags `stopped/memberK`, `device`, `rnncast.data_fingerprint`;
- the model file as an artifact.
An evaluation run logs the model's settings as parameters (with `windows`, `data`, `model`),
the backtest's scores as metrics (`overall/model/mae`, `skill/vs_naive/mase`,
`quantiles/levels/q0.1/pinball`...), the model's scores at each step of the horizon
(`horizon/mae`, `horizon/smape`, `horizon/mase`, step = h, `rnncast.forecast.backtest.
per_step`), and the metrics file as an artifact.

mlflow is imported here only, and only when tracking is asked for. Whether it is installed,
and whether the tracking server answers, are checked before any data is read (one request,
no retries, a short timeout), each a one-line error; later calls use MLflow's own retries
(`MLFLOW_HTTP_REQUEST_MAX_RETRIES`, `MLFLOW_HTTP_REQUEST_TIMEOUT`). A run ends FINISHED,
FAILED (an error) or KILLED (a signal, a stop). Nothing here prints: MLflow's info lines are
kept quiet (its warnings are not), and so is the link it writes on stdout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from rnncast.engine.events import EpochEnd, Event, TrainingStopped, TrainStart
from rnncast.errors import ConfigError, OutputError, first_line, os_cause
from rnncast.settings import CLI, Spelling, to_dict
from rnncast.version import __version__

if TYPE_CHECKING:
    from rnncast.forecast.backtest import Backtest
    from rnncast.jobs import Trained
    from rnncast.plan import Plan
    from rnncast.store.artifact import Artifact

EXPERIMENT = "rnncast"  # without MLFLOW_EXPERIMENT_NAME
# The check before any work: one request, no retries, a short wait (MLflow's defaults retry
# for minutes); also the ending of a failed run, whose own error comes first.
CHECK = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
QUIET = {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}  # no 'View run' link on stdout
MAX_PARAM = 6000  # characters of a parameter's value MLflow keeps
BATCH = 1000  # metrics per request MLflow takes


def require(spell: Spelling = CLI) -> Any:
    """The mlflow module, or a one-line error naming the extra to install."""
    try:
        import mlflow
    except ImportError as e:
        broken = "" if e.name == "mlflow" else f", whose import failed ({first_line(e)})"
        raise ConfigError(
            f"{spell('mlflow')} needs mlflow{broken}: pip install 'rnncast[mlflow]'"
        ) from None
    return mlflow


@dataclass
class Tracking:
    """A tracking server (or database) that answered, and the experiment runs go to;
    messages name the option as `spell` does."""

    client: Any
    uri: str
    experiment: str
    experiment_id: str
    spell: Spelling = CLI

    @contextlib.contextmanager
    def calls(self, doing: str, env: dict[str, str] | None = None) -> Iterator[None]:
        """MLflow calls (`doing`: ' to log ...') with MLflow kept quiet, its failures one
        line each."""
        fix = f"check the tracking server, or run without {self.spell('mlflow')}"
        with _quiet(env or {}), failing(self.uri, doing, fix):
            yield


def connect(spell: Spelling = CLI) -> Tracking:
    """The tracking MLflow is set up for (`MLFLOW_TRACKING_URI`, `MLFLOW_EXPERIMENT_NAME`),
    checked to answer, its experiment created when missing; else a one-line error."""
    from rnncast.data.remote import shown

    mlflow = require(spell)
    given = mlflow.get_tracking_uri()
    uri = shown(given)  # for messages: a database's password is not shown
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
    fix = "start it, or set MLFLOW_TRACKING_URI to one that runs"
    with _quiet(CHECK), failing(uri, "", fix, "check MLFLOW_TRACKING_URI"):
        client = mlflow.MlflowClient(given)
        found = client.get_experiment_by_name(name)
        ident = found.experiment_id if found else _create(client, name)
    if found is not None and found.lifecycle_stage == "deleted":
        raise ConfigError(
            f"the MLflow experiment '{name}' at '{uri}' is deleted: restore it, or name another "
            "with MLFLOW_EXPERIMENT_NAME"
        )
    return Tracking(client, uri, name, ident, spell)


def _create(client: Any, name: str) -> str:
    """A new experiment's id; one that another run created meanwhile is found instead."""
    from mlflow.exceptions import MlflowException

    try:
        return client.create_experiment(name)
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id


@contextlib.contextmanager
def failing(uri: str, doing: str, fix: str, other_fix: str = "") -> Iterator[None]:
    """MLflow failing (its own errors, the network's, the file system's) as one line: a
    server that cannot be reached says why and `fix`; any other failure what MLflow said and
    `other_fix` (default `fix`). An artifact store's own errors count too (botocore's when an
    experiment keeps its artifacts in S3, ...: `rnncast.data.remote.store_errors`), and so
    does a package that does not import (a database's driver)."""
    import requests
    from mlflow.exceptions import MlflowException

    from rnncast.data.remote import store_errors

    try:
        yield
    except ImportError as e:  # a database's driver (SQLAlchemy's), an artifact store's package
        raise OutputError(_needs(uri, doing, e, other_fix or fix)) from None
    except (MlflowException, requests.RequestException, *store_errors()) as e:
        why = _unreachable(e)
        if why is not None:
            said = f"cannot reach the MLflow tracking server at {uri}{doing}: {why}: {fix}"
        else:
            said = f"MLflow tracking at '{uri}' failed{doing}: {_said(e)}: {other_fix or fix}"
        raise OutputError(said) from None


_PACKAGES = {"MySQLdb": "mysqlclient"}  # modules whose package goes by another name


def _needs(uri: str, doing: str, error: ImportError, fix: str) -> str:
    """The line for a package MLflow needs at `uri` (a database's driver) but cannot import."""
    if not error.name:
        return f"MLflow tracking at '{uri}'{doing} failed to import: {_said(error)}: {fix}"
    package = _PACKAGES.get(error.name, error.name.split(".")[0])
    return (
        f"MLflow tracking at '{uri}'{doing} needs the Python package '{package}', which is not "
        f"installed: pip install '{package}', or {fix}"
    )


def _chain(error: BaseException) -> list[BaseException]:
    """An exception and those it was raised from or while handling, outermost first."""
    out: list[BaseException] = []
    while error is not None and error not in out:
        out.append(error)
        error = error.__cause__ or error.__context__
    return out


def _unreachable(error: BaseException) -> str | None:
    """Why the server could not be reached ('Connection refused (Errno 111)', 'timed
    out'), or None when it was reached (or the failure is not the network's)."""
    import requests

    chain = _chain(error)
    if not any(isinstance(e, requests.ConnectionError | requests.Timeout) for e in chain):
        return None
    system = [e for e in chain if isinstance(e, OSError)
              and not isinstance(e, requests.RequestException)]  # fmt: skip
    return os_cause(system[-1]) if system else _said(chain[-1])


def _said(error: BaseException) -> str:
    """What an error said: its first line without a closing full stop (cut short where a
    server answered with a page), the URLs in it shown without credentials."""
    from rnncast.data.remote import scrub

    text = scrub(first_line(error)).removesuffix(".")
    return text if len(text) <= 1000 else text[:997] + "..."


@contextlib.contextmanager
def _quiet(env: dict[str, str]) -> Iterator[None]:
    """MLflow's info lines off (its warnings stay), no link on stdout, and `env` set, for
    the calls inside; all as they were afterwards."""
    logger = logging.getLogger("mlflow")
    level, wanted = logger.level, {**QUIET, **env}
    saved = {k: os.environ.get(k) for k in wanted}
    logger.setLevel(max(level, logging.WARNING))
    os.environ.update(wanted)
    try:
        yield
    finally:
        logger.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---- one run ------------------------------------------------------------------------------


class Tracker:
    """One MLflow run's logging; `Tracker()` (no tracking asked for) logs nothing."""

    def __init__(self, tracking: Tracking | None = None, run_id: str = ""):
        self.tracking, self.run_id = tracking, run_id
        self.member = 1  # the ensemble member training now, from 1
        self.logged: set[tuple[int, int]] = set()  # (member, epoch) logged as they ended

    def hearing(self, also: Callable[[Event], None] | None) -> Callable[[Event], None] | None:
        """A callback that passes each event on to `also`, then logs each epoch's losses."""
        if self.tracking is None:
            return also

        def hear(event: Event) -> None:
            if also is not None:
                also(event)
            self.on_event(event)

        return hear

    def on_event(self, event: Event) -> None:
        """Log an epoch's losses (and learning rate) as it ends."""
        if self.tracking is None:
            return
        if isinstance(event, TrainStart):
            self.member = event.member
        elif isinstance(event, EpochEnd):
            row = {"epoch": event.epoch, "train_loss": event.train_loss,
                   "val_loss": event.val_loss, "lr": event.lr}  # fmt: skip
            self.log(_epoch_metrics(self.member, row), f" to log epoch {event.epoch}")
            self.logged.add((self.member, event.epoch))

    def log(self, metrics: list[Any], doing: str, params: dict[str, str] | None = None,
            tags: dict[str, str] | None = None) -> None:  # fmt: skip
        """Metrics (`mlflow.entities.Metric`), parameters and tags, in as few requests as
        MLflow takes."""
        if self.tracking is None:
            return
        from mlflow.entities import Param, RunTag

        params, tags = params or {}, tags or {}
        with self.tracking.calls(doing):
            client = self.tracking.client
            if params or tags:
                client.log_batch(self.run_id, params=[Param(k, v) for k, v in params.items()],
                                 tags=[RunTag(k, v) for k, v in tags.items()])  # fmt: skip
            for start in range(0, len(metrics), BATCH):
                client.log_batch(self.run_id, metrics=metrics[start : start + BATCH])

    def trained(self, trained: Trained, model_file: str | Path | None = None) -> None:
        """The summary, the epochs not heard as they ended (a resumed run's earlier ones),
        and the model file (written to a temporary folder when `model_file` is None)."""
        if self.tracking is None:
            return
        metrics, tags = _summary(trained, self.logged)
        self.log(metrics, " to log the training summary", tags=tags)
        if _local(model_file) is not None:
            self.artifact(Path(model_file), " to log the model file")
            return
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.rnncast"
            trained.artifact.save(path)
            self.artifact(path, " to log the model file")

    def evaluated(self, result: Backtest, metrics_file: str | Path | None = None,
                  forecasts_file: str | Path | None = None,
                  written: dict[str, Any] | None = None) -> None:  # fmt: skip
        """The backtest's scores, the model's at each step of the horizon, the metrics file
        (when `metrics_file` is None, `metrics.json` from `written`, the metrics as the
        caller wrote them elsewhere, default the report) and the backtest forecasts' file
        when there is one."""
        if self.tracking is None:
            return
        from rnncast.forecast.backtest import per_step

        report = result.report
        metrics = _report_metrics(report) + _step_metrics(per_step(result))
        matches = report.get("data_fingerprint_matches_training")
        tags = {} if matches is None else {"data_matches_training": str(matches).lower()}
        self.log(metrics, " to log the backtest's scores", tags=tags)
        if _local(forecasts_file) is not None:
            self.artifact(Path(forecasts_file), " to log the backtest forecasts")
        if _local(metrics_file) is not None:
            self.artifact(Path(metrics_file), " to log the metrics file")
            return
        with self.tracking.calls(" to log the metrics file"):
            self.tracking.client.log_dict(self.run_id, written or report, "metrics.json")

    @contextlib.contextmanager
    def after(self, written: str) -> Iterator[None]:
        """Logging after the run's outputs were written (`written`: "'m.rnncast' was
        written"; '' when nothing was): its failure is still one line (and the run ends
        FAILED), and the line says what was written, so that nobody takes the outputs for
        missing or the run for a success."""
        try:
            yield
        except OutputError as e:
            if self.tracking is None or not written:
                raise
            raise OutputError(f"{written}, but logging the run to MLflow failed: {e}") from None

    def artifact(self, path: Path, doing: str) -> None:
        """Log the local file `path` as an artifact."""
        if self.tracking is not None:
            with self.tracking.calls(doing):
                self.tracking.client.log_artifact(self.run_id, str(path))

    def end(self, status: str) -> None:
        """End the run: FINISHED, or (quickly, MLflow's failure left unsaid: the run's own
        error comes first) FAILED or KILLED."""
        if self.tracking is None:
            return
        if status == "FINISHED":
            with self.tracking.calls(" to end the run"):
                self.tracking.client.set_terminated(self.run_id, status)
            return
        with contextlib.suppress(OutputError), self.tracking.calls("", CHECK):
            self.tracking.client.set_terminated(self.run_id, status)

    def describe(self) -> str:
        """Where the run went, for people ('' without tracking)."""
        if self.tracking is None:
            return ""
        t = self.tracking
        return f"logged MLflow run {self.run_id} in experiment '{t.experiment}' at {t.uri}"


@contextlib.contextmanager
def tracked(tracking: Tracking | None, command: str, params: dict[str, str],
            tags: dict[str, str]) -> Iterator[Tracker]:  # fmt: skip
    """A run of `command` ('train', 'evaluate') with `params` logged, ended FINISHED when
    the body returns, FAILED when it raises, KILLED when it is stopped; without tracking a
    `Tracker()` that logs nothing."""
    if tracking is None:
        yield Tracker()
        return
    tracker = start(tracking, command, tags)
    try:
        tracker.log([], " to log the settings", params=params)
        yield tracker
    except TrainingStopped:
        tracker.end("KILLED")
        raise
    except Exception:
        tracker.end("FAILED")
        raise
    except BaseException:  # a signal (KeyboardInterrupt, the command line's Interrupted)
        tracker.end("KILLED")
        raise
    tracker.end("FINISHED")


def start(tracking: Tracking, command: str, tags: dict[str, str]) -> Tracker:
    """A new run in the experiment, tagged as MLflow tags runs it starts itself (user,
    source) and with rnncast's command and version."""
    from mlflow.tracking.context.registry import resolve_tags

    ours = {"rnncast.command": command, "rnncast.version": __version__, **tags}
    with tracking.calls(" to start a run"):
        run = tracking.client.create_run(
            tracking.experiment_id, tags=resolve_tags(ours), run_name=tags.get("mlflow.runName")
        )
    return Tracker(tracking, run.info.run_id)


def training(tracking: Tracking | None, plan: Plan,
             data: str | None) -> contextlib.AbstractContextManager[Tracker]:  # fmt: skip
    """The run of training as `plan` says on `data` (a path; None: a DataFrame)."""
    import torch

    from rnncast.engine import devices

    params = settings_params(plan.read, plan.window, plan.model, plan.train)
    device = devices.resolve_device(plan.train.device)
    dtype = devices.autocast_dtype(plan.train.precision, device)
    precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    source = data or "<DataFrame>"
    params |= {"device": str(device), "precision": precision, "holdout": str(plan.holdout),
               "data": _text(_shown(source))}  # fmt: skip
    tags = {"mlflow.runName": f"train {_last(source)}"}
    return tracked(tracking, "train", params, tags)


def evaluation(
    tracking: Tracking | None, artifact: Artifact, windows: int, data: str | None,
    model: str | None,
) -> contextlib.AbstractContextManager[Tracker]:  # fmt: skip
    """The run of backtesting `artifact` (from file `model`, None: in memory) over `windows`
    horizons of `data` (a path; None: a DataFrame, or the model's training data)."""
    params = settings_params(artifact.read_options, artifact.window, artifact.model,
                             artifact.train)  # fmt: skip
    if artifact.summary.get("device"):
        params["device"] = _text(artifact.summary["device"])  # where it trained
    source = data or artifact.data_path or "<DataFrame>"
    params |= {"windows": str(windows), "data": _text(_shown(source)),
               "model": _text(_shown(model or ""))}  # fmt: skip
    tags = {"mlflow.runName": f"evaluate {_last(model or 'model')}",
            "rnncast.data_fingerprint": artifact.fingerprint}  # fmt: skip
    return tracked(tracking, "evaluate", params, tags)


def _shown(path: str) -> str:
    """A path as logged: a URL without its credentials and query string (a signed URL's
    signature), as messages and model files show it."""
    from rnncast.data.remote import shown

    return shown(path)


def _last(path: str) -> str:
    """The last part of a path or URL (as shown), for a run's name: 'd.csv'."""
    from rnncast.data.remote import is_url

    return (PurePosixPath(_shown(path)).name if is_url(path) else Path(path).name) or path


# ---- what is logged -----------------------------------------------------------------------


def settings_params(*settings: Any) -> dict[str, str]:
    """Settings dataclasses (read, window, model, train) as MLflow parameters."""
    plain: dict[str, Any] = {}
    for part in settings:
        plain |= to_dict(part)
    return {k: _text(v) for k, v in plain.items()}


def _text(value: Any) -> str:
    """A parameter's value: a sequence's items joined by commas, else `str`; cut to what
    MLflow keeps."""
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text if len(text) <= MAX_PARAM else text[: MAX_PARAM - 3] + "..."


def _metric(key: str, value: float, step: int = 0) -> Any:
    from mlflow.entities import Metric

    return Metric(key, float(value), int(time.time() * 1000), step)


def _epoch_metrics(member: int, row: dict[str, Any]) -> list[Any]:
    """An epoch's losses and learning rate (a row of `TrainResult.history`), step = epoch."""
    return [
        _metric(f"{name}/member{member}", row[name], row["epoch"])
        for name in ("train_loss", "val_loss", "lr")
        if row.get(name) is not None
    ]


def _summary(trained: Trained, logged: set[tuple[int, int]]) -> tuple[list[Any], dict[str, str]]:
    """The metrics and tags of a finished training: each member's epochs not yet logged,
    best epoch, best validation loss and stopping reason, and the totals."""
    metrics, tags = [], {}
    for k, result in enumerate(trained.results, 1):
        for row in result.history:
            if (k, row["epoch"]) not in logged:
                metrics += _epoch_metrics(k, row)
        each = {"best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
                "epochs": len(result.history), "steps": result.steps}  # fmt: skip
        metrics += [_metric(f"{n}/member{k}", v) for n, v in each.items() if v is not None]
        tags[f"stopped/member{k}"] = result.stopped or "finished"
    summary = trained.artifact.summary
    totals = {"training_seconds": summary.get("seconds"), "parameters": summary.get("parameters"),
              "series": summary.get("series"), "train_windows": summary.get("train_windows"),
              "val_windows": summary.get("val_windows")}  # fmt: skip
    metrics += [_metric(n, v) for n, v in totals.items() if v is not None]
    tags |= {"device": str(summary.get("device", "")),
             "rnncast.data_fingerprint": trained.artifact.fingerprint}  # fmt: skip
    return metrics, tags


def _report_metrics(report: dict[str, Any]) -> list[Any]:
    """A backtest report's numbers: the counts, and every score under 'overall', 'skill'
    and 'quantiles', named by their path ('overall/model/mae'); per-series scores stay in
    the metrics file."""
    found = {k: report[k] for k in ("series", "windows_scored", "windows_in_training")
             if isinstance(report.get(k), int)}  # fmt: skip

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in ("level", "lower", "upper"):  # an interval's settings, not scores
                    walk(v, f"{path}/{k}")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found[_name(path)] = value

    for section in ("overall", "skill", "quantiles"):
        walk(report.get(section), section)
    return [_metric(k, v) for k, v in found.items()]


def _name(path: str) -> str:
    """A metric name MLflow takes: '80%' becomes '80pct', other odd characters '_'."""
    return re.sub(r"[^\w./ :-]", "_", path.replace("%", "pct"))


def _step_metrics(steps: dict[str, list[float | None]]) -> list[Any]:
    """Scores at each step of the horizon as `horizon/<metric>`, step = h (from 1)."""
    return [
        _metric(f"horizon/{name}", value, h)
        for name, values in steps.items()
        for h, value in enumerate(values, 1)
        if value is not None
    ]


def _local(path: str | Path | None) -> Path | None:
    """`path` when it is a local file; None for none or a URL (an object in a store: the
    run logs the model or the report from memory instead; a forecasts object is not logged)."""
    from rnncast.data.remote import is_url

    return None if path is None or is_url(str(path)) else Path(path)
