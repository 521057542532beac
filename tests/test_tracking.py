"""--mlflow and mlflow=True: what a run logs, read back with MLflow's own client, from MLflow's
default store (a SQLite file in the working folder) and from a real `mlflow server` on a
loopback port; and the one-line errors for a missing extra and a server that is not there."""

from __future__ import annotations

import errno
import filecmp
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from rnncast import tracking
from rnncast.engine.events import EpochEnd, TrainingStopped, TrainStart
from rnncast.errors import ConfigError, DataError
from tests.cli.conftest import FAST, error, run
from tests.conftest import help_imports, make_long

mlflow = pytest.importorskip("mlflow")

TRAIN = [*FAST, "--horizon", "6"]  # lookback, segment, transform: left for the plan to choose


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A fresh working folder with MLflow left at its defaults, and a small CSV."""
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    make_long(n_series=2, length=150).to_csv(tmp_path / "s.csv", index=False)
    return tmp_path


def _runs(uri: str, experiment: str = "rnncast") -> dict[str, object]:
    """The experiment's runs by command ('train', 'evaluate'), one each."""
    client = mlflow.MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, experiment
    runs = client.search_runs([found.experiment_id])
    by = {r.data.tags["rnncast.command"]: r for r in runs}
    assert len(by) == len(runs), [r.data.tags for r in runs]
    return by


def _history(uri: str, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in mlflow.MlflowClient(uri).get_metric_history(run_id, key)]


def _check_train_run(uri: str, run, model_file: Path, members: int, folder: Path) -> None:
    """The run holds the resolved settings, each member's losses at each epoch (those of the
    model file's history), the summary, and the model file itself."""
    import rnncast

    assert run.info.status == "FINISHED"
    params, metrics = run.data.params, run.data.metrics
    model = rnncast.load(model_file)
    wanted = {
        "cell": "gru", "horizon": "6", "lookback": "24", "segment": "24", "transform": "log",
        "hidden_size": "8", "ensemble": str(members), "device": "cpu", "precision": "fp32",
        "holdout": "0",
    }  # fmt: skip
    assert {k: params[k] for k in wanted} == wanted
    for k in range(1, members + 1):
        rows = [r for r in model.history if r["member"] == k]
        for name in ("train_loss", "val_loss"):
            assert _history(uri, run.info.run_id, f"{name}/member{k}") == [
                (r["epoch"], pytest.approx(r[name])) for r in rows
            ]
        assert metrics[f"best_epoch/member{k}"] == model.summary["best_epoch"][k - 1]
        assert metrics[f"epochs/member{k}"] == len(rows) == 2
        assert run.data.tags[f"stopped/member{k}"] == "reached --max-epochs 2"
    assert f"train_loss/member{members + 1}" not in metrics
    assert metrics["training_seconds"] == pytest.approx(model.summary["seconds"])
    client = mlflow.MlflowClient(uri)
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == [model_file.name]
    got = Path(client.download_artifacts(run.info.run_id, model_file.name, str(folder)))
    assert filecmp.cmp(got, model_file, shallow=False)
    assert rnncast.load(got).window == model.window  # it loads as a model


