"""Internal seam of the data clients: the result of a fetch, and the hand-over of downloaded
cells to the ingest pipeline.

Internal API: :class:`FetchResult`, :func:`ingest_downloaded`, :func:`species_name`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from patchatlas._version import __version__
from patchatlas.datasets._download import FetchedFile, ProgressFn

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas.api import Atlas
    from patchatlas.pipeline.ingest import IngestSummary

_SPECIES = {
    "mus musculus": "mouse",
    "mouse": "mouse",
    "homo sapiens": "human",
    "human": "human",
    "rattus norvegicus": "rat",
    "rat": "rat",
}


def species_name(value: Any) -> str | None:
    """``"Mus musculus"`` → ``"mouse"``, ``"Homo Sapiens"`` → ``"human"`` (others as given,
    lower case; None for missing).

    Parameters
    ----------
    value
        A species as a service spells it.

    Returns
    -------
    str or None
        The atlas's species name.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    return _SPECIES.get(value.strip().lower(), value.strip().lower())


@dataclass
class FetchResult:
    """What one ``fetch`` did: the cells chosen, the files brought into the cache, the ingest.

    Attributes
    ----------
    source
        ``"allen"`` or ``"dandi"``.
    cells
        One row per cell (index: the atlas cell name): the service's identifiers, ``files``
        (cache paths), ``bytes`` (bytes of its files), ``cached`` (all its files came from the
        cache).
    files
        Every file in the cache for this fetch (models and marker files included).
    ingest
        The pipeline's summary (None with ``ingest=False``).
    imported
        Counts of the service's own features written to the atlas (Allen only), else None.
    skipped
        Cells chosen but not fetchable (no recording file), with the reason.
    provenance
        Package version, base URL, cache folder, query parameters, time.
    """

    source: str
    cells: pd.DataFrame
    files: list[FetchedFile] = field(default_factory=list)
    ingest: IngestSummary | None = None
    imported: dict[str, int] | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes_downloaded(self) -> int:
        """Bytes transferred by this fetch (a resumed file counts what this run transferred)."""
        return sum(f.bytes_downloaded for f in self.files)

    @property
    def bytes_cached(self) -> int:
        """Bytes of files used from the cache without the network."""
        return sum(f.size for f in self.files if f.cached)

    def __repr__(self) -> str:
        ing = f", ingest: {self.ingest}" if self.ingest is not None else ""
        return (
            f"FetchResult({self.source!r}, {len(self.cells)} cells, {len(self.files)} files, "
            f"{self.bytes_downloaded} bytes downloaded, {self.bytes_cached} from the cache{ing})"
        )


def provenance(
    source: str, base_url: str, cache: os.PathLike[str], **params: Any
) -> dict[str, Any]:
    """The provenance record of a fetch.

    Parameters
    ----------
    source
        ``"allen"`` / ``"dandi"``.
    base_url
        The service's base URL used.
    cache
        The cache folder.
    **params
        The query (filters, limit ...).

    Returns
    -------
    dict
        ``package_version``, ``source``, ``base_url``, ``cache``, ``parameters``, ``time``.
    """
    from datetime import UTC, datetime

    return {
        "package_version": __version__,
        "source": source,
        "base_url": base_url,
        "cache": str(cache),
        "parameters": params,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def ingest_downloaded(
    cells: Mapping[str, tuple[Sequence[str], Mapping[str, Any]]],
    atlas: Atlas | str | os.PathLike[str],
    *,
    workers: int = 1,
    recompute: bool = False,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressFn | None = None,
) -> IngestSummary:
    """Ingest downloaded cells through the normal pipeline (content keys, per-cell transactions).

    Parameters
    ----------
    cells
        Cell name → (its files, its annotations).
    atlas
        Atlas or URL.
    workers
        Local worker processes.
    recompute
        Recompute unchanged cells.
    params
        Engine parameters.
    progress
        Receives ``("cell", name, done, total)``.

    Returns
    -------
    IngestSummary
        The pipeline's summary.
    """
    from patchatlas.pipeline.ingest import Task, ingest

    tasks = [
        Task(name=name, files=[os.fspath(f) for f in files], metadata=dict(meta))
        for name, (files, meta) in cells.items()
    ]

    def on_cell(event: str, name: str, done: int, total: int) -> None:
        if progress is not None:
            progress("cell", name if event != "start" else "", done, total)

    return ingest(
        tasks, atlas, workers=workers, recompute=recompute, params=params, progress=on_cell
    )
