"""URLs as data paths: told apart from local paths, shown without credentials, resolved to a
filesystem (or one line when the store's package is missing), and data read from a real S3
server (moto's) and a plain web server as the same data read locally."""

from __future__ import annotations

import gzip
import io
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnncast.data import remote
from rnncast.data.readers import load, read_table
from rnncast.data.remote import is_url, resolve, same, scrub, shown, suffix_of
from rnncast.errors import ConfigError, DataError
from tests.conftest import free_port, make_long

EUROPEAN = "store;date;sales\nS01;2023-01-01;130,63\nS01;2023-01-02;131,5\nS01;2023-01-03;129\n"


@pytest.mark.parametrize(
    ("path", "url"),
    [("s3://b/k.csv", True), ("gs://b/k", True), ("https://h/x.csv", True),
     ("ftp://h/x", True), ("data.csv", False), ("/tmp/s3:/b", False), ("C:\\x.csv", False),
     ("c://x", False)],
)  # fmt: skip
def test_a_url_starts_with_a_scheme(path, url):
    assert is_url(path) is url


def test_a_path_object_is_never_a_url():
    from pathlib import Path

    assert not is_url(Path("s3://b/k.csv"))  # already folded to 's3:/b/k.csv'


@pytest.mark.parametrize(
    ("url", "seen"),
    [
        ("s3://bucket/data.csv", "s3://bucket/data.csv"),
        ("s3://bucket/data.csv?versionId=3", "s3://bucket/data.csv"),
        ("https://user:secret@host:8443/x.csv?sig=abc#part", "https://host:8443/x.csv"),
        ("https://user@host/x.csv", "https://host/x.csv"),
        ("s3://key:secret@bucket/x", "s3://bucket/x"),
        ("abfs://container@account.dfs.core.windows.net/x", "abfs://container@account.dfs.core.windows.net/x"),
        ("local/data.csv?not-a-query", "local/data.csv?not-a-query"),
    ],
)  # fmt: skip
def test_shown_takes_credentials_and_query_strings_out(url, seen):
    assert shown(url) == seen


def test_scrub_shows_every_url_in_a_text():
    text = "Could not connect to \"https://h/x.csv?X-Amz-Signature=s3cr3t\": at 's3://b/k?v=1'"
    assert scrub(text) == "Could not connect to \"https://h/x.csv\": at 's3://b/k'"


def test_scrub_leaves_a_url_with_nothing_to_hide_as_given():
    text = "logged MLflow run 1 at sqlite:////tmp/mlflow.db and s3://b/k"
    assert scrub(text) == text


def test_same_compares_urls_as_shown_and_aliases_alike():
    assert same("gs://b/x.csv", "gcs://b/x.csv?generation=1")
    assert same("s3://b/p/", "s3://b/p")
    assert not same("s3://b/x.csv", "s3://b/y.csv")


def test_suffix_of_a_url_ignores_its_query():
    assert suffix_of("https://h/data.parquet?sig=1") == ".parquet"
    assert suffix_of("out/f.CSV") == ".CSV"


def test_a_scheme_rnncast_does_not_take_is_one_line():
    with pytest.raises(ConfigError) as e:
        resolve("ftp://host/data.csv", "reading")
    assert str(e.value) == (
        "'ftp://host/data.csv' is a ftp:// URL, which rnncast does not read or write: give a "
        "local path, or an s3://, gs://, az://, abfs:// or https:// URL"
    )


