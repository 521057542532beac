"""Paths that are URLs: objects in S3 (`s3://`), Google Cloud Storage (`gs://`), Azure
(`az://`, `abfs://`) and on the web (`https://`, `http://`, read only), through fsspec.

A path is a URL when it starts with a scheme (`s3://...`); anything else is a local path and
never comes here. fsspec and the store's package (s3fs, gcsfs, adlfs: the extras
`rnncast[s3]`, `rnncast[gcs]`, `rnncast[azure]`) are imported only when a URL is used, so
`rnncast --help` and local runs never load them; a missing one is one line naming the extra.

Credentials come from each store's own environment and config files (AWS_* and ~/.aws,
GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*, ...), never from rnncast. A URL is shown
(`shown`, `Remote.__str__`, `scrub` for library text) without a password, query string or
fragment, so that a signed URL's signature is never printed or written into a model file.

Each `resolve` makes a new filesystem with its listings uncached: fsspec shares one
instance per set of options and s3fs keeps listings, so without this a listing made before
a write could be answered again after it.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from rnncast.errors import ConfigError, RnncastError, first_line, os_cause


@dataclass(frozen=True)
class Store:
    """What a scheme needs: its package, the extra that installs it, what it calls the
    top of its paths ('bucket', 'container'; '' for the web), and options for fsspec."""

    package: str
    extra: str
    container: str
    writable: bool = True
    options: dict[str, Any] = field(default_factory=dict)


_S3 = Store("s3fs", "rnncast[s3]", "bucket")
_GCS = Store("gcsfs", "rnncast[gcs]", "bucket")
_AZURE = Store("adlfs", "rnncast[azure]", "container")
# The web: read only; each file read whole at its first read (`cache_type="all"`), so that a
# server without range requests serves it too.
_WEB = Store("aiohttp", "rnncast[http]", "", writable=False, options={"cache_type": "all"})
STORES = {"s3": _S3, "gs": _GCS, "gcs": _GCS, "az": _AZURE, "abfs": _AZURE, "abfss": _AZURE,
          "https": _WEB, "http": _WEB}  # fmt: skip
WRITABLE = "s3://, gs:// or az://"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")
_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://[^\s'\"<>]+")


def is_url(path: object) -> bool:
    """Whether `path` is a URL (a `Remote`, or text starting with 'scheme://'), not a local
    path. (A `pathlib.Path` never is: it has already folded 's3://' into 's3:/'.)"""
    return isinstance(path, Remote) or (isinstance(path, str) and bool(_URL.match(path)))


def shown(path: object) -> str:
    """`path` as messages show it: a URL without its password (its user too, on the web),
    query string and fragment; a local path as it is."""
    if isinstance(path, Remote):
        path = path.url
    text = str(path)
    if not is_url(text):
        return text
    try:
        parts = urlsplit(text)
    except ValueError:  # malformed ('http://[::1/x'): cut by hand, as urlsplit would
        scheme, _, rest = text.partition("://")
        rest = re.split(r"[?#]", rest, maxsplit=1)[0]
        netloc, slash, tail = rest.partition("/")
        return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{tail}"
    netloc = parts.netloc
    user, at, host = netloc.rpartition("@")
    if at and (":" in user or parts.scheme.lower() in ("http", "https")):
        netloc = host  # credentials (abfs's 'container@account' is not one)
    if netloc == parts.netloc and not parts.query and not parts.fragment:
        return text  # nothing to hide: as given ('sqlite:////tmp/x.db' keeps its slashes)
    return f"{parts.scheme}://{netloc}{parts.path}"  # ('az://?x': urlunsplit drops the //)


def scrub(text: str) -> str:
    """`text` (a library's message, a log line) with every URL in it `shown`."""
    return _IN_TEXT.sub(lambda m: shown(m.group(0)), text)


_ALIASES = {"gcs": "gs", "az": "abfs", "abfss": "abfs"}  # schemes that name the same store


def same(a: object, b: object) -> bool:
    """Whether URLs `a` and `b` name the same object (as shown; gs:// and gcs:// alike)."""
    return _key(a) == _key(b)


def _key(url: object) -> str:
    scheme, sep, rest = shown(url).rstrip("/").partition("://")
    return _ALIASES.get(scheme.lower(), scheme.lower()) + sep + rest


@dataclass(frozen=True)
class Remote:
    """A URL with its filesystem: `url` as given (credentials and all), `fs` the fsspec
    filesystem, `path` the filesystem's name for it. `str()` is the URL as shown."""

    url: str
    fs: Any
    path: str
    store: Store

    def __str__(self) -> str:
        return shown(self.url)

    @property
    def pure(self) -> PurePosixPath:
        parts = urlsplit(self.url)
        return PurePosixPath(parts.netloc + parts.path)

    @property
    def name(self) -> str:
        return self.pure.name

    @property
    def suffix(self) -> str:
        return self.pure.suffix

    @property
    def suffixes(self) -> list[str]:
        return self.pure.suffixes

    @property
    def container(self) -> str:
        """The bucket (container) the path is in: its first part."""
        return self.path.split("/", 1)[0]

    def child(self, path: str) -> Remote:
        """The object at filesystem path `path` under this prefix."""
        rest = path[len(self.path.rstrip("/")) :].strip("/")
        return Remote(f"{shown(self.url).rstrip('/')}/{rest}", self.fs, path, self.store)

    def relative(self, child: Remote) -> str:
        return child.path[len(self.path.rstrip("/")) :].strip("/")

    def beside(self, name: str) -> Remote:
        """The object named `name` beside this one (in the same bucket and prefix)."""
        head = self.path.rstrip("/").rpartition("/")[0]
        return Remote(f"{shown(self.url).rstrip('/').rpartition('/')[0]}/{name}", self.fs,
                      f"{head}/{name}" if head else name, self.store)  # fmt: skip

    def open(self) -> Any:
        """The object, open for reading bytes."""
        return self.fs.open(self.path, "rb")

    @functools.cached_property
    def arrow(self) -> Any:
        """The filesystem as pyarrow takes it."""
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.fs))


