"""Allen Cell Types Database client: list and filter specimens, download their files into a
cache, ingest them into an atlas, and import / compare Allen's own computed features.

The client speaks the Allen Brain Atlas API (RMA queries at ``/api/v2/data/query.json`` and
well-known-file downloads at ``/api/v2/well_known_file_download/<id>``):

* specimens: ``model::ApiCellTypesSpecimenDetail`` (the table behind the Cell Types web app:
  species, structure, layer, Cre line, dendrite type, soma depth, ``ef__*`` ephys and ``nr__*``
  morphology features, model counts), paged with ``rma::options[num_rows][start_row][order]``;
* files: ``model::Specimen`` with ``ephys_result(well_known_files(well_known_file_type))`` and
  ``neuron_reconstructions(well_known_files(well_known_file_type))`` — the types
  ``NWBDownload``, ``3DNeuronReconstruction`` and ``3DNeuronMarker``;
* sweeps: ``model::EphysSweep``; models: ``model::NeuronalModel`` with their well-known files.

The base URL comes from ``api=``, else ``$PATCHATLAS_ALLEN_API``, else
``http://api.brain-map.org``, so that a mirror or a test server can stand in. Files land in
``<cache>/allen/specimen_<id>/`` (``ephys.nwb``, ``reconstruction.swc``,
``reconstruction.marker``, ``ephys_sweeps.json``, ``models/<model id>/…``) with a manifest.

The importer maps the ``ef__``/``nr__`` columns onto the feature registries
(:data:`EF_TO_REGISTRY`, :data:`NR_TO_REGISTRY`), and :func:`compare_allen_features` lines
Allen's values up with patchatlas's, cell by cell.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from patchatlas.datasets._download import (
    Downloader,
    FetchedFile,
    FileRequest,
    ProgressFn,
    RetryPolicy,
    chunked,
    default_cache,
    resolve_base_url,
    write_json,
)
from patchatlas.datasets._fetch import FetchResult, ingest_downloaded, provenance, species_name
from patchatlas.errors import DownloadError, ParameterError, ReadError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas.api import Atlas
    from patchatlas.datasets.published import PublishedDataset

__all__ = [
    "ALLEN_API",
    "DATASET",
    "EF_TO_REGISTRY",
    "NR_TO_REGISTRY",
    "AllenCellTypes",
    "allen_feature_dataset",
    "compare_allen_features",
    "fetch_allen",
    "import_allen_features",
    "load_allen_celltypes",
    "summarize_comparison",
]

log = logging.getLogger("patchatlas.datasets")

ALLEN_API = "http://api.brain-map.org"
ENV_VAR = "PATCHATLAS_ALLEN_API"
DATASET = "allen_celltypes"
SERVICE = "Allen Brain Atlas API"

#: ApiCellTypesSpecimenDetail ``ef__`` column → (ephys registry name, unit, factor to that unit)
EF_TO_REGISTRY: dict[str, tuple[str, str, float]] = {
    "ef__vrest": ("vrest", "mV", 1.0),
    "ef__ri": ("ri", "MΩ", 1.0),
    "ef__tau": ("tau", "ms", 1.0),
    "ef__f_i_curve_slope": ("f_i_curve_slope", "Hz/pA", 1.0),
    "ef__threshold_i_long_square": ("threshold_i_long_square", "pA", 1.0),
    "ef__upstroke_downstroke_ratio_long_square": (
        "upstroke_downstroke_ratio_long_square",
        "1",
        1.0,
    ),
    "ef__fast_trough_v_long_square": ("fast_trough_v_long_square", "mV", 1.0),
    "ef__adaptation": ("adaptation", "1", 1.0),
    "ef__avg_isi": ("avg_isi", "ms", 1.0),
    "ef__avg_firing_rate": ("avg_firing_rate", "Hz", 1.0),
    "ef__peak_t_ramp": ("peak_t_ramp", "s", 1.0),
}
#: ApiCellTypesSpecimenDetail ``nr__`` column → (morphology registry name, convention ``allen``)
NR_TO_REGISTRY: dict[str, tuple[str, str, float]] = {
    "nr__max_euclidean_distance": ("max_euclidean_distance", "µm", 1.0),
    "nr__number_stems": ("number_stems", "count", 1.0),
    "nr__number_bifurcations": ("number_bifurcations", "count", 1.0),
    "nr__average_contraction": ("average_contraction", "1", 1.0),
    "nr__average_parent_daughter_ratio": ("average_parent_daughter_ratio", "1", 1.0),
}

_FILE_TYPES = {
    "NWBDownload": "ephys",
    "3DNeuronReconstruction": "reconstruction",
    "3DNeuronMarker": "markers",
}
_FILE_NAMES = {
    "ephys": "ephys.nwb",
    "reconstruction": "reconstruction.swc",
    "markers": "reconstruction.marker",
}
KINDS = ("ephys", "reconstruction", "markers", "sweeps", "models")


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out


def _truthy_count(value: Any) -> bool:
    v = _num(value)
    if np.isfinite(v):
        return v > 0
    return isinstance(value, str) and value.strip().lower() in ("true", "yes")


def _rma_quote(query: str) -> str:
    return urllib.parse.quote(query, safe=":,[]$'()!*=/-_.")


class AllenCellTypes:
    """Client of the Allen Cell Types Database (Allen Brain Atlas API) with a download cache.

    Parameters
    ----------
    cache
        Cache folder (default :func:`patchatlas.datasets._download.default_cache`, i.e.
        ``$PATCHATLAS_CACHE`` or ``~/.cache/patchatlas``); this client uses ``<cache>/allen``.
    api
        Base URL (default ``$PATCHATLAS_ALLEN_API``, else ``http://api.brain-map.org``).
    retry
        Retry policy (attempts, backoff, timeout), or just the number of attempts.
    concurrency
        Files downloaded at once.
    page_size
        Rows per RMA page.
    sleep
        Wait function between retries (tests pass a recorder).

    Examples
    --------
    >>> allen = AllenCellTypes()                                    # doctest: +SKIP
    >>> cells = allen.select(species="mouse", layer="5", limit=20)  # doctest: +SKIP
    >>> allen.download(cells.index)                                 # doctest: +SKIP
    """

    def __init__(
        self,
        cache: str | os.PathLike[str] | None = None,
        *,
        api: str | None = None,
        retry: RetryPolicy | int | None = None,
        concurrency: int = 4,
        page_size: int = 2000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if page_size < 1:
            raise ParameterError(f"page_size={page_size}: give at least 1")
        self.base_url = resolve_base_url(api, ENV_VAR, ALLEN_API)
        self.cache = Path(cache).expanduser() if cache is not None else default_cache()
        self.root = self.cache / "allen"
        self.page_size = page_size
        self.http = Downloader(
            self.root,
            service=f"{SERVICE} at {self.base_url}",
            env_var=ENV_VAR,
            retry=retry,
            concurrency=concurrency,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"AllenCellTypes({self.base_url!r}, cache={str(self.root)!r})"

    # ----------------------------------------------------------------------------- queries

    def query(
        self, model: str, *, criteria: str = "", include: str = "", order: str | None = None
    ) -> list[dict[str, Any]]:
        """Run an RMA query and return every row, page by page.

        Parameters
        ----------
        model
            ``"ApiCellTypesSpecimenDetail"``, ``"Specimen"``, ``"EphysSweep"`` ...
        criteria
            The ``rma::criteria`` part, e.g. ``"[specimen_id$in1,2]"``.
        include
            The ``rma::include`` part.
        order
            Attribute to order by (stable paging).

        Returns
        -------
        list of dict
            All rows (``msg`` of every page).

        Raises
        ------
        patchatlas.errors.DownloadError
            The service cannot be reached, refuses the query (``success: false``) or answers
            malformed pages.
        """
        rows: list[dict[str, Any]] = []
        start = 0
        while True:
            q = f"model::{model}"
            if criteria:
                q += f",rma::criteria,{criteria}"
            if include:
                q += f",rma::include,{include}"
            opts = f"[num_rows$eq{self.page_size}][start_row$eq{start}]"
            if order:
                opts += f"[order$eq'{order}']"
            q += f",rma::options{opts}"
            url = f"{self.base_url}/api/v2/data/query.json?criteria={_rma_quote(q)}"
            doc = self.http.get_json(url)
            if not isinstance(doc, dict) or not doc.get("success", False):
                msg = doc.get("msg") if isinstance(doc, dict) else doc
                raise DownloadError(url, f"{SERVICE} refused the query: {msg}")
            page = doc.get("msg")
            if not isinstance(page, list):
                raise DownloadError(url, f"{SERVICE} answered without a row list ('msg')")
            rows.extend(page)
            total = int(doc.get("total_rows", len(rows)))
            start += len(page)
            if not page or start >= total:
                return rows

    def specimens(self, *, refresh: bool = False) -> pd.DataFrame:
        """Every cell of the database (``ApiCellTypesSpecimenDetail``), cached in
        ``<cache>/allen/specimens.json``.

        Parameters
        ----------
        refresh
            Query the service again even when the cache holds the table.

        Returns
        -------
        pandas.DataFrame
            One row per specimen, indexed by ``specimen__id`` (int), the service's columns.
        """
        path = self.root / "specimens.json"
        rows: list[dict[str, Any]] | None = None
        if path.is_file() and not refresh:
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                if doc.get("base_url") == self.base_url:
                    rows = doc["rows"]
            except (OSError, ValueError, KeyError, TypeError):
                rows = None
        if rows is None:
            rows = self.query("ApiCellTypesSpecimenDetail", order="specimen__id")
            write_json(
                path,
                {
                    "base_url": self.base_url,
                    "fetched_at": pd.Timestamp.now("UTC").isoformat(),
                    "rows": rows,
                },
            )
        df = pd.DataFrame(rows)
        if df.empty or "specimen__id" not in df.columns:
            raise DownloadError(
                self.base_url, f"{SERVICE} listed no specimens (no 'specimen__id' rows)"
            )
        df["specimen__id"] = df["specimen__id"].astype("int64")
        return df.drop_duplicates("specimen__id").set_index("specimen__id").sort_index()

    def select(
        self,
        *,
        species: str | Sequence[str] | None = None,
        structure: str | None = None,
        layer: str | Sequence[str] | None = None,
        cre_line: str | None = None,
        dendrite_type: str | Sequence[str] | None = None,
        has_reconstruction: bool | None = None,
        has_models: bool | None = None,
        specimen_ids: Iterable[int] | None = None,
        limit: int | None = None,
        refresh: bool = False,
    ) -> pd.DataFrame:
        """Specimens matching all the filters given, in specimen-id order.

        Parameters
        ----------
        species
            ``"mouse"`` / ``"human"`` (or ``"Mus musculus"`` / ``"Homo Sapiens"``).
        structure
            Structure acronym or its prefix (``"VISp"`` matches ``VISp5``; ``"MTG"``).
        layer
            Cortical layer(s) (``"5"``; ``"6"`` matches ``6a`` and ``6b``).
        cre_line
            Transgenic line, case-insensitive substring (``"Sst"``).
        dendrite_type
            ``"spiny"``, ``"aspiny"``, ``"sparsely spiny"``.
        has_reconstruction
            Only cells with (True) or without (False) a reconstruction.
        has_models
            Only cells with (True) or without (False) a GLIF or biophysical model.
        specimen_ids
            Only these specimens.
        limit
            At most this many (the first by specimen id).
        refresh
            Query the specimen table again.

        Returns
        -------
        pandas.DataFrame
            The matching rows of :meth:`specimens`.

        Raises
        ------
        patchatlas.errors.ParameterError
            ``limit`` < 1.
        """
        if limit is not None and limit < 1:
            raise ParameterError(f"limit={limit}: give at least 1")
        df = self.specimens(refresh=refresh)
        mask = pd.Series(True, index=df.index)

        def col(name: str) -> pd.Series:
            if name in df.columns:
                return df[name]
            return pd.Series(None, index=df.index, dtype=object)

        if species is not None:
            wanted = {species_name(s) for s in ([species] if isinstance(species, str) else species)}
            mask &= col("donor__species").map(species_name).isin(wanted)
        if structure is not None:
            acr = col("structure__acronym").astype("string").fillna("")
            parent = col("structure_parent__acronym").astype("string").fillna("")
            mask &= acr.str.startswith(structure) | (parent == structure)
        if layer is not None:
            layers = [str(x) for x in ([layer] if isinstance(layer, str) else layer)]
            lay = col("structure__layer").astype("string").fillna("")
            hit = pd.Series(False, index=df.index)
            for lv in layers:
                hit |= (lay == lv) | (lay.str.match(rf"^{re.escape(lv)}[ab]$"))
            mask &= hit
        if cre_line is not None:
            line = col("line_name").astype("string").fillna("")
            mask &= line.str.lower().str.contains(cre_line.lower(), regex=False)
        if dendrite_type is not None:
            types = [dendrite_type] if isinstance(dendrite_type, str) else list(dendrite_type)
            mask &= col("tag__dendrite_type").isin(types)
        if has_reconstruction is not None:
            has = _has_reconstruction(df)
            mask &= has if has_reconstruction else ~has
        if has_models is not None:
            has = pd.Series(False, index=df.index)
            for c in ("m__glif", "m__biophys", "m__biophys_perisomatic", "m__biophys_all_active"):
                if c in df.columns:
                    has |= df[c].map(_truthy_count)
            mask &= has if has_models else ~has
        if specimen_ids is not None:
            mask &= df.index.isin([int(s) for s in specimen_ids])
        out = df[mask]
        return out.head(limit) if limit is not None else out

    def well_known_files(self, specimen_ids: Iterable[int]) -> dict[int, dict[str, dict[str, Any]]]:
        """The downloadable files of specimens: NWB recording, SWC reconstruction, marker file.

        Parameters
        ----------
        specimen_ids
            The specimens (queried 50 at a time).

        Returns
        -------
        dict
            Specimen id → kind (``"ephys"``, ``"reconstruction"``, ``"markers"``) → the
            well-known-file record (``id``, ``download_link``, ``path`` ...). A specimen without
            a file of a kind has no such key.
        """
        out: dict[int, dict[str, dict[str, Any]]] = {}
        ids = sorted({int(s) for s in specimen_ids})
        for batch in chunked(ids, 50):
            rows = self.query(
                "Specimen",
                criteria=f"[id$in{','.join(str(i) for i in batch)}]",
                include=(
                    "ephys_result(well_known_files(well_known_file_type)),"
                    "neuron_reconstructions(well_known_files(well_known_file_type))"
                ),
            )
            for row in rows:
                sid = int(row["id"])
                files: dict[str, dict[str, Any]] = {}
                wkfs = list((row.get("ephys_result") or {}).get("well_known_files") or [])
                for rec in row.get("neuron_reconstructions") or []:
                    wkfs.extend(rec.get("well_known_files") or [])
                for w in wkfs:
                    kind = _FILE_TYPES.get(str((w.get("well_known_file_type") or {}).get("name")))
                    if kind is not None and kind not in files and w.get("download_link"):
                        files[kind] = w
                out[sid] = files
        return out

    def sweeps(self, specimen_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        """The sweep tables (``EphysSweep``) of specimens, sorted by sweep number.

        Parameters
        ----------
        specimen_ids
            The specimens.

        Returns
        -------
        dict
            Specimen id → its sweep rows (sweep_number, stimulus_name, amplitude, num_spikes ...).
        """
        out: dict[int, list[dict[str, Any]]] = {}
        for batch in chunked(sorted({int(s) for s in specimen_ids}), 50):
            rows = self.query(
                "EphysSweep", criteria=f"[specimen_id$in{','.join(str(i) for i in batch)}]"
            )
            for r in rows:
                out.setdefault(int(r["specimen_id"]), []).append(r)
        for rows in out.values():
            rows.sort(key=lambda r: int(r.get("sweep_number", 0)))
        return out

    def models(self, specimen_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        """The GLIF and biophysical models (``NeuronalModel``) of specimens, with their files.

        Parameters
        ----------
        specimen_ids
            The specimens.

        Returns
        -------
        dict
            Specimen id → model records (``id``, ``name``, ``neuronal_model_template``,
            ``well_known_files``).
        """
        out: dict[int, list[dict[str, Any]]] = {}
        for batch in chunked(sorted({int(s) for s in specimen_ids}), 50):
            rows = self.query(
                "NeuronalModel",
                criteria=f"[specimen_id$in{','.join(str(i) for i in batch)}]",
                include="well_known_files(well_known_file_type),neuronal_model_template",
            )
            for r in rows:
                out.setdefault(int(r["specimen_id"]), []).append(r)
        return out

    # ---------------------------------------------------------------------------- downloads

    def _per_specimen(
        self,
        ids: Sequence[int],
        name: str,
        query: Callable[[Sequence[int]], Mapping[int, Any]],
        empty: Any,
        refresh: bool,
    ) -> dict[int, Any]:
        """``query`` answers per specimen, kept in ``specimen_<id>/<name>`` (asked only for
        specimens without one, or all with ``refresh``)."""
        out: dict[int, Any] = {}
        missing = []
        for sid in ids:
            path = self.root / f"specimen_{sid}" / name
            doc = None if refresh or not path.is_file() else _load_json(path)
            if doc is None:
                missing.append(sid)
            else:
                out[sid] = doc
        if missing:
            got = query(missing)
            for sid in missing:
                out[sid] = got.get(sid, empty)
                write_json(self.root / f"specimen_{sid}" / name, out[sid])
        return out

    def _url(self, link: str) -> str:
        return link if link.startswith(("http://", "https://")) else self.base_url + link

    def download(
        self,
        specimen_ids: Iterable[int],
        *,
        kinds: Sequence[str] = ("ephys", "reconstruction", "markers", "sweeps"),
        progress: ProgressFn | None = None,
        verify: bool = True,
        refresh: bool = False,
    ) -> tuple[pd.DataFrame, list[FetchedFile]]:
        """Download specimens' files into the cache (reusing what is there).

        The file lists, sweep tables and model lists of a specimen are kept in its cache folder
        (``files.json``, ``ephys_sweeps.json``, ``models.json``), so a specimen fetched once is
        fetched again without the network.

        Parameters
        ----------
        specimen_ids
            The specimens.
        kinds
            Any of ``"ephys"`` (NWB 1), ``"reconstruction"`` (SWC), ``"markers"``,
            ``"sweeps"`` (sweep table JSON), ``"models"`` (model parameter files).
        progress
            Byte and file progress (see :data:`~patchatlas.datasets._download.ProgressFn`).
        verify
            Re-hash cached files before using them.
        refresh
            Ask the service again for the file lists, sweep tables and models.

        Returns
        -------
        table : pandas.DataFrame
            One row per specimen (index ``specimen_id``): a path column per kind (None when the
            specimen has no such file) and ``models`` (list of paths).
        files : list of FetchedFile
            Every file brought into (or found in) the cache.

        Raises
        ------
        patchatlas.errors.ParameterError
            Unknown kind.
        patchatlas.errors.DownloadError, patchatlas.errors.ChecksumError
            A file could not be downloaded (files completed before stay in the cache).
        """
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ParameterError(f"unknown kind(s) {bad}; use {', '.join(KINDS)}")
        ids = [int(s) for s in specimen_ids]
        record: dict[int, dict[str, Any]] = {
            sid: {
                "ephys": None,
                "reconstruction": None,
                "markers": None,
                "sweeps": None,
                "models": [],
            }
            for sid in ids
        }
        requests: list[tuple[int, str, FileRequest]] = []
        file_kinds = [k for k in kinds if k in _FILE_NAMES]
        if file_kinds:
            links = self._per_specimen(ids, "files.json", self.well_known_files, {}, refresh)
            for sid in ids:
                for kind in file_kinds:
                    w = links.get(sid, {}).get(kind)
                    if w is None:
                        continue
                    rel = f"specimen_{sid}/{_FILE_NAMES[kind]}"
                    src = {"specimen_id": sid, "well_known_file_id": w.get("id"), "kind": kind}
                    requests.append(
                        (
                            sid,
                            kind,
                            FileRequest(self._url(str(w["download_link"])), rel, source=src),
                        )
                    )
        if "models" in kinds:
            for sid, models in self._per_specimen(
                ids, "models.json", self.models, [], refresh
            ).items():
                for m in models:
                    for w in m.get("well_known_files") or []:
                        if not w.get("download_link"):
                            continue
                        name = Path(str(w.get("path") or f"{w.get('id')}.dat")).name
                        rel = f"specimen_{sid}/models/{m.get('id')}/{name}"
                        src = {
                            "specimen_id": sid,
                            "model_id": m.get("id"),
                            "model": m.get("name"),
                            "well_known_file_id": w.get("id"),
                            "kind": "model",
                        }
                        requests.append(
                            (
                                sid,
                                "models",
                                FileRequest(self._url(str(w["download_link"])), rel, source=src),
                            )
                        )
        fetched = self.http.fetch([r for _, _, r in requests], progress=progress, verify=verify)
        files = list(fetched)
        for (sid, kind, _), got in zip(requests, fetched, strict=True):
            if kind == "models":
                record[sid]["models"].append(str(got.path))
            else:
                record[sid][kind] = str(got.path)
        if "sweeps" in kinds:
            sweeps = self._per_specimen(ids, "ephys_sweeps.json", self.sweeps, [], refresh)
            for sid, rows in sweeps.items():
                if rows and sid in record:
                    record[sid]["sweeps"] = str(self.root / f"specimen_{sid}" / "ephys_sweeps.json")
        table = pd.DataFrame.from_dict(record, orient="index")
        table.index.name = "specimen_id"
        return table, files


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _has_reconstruction(df: pd.DataFrame) -> pd.Series:
    has = pd.Series(False, index=df.index)
    for c in ("nr__reconstruction_type", "nrwkf__id"):
        if c in df.columns:
            v = df[c]
            has |= (
                v.notna()
                & (v.astype("string").str.strip().str.lower() != "null")
                & (v.astype("string").str.strip() != "")
            )
    return has


# ------------------------------------------------------------------------- cell annotations


def cell_metadata(row: Mapping[str, Any], base_url: str = ALLEN_API) -> dict[str, Any]:
    """Atlas annotations of one ``ApiCellTypesSpecimenDetail`` row, with its ``source``.

    Parameters
    ----------
    row
        The specimen's row (``specimen__id`` included).
    base_url
        The API it came from (kept in ``source``).

    Returns
    -------
    dict
        ``species``, ``region``, ``layer``, ``normalized_depth``, ``cre_line``,
        ``reporter_status``, ``dendrite_type``, ``apical``, ``donor`` (+ ``donor_sex``,
        ``donor_age``), ``dataset`` (``"allen_celltypes"``) and ``source`` (archive, specimen
        id and name, well-known files, page URL, a display ``label``).
    """

    def get(key: str) -> Any:
        v = row.get(key)
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return None
        if isinstance(v, str) and v.strip().lower() in ("", "null", "none", "nan"):
            return None
        return v

    sid = int(row["specimen__id"])
    meta: dict[str, Any] = {"dataset": DATASET}
    species = species_name(get("donor__species"))
    if species:
        meta["species"] = species
    region = get("structure_parent__acronym")
    if region is None and get("structure__acronym") is not None:
        region = re.sub(r"\d(?:/\d)?[ab]?$", "", str(get("structure__acronym")))
    for key, value in (
        ("region", region),
        ("layer", get("structure__layer")),
        ("normalized_depth", get("csl__normalized_depth")),
        ("cre_line", get("line_name")),
        ("reporter_status", get("cell_reporter_status")),
        ("dendrite_type", get("tag__dendrite_type")),
        ("apical", get("tag__apical")),
        ("structure", get("structure__acronym")),
        ("donor", get("donor__name")),
        ("donor_sex", get("donor__sex")),
        ("donor_age", get("donor__age")),
        ("donor_medical_conditions", get("donor__disease_state")),
    ):
        if value is not None:
            meta[key] = value
    if "normalized_depth" in meta:
        meta["normalized_depth"] = _num(meta["normalized_depth"])
    page = f"https://celltypes.brain-map.org/experiment/electrophysiology/{sid}"
    meta["source"] = {
        "archive": "Allen Cell Types Database",
        "specimen_id": sid,
        "specimen_name": get("specimen__name"),
        "api": base_url,
        "url": page,
        "label": f"Allen Cell Types Database, specimen {sid}",
    }
    return meta


# ------------------------------------------------------------------------------- importer


def allen_feature_dataset(
    specimens: pd.DataFrame, *, base_url: str = ALLEN_API
) -> PublishedDataset:
    """Allen's computed features of specimens as a published dataset (registry names).

    ``ef__`` columns become cell-level ephys features (:data:`EF_TO_REGISTRY`), ``nr__``
    columns morphology features (:data:`NR_TO_REGISTRY`); other ``ef__``/``nr__`` numeric
    columns are kept under their native name. ``native_name`` keeps the Allen column.

    Parameters
    ----------
    specimens
        ``ApiCellTypesSpecimenDetail`` rows indexed by specimen id (:meth:`AllenCellTypes.select`,
        or :func:`load_allen_celltypes`).
    base_url
        Where they came from (kept in each cell's ``source``).

    Returns
    -------
    PublishedDataset
        ``name`` ``"allen_celltypes"``; cells named by specimen id.
    """
    from patchatlas.datasets.published import PublishedDataset

    df = specimens.copy()
    df.index = df.index.astype(str)
    metas = {
        str(name): cell_metadata(
            {**{str(k): v for k, v in row.items()}, "specimen__id": int(str(name))}, base_url
        )
        for name, row in df.iterrows()
    }
    cells = pd.DataFrame.from_dict(metas, orient="index")
    cells.index = cells.index.astype(str)

    def long(prefix: str, mapping: Mapping[str, tuple[str, str, float]]) -> pd.DataFrame:
        cols = [c for c in df.columns if str(c).startswith(prefix)]
        num = df[cols].apply(pd.to_numeric, errors="coerce") if cols else pd.DataFrame()
        num = num.loc[:, num.notna().any()] if len(num.columns) else num
        if num.empty:
            return pd.DataFrame(columns=["cell", "name", "value", "unit", "native_name"])
        stacked = num.stack().reset_index()
        stacked.columns = ["cell", "native_name", "value"]
        mapped = stacked["native_name"].map(lambda n: mapping.get(n, (n, None, 1.0)))
        stacked["name"] = [m[0] for m in mapped]
        stacked["unit"] = [m[1] for m in mapped]
        stacked["value"] = stacked["value"].to_numpy(float) * np.array([m[2] for m in mapped])
        return stacked[["cell", "name", "value", "unit", "native_name"]]

    ephys = long("ef__", EF_TO_REGISTRY)
    morph = long("nr__", NR_TO_REGISTRY)
    return PublishedDataset(
        DATASET, cells, ephys=ephys, morphology=morph if len(morph) else None, sources=[base_url]
    )


def _realign_split_names(df: pd.DataFrame) -> pd.DataFrame:
    """Exports whose ``specimen__name`` ("Line;Reporter-…") was split at the semicolon into two
    columns have every later value one column to the right (the last header is empty)."""
    if "specimen__hemisphere" not in df.columns or df.columns[-1] not in ("", "Unnamed: 44"):
        return df
    hemi = df["specimen__hemisphere"].astype("string").str.lower()
    if hemi.isin(["left", "right"]).any():
        return df
    cols = list(df.columns)
    k = cols.index("specimen__name")
    values = df.to_numpy(dtype=object)
    fixed = pd.DataFrame(values[:, : k + 1].copy(), columns=cols[: k + 1], index=df.index)
    fixed["specimen__name"] = [
        f"{a};{b}" for a, b in zip(values[:, k], values[:, k + 1], strict=True)
    ]
    for j, c in enumerate(cols[k + 1 : -1], start=k + 1):
        fixed[c] = values[:, j + 1]
    return fixed.infer_objects()


def load_allen_celltypes(folder: str | os.PathLike[str]) -> PublishedDataset:
    """Allen's computed features from a folder, as a published dataset.

    The folder holds a specimen table: ``specimens.json`` (this client's cache, e.g.
    ``~/.cache/patchatlas/allen``), ``cells.json`` (allensdk's ``CellTypesCache``), or a CSV
    export of ``ApiCellTypesSpecimenDetail`` (any ``*.csv`` with a ``specimen__id`` column, such
    as the Cell Types web app's download; an export whose specimen names were split at the
    semicolon is realigned).

    Parameters
    ----------
    folder
        The folder.

    Returns
    -------
    PublishedDataset
        See :func:`allen_feature_dataset`.

    Raises
    ------
    patchatlas.errors.ReadError
        No specimen table in the folder, or it cannot be parsed.
    """
    p = Path(folder)
    df: pd.DataFrame | None = None
    base = ALLEN_API
    for name in ("specimens.json", "cells.json"):
        f = p / name
        if f.is_file():
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ReadError(f, f"is not valid JSON ({exc})") from exc
            rows = doc.get("rows") if isinstance(doc, dict) else doc
            base = doc.get("base_url", base) if isinstance(doc, dict) else base
            df = pd.DataFrame(rows)
            if "specimen__id" not in df.columns and "id" in df.columns:
                df = df.rename(columns={"id": "specimen__id"})
            break
    if df is None:
        for f in sorted(p.glob("*.csv")):
            try:
                head = pd.read_csv(f, nrows=0)
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
                continue
            if "specimen__id" in head.columns:
                df = _realign_split_names(pd.read_csv(f, keep_default_na=True))
                break
    if df is None or "specimen__id" not in df.columns:
        raise ReadError(
            p,
            "holds no Allen specimen table",
            "give the folder of specimens.json (the fetch cache) or of a CSV export with a "
            "specimen__id column",
        )
    df = df[pd.to_numeric(df["specimen__id"], errors="coerce").notna()].copy()
    df["specimen__id"] = df["specimen__id"].astype("int64")
    df = df.drop_duplicates("specimen__id").set_index("specimen__id")
    return allen_feature_dataset(df, base_url=base)


def import_allen_features(
    atlas: Atlas | str | os.PathLike[str], specimens: pd.DataFrame, *, base_url: str = ALLEN_API
) -> dict[str, int]:
    """Write Allen's computed features of ``specimens`` into the atlas (one transaction).

    Replaces the rows an earlier Allen import wrote; the cells are the specimen ids, so the
    features land on cells fetched with :func:`fetch_allen`.

    Parameters
    ----------
    atlas
        Atlas (writable) or URL.
    specimens
        ``ApiCellTypesSpecimenDetail`` rows indexed by specimen id.
    base_url
        Where they came from.

    Returns
    -------
    dict
        Counts written (cells, ephys values, morphologies ...).
    """
    from patchatlas.atlas.api import Atlas
    from patchatlas.atlas.importers import import_published

    atl = atlas if isinstance(atlas, Atlas) else Atlas(atlas)
    return import_published(atl, allen_feature_dataset(specimens, base_url=base_url))


# --------------------------------------------------------------------------------- fetch


def fetch_allen(
    atlas: Atlas | str | os.PathLike[str] | None,
    *,
    species: str | None = None,
    structure: str | None = None,
    layer: str | None = None,
    cre_line: str | None = None,
    dendrite_type: str | None = None,
    has_reconstruction: bool | None = None,
    has_models: bool | None = None,
    specimen_ids: Iterable[int] | None = None,
    limit: int | None = None,
    kinds: Sequence[str] = ("ephys", "reconstruction", "markers", "sweeps"),
    import_features: bool = True,
    client: AllenCellTypes | None = None,
    cache: str | os.PathLike[str] | None = None,
    api: str | None = None,
    refresh: bool = False,
    workers: int = 1,
    recompute: bool = False,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressFn | None = None,
) -> FetchResult:
    """Select Allen cells, download their files, ingest them and import Allen's features.

    The cells are named by specimen id; each recording (NWB) and reconstruction (SWC) goes
    through the normal ingest pipeline (content keys: cells already in the atlas with the same
    files are skipped), annotated with :func:`cell_metadata` (including ``source``). Then
    Allen's ``ef__``/``nr__`` values of every Allen cell in the atlas are imported
    (:func:`import_allen_features`) for :func:`compare_allen_features`.

    Parameters
    ----------
    atlas
        Atlas or URL; None downloads only.
    species, structure, layer, cre_line, dendrite_type
        Filters of :meth:`AllenCellTypes.select`.
    has_reconstruction, has_models, specimen_ids, limit
        Filters of :meth:`AllenCellTypes.select`.
    kinds
        Files to download (see :meth:`AllenCellTypes.download`).
    import_features
        Import Allen's computed features after the ingest.
    client
        A configured client (else one is made from ``cache`` and ``api``).
    cache, api
        Cache folder and base URL for the client made here.
    refresh
        Query the specimen table again.
    workers, recompute, params
        Passed to :func:`patchatlas.pipeline.ingest`.
    progress
        ``"bytes"``, ``"file"`` and ``"cell"`` events.

    Returns
    -------
    FetchResult
        Cells, files, ingest summary, import counts, provenance.

    Raises
    ------
    patchatlas.errors.DownloadError
        The service is unreachable (and the cache cannot answer), or a file fails after the
        retries.
    patchatlas.errors.ParameterError
        No specimen matches the filters.
    """
    allen = client or AllenCellTypes(cache, api=api)
    query = {
        "species": species,
        "structure": structure,
        "layer": layer,
        "cre_line": cre_line,
        "dendrite_type": dendrite_type,
        "has_reconstruction": has_reconstruction,
        "has_models": has_models,
        "specimen_ids": None if specimen_ids is None else [int(s) for s in specimen_ids],
        "limit": limit,
    }
    chosen = allen.select(**query, refresh=refresh)  # type: ignore[arg-type]
    if chosen.empty:
        shown = {k: v for k, v in query.items() if v is not None}
        raise ParameterError(f"no Allen specimen matches {shown} at {allen.base_url}")
    table, files = allen.download(chosen.index, kinds=kinds, progress=progress)
    rows = []
    to_ingest: dict[str, tuple[list[str], dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    for sid_key, spec in chosen.iterrows():
        sid = int(str(sid_key))
        name = str(sid)
        got = table.loc[sid]
        paths = [str(p) for p in (got["ephys"], got["reconstruction"]) if isinstance(p, str)]
        spec_d = {str(k): v for k, v in spec.items()}
        meta = cell_metadata({**spec_d, "specimen__id": sid}, allen.base_url)
        own = [f for f in files if f.source.get("specimen_id") == sid]
        # the URLs of the files behind the cell (the import's ``source`` has no file list)
        meta["source_files"] = {
            str(f.source.get("kind")): f.url for f in own if f.source.get("kind") != "model"
        }
        rows.append(
            {
                "cell": name,
                "specimen_id": sid,
                "specimen_name": spec_d.get("specimen__name"),
                **{k: got[k] for k in ("ephys", "reconstruction", "markers", "sweeps", "models")},
                "bytes": sum(f.size for f in own),
                "cached": bool(own) and all(f.cached for f in own),
            }
        )
        if not paths:
            skipped[name] = "no NWB recording or reconstruction among the downloaded files"
            continue
        to_ingest[name] = (paths, meta)
    cells = pd.DataFrame(rows).set_index("cell")
    result = FetchResult(
        "allen",
        cells,
        files=files,
        skipped=skipped,
        provenance=provenance("allen", allen.base_url, allen.root, kinds=list(kinds), **query),
    )
    if atlas is None:
        return result
    from patchatlas.atlas.api import Atlas

    atl = atlas if isinstance(atlas, Atlas) else Atlas(atlas)
    if to_ingest:
        result.ingest = ingest_downloaded(
            to_ingest, atl, workers=workers, recompute=recompute, params=params, progress=progress
        )
    if import_features:
        # every Allen cell of the atlas (not only this fetch's): the import replaces the
        # previous one, so earlier fetches keep their Allen values
        in_atlas = set(atl.cells(dataset=DATASET).index.astype(str))
        every = allen.specimens()
        keep = every[every.index.astype(str).isin(in_atlas | set(to_ingest))]
        result.imported = import_allen_features(atl, keep, base_url=allen.base_url)
    return result


# ------------------------------------------------------------------------------ comparison


def compare_allen_features(
    atlas: Atlas | str | os.PathLike[str], *, cells: Sequence[str] | None = None
) -> pd.DataFrame:
    """Allen's own computed features next to patchatlas's, cell by cell.

    Parameters
    ----------
    atlas
        Atlas or URL holding fetched Allen cells and their imported Allen features.
    cells
        Only these cells.

    Returns
    -------
    pandas.DataFrame
        One row per (cell, feature) that both have: ``cell_id``, ``kind`` (ephys / morphology),
        ``name``, ``unit``, ``native_name`` (the Allen column), ``allen``, ``patchatlas``,
        ``difference`` (patchatlas − allen) and ``relative_difference`` (difference / |allen|;
        NaN where Allen's value is 0). Sorted by feature, then cell.
    """
    from patchatlas.atlas.api import Atlas
    from patchatlas.atlas.sources import features_by_engine

    atl = atlas if isinstance(atlas, Atlas) else Atlas(atlas, mode="r")
    df = features_by_engine(atl, cells=cells)
    cols = [
        "cell_id",
        "kind",
        "name",
        "unit",
        "native_name",
        "allen",
        "patchatlas",
        "difference",
        "relative_difference",
    ]
    if df.empty:
        return pd.DataFrame(columns=cols)
    allen = df[df["engine"] == f"import:{DATASET}"]
    ours = df[df["engine"].isin(["ephys", "morphology"])]
    key = ["cell_id", "kind", "name"]
    ours = ours.groupby(key, as_index=False).agg(
        patchatlas=("value", "first"), unit_ours=("unit", "first")
    )
    allen = allen.groupby(key, as_index=False).agg(
        allen=("value", "first"), unit=("unit", "first"), native_name=("native_name", "first")
    )
    both = allen.merge(ours, on=key, how="inner")
    both["unit"] = both["unit"].where(both["unit"].notna(), both["unit_ours"])
    both["difference"] = both["patchatlas"] - both["allen"]
    denom = both["allen"].abs().replace(0.0, np.nan)
    both["relative_difference"] = both["difference"] / denom
    return both[cols].sort_values(["kind", "name", "cell_id"], kind="stable").reset_index(drop=True)


def summarize_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Per feature: how Allen's values and patchatlas's agree over the compared cells.

    Parameters
    ----------
    table
        The output of :func:`compare_allen_features`.

    Returns
    -------
    pandas.DataFrame
        One row per (kind, name): ``unit``, ``cells``, ``allen_median``,
        ``patchatlas_median``, ``median_abs_difference``, ``median_abs_relative_difference``
        and ``pearson_r`` (NaN with fewer than 3 cells or a constant column).
    """
    cols = [
        "kind",
        "name",
        "unit",
        "cells",
        "allen_median",
        "patchatlas_median",
        "median_abs_difference",
        "median_abs_relative_difference",
        "pearson_r",
    ]
    if table.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (kind, name), g in table.groupby(["kind", "name"], sort=True):
        a = g["allen"].to_numpy(float)
        b = g["patchatlas"].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b)
        r = float("nan")
        if ok.sum() >= 3 and np.unique(a[ok]).size > 1 and np.unique(b[ok]).size > 1:
            r = float(np.corrcoef(a[ok], b[ok])[0, 1])
        rows.append(
            {
                "kind": kind,
                "name": name,
                "unit": g["unit"].iloc[0],
                "cells": int(ok.sum()),
                "allen_median": float(np.nanmedian(a)) if ok.any() else float("nan"),
                "patchatlas_median": float(np.nanmedian(b)) if ok.any() else float("nan"),
                "median_abs_difference": float(np.nanmedian(np.abs(b - a))) if ok.any() else np.nan,
                "median_abs_relative_difference": float(
                    np.nanmedian(np.abs(g["relative_difference"].to_numpy(float)))
                )
                if g["relative_difference"].notna().any()
                else float("nan"),
                "pearson_r": r,
            }
        )
    return pd.DataFrame(rows, columns=cols)