INVALID = "is not a valid URL"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("s3://", "'s3://' names no bucket: give one, as in s3://bucket/key"),
        ("s3:///key.csv", "'s3:///key.csv' names no bucket: give one, as in s3://bucket/key"),
        ("gs://", "'gs://' names no bucket: give one, as in gs://bucket/key"),
        ("az://?sig=1", "'az://' names no container: give one, as in az://container/key"),
        ("https://", "'https://' names no host: give one, as in https://host/path"),
        ("http://[::1/x.csv", f"'http://[::1/x.csv' {INVALID} (Invalid IPv6 URL): check it"),
        ("http://u:pw@[::1/x?sig=1", f"'http://[::1/x' {INVALID} (Invalid IPv6 URL): check it"),
        ("https://h:port/x", f"'https://h:port/x' {INVALID} (Port could not be cast to integer "
         "value as 'port'): check it"),
    ],
)  # fmt: skip
def test_a_url_without_a_bucket_or_malformed_is_one_line(url, said):
    with pytest.raises(ConfigError) as e:
        resolve(url, "reading")
    assert str(e.value) == said


def test_a_malformed_url_is_shown_without_its_secrets():
    assert shown("http://u:pw@[::1/x.csv?sig=1#f") == "http://[::1/x.csv"
    assert scrub("at 'http://u:pw@[::1/x?sig=1' now") == "at 'http://[::1/x' now"


def test_a_missing_extra_is_one_line_naming_it(monkeypatch):
    import importlib

    registry = importlib.import_module("fsspec.registry")._registry  # classes imported so far
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if not installed
    monkeypatch.delitem(registry, "s3", raising=False)
    with pytest.raises(ConfigError) as e:
        resolve("s3://b/x.csv", "reading")
    assert str(e.value) == "reading 's3://b/x.csv' needs s3fs: pip install 'rnncast[s3]'"
    with pytest.raises(ConfigError) as e:
        load("s3://b/x.csv")
    assert str(e.value) == "reading 's3://b/x.csv' needs s3fs: pip install 'rnncast[s3]'"


def test_without_fsspec_both_are_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    with pytest.raises(ConfigError) as e:
        resolve("gs://b/x.csv?token=t", "writing")
    assert str(e.value) == (
        "writing 'gs://b/x.csv' needs fsspec and gcsfs: pip install 'rnncast[gcs]'"
    )


def test_the_child_and_the_neighbour_of_an_object(s3_env):
    r = resolve("s3://b/data/", "reading")
    child = r.child("b/data/year=2024/part-0.parquet")
    assert (str(child), child.path) == ("s3://b/data/year=2024/part-0.parquet",
                                        "b/data/year=2024/part-0.parquet")  # fmt: skip
    assert r.relative(child) == "year=2024/part-0.parquet"
    beside = resolve("s3://b/out/f.csv?v=1", "writing").beside(".f.csv.1.tmp")
    assert (str(beside), beside.path) == ("s3://b/out/.f.csv.1.tmp", "b/out/.f.csv.1.tmp")


# ---- reading from a real S3 server ---------------------------------------------------------


def _same_series(a, b) -> None:
    assert list(a.ids) == list(b.ids)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert a.axis == b.axis and a.schema == b.schema and a.fingerprint() == b.fingerprint()


def test_csv_parquet_and_compressed_csv_read_as_locally(bucket, tmp_path):
    frame = make_long(length=40)
    local = tmp_path / "d.csv"
    frame.to_csv(local, index=False)
    expected = load(local)
    bucket.put("d.csv", local.read_bytes())
    bucket.put("d.csv.gz", gzip.compress(local.read_bytes()))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    bucket.put("d.parquet", buffer.getvalue())
    for key in ("d.csv", "d.csv.gz", "d.parquet"):
        got = load(bucket.url(key))
        _same_series(got, expected)
        assert got.source == bucket.url(key)


def test_a_sniffed_csv_is_named_by_its_url(bucket):
    bucket.put("eu.csv", EUROPEAN.encode())
    from rnncast.settings import ReadOptions

    got = load(bucket.url("eu.csv"), ReadOptions(id_col="store", time_col="date",
                                                 target=("sales",)))  # fmt: skip
    assert got.detected[0].startswith(f"read '{bucket.url('eu.csv')}' with columns separated")


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


