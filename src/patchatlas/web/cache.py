"""A response cache for the read-only API: GET ``/api/...`` JSON answers are kept per data
version, so that repeated requests (many browsers on the same search page) cost a dictionary
look-up. The search page (``/``) and the portal's static scripts and styles (``/static/...``) are
kept the same way, so that a page load costs no template rendering and no file reads through the
thread pool. A write through the portal or a change of the atlas (checked every ``refresh_s``)
changes the data version and with it every key. For clients that accept gzip, cached answers of
a kilobyte or more are kept (and sent) compressed."""

from __future__ import annotations

import gzip
from collections import OrderedDict
from typing import Any

import anyio

from patchatlas.web.service import PortalData

__all__ = ["CACHED_TYPES", "GZIP_MIN", "PAGES", "ResponseCache"]

#: answers at least this large (bytes) are kept gzip-compressed for clients that accept gzip
GZIP_MIN = 1024

#: Pages cached per data version besides the API (they depend on nothing but the atlas).
PAGES: frozenset[str] = frozenset({"/"})
#: Content types kept (answers of other types, e.g. NWB or SWC downloads, are never cached).
CACHED_TYPES: tuple[bytes, ...] = (
    b"application/json",
    b"text/html",
    b"text/javascript",
    b"application/javascript",
    b"text/css",
    b"image/svg+xml",
)

Scope = dict[str, Any]


class ResponseCache:
    """ASGI middleware caching successful JSON answers of ``GET /api/*``.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    portal
        Gives the data version (:meth:`PortalData.snapshot`).
    max_entries, max_body
        Entries kept (least recently used dropped first) and the largest body cached (bytes).
    """

    def __init__(
        self, app: Any, portal: PortalData, *, max_entries: int = 4096, max_body: int = 8 << 20
    ) -> None:
        self.app = app
        self.portal = portal
        self.max_entries = max_entries
        self.max_body = max_body
        self.entries: OrderedDict[tuple[str, str, bytes], tuple[list[Any], bytes, bytes]] = (
            OrderedDict()
        )
        self.pending: dict[tuple[str, str, bytes], anyio.Event] = {}
        self.hits = 0
        self.misses = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not (scope["path"].startswith(("/api/", "/static/")) or scope["path"] in PAGES)
        ):
            await self.app(scope, receive, send)
            return
        snap = self.portal.fresh_snapshot()
        if snap is None:  # (re)reading the atlas may take a while: not on the event loop
            snap = await anyio.to_thread.run_sync(self.portal.snapshot)
        inm = b""
        gz = b""
        for name, value in scope.get("headers", []):
            if name == b"if-none-match":
                inm = value
            elif name == b"accept-encoding" and b"gzip" in value:
                gz = b"#gz"
        key = (snap.etag, scope["path"], scope.get("query_string", b"") + gz)
        entry = self.entries.get(key)
        if entry is None and key in self.pending:
            # the same answer is being computed for another request: wait for it (single flight)
            await self.pending[key].wait()
            entry = self.entries.get(key)
        if entry is not None:
            self.hits += 1
            self.entries.move_to_end(key)
            headers, etag, body = entry
            if (
                etag
                and inm
                and etag.removeprefix(b"W/")
                in [t.strip().removeprefix(b"W/") for t in inm.split(b",")]
            ):
                keep = [(k, v) for k, v in headers if k in (b"etag", b"cache-control")]
                await send({"type": "http.response.start", "status": 304, "headers": keep})
                await send({"type": "http.response.body", "body": b""})
                return
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        self.misses += 1
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._store(key, start, b"".join(chunks))
            await send(message)

        done = anyio.Event()
        self.pending[key] = done
        try:
            await self.app(scope, receive, capture)
        finally:
            self.pending.pop(key, None)
            done.set()

    def _store(self, key: tuple[str, str, bytes], start: dict[str, Any], body: bytes) -> None:
        if start.get("status") != 200 or len(body) > self.max_body:
            return
        headers = list(start.get("headers", []))
        ctype = next((v for k, v in headers if k == b"content-type"), b"")
        if not ctype.startswith(CACHED_TYPES):
            return
        etag = next((v for k, v in headers if k == b"etag"), b"")
        encoded = any(k == b"content-encoding" for k, _ in headers)
        if key[2].endswith(b"#gz") and not encoded and len(body) >= GZIP_MIN:
            # the client takes gzip: keep the compressed answer (compressed once per version)
            # (a weak ETag for the compressed variant; If-None-Match compares weakly)
            body = gzip.compress(body, 6)
            headers = [(k, v) for k, v in headers if k not in (b"content-length", b"etag")]
            headers += [
                (b"content-length", str(len(body)).encode()),
                (b"content-encoding", b"gzip"),
                (b"vary", b"Accept-Encoding"),
            ]
            if etag:
                headers.append((b"etag", b"W/" + etag.removeprefix(b"W/")))
        self.entries[key] = (headers, etag, body)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
