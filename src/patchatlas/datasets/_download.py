"""Internal seam of the data clients (:mod:`~patchatlas.datasets.allen`,
:mod:`~patchatlas.datasets.dandi`): an HTTP transport with retries, and a download cache with a
manifest.

Internal API (used by the two clients only):

* :class:`RetryPolicy` — attempts, exponential backoff with jitter, timeout.
* :class:`Downloader` — ``get_json(url)`` (retried), ``fetch(requests, progress=)`` (files into
  the cache, ``concurrency`` at a time). A file is written to ``<name>.part`` and renamed when
  complete: an interrupted download resumes with an HTTP ``Range`` request (guarded by
  ``If-Range`` with the server's validator), its size is checked against ``Content-Length`` /
  ``Content-Range`` and the size the service published, its SHA-256 (and DANDI etag) against the
  published digest; a mismatch removes the partial file and raises
  :class:`~patchatlas.errors.ChecksumError`. Files already in the cache whose manifest entry
  (url, size, SHA-256) still matches are used without the network.
* :class:`CacheManifest` — ``<cache>/manifest.json``: relative path → url, size, sha256, source
  ids, time. Written atomically after every file.
* :func:`dandi_etag` — the DANDI archive's multipart etag of a file.

Only this module opens network connections in patchatlas. Standard library only (``urllib``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import math
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patchatlas._version import __version__
from patchatlas.errors import ChecksumError, DownloadError, ParameterError, WriteError

log = logging.getLogger("patchatlas.datasets")

ProgressFn = Callable[[str, str, int, int], None]
"""``progress(event, name, done, total)``.