def test_train_and_evaluate_log_to_mlflows_default_store(here):
    """No MLFLOW_TRACKING_URI: MLflow's own default (MLflow 3: sqlite:///mlflow.db in the
    working folder, artifacts under ./mlruns), experiment 'rnncast'."""
    result = run("train", "s.csv", *TRAIN, "--mlflow")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # MLflow's 'View run' link is not written on stdout
    assert "Creating initial MLflow database tables" not in result.stderr  # MLflow's info
    uri = f"sqlite:///{here}/mlflow.db"
    train = _runs(uri)["train"]
    assert (
        f"logged MLflow run {train.info.run_id} in experiment 'rnncast' at "
        f"sqlite:///{here}/mlflow.db"
    ) in result.stderr
    _check_train_run(uri, train, here / "model.rnncast", 1, here / "down")
    assert train.data.params["data"] == "s.csv" and train.info.run_name == "train s.csv"

    result = run("evaluate", "--windows", "2", "--mlflow")
    assert result.exit_code == 0, result.stderr
    evaluate = _runs(uri)["evaluate"]
    assert evaluate.info.status == "FINISHED"
    assert evaluate.data.params["windows"] == "2" and evaluate.data.params["lookback"] == "24"
    written = json.loads((here / "metrics.json").read_text())
    metrics = evaluate.data.metrics
    assert metrics["overall/model/mae"] == pytest.approx(written["overall"]["model"]["mae"])
    assert metrics["skill/vs_naive/mase"] == pytest.approx(written["skill"]["vs_naive"]["mase"])
    assert metrics["windows_scored"] == written["windows_scored"] == 4
    steps = _history(uri, evaluate.info.run_id, "horizon/mae")
    assert [s for s, _ in steps] == [1, 2, 3, 4, 5, 6]
    assert sum(v for _, v in steps) / 6 == pytest.approx(written["overall"]["model"]["mae"])
    client = mlflow.MlflowClient(uri)
    got = client.download_artifacts(evaluate.info.run_id, "metrics.json", str(here / "down"))
    assert json.loads(Path(got).read_text()) == written
    tags = evaluate.data.tags
    assert tags["rnncast.data_fingerprint"] == train.data.tags["rnncast.data_fingerprint"]


def test_the_missing_extra_is_one_line_before_any_work(here, monkeypatch):
    import rnncast

    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` fails
    message = "error: --mlflow needs mlflow: pip install 'rnncast[mlflow]'"
    assert error(run("train", "missing.csv", *TRAIN, "--mlflow")) == message  # before reading
    assert error(run("evaluate", "--model", "missing.rnncast", "--mlflow")) == message
    assert not (here / "model.rnncast").exists() and not (here / "metrics.json").exists()
    with pytest.raises(ConfigError, match=r"^mlflow=True needs mlflow: pip install "):
        rnncast.train("s.csv", mlflow=True, horizon=6, max_epochs=1, ensemble=1)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is


def test_a_server_that_is_not_there_is_one_line_before_any_work(here, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    message = (
        f"error: cannot reach the MLflow tracking server at {url}: "
        f"{os.strerror(errno.ECONNREFUSED)} (Errno {errno.ECONNREFUSED}): start it, or set "
        "MLFLOW_TRACKING_URI to one that runs"
    )
    assert error(run("train", "s.csv", *TRAIN, "--mlflow")) == message
    assert error(run("evaluate", "--mlflow")) == message
    (here / "c.toml").write_text("[evaluate]\nmlflow = true\n")  # a config file may ask
    assert error(run("evaluate", "--config", "c.toml")) == message
    assert sorted(p.name for p in here.iterdir()) == ["c.toml", "s.csv"]
    result = run("train", "s.csv", *TRAIN, "--mlflow", "--print-config")  # no run to log
    assert result.exit_code == 0, result.stderr
    assert "mlflow" not in result.stdout  # how a run reports, not a setting


def test_a_store_mlflow_refuses_is_one_line(here, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file://{here}/mlruns")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    said = error(run("train", "s.csv", *TRAIN, "--mlflow"))
    assert said.startswith(
        f"error: MLflow tracking at 'file://{here}/mlruns' failed: The filesystem tracking "
        "backend (e.g., './mlruns') is in maintenance mode"
    )
    assert said.endswith("MLFLOW_ALLOW_FILE_STORE=true` to opt out of this exception: check "
                         "MLFLOW_TRACKING_URI")  # fmt: skip


def test_a_deleted_experiment_is_one_line(here, monkeypatch):
    uri = f"sqlite:///{here}/m.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "gone")
    client = mlflow.MlflowClient(uri)
    client.delete_experiment(client.create_experiment("gone"))
    assert error(run("evaluate", "--mlflow")) == (
        f"error: the MLflow experiment 'gone' at '{uri}' is deleted: restore it, or name "
        "another with MLFLOW_EXPERIMENT_NAME"
    )


