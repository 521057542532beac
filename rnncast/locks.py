"""Lock files, so that two runs writing the same model or output cannot interleave.

Each output `DIR/NAME` gets a lock file `DIR/.NAME.lock` held with `fcntl.flock` for as long
as the run may write it. A second run that wants the same output fails at once with a
message naming the holder, or waits up to `wait` seconds for it. The kernel drops the lock
when its holder exits, however it exits (SIGKILL included), so a lock is never left stale.
The holder deletes the lock file when it is done; a run that got the lock checks that the
file it locked is still the one at that path (not one deleted meanwhile), else it starts
over, so deleting cannot let two runs in at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from rnncast.errors import RnncastError

POLL_S = 0.1


class LockError(RnncastError):
    """Another run holds the lock of an output this run would write."""


def lock_path(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(f".{p.name}.lock")


@contextlib.contextmanager
def locked(paths: Sequence[str | Path], wait: float = 0.0) -> Iterator[None]:
    """Hold the locks of every path in `paths` (in a fixed order, so two runs that want
    the same outputs cannot deadlock); wait up to `wait` seconds for each."""
    if wait < 0:
        raise LockError(f"--wait must be 0 or more seconds, got {wait:g}")
    with contextlib.ExitStack() as stack:
        deadline = time.monotonic() + wait
        for p in sorted({Path(p).resolve() for p in paths}):
            stack.enter_context(_lock_one(p, deadline, wait))
        yield


@contextlib.contextmanager
def _lock_one(path: Path, deadline: float, wait: float) -> Iterator[None]:
    name = lock_path(path)
    fd = _acquire(path, name, deadline, wait)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        name.unlink(missing_ok=True)  # still holding the lock: see the module docstring
        os.close(fd)  # releases the lock


def _acquire(path: Path, name: Path, deadline: float, wait: float) -> int:
    """An open descriptor of the lock file at `name`, locked."""
    while True:
        fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise _busy(path, fd, wait) from None
                    time.sleep(POLL_S)
            if _same_file(fd, name):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder deleted it while we waited: lock the new one


def _same_file(fd: int, name: Path) -> bool:
    try:
        on_disk = os.stat(name)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _busy(path: Path, fd: int, wait: float) -> LockError:
    try:
        holder = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        holder = ""
    who = f"another rnncast run (pid {holder})" if holder.isdigit() else "another rnncast run"
    waited = f" (waited {wait:g} s)" if wait else ""
    return LockError(
        f"'{path}' is being written by {who}{waited}: let it finish, or pass --wait SECONDS "
        "to wait for it"
    )