def test_a_prefix_of_parquet_objects_reads_as_a_local_folder(bucket, tmp_path):
    frame = make_long(n_series=3, length=30)
    parts = {"p/year=2024/a.parquet": frame[frame.unique_id == "s0"],
             "p/year=2024/b.parquet": frame[frame.unique_id == "s1"],
             "p/c.parquet": frame[frame.unique_id == "s2"]}  # fmt: skip
    for key, part in parts.items():
        bucket.put(key, _parquet_bytes(part))
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(_parquet_bytes(part))
    bucket.put("p/_SUCCESS", b"")
    for url in (bucket.url("p"), bucket.url("p/")):
        _same_series(load(url), load(tmp_path / "p"))
    # the general reader (rows out of order) reads the prefix too
    shuffled = _parquet_bytes(frame.sample(frac=1, random_state=0))
    bucket.put("q/x.parquet", shuffled)
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "x.parquet").write_bytes(shuffled)
    _same_series(load(bucket.url("q")), load(tmp_path / "q"))


def test_of_long_parquet_only_the_columns_read_are_fetched(bucket):
    frame = make_long(length=10).assign(notes="unused", other=1.5)
    bucket.put("d.parquet", _parquet_bytes(frame))
    df, kind = read_table(bucket.url("d.parquet"))
    assert (list(df.columns), kind) == (["unique_id", "ds", "y"], "parquet")
    wide = frame.pivot(index="ds", columns="unique_id", values="y").reset_index()
    bucket.put("w.parquet", _parquet_bytes(wide))
    df, _ = read_table(bucket.url("w.parquet"))  # not long: every column
    assert list(df.columns) == ["ds", "s0", "s1", "s2"]


def test_a_prefix_listed_again_sees_new_objects(bucket):
    """No listing is kept between reads (fsspec caches filesystems, s3fs listings)."""
    frame = make_long(n_series=2, length=30)
    bucket.put("p/a.parquet", _parquet_bytes(frame[frame.unique_id == "s0"]))
    assert len(load(bucket.url("p"))) == 1
    bucket.put("p/b.parquet", _parquet_bytes(frame[frame.unique_id == "s1"]))
    assert len(load(bucket.url("p"))) == 2


def _error(url: str) -> str:
    with pytest.raises(DataError) as e:
        load(url)
    return str(e.value)


def test_a_missing_object_or_bucket_is_one_line(bucket):
    assert _error(bucket.url("nope.csv")) == (
        f"data file '{bucket.url('nope.csv')}' not found: check the URL"
    )
    assert _error("s3://no-such-bucket/x.csv") == (
        "data file 's3://no-such-bucket/x.csv' not found: there is no bucket 'no-such-bucket': "
        "check the URL"
    )


def test_a_prefix_without_parquet_objects(bucket):
    bucket.put("p/x.csv", b"ds,y\n1,2\n")
    assert _error(bucket.url("p")) == (
        f"folder '{bucket.url('p')}' holds no .parquet files: point at a file or a folder of them"
    )


def test_denied_reading_is_one_line(bucket, limited):
    bucket.put("d.csv", b"ds,y\n1,2\n2,3\n3,4\n")
    bucket.put("d.parquet", _parquet_bytes(make_long(length=10)))
    bucket.put("p/d.parquet", _parquet_bytes(make_long(length=10)))
    limited("s3:GetObject")
    for key, named in (("d.csv", "d.csv"), ("d.parquet", "d.parquet"), ("p", "p/d.parquet")):
        assert _error(bucket.url(key)) == (
            f"cannot read data '{bucket.url(named)}': Access Denied: check the URL, the network "
            "and the store's credentials"
        )