@pytest.mark.parametrize(
    ("raised", "status"),
    [(DataError, "FAILED"), (TrainingStopped, "KILLED"), (KeyboardInterrupt, "KILLED")],
)
def test_a_run_that_fails_or_is_stopped_ends_so(here, monkeypatch, raised, status):
    uri = f"sqlite:///{here}/m.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(raised), tracking.tracked(tracking.connect(), "train", {"a": "1"},
                                                 {}) as tracker:  # fmt: skip
        tracker.on_event(TrainStart("cpu", 1, 1, 1, 3, 10, member=2))
        tracker.on_event(EpochEnd(1, 3, 0.5, None, None, 0.01, True, 0.1))
        raise raised("stop")
    run_ = _runs(uri)["train"]
    assert (run_.info.status, run_.data.params) == (status, {"a": "1"})
    assert _history(uri, run_.info.run_id, "train_loss/member2") == [(1, 0.5)]
    assert "val_loss/member2" not in run_.data.metrics  # no validation: nothing logged


def test_without_tracking_nothing_is_logged_and_events_pass_on():
    heard = []
    with tracking.tracked(None, "train", {}, {}) as tracker:
        assert tracker.hearing(heard.append) == heard.append and tracker.describe() == ""
        tracker.on_event(EpochEnd(1, 3, 0.5, None, None, 0.01, True, 0.1))
        tracker.trained(None)  # type: ignore[arg-type]
    assert heard == []


def test_the_summary_logs_the_epochs_not_heard_and_each_members_best():
    """A resumed run heard only the epochs after the checkpoint: the others come from the
    history at the end."""
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": None, "lr": 0.1} for e in (1, 2)]
    result = SimpleNamespace(history=history, best_epoch=2, best_val_loss=None, steps=8,
                             stopped="")  # fmt: skip
    trained = SimpleNamespace(
        results=[result, result],
        artifact=SimpleNamespace(summary={"seconds": 1.5, "device": "cpu"}, fingerprint="f"),
    )  # fmt: skip
    metrics, tags = tracking._summary(trained, {(1, 1), (1, 2), (2, 2)})
    logged = {(m.key, m.step): m.value for m in metrics}
    assert logged == {
        ("train_loss/member2", 1): 1.0, ("lr/member2", 1): 0.1,  # member 2's epoch 1 only
        ("best_epoch/member1", 0): 2, ("epochs/member1", 0): 2, ("steps/member1", 0): 8,
        ("best_epoch/member2", 0): 2, ("epochs/member2", 0): 2, ("steps/member2", 0): 8,
        ("training_seconds", 0): 1.5,
    }  # fmt: skip
    assert tags == {"stopped/member1": "finished", "stopped/member2": "finished",
                    "device": "cpu", "rnncast.data_fingerprint": "f"}  # fmt: skip


def test_names_and_values_mlflow_takes():
    assert (
        tracking._name("quantiles/intervals/80%/coverage") == "quantiles/intervals/80pct/coverage"
    )
    assert tracking._text((24, 48)) == "24,48" and tracking._text(()) == ""
    assert tracking._text(None) == "None" and len(tracking._text("x" * 7000)) == 6000
    report = {"series": 2, "overall": {"model": {"mae": 1.5, "mase": None}},
              "quantiles": {"intervals": {"80%": {"lower": 0.1, "coverage": 0.75}}}}  # fmt: skip
    assert {m.key: m.value for m in tracking._report_metrics(report)} == {
        "series": 2, "overall/model/mae": 1.5, "quantiles/intervals/80pct/coverage": 0.75
    }  # fmt: skip


def test_help_does_not_import_mlflow():
    done = help_imports(["train", "--help"], ("mlflow",))
    assert "--mlflow" in done.stdout and done.stderr == ""