def resolve(url: str | Remote, doing: str) -> Remote:
    """The `Remote` of `url` (`doing`: 'reading' or 'writing', for the message when the
    store's package is missing); a scheme rnncast does not take, a URL without a bucket
    (container, host) and a malformed one are one line each."""
    if isinstance(url, Remote):
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (checked: a port that is not a number is refused here)
    except ValueError as e:
        raise ConfigError(
            f"'{shown(url)}' is not a valid URL ({first_line(e)}): check it"
        ) from None
    scheme = parts.scheme.lower()
    store = STORES.get(scheme)
    if store is None:
        raise ConfigError(
            f"'{shown(url)}' is a {scheme}:// URL, which rnncast does not read or write: give a "
            "local path, or an s3://, gs://, az://, abfs:// or https:// URL"
        )
    if not parts.netloc:  # fsspec would list the whole store ('s3://') or fail obscurely
        top = store.container or "host"
        raise ConfigError(
            f"'{shown(url)}' names no {top}: give one, as in {scheme}://{top}/"
            + ("key" if store.container else "path")
        )
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise _needs(url, doing, f"fsspec and {store.package}", store) from None
    try:
        fs, path = url_to_fs(url, skip_instance_cache=True, use_listings_cache=False,
                             **store.options)  # fmt: skip
    except ImportError:
        raise _needs(url, doing, store.package, store) from None
    return Remote(url, fs, path, store)


def _needs(url: str, doing: str, missing: str, store: Store) -> ConfigError:
    return ConfigError(f"{doing} '{shown(url)}' needs {missing}: pip install '{store.extra}'")


