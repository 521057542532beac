from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from rnncast.store.locks import LockError, lock_path, locked

HOLDER = textwrap.dedent(
    """
    import sys, time
    from rnncast.store.locks import locked
    with locked([sys.argv[1]]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def hold(path, seconds: float) -> subprocess.Popen:
    """Another process holding the lock of `path` for `seconds`."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline() == "locked\n"
    return child


def test_second_holder_fails_at_once_naming_the_first(tmp_path):
    target = tmp_path / "model.rnncast"
    child = hold(target, 30)
    try:
        began = time.monotonic()
        with pytest.raises(LockError) as e, locked([target]):
            pass
        assert time.monotonic() - began < 1
        assert str(e.value) == (
            f"'{target}' is being written by another rnncast run (pid {child.pid}): let it "
            "finish, or pass --wait SECONDS to wait for it"
        )
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_wait_gets_the_lock_once_the_holder_is_done(tmp_path):
    target = tmp_path / "forecast.csv"
    child = hold(target, 0.5)
    try:
        with locked([target], wait=10):
            assert lock_path(target).read_text() == f"{os.getpid()}\n"
    finally:
        child.wait()
        child.stdout.close()
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the lock


def test_many_waiters_never_hold_the_lock_together(tmp_path):
    """Holders delete the lock file on release: waiters that locked the deleted file must
    start over rather than run beside the next holder."""
    target = tmp_path / "m"
    inside, overlaps = [0], []

    def worker():
        for _ in range(10):
            with locked([target], wait=30):
                inside[0] += 1
                overlaps.append(inside[0])
                time.sleep(0.02)
                inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(overlaps) == 40 and max(overlaps) == 1


def test_wait_gives_up_after_the_time_given(tmp_path):
    target = tmp_path / "forecast.csv"
    child = hold(target, 30)
    try:
        began = time.monotonic()
        with pytest.raises(LockError) as e, locked([target], wait=0.3):
            pass
        assert 0.3 <= time.monotonic() - began < 2
        assert str(e.value).endswith(
            f"(pid {child.pid}) (waited 0.3 s): let it finish, or pass a longer --wait"
        )
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    target = tmp_path / "m.rnncast"
    child = hold(target, 30)
    child.kill()
    child.wait()
    child.stdout.close()
    with locked([target]):
        pass


def test_locks_are_released_and_reentrant_across_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with locked([b, a, a]):
        pass
    with locked([a]):
        pass
    with pytest.raises(LockError) as e, locked([a], wait=-1):
        pass
    assert str(e.value) == "--wait must be 0 or more seconds, got -1"


def test_same_process_threads_exclude_each_other(tmp_path):
    """flock locks belong to open files, so even two holders in one process exclude."""
    target = tmp_path / "m"
    inside = threading.Event()
    release = threading.Event()

    def first():
        with locked([target]):
            inside.set()
            release.wait(10)

    t = threading.Thread(target=first)
    t.start()
    inside.wait(10)
    try:
        with pytest.raises(LockError), locked([target]):
            pass
    finally:
        release.set()
        t.join()


def test_readers_share_and_wait_for_a_writer(tmp_path):
    target = tmp_path / "model.rnncast"
    with locked([], reads=[target]), locked([], reads=[target]):  # readers share
        with pytest.raises(LockError) as e, locked([target]):
            pass
        assert str(e.value) == (
            f"'{target}' is being read by another rnncast run: let it finish, or pass --wait "
            "SECONDS to wait for it"
        )
    assert list(tmp_path.iterdir()) == []  # the last reader deleted the lock file
    child = hold(target, 0.5)  # a writer
    try:
        began = time.monotonic()
        with locked([], wait=10, reads=[target]):
            assert time.monotonic() - began > 0.2  # it waited for the writer
    finally:
        child.wait()
        child.stdout.close()


def test_a_reader_in_a_read_only_folder_needs_no_lock(tmp_path):
    from tests.store.test_atomic import read_only_folder

    with locked([], reads=[read_only_folder(tmp_path) / "model.rnncast"]):
        pass


def test_a_folder_where_the_lock_file_goes_is_one_line(tmp_path):
    from rnncast.errors import OutputError

    target = tmp_path / "f.csv"
    lock_path(target).mkdir()
    with pytest.raises(OutputError) as e, locked([target]):
        pass
    assert str(e.value) == (
        f"cannot write '{target}': its lock file '.f.csv.lock' cannot be created: Is a "
        f"directory (Errno 21): remove the folder '{lock_path(target)}' or choose another path"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [".f.csv.lock"]


def test_a_full_disk_that_cannot_take_the_pid_does_not_stop_the_run(tmp_path, monkeypatch):
    import errno

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    target = tmp_path / "f.csv"
    with locked([target]):
        assert lock_path(target).exists()
    assert list(tmp_path.iterdir()) == []


def test_a_symbolic_link_loop_is_locked_as_it_is_named(tmp_path):
    loop = tmp_path / "loop.rnncast"
    os.symlink(tmp_path / "other", loop)
    os.symlink(loop, tmp_path / "other")
    with locked([tmp_path / "out.csv"], reads=[loop]):  # the read of it will say what is wrong
        assert lock_path(loop).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.rnncast", "other"]


def test_a_url_has_no_lock_and_refuses_wait(tmp_path):
    url = "s3://bucket/model.rnncast"
    with locked([url, tmp_path / "f.csv"], reads=["https://host/model.rnncast"]):
        assert lock_path(tmp_path / "f.csv").exists()  # the local output is locked as ever
    with pytest.raises(LockError) as e, locked([tmp_path / "f.csv", url], wait=5):
        pass
    assert str(e.value) == (
        "--wait cannot be used when writing 's3://bucket/model.rnncast': objects in a store "
        "have no lock to wait for; drop --wait (the object is still written whole)"
    )
    with locked([tmp_path / "f.csv"], wait=5, reads=[url]):  # reading one: nothing to wait for
        pass
