from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from rnncast.errors import ConfigError, OutputError
from rnncast.store import atomic as outputs
from rnncast.store.atomic import (
    atomic_write,
    check_writable,
    json_text,
    write_frame,
    write_json,
)


def test_check_writable_messages(tmp_path):
    assert check_writable(tmp_path / "m.rnncast", "--out") == tmp_path / "m.rnncast"
    cases = [
        (
            tmp_path / "nope" / "f.csv",
            None,
            f"--out '{tmp_path}/nope/f.csv': folder '{tmp_path}/nope' does not exist; create it or "
            "choose another path",
        ),
        (tmp_path, None, f"--out '{tmp_path}' is a folder: give a file name"),
        (
            tmp_path / "f.xlsx",
            (".csv", ".parquet"),
            f"--out '{tmp_path}/f.xlsx' must end in .csv or .parquet: the extension picks the "
            "format",
        ),
    ]
    for path, suffixes, message in cases:
        with pytest.raises(ConfigError) as e:
            check_writable(path, "--out", suffixes)
        assert str(e.value) == message


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in: a chmod 500 folder, or for root (who
    writes anywhere the permission bits say no) the kernel's /sys, which takes no new files."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    if not Path("/sys").is_dir():
        pytest.skip("running as root and /sys is not there")
    return Path("/sys")