def test_an_unreachable_store_is_one_line(s3_env, monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    assert _error("s3://b/d.csv") == (
        "cannot read data 's3://b/d.csv': Could not connect to the endpoint URL: "
        f'"http://127.0.0.1:{port}/b/d.csv": check the URL, the network and the store\'s '
        "credentials"
    )


# ---- reading from the web ------------------------------------------------------------------


def test_csv_and_parquet_from_a_web_server_without_range_requests(web, tmp_path):
    frame = make_long(length=40)
    frame.to_csv(tmp_path / "web" / "d.csv", index=False)
    frame.to_parquet(tmp_path / "web" / "d.parquet", index=False)
    expected = load(tmp_path / "web" / "d.csv")
    for name in ("d.csv", "d.parquet"):
        got = load(f"{web}/{name}?token=secret")
        _same_series(got, expected)
        assert got.source == f"{web}/{name}"  # no query string: no token in messages


def test_a_missing_web_file_is_one_line_without_its_query(web):
    assert _error(f"{web}/nope.csv?token=secret") == (
        f"data file '{web}/nope.csv' not found: check the URL"
    )


def test_store_errors_are_those_of_the_loaded_libraries():
    kinds = remote.store_errors()
    assert OSError in kinds and TimeoutError in kinds
    assert all(isinstance(k, type) and issubclass(k, BaseException) for k in kinds)


def test_an_unreachable_web_host_is_not_taken_for_a_missing_file():
    """fsspec's HTTP filesystem says FileNotFoundError for any failure; what aiohttp said
    behind it tells a refused connection (or an unknown host) from a missing file."""
    url = f"http://127.0.0.1:{free_port()}/x.csv?token=secret"  # nothing listens there
    said = _error(url)
    assert said.startswith(
        f"cannot read data '{url.split('?')[0]}': Cannot connect to host 127.0.0.1:"
    ), said
    assert said.endswith("]: check the URL and the network") and "secret" not in said


def test_a_web_server_refusing_a_file_says_so():
    """An answer other than 404 is not taken for a missing file either."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Forbidden(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_error(403)

        do_GET = do_HEAD

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forbidden)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/d.csv"
        assert _error(f"{url}?token=secret") == (
            f"cannot read data '{url}': the server answered 403 Forbidden: check the URL and "
            "that it may be read"
        )
    finally:
        server.shutdown()
        server.server_close()


def _recording_store(paths: list[str]):
    """A `Remote` prefix 'memory://t' holding empty objects at `paths` (under it), whose
    filesystem records every folder it is asked to list; and that record."""
    from fsspec.implementations.memory import MemoryFileSystem
    from fsspec.spec import AbstractFileSystem

    listed: list[str] = []

    class Recording(MemoryFileSystem):
        store: dict = {}  # noqa: RUF012 (its own, not MemoryFileSystem's shared one)
        pseudo_dirs: list = [""]  # noqa: RUF012
        find = AbstractFileSystem.find  # a folder listing at a time, as walk lists them

        def ls(self, path, detail=True, **kwargs):
            listed.append(path.strip("/"))
            return super().ls(path, detail=detail, **kwargs)

    fs = Recording(skip_instance_cache=True)
    for path in paths:
        fs.pipe_file(f"/t/{path}", b"")
    return remote.Remote("memory://t", fs, "/t", remote.STORES["s3"]), listed


def test_a_prefix_is_listed_only_as_deep_as_a_folder_is_searched():
    """Four levels of subfolders, as a local folder: deeper ones are never listed."""
    from rnncast.data import readers

    prefix, listed = _recording_store(["a/b/c/d/x.parquet", "a/b/c/d/e/f/deep.parquet"])
    assert [f.path for f in readers._folder_files(prefix)] == ["/t/a/b/c/d/x.parquet"]
    assert "t/a/b/c/d/e" not in listed and "t/a/b/c/d/e/f" not in listed


def test_a_prefix_with_too_many_entries_is_refused_before_it_is_all_listed(monkeypatch):
    from rnncast.data import readers

    monkeypatch.setattr(readers, "FOLDER_ENTRIES", 3)
    prefix, listed = _recording_store([f"p{i}/x.parquet" for i in range(6)])
    with pytest.raises(DataError) as e:
        readers._folder_files(prefix)
    assert str(e.value) == (
        "folder 'memory://t' holds more than 3 files and folders within 4 levels: point at a "
        "Parquet file, or at the folder of one dataset"
    )
    assert listed == ["t"]  # the first listing said enough