# ---- a real tracking server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mlflow server` on a loopback port (SQLite behind it, artifacts served by it), for
    this module's tests; stopped with its workers afterwards."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _closed_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
               str(port), "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
               "--artifacts-destination", str(folder / "artifacts"), "--workers", "1"]  # fmt: skip
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(folder / "server.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=folder, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, folder / "server.log")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server's own process group
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 180  # a busy machine starts it slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"mlflow server did not answer at {url}/health: {log.read_text()[-2000:]}")


def test_train_logs_each_member_to_a_tracking_server(server, here, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "cli-sales")
    result = run("train", "s.csv", *TRAIN, "--ensemble", "2", "--out", "m.rnncast", "--mlflow")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # MLflow writes a 'View run' link for servers: kept quiet
    train = _runs(server, "cli-sales")["train"]
    assert f"in experiment 'cli-sales' at {server}" in result.stderr
    _check_train_run(server, train, here / "m.rnncast", 2, here / "down")


def test_the_python_api_logs_to_a_tracking_server(server, here, monkeypatch):
    import rnncast

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "python-sales")
    frame = make_long(n_series=2, length=150)
    model = rnncast.train(frame, mlflow=True, horizon=6, max_epochs=2, epoch_size=128,
                          batch_size=64, hidden_size=8, ensemble=1, device="cpu")  # fmt: skip
    report = rnncast.evaluate(model, frame, windows=2, mlflow=True)
    runs = _runs(server, "python-sales")
    train, evaluate = runs["train"], runs["evaluate"]
    assert train.data.params["data"] == "<DataFrame>" and train.data.params["lookback"] == "24"
    assert len(_history(server, train.info.run_id, "val_loss/member1")) == 2
    client = mlflow.MlflowClient(server)
    got = client.download_artifacts(train.info.run_id, "model.rnncast", str(here))
    logged = rnncast.load(got)
    assert rnncast.predict(logged, frame).equals(rnncast.predict(model, frame))
    assert evaluate.data.metrics["overall/model/mase"] == pytest.approx(
        report["overall"]["model"]["mase"]
    )
    got = client.download_artifacts(evaluate.info.run_id, "metrics.json", str(here))
    assert json.loads(Path(got).read_text()) == json.loads(json.dumps(report))


def test_the_connection_check_does_not_change_mlflows_settings(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    assert tracking.connect().experiment == "rnncast"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ


def test_a_urls_secrets_are_not_logged(here, web, monkeypatch):
    """A signed URL's query string (its signature) stays out of the parameters, the tags and
    the run names, as it stays out of messages and model files."""
    uri = f"sqlite:///{here}/m.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    folder = here / "web"
    (folder / "s.csv").write_bytes((here / "s.csv").read_bytes())
    data, model = f"{web}/s.csv?token=SECRET", f"{web}/m.rnncast?token=SECRET"
    result = run("train", data, *TRAIN, "--out", folder / "m.rnncast", "--mlflow")
    assert result.exit_code == 0, result.stderr
    result = run("evaluate", data, "-m", model, "-o", "m.json", "--mlflow")
    assert result.exit_code == 0, result.stderr
    runs = _runs(uri)
    for run_ in runs.values():
        logged = [run_.info.run_name, *run_.data.params.values(), *run_.data.tags.values()]
        assert not [text for text in logged if "SECRET" in text], run_.info.run_name
    assert runs["train"].info.run_name == "train s.csv"
    assert runs["train"].data.params["data"] == f"{web}/s.csv"
    evaluate = runs["evaluate"]
    assert evaluate.info.run_name == "evaluate m.rnncast"
    assert (evaluate.data.params["data"], evaluate.data.params["model"]) == (
        f"{web}/s.csv", f"{web}/m.rnncast"
    )  # fmt: skip
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "python")
    import rnncast

    rnncast.evaluate(rnncast.load(folder / "m.rnncast"), data, mlflow=True)
    assert _runs(uri, "python")["evaluate"].data.params["data"] == f"{web}/s.csv"


@pytest.fixture(scope="module")
def closed_endpoint() -> str:
    """An S3 endpoint nobody answers at, one for the module (MLflow keeps its S3 client,
    endpoint and all, from one run to the next)."""
    return f"http://127.0.0.1:{_closed_port()}"