def store_errors() -> tuple[type[BaseException], ...]:
    """The exceptions by which a store's libraries say what the store said, or that it could
    not be reached: OSError (s3fs and fsspec turn most answers into one) and the libraries'
    own (botocore's, aiohttp's, Google's and Azure's), those loaded (one not loaded raised
    nothing)."""
    kinds: list[type[BaseException]] = [OSError, TimeoutError]
    for module, name in (
        ("botocore.exceptions", "BotoCoreError"), ("botocore.exceptions", "ClientError"),
        ("aiohttp", "ClientError"), ("fsspec.exceptions", "FSTimeoutError"),
        ("gcsfs.retry", "HttpError"), ("google.auth.exceptions", "GoogleAuthError"),
        ("azure.core.exceptions", "AzureError"),
    ):  # fmt: skip
        kind = getattr(sys.modules.get(module), name, None)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            kinds.append(kind)
    return tuple(kinds)


def cause(error: BaseException) -> str:
    """What a store's error says, in one line, its URLs shown."""
    return scrub(os_cause(error) if isinstance(error, OSError) else first_line(error))


READ_FIX = "check the URL, the network and the store's credentials"


def missing_container(r: Remote) -> str:
    """ ": there is no bucket 'b'" when the bucket (container) of `r` does not exist (or
    cannot be seen); "" when it does, or where the store has none (the web)."""
    if not r.store.container:
        return ""
    try:
        there = r.fs.exists(r.container)
    except store_errors():
        return ""
    return "" if there else f": there is no {r.store.container} '{r.container}'"


def info(r: Remote, what: str, error: type[RnncastError], missing: str = "") -> dict[str, Any]:
    """What the store says of `r` (its 'type': 'file' or 'directory', its 'size', ...);
    not found, denied or unreachable is one line of `error` naming `what` ('data'; when not
    found, `missing`, e.g. 'data file', if given)."""
    try:
        return r.fs.info(r.path)
    except FileNotFoundError as e:
        unanswered = web_failure(e)
        if unanswered is not None:
            raise error(f"cannot read {what} '{r}': {unanswered}") from None
        there = missing_container(r)
        raise error(f"{missing or what} '{r}' not found{there}: check the URL") from None
    except store_errors() as e:
        raise unreadable(r, what, error, e) from None


def web_failure(error: FileNotFoundError) -> str | None:
    """What failed behind fsspec's HTTP filesystem's FileNotFoundError, which it raises for
    any failure, and how to fix it ('Cannot connect to host ...: check the URL and the
    network'); None when the file is missing (a 404 or 410) or the error is no web one."""
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is None:
        return None
    seen: list[BaseException] = []
    below = error.__cause__ or error.__context__
    while below is not None and below not in seen:
        if isinstance(below, aiohttp.ClientResponseError):
            if below.status in (404, 410):
                return None
            said = f"{below.status} {below.message}".strip()
            return f"the server answered {said}: check the URL and that it may be read"
        if isinstance(below, aiohttp.ClientError):
            return f"{scrub(first_line(below))}: check the URL and the network"
        seen.append(below)
        below = below.__cause__ or below.__context__
    return None


def unreadable(r: Remote, what: str, error_type: type[RnncastError],
               error: BaseException) -> RnncastError:  # fmt: skip
    """The one line for a store's `error` reading `r` (`what`, e.g. 'data')."""
    return error_type(f"cannot read {what} '{r}': {cause(error)}: {READ_FIX}")


@contextlib.contextmanager
def reading(r: Remote, what: str, error: type[RnncastError]) -> Iterator[None]:
    """A store's error while reading `r` (`what`, e.g. 'data') is one line of `error`."""
    try:
        yield
    except store_errors() as e:
        raise unreadable(r, what, error, e) from None


def suffix_of(path: str | Path | Remote) -> str:
    """The extension of a local path or of a URL's path ('.csv'), without a query string."""
    if is_url(path):
        return PurePosixPath(urlsplit(str(getattr(path, "url", path))).path).suffix
    return Path(path).suffix


def arrow_source(f: Path | Remote) -> tuple[str, Any]:
    """(source, filesystem) for pyarrow's readers: a local file's path and None, or an
    object's path in its filesystem."""
    return (f.path, f.arrow) if isinstance(f, Remote) else (str(f), None)
