"""The commands with URLs for DATA, --model and --out, end to end against a real S3 server
(moto's, started by the tests) and a plain web server: the same models and forecasts as from
local files, outputs written whole, and every failure one line (exit 1) that shows no
credentials."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from tests.cli.conftest import FAST, error, run
from tests.conftest import free_port, make_long

H = ["--horizon", "6"]


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.fixture
def data(here, bucket):
    """The same long data in a local file and in the bucket, as CSV and Parquet."""
    frame = make_long(n_series=2, length=80)
    frame.to_csv(here / "d.csv", index=False)
    bucket.put("in/d.csv", (here / "d.csv").read_bytes())
    bucket.put("in/d.parquet", _parquet(frame))
    return frame


def test_train_predict_evaluate_from_and_to_a_bucket_as_from_local_files(data, bucket, here):
    assert run("train", "d.csv", *FAST, *H, "-o", "m.rnncast").exit_code == 0
    assert run("predict", "-m", "m.rnncast", "-o", "f.csv").exit_code == 0
    model, forecast = bucket.url("out/m.rnncast"), bucket.url("out/f.csv")
    for source in ("in/d.parquet", "in/d.csv"):
        result = run("train", bucket.url(source), *FAST, *H, "-o", model)
        assert result.exit_code == 0, result.stderr
        assert f"saved {model}" in result.stderr
        result = run("predict", "-m", model, "-o", forecast)  # DATA: the model's, re-read
        assert result.exit_code == 0, result.stderr
        assert bucket.get("out/f.csv") == (here / "f.csv").read_bytes()
    result = run("evaluate", "-m", model, "-o", bucket.url("out/metrics.json"))
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(bucket.get("out/metrics.json"))
    assert metrics["model"] == model and metrics["data_fingerprint_matches_training"]
    result = run("info", model, "--json")
    assert json.loads(result.stdout)["data"]["path"] == bucket.url("in/d.csv")
    result = run("predict", bucket.url("in/d.parquet"), "-m", model, "-o", "-")
    assert result.stdout == (here / "f.csv").read_text()
    assert bucket.names() == [
        "in/d.csv",
        "in/d.parquet",
        "out/f.csv",
        "out/m.rnncast",
        "out/metrics.json",
    ]  # fmt: skip  (no temporary or lock keys)


def test_a_prefix_of_parquet_objects_trains_and_forecasts(data, bucket):
    for name, part in data.groupby("unique_id"):
        bucket.put(f"parts/year=2024/{name}.parquet", _parquet(part))
    model = bucket.url("m.rnncast")
    assert run("train", bucket.url("parts"), *FAST, *H, "-o", model).exit_code == 0
    result = run("predict", bucket.url("parts/"), "-m", model, "-o", bucket.url("f.parquet"))
    assert result.exit_code == 0, result.stderr
    forecast = pd.read_parquet(io.BytesIO(bucket.get("f.parquet")))
    assert sorted(forecast.unique_id.unique()) == ["s0", "s1"] and len(forecast) == 12


def test_a_failed_run_leaves_the_object_it_would_have_replaced(data, bucket):
    bucket.put("m.rnncast", b"the previous model")
    bucket.put("bad.csv", b"unique_id,ds,y\na,2024-01-01,1\n")
    result = run("train", bucket.url("bad.csv"), *FAST, *H, "-o", bucket.url("m.rnncast"))
    assert error(result).startswith("error: ")
    assert bucket.get("m.rnncast") == b"the previous model"
    assert bucket.names() == ["bad.csv", "in/d.csv", "in/d.parquet", "m.rnncast"]


def test_outputs_that_cannot_be_written_fail_before_any_work(data, bucket, limited):
    assert error(run("train", bucket.url("in/d.csv"), *FAST, "-o",
                     "s3://no-such-bucket/m.rnncast")) == (
        "error: cannot write --out 's3://no-such-bucket/m.rnncast': there is no bucket "
        "'no-such-bucket': create the bucket or choose another path"
    )  # fmt: skip
    assert error(run("predict", "-m", "m.rnncast", "-o", "https://host/f.csv")) == (
        "error: --out 'https://host/f.csv': https:// URLs are read only: write to a local path "
        "or to an s3://, gs:// or az:// URL"
    )
    assert error(run("train", "d.csv", *FAST, "-o", bucket.url("m.rnncast"), "--wait", "5")) == (
        f"error: --wait cannot be used when writing '{bucket.url('m.rnncast')}': objects in a "
        "store have no lock to wait for; drop --wait (the object is still written whole)"
    )
    limited("s3:PutObject")
    assert error(run("train", bucket.url("in/d.csv"), *FAST, "-o", bucket.url("m.rnncast"))) == (
        f"error: cannot write --out '{bucket.url('m.rnncast')}': Access Denied: choose a path "
        "you may write to, or give credentials that may write there"
    )


def test_unreachable_missing_and_unsupported_stores_are_one_line(here, s3_env, monkeypatch):
    import importlib
    import sys

    port = free_port()  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    assert error(run("train", "s3://b/d.csv", *FAST)) == (
        "error: cannot read data 's3://b/d.csv': Could not connect to the endpoint URL: "
        f'"http://127.0.0.1:{port}/b/d.csv": check the URL, the network and the store\'s '
        "credentials"
    )
    assert error(run("predict", "-m", "s3://b/m.rnncast")) == (
        "error: cannot read model file 's3://b/m.rnncast': Could not connect to the endpoint "
        f'URL: "http://127.0.0.1:{port}/b/m.rnncast": check the URL, the network and the '
        "store's credentials"
    )
    assert error(run("train", "ftp://host/d.csv", *FAST)) == (
        "error: 'ftp://host/d.csv' is a ftp:// URL, which rnncast does not read or write: give "
        "a local path, or an s3://, gs://, az://, abfs:// or https:// URL"
    )
    registry = importlib.import_module("fsspec.registry")._registry
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if rnncast[s3] were not installed
    monkeypatch.delitem(registry, "s3", raising=False)
    assert error(run("train", "s3://b/d.csv", *FAST)) == (
        "error: reading 's3://b/d.csv' needs s3fs: pip install 'rnncast[s3]'"
    )
    assert error(run("train", "d.csv", *FAST, "-o", "s3://b/m.rnncast")) == (
        "error: writing 's3://b/m.rnncast' needs s3fs: pip install 'rnncast[s3]'"
    )


def test_a_url_without_a_bucket_or_malformed_is_one_line(here):
    assert error(run("train", "s3://", *FAST)) == (
        "error: 's3://' names no bucket: give one, as in s3://bucket/key"
    )
    assert error(run("train", "http://[::1/x.csv", *FAST)) == (
        "error: 'http://[::1/x.csv' is not a valid URL (Invalid IPv6 URL): check it"
    )
    assert error(run("train", "d.csv", *FAST, "-o", "s3:///m.rnncast")) == (
        "error: 's3:///m.rnncast' names no bucket: give one, as in s3://bucket/key"
    )
    assert list(here.iterdir()) == []


def test_an_unreachable_web_host_is_not_called_a_missing_file(here):
    port = free_port()  # nothing listens there
    assert error(run("train", f"http://127.0.0.1:{port}/x.csv", *FAST)) == (
        f"error: cannot read data 'http://127.0.0.1:{port}/x.csv': Cannot connect to host "
        f"127.0.0.1:{port} ssl:default [Connect call failed ('127.0.0.1', {port})]: check the "
        "URL and the network"
    )


def test_a_missing_model_object(here, bucket):
    assert error(run("predict", "-m", bucket.url("none.rnncast"))) == (
        f"error: model file '{bucket.url('none.rnncast')}' not found: check the URL"
    )


def test_data_from_the_web_is_read_and_its_query_string_never_shown(here, web, tmp_path):
    make_long(n_series=2, length=80).to_csv(tmp_path / "web" / "d.csv", index=False)
    url = f"{web}/d.csv?token=s3cr3t"
    result = run("train", url, *FAST, *H, "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    assert "s3cr3t" not in result.stderr and f"{web}/d.csv" in result.stderr
    described = run("info", "model.rnncast", "--json").stdout
    assert json.loads(described)["data"]["path"] == f"{web}/d.csv"
    assert "s3cr3t" not in (here / "model.rnncast").read_bytes().decode("latin-1")
    result = run("predict", f"{web}/nope.csv?token=s3cr3t")
    assert error(result) == f"error: data file '{web}/nope.csv' not found: check the URL"


def test_help_imports_no_store_library():
    """`rnncast --help` stays fast: fsspec and the stores' packages load when a URL is used."""
    from tests.conftest import help_imports

    done = help_imports(["predict", "--help"], ("fsspec", "s3fs", "botocore", "pyarrow"))
    assert done.stderr.strip() == ""