@pytest.fixture
def s3_artifacts(here, monkeypatch, closed_endpoint):
    """An experiment that keeps its artifacts in S3, at an endpoint that does not answer:
    the tracking store (SQLite) works, logging a file fails. Its tracking URI."""
    uri = f"sqlite:///{here}/m.db"
    mlflow.MlflowClient(uri).create_experiment("s3", artifact_location="s3://nobucket-xyz/art")
    environment = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "s3",
                   "AWS_ENDPOINT_URL": closed_endpoint, "AWS_ACCESS_KEY_ID": "x",
                   "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_MAX_ATTEMPTS": "1"}  # fmt: skip
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return uri


def _failed_to_log(uri: str, run_, what: str, name: str) -> str:
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    key = f"nobucket-xyz/art/{run_.info.run_id}/artifacts/{name}"
    return (
        f"MLflow tracking at '{uri}' failed to log {what}: Could not connect to the endpoint "
        f'URL: "{endpoint}/{key}": check the tracking server, or run without --mlflow'
    )


def test_a_failure_to_log_after_the_outputs_are_written_says_they_were(here, s3_artifacts):
    """Exit 1 (a cron job hears of it) and the run FAILED, in one line that says the files
    were written whole."""
    import rnncast

    said = error(run("train", "s.csv", *TRAIN, "--mlflow"))
    train = _runs(s3_artifacts, "s3")["train"]
    assert said == (
        "error: 'model.rnncast' was written, but logging the run to MLflow failed: "
        + _failed_to_log(s3_artifacts, train, "the model file", "model.rnncast")
    )
    assert train.info.status == "FAILED"
    assert rnncast.load(here / "model.rnncast").window.horizon == 6
    said = error(run("evaluate", "--forecasts", "f.csv", "--mlflow"))
    evaluate = _runs(s3_artifacts, "s3")["evaluate"]
    assert said == (
        "error: 'metrics.json' and 'f.csv' were written, but logging the run to MLflow failed: "
        + _failed_to_log(s3_artifacts, evaluate, "the backtest forecasts", "f.csv")
    )
    assert evaluate.info.status == "FAILED"
    assert json.loads((here / "metrics.json").read_text())["windows_scored"] == 2


def test_a_failure_to_log_after_the_metrics_went_to_stdout_says_so(here, s3_artifacts):
    assert run("train", "s.csv", *TRAIN).exit_code == 0
    result = run("evaluate", "-o", "-", "--mlflow")
    assert result.exit_code == 1 and json.loads(result.stdout)["windows_scored"] == 2
    evaluate = _runs(s3_artifacts, "s3")["evaluate"]
    assert result.stderr.splitlines()[-1] == (
        "error: the metrics were written to standard output, but logging the run to MLflow "
        "failed: " + _failed_to_log(s3_artifacts, evaluate, "the metrics file", "metrics.json")
    )


def test_a_database_whose_driver_is_missing_is_one_line_without_its_password(here, monkeypatch):
    for driver in ("psycopg", "psycopg2"):  # SQLAlchemy's, by its version: neither imports
        monkeypatch.setitem(sys.modules, driver, None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://u:pw@127.0.0.1:1/db")
    said = error(run("evaluate", "--mlflow"))
    assert re.fullmatch(
        r"error: MLflow tracking at 'postgresql://127\.0\.0\.1:1/db' needs the Python package "
        r"'(psycopg2?)', which is not installed: pip install '\1', or check MLFLOW_TRACKING_URI",
        said,
    ), said
    assert sorted(p.name for p in here.iterdir()) == ["s.csv"]


def test_evaluate_to_stdout_logs_the_metrics_it_printed(here, monkeypatch):
    uri = f"sqlite:///{here}/m.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert run("train", "s.csv", *TRAIN).exit_code == 0
    result = run("evaluate", "-o", "-", "--mlflow")
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["model"] == "model.rnncast"
    evaluate = _runs(uri)["evaluate"]
    got = mlflow.MlflowClient(uri).download_artifacts(evaluate.info.run_id, "metrics.json",
                                                      str(here / "down"))  # fmt: skip
    assert json.loads(Path(got).read_text()) == printed
