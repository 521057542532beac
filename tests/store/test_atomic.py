from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from rnncast.errors import ConfigError
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
