"""Writing output files so that a failure never leaves a half-written or changed file.

Every file is written to a temporary file beside the target, flushed to disk, then moved
over the target with `os.replace` (atomic on POSIX), and the folder is synced so the rename
survives a power cut. On Linux the temporary file is unnamed (`O_TMPFILE`) until the data is
on disk: a process killed mid-write (SIGKILL, OOM killer) leaves nothing behind. Elsewhere it
is a hidden `.NAME.*.tmp` file, removed on any error that Python sees; `remove_stale_temporaries`
clears those a killed run left (call it while holding the target's lock, `rnncast.store.locks`).

Output paths are checked before any work starts, so a typo in `--out` fails in a second, not
after an hour of training. Any error the operating system gives at an output path (disk full,
a name too long, a symbolic link loop, ...) is an `OutputError` of one line naming the path,
its cause and a fix (`cannot_write`).

An output may be a URL in an object store (s3://, gs://, az://; `rnncast.data.remote`), which
has no rename: the file is written in full first (in memory, or a local temporary file when
big), uploaded to a temporary key beside the target (`.NAME.PID.HEX.tmp`), copied over the
target (a copy within a store appears whole or not at all) and the temporary key deleted,
whether the copy succeeded or not. A failure leaves the previous object as it was. Checking
the output tries what the write needs: writing and deleting a temporary key there.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd

from rnncast.data import remote
from rnncast.data.remote import Remote, is_url, store_errors, suffix_of
from rnncast.errors import ConfigError, OutputError, RnncastError, os_cause

FRAME_SUFFIXES = (".csv", ".parquet")
TEMP_SUFFIX = ".tmp"


def check_writable(
    path: str | Path,
    option: str,
    suffixes: tuple[str, ...] | None = None,
    inputs: tuple[tuple[str, str | Path], ...] = (),
) -> Path | str:
    """Fail early, with the fix, if `path` cannot be written, or is one of the files in
    `inputs`: (what it is, path) pairs such as ("the model file", "model.rnncast").

    Whether the folder takes new files is tried, not guessed from permission bits: root
    passes those everywhere, yet cannot write on a read-only mount."""
    if is_url(path):
        return _check_remote(str(path), option, suffixes, inputs)
    p = Path(path)
    _check_path(p, option)
    check_not_input(p, option, inputs)
    _check_suffix(p, option, suffixes)
    parent = _folder(p)
    if p.is_dir():
        raise ConfigError(f"{option} '{path}' is a folder: give a file name")
    if not parent.is_dir():
        raise ConfigError(
            f"{option} '{path}': folder '{parent}' does not exist; create it or choose another path"
        )
    _probe(p, option)
    return p


def _check_suffix(path: str | Path, option: str, suffixes: tuple[str, ...] | None) -> None:
    if suffixes is not None and suffix_of(path).lower() not in suffixes:
        raise ConfigError(
            f"{option} '{remote.shown(path)}' must end in {' or '.join(suffixes)}: the "
            "extension picks the format"
        )


def _check_path(p: Path, option: str) -> None:
    """The path as given must not be one the system refuses to look up (a name too long, a
    symbolic link loop, ...); a missing file is fine, and a missing folder is said later."""
    try:
        os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as e:
        raise cannot_write(p, e, option) from None


def _probe(p: Path, option: str) -> None:
    """Create and delete the longest name a write of `p` gives a file (its temporary name):
    whether the folder takes new files is tried, and whether the names fit."""
    probe = _temp_name(p)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise ConfigError(
                f"{option} '{p}': folder '{_folder(p)}' is not writable; choose another path"
            ) from None
        raise cannot_write(p, e, option) from None


# What to do about an operating-system error at an output path, by its errno.
FIXES = {
    errno.ENOSPC: "free some space or choose another path",
    errno.EDQUOT: "free some space or choose another path",
    errno.EFBIG: "free some space or choose another path",
    errno.ENAMETOOLONG: "choose a shorter name",
    errno.ELOOP: "fix the symbolic link or choose another path",
    errno.EISDIR: "remove that folder or choose another path",
    errno.EACCES: "choose a path you may write to",
    errno.EPERM: "choose a path you may write to",
    errno.EROFS: "choose a path on a writable file system",
}


def fix_for(error: OSError) -> str:
    """What to do about an operating-system error at an output path."""
    return FIXES.get(error.errno or 0, "check the disk, or choose another path")


def cannot_write(path: str | Path, error: OSError, option: str = "") -> OutputError:
    """The one line for `error` at output `path` (given as `option`, when one gave it):
    "cannot write 'f.csv': No space left on device (Errno 28): free some space or ..."."""
    fix = fix_for(error)
    given = f"{option} " if option else ""
    return OutputError(f"cannot write {given}'{path}': {os_cause(error)}: {fix}")


def check_not_input(
    path: str | Path, option: str, inputs: tuple[tuple[str, str | Path], ...]
) -> None:
    """`path` must not be one of `inputs`, (what it is, path) pairs: writing it would
    destroy what the run reads."""
    for what, source in inputs:
        if is_url(path) or is_url(source):
            same = is_url(path) and is_url(source) and remote.same(path, source)
        else:
            same = os.path.realpath(path) == os.path.realpath(source)  # (no error on a loop)
        if same:
            raise ConfigError(
                f"{option} '{remote.shown(path)}' is {what} '{remote.shown(source)}': writing it "
                "would destroy it; choose another path"
            )


def _folder(p: Path) -> Path:
    return p.parent if str(p.parent) else Path(".")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write(file)` on a temporary file beside `path`, then move it into place. The
    file system saying no (disk full, quota, file too large, I/O error) is an `OutputError`;
    the old file, if any, stays as it was."""
    if is_url(path):
        _remote_write(_writable(str(path)), write)
        return
    try:
        _atomic_write(path, write)
    except OSError as e:
        raise cannot_write(path, e) from None


