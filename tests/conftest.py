"""Shared fixtures: seeded synthetic series, small fast settings, sample data paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnncast.settings import ModelConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def help_imports(argv: list[str], modules: tuple[str, ...]) -> subprocess.CompletedProcess:
    """`rnncast *argv` (a --help) run in a fresh interpreter: its stdout is the help page, its
    stderr the names of `modules` it imported (space-separated; empty when none)."""
    probe = (
        "import sys\n"
        f"sys.argv = ['rnncast', *{argv!r}]\n"
        "from rnncast.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"sys.stderr.write(' '.join(m for m in {modules!r} if m in sys.modules))\n"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=ROOT)  # fmt: skip


def make_long(
    n_series: int = 3,
    length: int = 120,
    freq: str = "h",
    seed: int = 0,
    start: str = "2024-01-01",
    lengths: list[int] | None = None,
) -> pd.DataFrame:
    """Seeded long-format frame: daily-seasonal sine, trend and noise at different levels."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        n = lengths[i] if lengths else length
        t = np.arange(n)
        y = 10 * (i + 1) + 3 * np.sin(2 * np.pi * t / 24) + 0.02 * t + rng.normal(0, 0.3, n)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": pd.date_range(start, periods=n, freq=freq),
                    "y": y,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def make_sales(n_series: int = 3, length: int = 182, seed: int = 0) -> pd.DataFrame:
    """Seeded daily sales in long format, intermittent: none on Sundays and on about 70% of
    the other days, else a few (no value below 0, so `--clip auto` clips). A briefly trained
    model forecasts some days below 0 unless it clips."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=length, freq="D")
    frames = []
    for i in range(n_series):
        shut = (days.day_of_week == 6) | (rng.random(length) < 0.7)
        y = np.where(shut, 0.0, rng.poisson(6 + 4 * (days.day_of_week == 5)))
        frames.append(pd.DataFrame({"unique_id": f"S{i + 1:02d}", "ds": days, "y": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def long_frame() -> pd.DataFrame:
    return make_long()


@pytest.fixture
def long_csv(tmp_path: Path, long_frame: pd.DataFrame) -> Path:
    path = tmp_path / "series.csv"
    long_frame.to_csv(path, index=False)
    return path


@pytest.fixture
def small_model() -> ModelConfig:
    return ModelConfig(hidden_size=8, num_layers=1, dropout=0.0, segment=4)


@pytest.fixture
def fast_train() -> TrainConfig:
    return TrainConfig(max_epochs=3, epoch_size=256, batch_size=64, patience=2, device="cpu")


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch) -> None:
    """The default thread count leaves the cores other processes keep busy; a test machine's
    load (pytest itself) must not change what the tests see."""
    from rnncast.engine import threads

    monkeypatch.setattr(threads, "busy_cpus", lambda seconds=0.0: 0.0)


@pytest.fixture
def threads_used(monkeypatch) -> list:
    """The thread counts `rnncast.engine.threads.using` is entered with, in order (it still
    sets them)."""
    from rnncast.engine import threads

    seen: list = []
    real = threads.using

    def recording(n):
        seen.append(n)
        return real(n)

    monkeypatch.setattr(threads, "using", recording)
    return seen


def shapes(series, model: ModelConfig | None = None, **request):
    """The window and the resolved model `rnncast.plan` chooses for `series` under a
    training request of `request` (horizon=..., lookback=..., ensemble=...)."""
    from rnncast import plan
    from rnncast.settings import TrainRequest

    return plan.resolve(TrainRequest(**request), series, model or ModelConfig())


def fit(series, window, model, config, read=None, path=None, **hooks):
    """Train as `rnncast train` does (`jobs.train`), from settings given directly rather
    than planned from a request; (model file contents, each network's result)."""
    from rnncast import jobs
    from rnncast.plan import Plan
    from rnncast.settings import ReadOptions

    trained = jobs.train(Plan(series, read or ReadOptions(), window, model, config), path,
                         **hooks)  # fmt: skip
    return trained.artifact, trained.results


def predicted(artifact, series, horizon=None, **options):
    """`jobs.predict`'s forecast frame, on the CPU."""
    from rnncast import jobs

    return jobs.predict(artifact, series, horizon, "cpu", **options).frame


def flat_series(values: np.ndarray, offsets) -> object:
    """A SeriesSet of series i = values[offsets[i]:offsets[i + 1]], at integer steps."""
    from rnncast.data.build import from_frame

    offsets = np.asarray(offsets)
    lengths = np.diff(offsets)
    frame = pd.DataFrame({
        "unique_id": np.repeat([f"s{i}" for i in range(len(lengths))], lengths),
        "ds": np.concatenate([np.arange(n) for n in lengths]),
        "y": np.asarray(values, dtype=np.float32),
    })  # fmt: skip
    return from_frame(frame)


# ---- object stores: a real S3 server (moto's) and a web server, both on 127.0.0.1 ----------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's standalone S3 server, in a thread for the session; its URL."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (rnncast[dev])")
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


class Bucket:
    """A fresh bucket of the test's S3 server: `url(key)`, and boto3 to look behind rnncast."""

    def __init__(self, endpoint: str, name: str):
        import boto3

        self.endpoint, self.name = endpoint, name
        self.client = boto3.client("s3")
        self.client.create_bucket(Bucket=name)

    def url(self, key: str = "") -> str:
        return f"s3://{self.name}/{key}"

    def names(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch):
    """The environment every S3 client reads (botocore, s3fs): the test server, fake
    credentials, one attempt per request (a refused connection fails at once)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return s3_endpoint


@pytest.fixture
def bucket(s3_env, request) -> Bucket:
    """An empty bucket of its own for the test."""
    import re

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    return Bucket(s3_env, f"{name}-{free_port()}")


@pytest.fixture
def web(tmp_path):
    """A plain web server (Python's http.server, no range requests) serving `tmp_path/web`
    on 127.0.0.1; its base URL."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = tmp_path / "web"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def limited(bucket, monkeypatch):
    """`limited(*denied)`: from then on the test's S3 server checks credentials, and the
    environment's are those of a user who may do anything but the `denied` actions (IAM
    action names, or (action, resource) pairs); `bucket` still looks with full rights. The
    server stops checking afterwards."""
    import json
    import urllib.request

    def auth(count: str) -> None:  # moto: how many requests go unchecked from now on
        request = urllib.request.Request(f"{bucket.endpoint}/moto-api/reset-auth",
                                         data=count.encode(), method="POST",
                                         headers={"Content-Type": "text/plain"})  # fmt: skip
        urllib.request.urlopen(request).read()

    def user(*denied) -> dict:
        import boto3

        iam = boto3.client("iam")
        name = f"user-{free_port()}"
        iam.create_user(UserName=name)
        deny = [d if isinstance(d, tuple) else (d, "*") for d in denied]
        statements = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}] + [
            {"Effect": "Deny", "Action": action, "Resource": resource} for action, resource in deny
        ]
        iam.put_user_policy(UserName=name, PolicyName="limits", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))  # fmt: skip
        return iam.create_access_key(UserName=name)["AccessKey"]

    def limit(*denied) -> None:
        import boto3

        admin, key = user(), user(*denied)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        bucket.client = boto3.client("s3", aws_access_key_id=admin["AccessKeyId"],
                                     aws_secret_access_key=admin["SecretAccessKey"])  # fmt: skip
        auth("0")

    yield limit
    auth("inf")