``"bytes"``: ``done`` bytes arrived for file ``name``, ``total`` bytes were added to the
expected total (when a file's size becomes known; 0 otherwise). ``"file"``: a file is in the
cache (``done`` files of ``total``). ``"cell"``: ingest progress (``done`` of ``total`` cells).
"""

_CHUNK = 1 << 16
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def default_cache() -> Path:
    """The download cache: ``$PATCHATLAS_CACHE``, else ``$XDG_CACHE_HOME/patchatlas``, else
    ``~/.cache/patchatlas`` (read at call time).

    Returns
    -------
    Path
        The folder (not created).
    """
    env = os.environ.get("PATCHATLAS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "patchatlas"


def resolve_base_url(explicit: str | None, env_var: str, default: str) -> str:
    """The service's base URL: the explicit option, else the environment variable, else the
    public service (no trailing slash).

    Parameters
    ----------
    explicit
        Given by the caller (a ``--api`` option), or None.
    env_var
        ``PATCHATLAS_ALLEN_API`` / ``PATCHATLAS_DANDI_API``.
    default
        The public service.

    Returns
    -------
    str
        The base URL.

    Raises
    ------
    ParameterError
        Not an ``http(s)://`` URL.
    """
    url = explicit or os.environ.get(env_var) or default
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ParameterError(
            f"{url!r} is not an http(s) URL; give the service's base URL (or set {env_var})"
        )
    return url.rstrip("/")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    Parameters
    ----------
    attempts
        Tries per request (1 = no retry). A resumed download counts each reconnection.
    backoff
        First wait (s); doubled after each failure (``factor``), with ±25 % jitter, at most
        ``max_delay``. A ``Retry-After`` header (s) is honoured up to ``max_delay``.
    factor
        Growth of the wait.
    max_delay
        Longest wait (s).
    timeout
        Socket timeout of one request (s).
    """

    attempts: int = 5
    backoff: float = 0.5
    factor: float = 2.0
    max_delay: float = 30.0
    timeout: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` ≥ 1 failures so far).

        Parameters
        ----------
        attempt
            Failures so far.
        retry_after
            The server's ``Retry-After`` (s), if any.

        Returns
        -------
        float
            The wait (s).
        """
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), self.max_delay))
        base = self.backoff * self.factor ** max(attempt - 1, 0)
        return float(min(base * random.uniform(0.75, 1.25), self.max_delay))


@dataclass
class FileRequest:
    """One file to bring into the cache.

    ``relpath`` is relative to the cache root; ``size`` / ``sha256`` / ``dandi_etag`` are what the
    service published (None: unknown, then only ``Content-Length`` is checked); ``source`` is
    stored in the manifest (specimen id, asset id ...).
    """

    url: str
    relpath: str
    size: int | None = None
    sha256: str | None = None
    dandi_etag: str | None = None
    source: dict[str, Any] = field(default_factory=dict)


@dataclass
class FetchedFile:
    """A file in the cache: its path, size (bytes), SHA-256, the URL it came from, and whether it
    was already there (``cached``) or ``bytes_downloaded`` were transferred now (a resumed file
    counts only what this run transferred)."""

    path: Path
    size: int
    sha256: str
    url: str
    cached: bool
    bytes_downloaded: int = 0
    source: dict[str, Any] = field(default_factory=dict)


def dandi_etag(path: str | os.PathLike[str]) -> str:
    """The DANDI archive's etag of a file: MD5 of the concatenated MD5 digests of its parts,
    ``-`` and the number of parts (S3 multipart rule: 64 MiB parts, more when a file would need
    10,000 parts or more).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        ``"<32 hex>-<parts>"``.
    """
    return _digests(Path(path), etag=True)[1] or ""


def _part_size(size: int) -> int:
    part = 64 << 20
    if math.ceil(size / part) >= 10_000:
        part = math.ceil(size / 10_000)
    return part


def _digests(path: Path, *, etag: bool) -> tuple[str, str | None]:
    sha = hashlib.sha256()
    size = path.stat().st_size
    part = _part_size(size) if size else 0
    md5s: list[bytes] = []
    cur = hashlib.md5(usedforsecurity=False)
    in_part = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            if not etag:
                continue
            view = memoryview(chunk)
            while view:
                take = min(len(view), part - in_part)
                cur.update(view[:take])
                in_part += take
                view = view[take:]
                if in_part == part:
                    md5s.append(cur.digest())
                    cur = hashlib.md5(usedforsecurity=False)
                    in_part = 0
    tag = None
    if etag:
        if in_part:
            md5s.append(cur.digest())
        tag = f"{hashlib.md5(b''.join(md5s), usedforsecurity=False).hexdigest()}-{len(md5s)}"
    return sha.hexdigest(), tag


class CacheManifest:
    """``<root>/manifest.json``: what the cache holds (thread-safe, atomic writes)."""

    NAME = "manifest.json"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / self.NAME
        self._lock = threading.Lock()
        self._files: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                self._files = dict(doc.get("files", {}))
            except (OSError, ValueError, AttributeError):
                log.warning("%s is unreadable; starting an empty cache manifest", self.path)

    def get(self, relpath: str) -> dict[str, Any] | None:
        """The entry of a cached file, or None."""
        with self._lock:
            entry = self._files.get(relpath)
            return dict(entry) if entry is not None else None

    def put(self, relpath: str, entry: Mapping[str, Any]) -> None:
        """Record a file and write the manifest."""
        with self._lock:
            self._files[relpath] = dict(entry)
            self._write()

    def drop(self, relpath: str) -> None:
        """Forget a file (it is gone or damaged)."""
        with self._lock:
            if self._files.pop(relpath, None) is not None:
                self._write()

    def entries(self) -> dict[str, dict[str, Any]]:
        """A copy of every entry."""
        with self._lock:
            return {k: dict(v) for k, v in self._files.items()}

    def _write(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.NAME}.{os.getpid()}.{threading.get_ident()}")
        doc = {"version": 1, "patchatlas": __version__, "files": self._files}
        try:
            tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            raise WriteError(f"{self.path}: cannot write the cache manifest ({exc})") from exc


class _Retry(Exception):
    """A failure worth another try (internal)."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _offline(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, socket.gaierror)


class Downloader:
    """HTTP access for one service, with retries, and its download cache.

    Parameters
    ----------
    cache
        The cache root (created on the first download).
    service
        The service's name, for messages ("Allen Brain Atlas API").
    env_var
        The environment variable that names a mirror (for messages).
    retry
        Retry policy, or the number of attempts.
    concurrency
        Files downloaded at once.
    sleep
        The wait function (tests pass a recorder).
    """

    def __init__(
        self,
        cache: Path,
        *,
        service: str,
        env_var: str,
        retry: RetryPolicy | int | None = None,
        concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(retry, int):
            if retry < 1:
                raise ParameterError(f"retry={retry}: give at least 1 attempt")
            retry = RetryPolicy(attempts=retry)
        if concurrency < 1:
            raise ParameterError(f"concurrency={concurrency}: give at least 1")
        self.cache = Path(cache)
        self.service = service
        self.env_var = env_var
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self.sleep = sleep
        self.manifest = CacheManifest(self.cache)
        self._opener = urllib.request.build_opener()
        self._opener.addheaders = [("User-Agent", f"patchatlas/{__version__}")]

    # ------------------------------------------------------------------------------ errors

    def _hint(self) -> str:
        return (
            f"check the network, or set {self.env_var} to a reachable mirror; files already in "
            f"the cache ({self.cache}) are used without the network"
        )

    def _give_up(self, url: str, problem: str, attempts: int) -> DownloadError:
        tries = f" after {attempts} tries" if attempts > 1 else ""
        return DownloadError(url, f"{self.service}: {problem}{tries}", self._hint())

    def _classify(self, url: str, exc: BaseException) -> _Retry:
        """A transport failure as a retryable problem, or raise the final error."""
        if isinstance(exc, urllib.error.HTTPError):
            status = exc.code
            if status in _RETRY_STATUS:
                return _Retry(f"HTTP {status} {exc.reason}", _retry_after(exc.headers))
            body = ""
            try:
                body = exc.read(300).decode("utf-8", "replace").strip()
            except (OSError, http.client.HTTPException):
                body = ""
            detail = f": {body}" if body else ""
            raise DownloadError(
                url,
                f"{self.service} answered HTTP {status} {exc.reason}{detail}",
                "check the identifiers asked for" if status == 404 else "",
            ) from exc
        if _offline(exc):
            raise DownloadError(
                url,
                f"cannot resolve the host of {self.service} (offline, or no DNS)",
                self._hint(),
            ) from exc
        reason = getattr(exc, "reason", None) or exc
        return _Retry(f"{type(reason).__name__}: {reason}")

    # ---------------------------------------------------------------------------- requests

    def _attempts(self, url: str, action: Callable[[], Any]) -> Any:
        failures = 0
        while True:
            try:
                return action()
            except _Retry as r:
                failures += 1
                if failures >= self.retry.attempts:
                    raise self._give_up(url, r.problem, failures) from r
                wait = self.retry.delay(failures, r.retry_after)
                log.info("%s: %s; retry %d in %.2f s", url, r.problem, failures, wait)
                self.sleep(wait)

    def get_json(self, url: str) -> Any:
        """GET a JSON document (retried on 5xx, 429, timeouts and dropped connections).

        Parameters
        ----------
        url
            Absolute URL.

        Returns
        -------
        Any
            The decoded document.

        Raises
        ------
        DownloadError
            A 4xx answer, the host cannot be resolved, the answer is not JSON, or the retries
            are exhausted.
        """

        def once() -> Any:
            req = urllib.request.Request(url, headers={"Accept": "application/json"})
            try:
                with self._opener.open(req, timeout=self.retry.timeout) as resp:
                    body = self._read_all(resp)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                raise self._classify(url, exc) from exc
            try:
                return json.loads(body.decode("utf-8"))
            except ValueError as exc:
                raise _Retry(f"the answer is not JSON ({exc})") from exc

        return self._attempts(url, once)

    @staticmethod
    def _read_all(resp: Any) -> bytes:
        expected = resp.headers.get("Content-Length")
        body: bytes = resp.read()
        if expected is not None and len(body) < int(expected):
            raise _Retry(f"connection dropped after {len(body)} of {expected} bytes")
        return body

    # ---------------------------------------------------------------------------- downloads

    def cached(self, req: FileRequest, *, verify: bool = True) -> FetchedFile | None:
        """The cached copy of ``req`` when the manifest says it is complete and unchanged.

        Parameters
        ----------
        req
            The file.
        verify
            Re-hash the file and compare with the manifest (else size only).

        Returns
        -------
        FetchedFile or None
            None when absent, changed remotely (another URL or published digest) or damaged
            (the damaged copy is forgotten so that it is downloaded again).
        """
        dest = self.cache / req.relpath
        entry = self.manifest.get(req.relpath)
        if entry is None or not dest.is_file():
            return None
        if entry.get("url") != req.url:
            return None
        if req.size is not None and entry.get("size") != req.size:
            return None
        if req.sha256 is not None and entry.get("sha256") != req.sha256:
            return None
        if req.dandi_etag is not None and entry.get("dandi_etag") != req.dandi_etag:
            return None
        size = dest.stat().st_size
        if size != entry.get("size"):
            log.warning("%s: cached size %d ≠ manifest %s; downloading again", dest, size, entry)
            self.manifest.drop(req.relpath)
            return None
        sha = str(entry.get("sha256"))
        if verify:
            sha, _ = _digests(dest, etag=False)
            if sha != entry.get("sha256"):
                log.warning("%s: cached file is damaged (SHA-256 changed); downloading again", dest)
                self.manifest.drop(req.relpath)
                return None
        return FetchedFile(dest, size, sha, req.url, True, 0, dict(req.source))

    def fetch(
        self,
        requests: Sequence[FileRequest],
        *,
        progress: ProgressFn | None = None,
        verify: bool = True,
    ) -> list[FetchedFile]:
        """Bring files into the cache, ``concurrency`` at a time.

        Parameters
        ----------
        requests
            The files.
        progress
            ``progress(event, name, done, total)`` (see :data:`ProgressFn`), called from the
            download threads.
        verify
            Re-hash cached files before using them.

        Returns
        -------
        list of FetchedFile
            In the order of ``requests``.

        Raises
        ------
        DownloadError, ChecksumError
            The first file that could not be downloaded (the others finish first; what is
            complete stays in the cache).
        """
        total = len(requests)
        done = 0
        lock = threading.Lock()

        def one(req: FileRequest) -> FetchedFile:
            nonlocal done
            got = self.cached(req, verify=verify)
            if got is None:
                got = self.download(req, progress=progress)
            elif progress is not None:
                progress("bytes", req.relpath, got.size, got.size)
            with lock:
                done += 1
                n = done
            if progress is not None:
                progress("file", req.relpath, n, total)
            return got

        if self.concurrency == 1 or total <= 1:
            return [one(r) for r in requests]
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="patchatlas-dl") as pool:
            futures = [pool.submit(one, r) for r in requests]
            errors = [f.exception() for f in futures]
        for exc in errors:
            if exc is not None:
                raise exc
        return [f.result() for f in futures]

    def download(self, req: FileRequest, *, progress: ProgressFn | None = None) -> FetchedFile:
        """Download one file into the cache (resuming a ``.part`` file left by an earlier run).

        Parameters
        ----------
        req
            The file.
        progress
            ``"bytes"`` events as data arrive.

        Returns
        -------
        FetchedFile
            The complete, verified file.

        Raises
        ------
        DownloadError
            Not downloadable after the retries.
        ChecksumError
            The complete file's size or digest differs from what the service published.
        """
        dest = self.cache / req.relpath
        if ".." in Path(req.relpath).parts or Path(req.relpath).is_absolute():
            raise DownloadError(req.url, f"unsafe cache path {req.relpath!r}")
        part = dest.with_name(dest.name + ".part")
        state_path = dest.with_name(dest.name + ".part.json")
        dest.parent.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {}
        if part.exists() and state_path.exists():
            try:
                state = json.loads(state_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                state = {}
            if state.get("url") != req.url:
                state = {}
        if not state:
            part.unlink(missing_ok=True)
        transferred = 0
        announced = False

        def once() -> int | None:
            nonlocal transferred, announced
            have = part.stat().st_size if part.exists() else 0
            headers = {}
            if have:
                headers["Range"] = f"bytes={have}-"
                if state.get("validator"):
                    headers["If-Range"] = str(state["validator"])
            request = urllib.request.Request(req.url, headers=headers)
            try:
                resp = self._opener.open(request, timeout=self.retry.timeout)
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and have:
                    # the partial file is not a prefix of the remote one: start over
                    part.unlink(missing_ok=True)
                    raise _Retry("the server refused to resume (HTTP 416)") from exc
                raise self._classify(req.url, exc) from exc
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                raise self._classify(req.url, exc) from exc
            with resp:
                status = resp.status
                length = resp.headers.get("Content-Length")
                if status == 206:
                    rng = resp.headers.get("Content-Range", "")
                    start, full = _content_range(rng)
                    if start != have:
                        part.unlink(missing_ok=True)
                        raise _Retry(f"the server resumed at {start}, not at {have}")
                    mode = "ab"
                else:
                    start, mode = 0, "wb"
                    full = int(length) if length is not None else None
                    if have:
                        log.info("%s: the server does not resume; downloading from 0", req.url)
                validator = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
                state.update(url=req.url, validator=validator, size=full)
                state_path.write_text(json.dumps(state), encoding="utf-8")
                if progress is not None and not announced:
                    progress("bytes", req.relpath, start, full or 0)
                    announced = True
                expected = int(length) if length is not None else None
                got = 0
                try:
                    with part.open(mode) as fh:
                        while True:
                            chunk = resp.read(_CHUNK)
                            if not chunk:
                                break
                            fh.write(chunk)
                            got += len(chunk)
                            transferred += len(chunk)
                            if progress is not None:
                                progress("bytes", req.relpath, len(chunk), 0)
                except (OSError, http.client.HTTPException) as exc:
                    if isinstance(exc, FileNotFoundError | PermissionError):
                        raise DownloadError(req.url, f"cannot write {part}: {exc}") from exc
                    raise _Retry(
                        f"connection dropped after {start + got} bytes ({type(exc).__name__})"
                    ) from exc
                if expected is not None and got < expected:
                    raise _Retry(f"connection dropped after {start + got} of {start + expected}")
            return full

        full = self._attempts(req.url, once)
        size = part.stat().st_size
        published = req.size if req.size is not None else full
        if published is not None and size != published:
            part.unlink(missing_ok=True)
            state_path.unlink(missing_ok=True)
            raise ChecksumError(
                req.url,
                f"size {size} bytes ≠ the {published} bytes published; the partial file was "
                "removed",
                "run again to download it afresh; if it persists the service's copy changed",
            )
        sha, etag = _digests(part, etag=req.dandi_etag is not None)
        for label, want, have_d in (("SHA-256", req.sha256, sha), ("etag", req.dandi_etag, etag)):
            if want is not None and want != have_d:
                part.unlink(missing_ok=True)
                state_path.unlink(missing_ok=True)
                raise ChecksumError(
                    req.url,
                    f"{label} {have_d} ≠ the published {want}; the file was removed",
                    "run again to download it afresh; if it persists the service's copy changed",
                )
        os.replace(part, dest)
        state_path.unlink(missing_ok=True)
        self.manifest.put(
            req.relpath,
            {
                "url": req.url,
                "size": size,
                "sha256": sha,
                "dandi_etag": etag,
                "source": req.source,
                "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
        return FetchedFile(dest, size, sha, req.url, False, transferred, dict(req.source))


def _content_range(value: str) -> tuple[int, int | None]:
    """``"bytes 100-199/1000"`` → (100, 1000); total ``*`` → None."""
    try:
        _unit, _, rest = value.partition(" ")
        span, _, total = rest.partition("/")
        start = int(span.split("-")[0])
        return start, (int(total) if total and total != "*" else None)
    except ValueError:
        return -1, None


def write_json(path: Path, doc: Any) -> None:
    """Write a JSON document atomically (cached API answers).

    Parameters
    ----------
    path
        Destination.
    doc
        JSON-serialisable document.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write ({exc})") from exc


def chunked(items: Iterable[Any], n: int) -> list[list[Any]]:
    """``items`` in lists of at most ``n``.

    Parameters
    ----------
    items
        Anything iterable.
    n
        Chunk length (≥ 1).

    Returns
    -------
    list of list
        The chunks, in order.
    """
    seq = list(items)
    return [seq[i : i + n] for i in range(0, len(seq), n)]