def test_read_only_folder(tmp_path):
    folder = read_only_folder(tmp_path)
    with pytest.raises(ConfigError) as e:
        check_writable(folder / "f.csv", "--out")
    assert (
        str(e.value)
        == f"--out '{folder}/f.csv': folder '{folder}' is not writable; choose another path"
    )


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def explode(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, explode)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_frames_and_json_round_trip(tmp_path):
    frame = pd.DataFrame(
        {
            "unique_id": ["a", "b"],
            "ds": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "y_hat": [1.5, 2.5],
        }
    )
    write_frame(frame, tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "f.parquet"), frame, check_dtype=False)
    write_frame(frame, tmp_path / "f.csv")
    assert (tmp_path / "f.csv").read_text().splitlines()[1] == "a,2024-01-01,1.5"
    write_json({"a": 1.0, "b": None}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1.0, "b": None}
    assert (tmp_path / "m.json").read_text() == json_text({"a": 1.0, "b": None})  # as stdout
    with pytest.raises(ValueError):
        write_json({"a": float("nan")}, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_new_files_get_the_usual_permissions(tmp_path, temp_kind):
    atomic_write(tmp_path / "f.txt", lambda f: f.write(b"x"))
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.fixture(params=["unnamed", "named"])
def temp_kind(request, monkeypatch):
    """Both ways of writing: Linux's unnamed O_TMPFILE, and the named fallback."""
    if request.param == "named":
        monkeypatch.setattr(outputs, "_open_unnamed", lambda folder: (None, None))
    elif outputs._open_unnamed(Path("."))[0] is None:
        pytest.skip("no O_TMPFILE here")
    return request.param


def test_write_replaces_the_target(tmp_path, temp_kind):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    atomic_write(target, lambda f: f.write(b"new\n"))
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from rnncast.store import atomic as outputs
    if sys.argv[2] == "named":
        outputs._open_unnamed = lambda folder: (None, None)

    def write(f):
        f.write(b"partial " * 100_000)
        f.flush()
        print("writing", flush=True)
        time.sleep(60)

    outputs.atomic_write(sys.argv[1], write)
    """
)


def test_sigkill_mid_write_leaves_the_old_file(tmp_path, temp_kind):
    target = tmp_path / "forecast.csv"
    target.write_text("yesterday\n")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target), temp_kind],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "writing\n"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        child.kill()
        child.stdout.close()
    assert target.read_text() == "yesterday\n"
    left = sorted(p.name for p in tmp_path.iterdir())
    if temp_kind == "unnamed":
        assert left == ["forecast.csv"]  # the partial file never had a name
    else:
        assert len(left) == 2 and left[0].startswith(".forecast.csv.")
        assert [p.name for p in outputs.remove_stale_temporaries(target)] == [left[0]]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["forecast.csv"]


def test_disk_full_is_a_one_line_error_and_keeps_the_old_file(tmp_path):
    import errno

    from rnncast.errors import OutputError

    target = tmp_path / "model.rnncast"
    target.write_text("old")

    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError) as e:
        atomic_write(target, full)
    assert str(e.value) == (
        f"cannot write '{target}': No space left on device (Errno 28): free some space or choose "
        "another path"
    )
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.rnncast"
    ]


def test_stale_temporaries_of_other_outputs_are_left_alone(tmp_path):
    names = [".model.rnncast.abcd1234.tmp", ".model.rnncast.123.deadbeef.tmp",
             ".model.rnncast.bak.1234.deadbeef.tmp", ".model.rnncast.bak.abcd1234.tmp",
             ".f[1].csv.x1y2z3w4.tmp"]  # fmt: skip
    for name in names:
        (tmp_path / name).write_text("")
    removed = outputs.remove_stale_temporaries(tmp_path / "model.rnncast")
    assert sorted(p.name for p in removed) == sorted(names[:2])
    assert [p.name for p in outputs.remove_stale_temporaries(tmp_path / "f[1].csv")] == [names[4]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:4])


def test_output_paths_the_system_refuses_are_one_line_before_any_work(tmp_path):
    from rnncast.errors import OutputError

    loop = tmp_path / "loop.csv"
    os.symlink(tmp_path / "other.csv", loop)
    os.symlink(loop, tmp_path / "other.csv")
    long = tmp_path / ("x" * 300 + ".csv")
    almost = tmp_path / ("x" * 240 + ".csv")  # fits, but its temporary and lock names do not
    cases = [
        (loop, "Too many levels of symbolic links (Errno 40): fix the symbolic link or choose "
               "another path"),
        (long, "File name too long (Errno 36): choose a shorter name"),
        (almost, "File name too long (Errno 36): choose a shorter name"),
    ]  # fmt: skip
    for path, why in cases:
        with pytest.raises(OutputError) as e:
            check_writable(path, "--out", inputs=(("the input data file", loop),))
        assert str(e.value) == f"cannot write --out '{path}': {why}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.csv", "other.csv"]


def test_every_write_error_of_the_system_leaves_the_old_file_and_nothing_else(
    tmp_path, temp_kind, monkeypatch
):
    import errno

    from rnncast.errors import OutputError

    target = tmp_path / "f.csv"
    target.write_text("old")
    for code, fix in ((errno.EDQUOT, "free some space or choose another path"),
                      (errno.EIO, "check the disk, or choose another path")):  # fmt: skip
        with pytest.raises(OutputError) as e:
            atomic_write(target, lambda f, code=code: _raise(OSError(code, os.strerror(code))))
        assert str(e.value) == f"cannot write '{target}': {os.strerror(code)} (Errno {code}): {fix}"
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: _raise(OSError(errno.ENOSPC, "No space")))
    with pytest.raises(OutputError):
        atomic_write(target, lambda f: f.write(b"new"))
    monkeypatch.setattr(os, "replace", replace)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.csv"]


def _raise(error: BaseException) -> None:
    raise error


# ---- outputs in an object store (a real S3 server: moto's) ----------------------------------


def test_an_output_in_a_bucket_is_written_whole_and_replaced(bucket):
    frame = pd.DataFrame({"unique_id": ["a"], "ds": [1], "y_hat": [1.5]})
    write_frame(frame, bucket.url("out/f.parquet"))
    write_json({"a": 1}, bucket.url("out/m.json"))
    assert pd.read_parquet(io.BytesIO(bucket.get("out/f.parquet"))).equals(frame)
    atomic_write(bucket.url("out/m.json"), lambda f: f.write(b"new"))
    assert bucket.get("out/m.json") == b"new"
    assert bucket.names() == ["out/f.parquet", "out/m.json"]  # no temporary key left


def test_a_big_output_is_staged_on_disk_and_uploaded_in_parts(bucket, monkeypatch):
    monkeypatch.setattr(outputs, "SPOOL_BYTES", 1024)
    data = os.urandom(6 << 20)  # more than s3fs's 5 MiB part: a multipart upload
    atomic_write(bucket.url("big.bin"), lambda f: f.write(data))
    assert bucket.get("big.bin") == data and bucket.names() == ["big.bin"]


def test_a_failing_or_interrupted_write_leaves_the_old_object_and_no_temporary(bucket, monkeypatch):
    bucket.put("m.rnncast", b"old")
    url = bucket.url("m.rnncast")

    def fails(f):
        f.write(b"half")
        raise RuntimeError("the writer failed")

    with pytest.raises(RuntimeError):
        atomic_write(url, fails)

    def interrupted(source, target):  # the upload stops half-way (SIGINT)
        target.write(source.read(2))
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.shutil, "copyfileobj", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(url, lambda f: f.write(b"new contents"))
    assert bucket.get("m.rnncast") == b"old" and bucket.names() == ["m.rnncast"]


def test_a_copy_the_store_refuses_leaves_the_old_object_and_no_temporary(bucket, monkeypatch):
    import s3fs

    bucket.put("m.rnncast", b"old")

    def refused(self, path1, path2, **kwargs):  # the temporary key is up; the copy fails
        assert path1.startswith(f"{bucket.name}/.m.rnncast.")  # uploaded, beside the target
        assert path1.removeprefix(f"{bucket.name}/") in bucket.names()
        raise PermissionError("Access Denied")

    monkeypatch.setattr(s3fs.S3FileSystem, "copy", refused)
    with pytest.raises(OutputError) as e:
        atomic_write(bucket.url("m.rnncast"), lambda f: f.write(b"new"))
    assert str(e.value) == (
        f"cannot write '{bucket.url('m.rnncast')}': Access Denied: choose a path you may write "
        "to, or give credentials that may write there"
    )
    assert bucket.get("m.rnncast") == b"old" and bucket.names() == ["m.rnncast"]


def test_a_denied_write_is_one_line_and_leaves_the_old_object(bucket, limited):
    bucket.put("m.rnncast", b"old")
    limited("s3:PutObject")
    with pytest.raises(OutputError) as e:
        atomic_write(bucket.url("m.rnncast"), lambda f: f.write(b"new"))
    assert str(e.value) == (
        f"cannot write '{bucket.url('m.rnncast')}': Access Denied: choose a path you may write "
        "to, or give credentials that may write there"
    )
    with pytest.raises(OutputError) as e:
        check_writable(bucket.url("m.rnncast"), "--out")
    assert str(e.value) == (
        f"cannot write --out '{bucket.url('m.rnncast')}': Access Denied: choose a path you may "
        "write to, or give credentials that may write there"
    )
    assert bucket.get("m.rnncast") == b"old"


def test_a_store_that_writes_but_does_not_delete_is_refused_up_front(bucket, limited):
    limited("s3:DeleteObject")
    with pytest.raises(OutputError) as e:
        check_writable(bucket.url("m.rnncast"), "--out")
    message = str(e.value)
    assert message.startswith(
        f"cannot write --out '{bucket.url('m.rnncast')}': writing there works but deleting does "
        "not (Access Denied), and a write needs both (a temporary key, then a copy): delete "
        f"'{bucket.url('.m.rnncast.')}"
    )
    assert message.endswith(".tmp' and ask for permission to delete there")


def test_checking_an_output_url(bucket, s3_env):
    assert check_writable(bucket.url("f.csv"), "--out", (".csv",)) == bucket.url("f.csv")
    assert bucket.names() == []  # the probe is gone
    bucket.put("dir/x", b"")
    cases = [
        (bucket.url("f.xlsx"), (".csv",), ConfigError,
         f"--out '{bucket.url('f.xlsx')}' must end in .csv: the extension picks the format"),
        (bucket.url("dir"), None, ConfigError,
         f"--out '{bucket.url('dir')}' is a folder (a prefix of objects): give a file name"),
        (bucket.url("new/"), None, ConfigError,
         f"--out '{bucket.url('new/')}' is a folder (a prefix of objects): give a file name"),
        ("s3://no-such-bucket/f.csv", None, ConfigError,
         "cannot write --out 's3://no-such-bucket/f.csv': there is no bucket 'no-such-bucket': "
         "create the bucket or choose another path"),
        ("https://user:pw@example.com/f.csv?sig=1", None, ConfigError,
         "--out 'https://example.com/f.csv': https:// URLs are read only: write to a local path "
         "or to an s3://, gs:// or az:// URL"),
        (bucket.url("in.csv"), None, ConfigError,
         f"--out '{bucket.url('in.csv')}' is the input data file '{bucket.url('in.csv')}': "
         "writing it would destroy it; choose another path"),
    ]  # fmt: skip
    for url, suffixes, kind, message in cases:
        with pytest.raises(kind) as e:
            check_writable(url, "--out", suffixes, inputs=(("the input data file",
                                                            bucket.url("in.csv")),))  # fmt: skip
        assert str(e.value) == message


def test_an_unreachable_store_is_one_line_before_any_work(s3_env, monkeypatch):
    from tests.conftest import free_port

    port = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(OutputError) as e:
        check_writable("s3://b/m.rnncast", "--out")
    assert str(e.value) == (
        "cannot write --out 's3://b/m.rnncast': Could not connect to the endpoint URL: "
        f'"http://127.0.0.1:{port}/b": check the URL, the network and the store\'s credentials'
    )  # (the query string is not shown: a signed URL's holds its signature)


def test_writing_to_the_web_is_refused():
    with pytest.raises(ConfigError) as e:
        atomic_write("https://example.com/m.rnncast?sig=1", lambda f: f.write(b"x"))
    assert str(e.value) == (
        "'https://example.com/m.rnncast': https:// URLs are read only: write to a local path "
        "or to an s3://, gs:// or az:// URL"
    )


def test_no_stale_temporaries_are_cleared_in_a_store(bucket):
    bucket.put(".m.rnncast.123.abcdef01.tmp", b"another run's")
    assert outputs.remove_stale_temporaries(bucket.url("m.rnncast")) == []
    assert bucket.names() == [".m.rnncast.123.abcdef01.tmp"]
