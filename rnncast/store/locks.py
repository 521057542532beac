"""Lock files, so that two runs writing the same model or output cannot interleave, and a
run reading a model waits for a run writing it.

Each file `DIR/NAME` gets a lock file `DIR/.NAME.lock` locked with `fcntl.flock`: exclusively
by a run that will write NAME (for the whole run), shared by runs that read it (`predict`
and `evaluate` reading the model). A run that cannot get its lock fails at once with a
message naming the holder, or waits up to `wait` seconds. The kernel drops a lock when its
holder exits, however it exits (SIGKILL included), so a lock is never left stale.

The last holder deletes the lock file (a writer always; a reader when it can upgrade to an
exclusive lock, i.e. no one else holds it). A run that got a lock checks that the file it
locked is still the one at that path (not one deleted meanwhile), else it starts over, so
deleting cannot let two runs in at once. A writer writes its pid into the file for others'
messages; a reader empties it (any pid there is stale while a reader holds the lock).

A URL (an object in a store, `rnncast.data.remote`) has no lock file: stores have no
`flock`. Its writes are still whole (`rnncast.store.atomic`), but two runs writing the same
object are not kept apart (the last to finish wins), and `--wait`, which waits for a lock,
is refused for a run that writes one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from rnncast.data.remote import is_url, shown
from rnncast.errors import LockError, OutputError, os_cause
from rnncast.store.atomic import fix_for

POLL_S = 0.1


def lock_path(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(f".{p.name}.lock")


@contextlib.contextmanager
def locked(
    paths: Sequence[str | Path], wait: float = 0.0, reads: Sequence[str | Path] = ()
) -> Iterator[None]:
    """Hold exclusive locks on `paths` (to write them) and shared locks on `reads`, in a
    fixed order so that runs wanting the same files cannot deadlock; wait up to `wait`
    seconds in all. A file in both is locked exclusively."""
    if wait < 0:
        raise LockError(f"--wait must be 0 or more seconds, got {wait:g}")
    urls = [p for p in paths if is_url(p)]
    if urls and wait:
        raise LockError(
            f"--wait cannot be used when writing '{shown(urls[0])}': objects in a store have "
            "no lock to wait for; drop --wait (the object is still written whole)"
        )
    wanted = {_real(p): False for p in reads if not is_url(p)}
    wanted |= {_real(p): True for p in paths if not is_url(p)}
    with contextlib.ExitStack() as stack:
        deadline = time.monotonic() + wait
        for p in sorted(wanted):
            stack.enter_context(_lock_one(p, deadline, wait, exclusive=wanted[p]))
        yield


def _real(path: str | Path) -> Path:
    """The path with symbolic links resolved; a link loop is left as it is (for the write or
    read of it to report), not raised as `Path.resolve` does."""
    return Path(os.path.realpath(path))


@contextlib.contextmanager
def _lock_one(path: Path, deadline: float, wait: float, exclusive: bool) -> Iterator[None]:
    name = lock_path(path)
    try:
        fd = _acquire(path, name, deadline, wait, exclusive)
    except OSError as e:
        if exclusive:
            raise _cannot_lock(path, name, e) from None
        fd = None  # a reader, in a folder it cannot write: no writer can be there either
    if fd is None:
        yield
        return
    try:
        _mark(fd, exclusive)
        yield
    finally:
        try:
            if not exclusive:  # delete it only if no one else holds it
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            name.unlink(missing_ok=True)  # still holding it: see the module docstring
        except BlockingIOError:
            pass
        finally:
            os.close(fd)  # releases the lock


def _mark(fd: int, exclusive: bool) -> None:
    """Write this run's pid into a lock held to write (empty it for a reader), for the
    messages of runs that find it busy. Only those messages need it: a full disk that cannot
    take the few bytes does not stop the run (its own writes will say so if they fail)."""
    try:
        os.ftruncate(fd, 0)
        if exclusive:
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass


def _cannot_lock(path: Path, name: Path, error: OSError) -> OutputError:
    """The one line for a lock file that cannot be created beside `path`."""
    fix = fix_for(error)
    if error.errno == errno.EISDIR:
        fix = f"remove the folder '{name}' or choose another path"
    return OutputError(
        f"cannot write '{path}': its lock file '{name.name}' cannot be created: "
        f"{os_cause(error)}: {fix}"
    )


def _acquire(path: Path, name: Path, deadline: float, wait: float, exclusive: bool) -> int:
    """An open descriptor of the lock file at `name`, locked."""
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    while True:
        fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
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
    if holder.isdigit():
        who = f"being written by another rnncast run (pid {holder})"
    else:
        who = "being read by another rnncast run"
    fix = "pass a longer --wait" if wait else "pass --wait SECONDS to wait for it"
    waited = f" (waited {wait:g} s)" if wait else ""
    return LockError(f"'{path}' is {who}{waited}: let it finish, or {fix}")