def _atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    p = Path(path)
    folder = _folder(p)
    fd, tmp = _open_unnamed(folder)
    try:
        if fd is None:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=TEMP_SUFFIX)
            os.fchmod(fd, 0o666 & ~_umask())  # as open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if tmp is None:  # give the unnamed file a name only now that it is complete
                tmp = _temp_name(p)
                _link(f.fileno(), tmp)
        os.replace(tmp, p)
        tmp = None
        _sync_folder(folder)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _open_unnamed(folder: Path) -> tuple[int | None, None]:
    """An unnamed file in `folder` (Linux O_TMPFILE), or (None, None) where unsupported."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None, None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o666), None
    except OSError:  # the file system does not support it (EOPNOTSUPP, EISDIR, ...)
        return None, None


def _link(fd: int, name: str) -> None:
    """Give the open unnamed file `fd` the path `name` (linkat with AT_SYMLINK_FOLLOW: a dir
    fd makes CPython use linkat, and plain link() would not follow /proc's link)."""
    folder = os.open(os.path.dirname(name) or ".", os.O_RDONLY)
    try:
        os.link(f"/proc/self/fd/{fd}", os.path.basename(name), dst_dir_fd=folder)
    finally:
        os.close(folder)


def _temp_name(p: Path) -> str:
    return str(_folder(p) / _temp_leaf(p.name))


def _temp_leaf(name: str) -> str:
    return f".{name}.{os.getpid()}.{os.urandom(4).hex()}{TEMP_SUFFIX}"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename has happened regardless
    finally:
        os.close(fd)


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporary files a killed write of `path` left beside it; returns them.
    Only safe while holding `path`'s lock (no other run is writing it). Only the two names
    `atomic_write` gives are matched: mkstemp's `.NAME.XXXXXXXX.tmp` and `.NAME.PID.HEX.tmp`.
    A URL has no lock, so nothing is deleted there (another run may be writing)."""
    if is_url(path):
        return []
    p = Path(path)
    ours = re.compile(
        rf"\.{re.escape(p.name)}\.(?:[a-z0-9_]{{8}}|\d+\.[0-9a-f]{{8}}){re.escape(TEMP_SUFFIX)}"
    )
    folder = _folder(p)
    stale = [folder / n for n in os.listdir(folder) if ours.fullmatch(n)]
    for f in stale:
        f.unlink(missing_ok=True)
    return stale


# ---- outputs in object stores --------------------------------------------------------------

SPOOL_BYTES = 1 << 26  # an output bigger than this is staged in a local temporary file


def _check_remote(url: str, option: str, suffixes: tuple[str, ...] | None,
                  inputs: tuple[tuple[str, str | Path], ...]) -> str:  # fmt: skip
    """`check_writable` of a URL: a store rnncast writes to, not an input, the right
    extension, not a prefix of objects, and a temporary key written and deleted there."""
    r = _writable(url, option)
    check_not_input(url, option, inputs)
    _check_suffix(url, option, suffixes)
    try:
        if str(r).endswith("/") or r.fs.isdir(r.path):
            raise ConfigError(f"{option} '{r}' is a folder (a prefix of objects): give a file name")
        probe = r.beside(_temp_leaf(r.name))
        r.fs.pipe_file(probe.path, b"")
    except store_errors() as e:
        raise _cannot_write_remote(r, e, option) from None
    try:
        r.fs.rm_file(probe.path)
    except store_errors() as e:
        raise OutputError(
            f"cannot write {option} '{r}': writing there works but deleting does not "
            f"({remote.cause(e)}), and a write needs both (a temporary key, then a copy): "
            f"delete '{probe}' and ask for permission to delete there"
        ) from None
    return url


def _writable(url: str, option: str = "") -> Remote:
    """The `Remote` of output `url`, in a store rnncast writes to (not the web)."""
    r = remote.resolve(url, "writing")
    if not r.store.writable:
        given = f"{option} " if option else ""
        raise ConfigError(
            f"{given}'{r}': {url.split(':', 1)[0]}:// URLs are read only: write to a local "
            f"path or to an {remote.WRITABLE} URL"
        )
    return r


def _cannot_write_remote(r: Remote, error: BaseException, option: str = "") -> RnncastError:
    """The one line for a store's `error` writing `r`: no such bucket, denied, unreachable."""
    given = f"{option} " if option else ""
    if isinstance(error, FileNotFoundError):
        missing = remote.missing_container(r) or f": {remote.cause(error)}"
        return ConfigError(
            f"cannot write {given}'{r}'{missing}: create the {r.store.container or 'folder'} "
            "or choose another path"
        )
    if isinstance(error, PermissionError):
        return OutputError(
            f"cannot write {given}'{r}': {remote.cause(error)}: choose a path you may write "
            "to, or give credentials that may write there"
        )
    return OutputError(f"cannot write {given}'{r}': {remote.cause(error)}: {remote.READ_FIX}")


def _remote_write(r: Remote, write: Callable[[IO[bytes]], None]) -> None:
    """`atomic_write` to a store: the file written in full locally, uploaded to a temporary
    key beside `r`, copied over it and the temporary key deleted (see the module docstring)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as staged:
        try:
            write(staged)
        except OSError as e:  # staging: the local disk
            raise cannot_write(r, e) from None
        staged.seek(0)
        temporary = r.beside(_temp_leaf(r.name))
        try:
            with r.fs.open(temporary.path, "wb") as f:
                shutil.copyfileobj(staged, f)
            r.fs.copy(temporary.path, r.path)
        except store_errors() as e:
            _delete(temporary)
            raise _cannot_write_remote(r, e) from None
        except BaseException:
            _delete(temporary)
            raise
    left = _delete(temporary)
    if left is not None:
        raise OutputError(
            f"wrote '{r}', but its temporary copy '{temporary}' could not be deleted "
            f"({remote.cause(left)}): delete it"
        )


def _delete(r: Remote) -> BaseException | None:
    """Delete object `r`, if it is there; the store's error, if any."""
    try:
        r.fs.rm_file(r.path)
    except FileNotFoundError:
        pass
    except store_errors() as e:
        return e
    return None


def write_frame(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV or Parquet by the extension of `path`, atomically."""
    if suffix_of(path).lower() == ".parquet":
        atomic_write(path, lambda f: frame.to_parquet(f, index=False))
    else:
        atomic_write(path, lambda f: f.write(frame.to_csv(index=False).encode()))


def json_text(data: Any) -> str:
    """`data` as the JSON rnncast writes: indented, no NaN, anything else as its text."""
    return json.dumps(data, indent=2, allow_nan=False, default=str) + "\n"


def write_json(data: Any, path: str | Path) -> None:
    text = json_text(data)
    atomic_write(path, lambda f: f.write(text.encode()))


def write_bytes(data: bytes, path: str | Path) -> None:
    atomic_write(path, lambda f: f.write(data))
