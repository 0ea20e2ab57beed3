"""DANDI Archive client: list a dandiset's assets, download NWB files into a cache (resumable,
size- and digest-checked), ingest them into an atlas.

It talks to the DANDI REST API directly (``/dandisets/{id}/``,
``/dandisets/{id}/versions/{version}/assets/?page=…&page_size=…`` followed through ``next``,
``/assets/{asset_id}/`` for the metadata with the ``digest`` — ``dandi:sha2-256`` and
``dandi:dandi-etag`` — and ``/assets/{asset_id}/download/``, which redirects to the blob
store). The maintained ``dandi`` package resolves next to NumPy 2 but brings about sixty
packages (zarr, tensorstore, a Deno-based BIDS validator, keyring ...) for what are four GET
requests here, so it is not a dependency.

The base URL comes from ``api=``, else ``$PATCHATLAS_DANDI_API``, else
``https://api.dandiarchive.org/api``. Files land in ``<cache>/dandi/<dandiset>/<asset path>``.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd

from patchatlas.datasets._download import (
    Downloader,
    FetchedFile,
    FileRequest,
    ProgressFn,
    RetryPolicy,
    default_cache,
    resolve_base_url,
    write_json,
)
from patchatlas.datasets._fetch import FetchResult, ingest_downloaded, provenance, species_name
from patchatlas.errors import DownloadError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas.api import Atlas

__all__ = ["DANDI_API", "Dandi", "asset_metadata_to_cell", "dandiset_id", "fetch_dandi"]

log = logging.getLogger("patchatlas.datasets")

DANDI_API = "https://api.dandiarchive.org/api"
ENV_VAR = "PATCHATLAS_DANDI_API"
SERVICE = "DANDI Archive API"


def dandiset_id(identifier: str | int) -> str:
    """A dandiset identifier as six digits: ``8``, ``"000008"``, ``"DANDI:000008"`` →
    ``"000008"``.

    Parameters
    ----------
    identifier
        The dandiset.

    Returns
    -------
    str
        Six digits.

    Raises
    ------
    patchatlas.errors.ParameterError
        Not a dandiset identifier.
    """
    text = str(identifier).strip()
    m = re.fullmatch(r"(?:dandi:)?(\d{1,6})", text, flags=re.IGNORECASE)
    if m is None:
        raise ParameterError(f"{identifier!r} is not a dandiset identifier (e.g. 000008)")
    return m.group(1).zfill(6)


def _load_json(path: Any) -> Any:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _safe_path(path: str) -> str:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise DownloadError(path, "the asset path is not a safe relative path")
    return p.as_posix()


def asset_metadata_to_cell(
    identifier: str, version: str, asset: Mapping[str, Any], metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """Atlas annotations of one DANDI asset (its participant, and the ``source``).

    Parameters
    ----------
    identifier
        The dandiset.
    version
        Its version.
    asset
        The asset's listing row (``asset_id``, ``path``, ``size``).
    metadata
        The asset's metadata (``wasAttributedTo`` participants, ``digest`` ...).

    Returns
    -------
    dict
        ``dataset`` (``"dandi:<id>"``), ``species``, ``donor``, ``donor_sex``, ``donor_age``
        when the metadata says, and ``source`` (archive, dandiset, version, asset id, path,
        page URL, a display ``label``).
    """
    meta: dict[str, Any] = {"dataset": f"dandi:{identifier}"}
    people = metadata.get("wasAttributedTo") or []
    subject = next(
        (p for p in people if isinstance(p, Mapping) and p.get("schemaKey") == "Participant"),
        people[0] if people and isinstance(people[0], Mapping) else None,
    )
    if subject is not None:
        sp = subject.get("species")
        name = species_name(sp.get("name") if isinstance(sp, Mapping) else sp)
        if name:
            meta["species"] = name
        if subject.get("identifier"):
            meta["donor"] = str(subject["identifier"])
        sex = subject.get("sex")
        if isinstance(sex, Mapping) and sex.get("name"):
            meta["donor_sex"] = sex["name"]
        age = subject.get("age")
        if isinstance(age, Mapping) and age.get("value"):
            meta["donor_age"] = age["value"]
    path = str(asset["path"])
    folder = str(PurePosixPath(path).parent)
    location = urllib.parse.quote(folder if folder != "." else "")
    meta["source"] = {
        "archive": "DANDI Archive",
        "dandiset": identifier,
        "version": version,
        "asset_id": str(asset["asset_id"]),
        "path": path,
        "url": f"https://dandiarchive.org/dandiset/{identifier}/{version}/files?location={location}",
        "label": f"DANDI {identifier}/{version}, asset {path}",
    }
    return meta


class Dandi:
    """Client of the DANDI Archive REST API with a download cache.

    Parameters
    ----------
    cache
        Cache folder (default ``$PATCHATLAS_CACHE`` or ``~/.cache/patchatlas``); this client
        uses ``<cache>/dandi``.
    api
        Base URL (default ``$PATCHATLAS_DANDI_API``, else ``https://api.dandiarchive.org/api``).
    retry
        Retry policy (attempts, backoff, timeout), or just the number of attempts.
    concurrency
        Files (and metadata requests) at once.
    page_size
        Assets per listing page.
    sleep
        Wait function between retries.

    Examples
    --------
    >>> d = Dandi()                                          # doctest: +SKIP
    >>> assets = d.assets("000008", limit=20)                # doctest: +SKIP
    >>> table, files = d.download("000008", assets)          # doctest: +SKIP
    """

    def __init__(
        self,
        cache: str | os.PathLike[str] | None = None,
        *,
        api: str | None = None,
        retry: RetryPolicy | int | None = None,
        concurrency: int = 4,
        page_size: int = 100,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if page_size < 1:
            raise ParameterError(f"page_size={page_size}: give at least 1")
        from pathlib import Path

        self.base_url = resolve_base_url(api, ENV_VAR, DANDI_API)
        self.cache = Path(cache).expanduser() if cache is not None else default_cache()
        self.root = self.cache / "dandi"
        self.page_size = page_size
        self.concurrency = concurrency
        self.http = Downloader(
            self.root,
            service=f"{SERVICE} at {self.base_url}",
            env_var=ENV_VAR,
            retry=retry,
            concurrency=concurrency,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"Dandi({self.base_url!r}, cache={str(self.root)!r})"

    def dandiset(self, identifier: str | int) -> dict[str, Any]:
        """The dandiset's record (identifier, draft and most recent published version ...).

        Parameters
        ----------
        identifier
            The dandiset (``"000008"``).

        Returns
        -------
        dict
            The API's JSON.
        """
        ds = dandiset_id(identifier)
        doc = self.http.get_json(f"{self.base_url}/dandisets/{ds}/")
        if not isinstance(doc, dict):
            raise DownloadError(f"{self.base_url}/dandisets/{ds}/", "not a dandiset record")
        return doc

    def version(self, identifier: str | int, version: str | None = None) -> str:
        """The version to use: the one given, else the most recent published, else ``draft``.

        Parameters
        ----------
        identifier
            The dandiset.
        version
            A version, or None.

        Returns
        -------
        str
            The version string.
        """
        if version:
            return version
        try:
            doc = self.dandiset(identifier)
        except DownloadError:
            # offline: the version of the listing kept from the last run, if any
            kept = sorted((self.root / dandiset_id(identifier)).glob("assets-*.json"))
            if not kept:
                raise
            ver = max(kept, key=lambda p: p.stat().st_mtime).stem.removeprefix("assets-")
            log.warning("%s unreachable; using the cached listing of version %s", SERVICE, ver)
            return ver
        pub = doc.get("most_recent_published_version") or {}
        return str(pub.get("version") or "draft")

    def assets(
        self,
        identifier: str | int,
        *,
        version: str | None = None,
        match: str | None = "*.nwb",
        limit: int | None = None,
    ) -> pd.DataFrame:
        """The dandiset's assets, page by page (``next`` links), in path order.

        A complete listing is kept in the cache (``<dandiset>/assets-<version>.json``) and used
        when the service cannot be reached.

        Parameters
        ----------
        identifier
            The dandiset.
        version
            Version (default: :meth:`version`).
        match
            Keep paths matching this pattern (``fnmatch``; default ``"*.nwb"``; None: all).
        limit
            At most this many (the first by path); the listing stops early once it has them.

        Returns
        -------
        pandas.DataFrame
            ``asset_id``, ``path``, ``size`` (bytes), ``modified``; ``attrs["version"]`` holds
            the version.

        Raises
        ------
        patchatlas.errors.DownloadError
            Unknown dandiset / version (HTTP 404), service unreachable.
        """
        if limit is not None and limit < 1:
            raise ParameterError(f"limit={limit}: give at least 1")
        ds = dandiset_id(identifier)
        ver = self.version(ds, version)
        query = urllib.parse.urlencode({"page_size": self.page_size, "order": "path"})
        url: str | None = f"{self.base_url}/dandisets/{ds}/versions/{ver}/assets/?{query}"
        kept = self.root / ds / f"assets-{ver}.json"
        listed: list[dict[str, Any]] = []
        complete = True
        try:
            while url:
                doc = self.http.get_json(url)
                if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
                    raise DownloadError(url, f"{SERVICE} answered without a 'results' list")
                listed += [
                    {
                        "asset_id": str(a["asset_id"]),
                        "path": str(a.get("path", "")),
                        "size": int(a.get("size") or 0),
                        "modified": a.get("modified"),
                    }
                    for a in doc["results"]
                ]
                matching = [r for r in listed if match is None or fnmatch.fnmatch(r["path"], match)]
                if limit is not None and len(matching) >= limit:
                    complete = doc.get("next") is None
                    break
                nxt = doc.get("next")
                url = urllib.parse.urljoin(url, nxt) if nxt else None
            if complete:
                write_json(kept, listed)
        except DownloadError:
            cached = _load_json(kept) if kept.is_file() else None
            if cached is None:
                raise
            log.warning("%s unreachable; using the cached listing %s", SERVICE, kept)
            listed = cached
        rows = [r for r in listed if match is None or fnmatch.fnmatch(r["path"], match)]
        df = pd.DataFrame(rows, columns=["asset_id", "path", "size", "modified"])
        df = df.sort_values("path", kind="stable").reset_index(drop=True)
        if limit is not None:
            df = df.head(limit)
        df.attrs["version"] = ver
        df.attrs["dandiset"] = ds
        return df

    def asset_metadata(self, asset_id: str) -> dict[str, Any]:
        """An asset's metadata (``digest``, ``contentSize``, ``wasAttributedTo`` ...), kept in the
        cache (an asset id never changes its content).

        Parameters
        ----------
        asset_id
            The asset.

        Returns
        -------
        dict
            The API's JSON.
        """
        kept = self.root / "asset-metadata" / f"{_safe_path(asset_id)}.json"
        doc = _load_json(kept) if kept.is_file() else None  # asset ids are immutable
        if isinstance(doc, dict):
            return doc
        doc = self.http.get_json(f"{self.base_url}/assets/{asset_id}/")
        if not isinstance(doc, dict):
            raise DownloadError(f"{self.base_url}/assets/{asset_id}/", "not an asset record")
        write_json(kept, doc)
        return doc

    def download(
        self,
        identifier: str | int,
        assets: pd.DataFrame,
        *,
        version: str | None = None,
        progress: ProgressFn | None = None,
        verify: bool = True,
    ) -> tuple[pd.DataFrame, list[FetchedFile]]:
        """Download assets into the cache, checking size and the published digests.

        Parameters
        ----------
        identifier
            The dandiset.
        assets
            Rows of :meth:`assets` (``asset_id``, ``path``, ``size``).
        version
            The version (default: ``assets.attrs["version"]``, else :meth:`version`).
        progress
            Byte and file progress.
        verify
            Re-hash cached files before using them.

        Returns
        -------
        table : pandas.DataFrame
            ``assets`` plus ``file`` (cache path) and ``metadata`` (the asset metadata).
        files : list of FetchedFile
            In the order of ``assets``.

        Raises
        ------
        patchatlas.errors.DownloadError, patchatlas.errors.ChecksumError
            A file could not be downloaded or does not match its digest.
        """
        ds = dandiset_id(identifier)
        ver = version or assets.attrs.get("version") or self.version(ds)
        ids = [str(a) for a in assets["asset_id"]]
        with ThreadPoolExecutor(max(1, self.concurrency)) as pool:
            metas = list(pool.map(self.asset_metadata, ids))
        requests = []
        for (_, a), md in zip(assets.iterrows(), metas, strict=True):
            digest = md.get("digest") or {}
            size = md.get("contentSize", a.get("size"))
            requests.append(
                FileRequest(
                    f"{self.base_url}/assets/{a['asset_id']}/download/",
                    f"{ds}/{_safe_path(str(a['path']))}",
                    size=int(size) if size is not None else None,
                    sha256=digest.get("dandi:sha2-256"),
                    dandi_etag=digest.get("dandi:dandi-etag"),
                    source={
                        "dandiset": ds,
                        "version": ver,
                        "asset_id": str(a["asset_id"]),
                        "path": str(a["path"]),
                    },
                )
            )
        files = self.http.fetch(requests, progress=progress, verify=verify)
        table = assets.copy()
        table["file"] = [str(f.path) for f in files]
        table["metadata"] = pd.Series(metas, index=table.index, dtype=object)
        table.attrs = {**assets.attrs, "version": ver, "dandiset": ds}
        return table, files


def fetch_dandi(
    atlas: Atlas | str | os.PathLike[str] | None,
    identifier: str | int,
    *,
    version: str | None = None,
    match: str | None = "*.nwb",
    limit: int | None = None,
    client: Dandi | None = None,
    cache: str | os.PathLike[str] | None = None,
    api: str | None = None,
    workers: int = 1,
    recompute: bool = False,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressFn | None = None,
) -> FetchResult:
    """List a dandiset's NWB assets, download them, and ingest one cell per file.

    Cells are named ``<dandiset>/<asset path without .nwb>`` and annotated with the asset's
    participant and ``source`` (:func:`asset_metadata_to_cell`).

    Parameters
    ----------
    atlas
        Atlas or URL; None downloads only.
    identifier
        The dandiset (``"000008"``).
    version
        Its version (default: the most recent published, else draft).
    match
        Asset path pattern (default ``"*.nwb"``).
    limit
        At most this many assets (the first by path).
    client
        A configured client (else one from ``cache`` and ``api``).
    cache, api
        Cache folder and base URL for the client made here.
    workers, recompute, params
        Passed to :func:`patchatlas.pipeline.ingest`.
    progress
        ``"bytes"``, ``"file"`` and ``"cell"`` events.

    Returns
    -------
    FetchResult
        Cells, files, ingest summary, provenance.

    Raises
    ------
    patchatlas.errors.ParameterError
        No asset matches.
    patchatlas.errors.DownloadError, patchatlas.errors.ChecksumError
        Listing or download failed.
    """
    d = client or Dandi(cache, api=api)
    ds = dandiset_id(identifier)
    listing = d.assets(ds, version=version, match=match, limit=limit)
    if listing.empty:
        raise ParameterError(f"dandiset {ds} has no asset matching {match!r} at {d.base_url}")
    ver = str(listing.attrs["version"])
    table, files = d.download(ds, listing, version=ver, progress=progress)
    to_ingest: dict[str, tuple[list[str], dict[str, Any]]] = {}
    rows = []
    for (_, a), f in zip(table.iterrows(), files, strict=True):
        name = f"{ds}/{PurePosixPath(str(a['path'])).with_suffix('')!s}"
        meta = asset_metadata_to_cell(
            ds, ver, {"asset_id": a["asset_id"], "path": a["path"]}, a["metadata"]
        )
        to_ingest[name] = ([str(f.path)], meta)
        rows.append(
            {
                "cell": name,
                "asset_id": a["asset_id"],
                "path": a["path"],
                "file": str(f.path),
                "bytes": f.size,
                "cached": f.cached,
            }
        )
    result = FetchResult(
        "dandi",
        pd.DataFrame(rows).set_index("cell"),
        files=files,
        provenance=provenance(
            "dandi", d.base_url, d.root, dandiset=ds, version=ver, match=match, limit=limit
        ),
    )
    if atlas is not None:
        result.ingest = ingest_downloaded(
            to_ingest, atlas, workers=workers, recompute=recompute, params=params, progress=progress
        )
    return result
