"""What the portal shows, computed from an :class:`~patchatlas.atlas.Atlas` and cached.

The cell table (annotations + data availability + derived ``t_type_family``) and the wide feature
tables are read once per *data version* (:func:`patchatlas.atlas.portal.data_version`, re-checked
at most every ``refresh_s`` seconds, and at once after a write through the portal), so that a page
or API call costs a pandas slice, not a database scan.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from patchatlas.atlas import Atlas
from patchatlas.atlas import celltypes as CT
from patchatlas.atlas import portal as Q

__all__ = [
    "AVAILABILITY",
    "FACETS",
    "MULTI_FACETS",
    "QC_VALUES",
    "TEXT_FIELDS",
    "PortalData",
    "Snapshot",
    "t_type_family",
    "to_jsonable",
]

# Discrete facets of the Cell Feature Search, in display order: column -> label.
FACETS: dict[str, str] = {
    "species": "Species",
    "region": "Region / area",
    "layer": "Layer",
    "cre_line": "Cre line",
    "dendrite_type": "Dendrite type",
    "t_type_family": "t-type family",
    "subclass": "Subclass",
    "dataset": "Dataset",
    "qc": "Quality control",
    # stored type assignments (patchatlas.atlas.celltypes): the latest run of each kind
    "t_type_predicted": "t-type (assigned)",
    "e_type": "e-type",
    "m_type": "m-type",
    "me_type": "me-type",
}
#: facets where a cell can have several values (a cell of two publications is in both datasets;
#: a cell can fail QC and have a value outside its physiological range); a cell matches when any
#: of its values is chosen
MULTI_FACETS: frozenset[str] = frozenset({"dataset", "qc"})
#: the values of the ``qc`` facet
QC_VALUES: dict[str, str] = {
    "passed": "every QC check with a verdict passed",
    "failed": "at least one QC check failed",
    "not checked": "no QC verdict stored",
    "outside physiological range": "a feature value outside its documented range",
}
#: what the text search looks in
TEXT_FIELDS: tuple[str, ...] = ("cell_id", "t_type", "subclass", "cre_line", "donor", "dataset")
AVAILABILITY: dict[str, str] = {
    "has_sweeps": "Sweeps",
    "has_ephys": "Ephys features",
    "has_morphology": "Morphology",
    "has_transcriptome": "Transcriptome",
    "has_model": "Model",
}
MISSING = "(unknown)"


def t_type_family(subclass: pd.Series, t_type: pd.Series) -> pd.Series:
    """The t-type family of each cell (:func:`patchatlas.core.vocabulary.family_of`): of its
    ``subclass`` where known, else of the subclass its ``t_type`` implies
    (:func:`~patchatlas.core.vocabulary.subclass_of`: ``"Sst Calb2 Pdlim5"`` → ``"Sst"``,
    ``"L2/3 IT_3"`` → ``"IT"``), else the first word of the t-type, else missing.

    Parameters
    ----------
    subclass
        Transcriptomic subclass of each cell; missing or blank values count as unknown.
    t_type
        Transcriptomic type of each cell, aligned with ``subclass``.

    Returns
    -------
    pandas.Series
        String dtype, aligned with ``subclass``; ``<NA>`` where neither is known.
    """
    from patchatlas.core.vocabulary import family_of, subclass_of

    def one(sub: Any, tt: Any) -> str | None:
        s = None if pd.isna(sub) or not str(sub).strip() else str(sub).strip()
        if s is None and not pd.isna(tt) and str(tt).strip():
            s = subclass_of(tt) or str(tt).split()[0]
        return None if s is None else family_of(s)

    if len(subclass) == 0:
        return pd.Series([], index=subclass.index, dtype="string")
    # one look-up per distinct (subclass, t-type) pair
    pairs = pd.MultiIndex.from_arrays(
        [subclass.astype("string").fillna(""), t_type.astype("string").fillna("")]
    )
    codes, uniques = pd.factorize(pairs)
    fams = np.array(
        [one(a or None, b or None) for a, b in uniques] + [None], dtype=object
    )  # code -1 (never, after fillna) → None
    out = pd.Series(fams[codes], index=subclass.index, dtype="string")
    return out


def to_jsonable(value: Any) -> Any:
    """Plain JSON values: NaN/inf → None, numpy scalars → Python, timestamps → ISO strings.

    Parameters
    ----------
    value
        Any value; dicts, lists, tuples and numpy arrays are converted recursively.

    Returns
    -------
    Any
        ``dict`` (keys as strings), ``list``, ``str``, ``int``, ``bool``, finite ``float`` or
        None; values of other types become ``str(value)``.
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str | int | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-safe dicts."""
    if df.empty:
        return []
    cols = [str(c) for c in df.columns]
    arrays = [df.iloc[:, j].to_numpy(dtype=object) for j in range(df.shape[1])]
    return [
        {c: to_jsonable(v) for c, v in zip(cols, row, strict=True)}
        for row in zip(*arrays, strict=True)
    ]


def _matrix(values: list[list[str]]) -> tuple[np.ndarray, list[str]]:
    """Cells × distinct values membership of a multi-valued facet (values by frequency)."""
    counts: dict[str, int] = {}
    for vs in values:
        for v in vs:
            counts[v] = counts.get(v, 0) + 1
    uniques = sorted(counts, key=lambda v: -counts[v])
    pos = {v: k for k, v in enumerate(uniques)}
    mat = np.zeros((len(values), len(uniques)), dtype=bool)
    for i, vs in enumerate(values):
        for v in vs:
            mat[i, pos[v]] = True
    return mat, uniques


def _search_text(cells: pd.DataFrame) -> np.ndarray:
    if cells.empty:
        return np.array([], dtype=object)
    parts = [cells.index.to_series().astype(str).str.lower()]
    for col in TEXT_FIELDS[1:]:
        if col == "dataset":
            joined_ds = [" ".join(v).lower() for v in cells["datasets"]]
            parts.append(pd.Series(joined_ds, index=cells.index, dtype=object).astype(str))
        elif col in cells.columns:
            parts.append(cells[col].astype("string").fillna("").str.lower().astype(str))
    rest: Any = parts[1:]
    joined = parts[0].str.cat(rest, sep="\u0001") if rest else parts[0]
    return joined.to_numpy(dtype=object)


@dataclass
class Snapshot:
    """The portal's view of the atlas at one data version."""

    version: str
    cells: pd.DataFrame  # indexed by cell_id: annotations, t_type_family, has_* flags
    ephys: pd.DataFrame  # wide cell-level ephys features, indexed by cell_id
    morph: pd.DataFrame  # wide morphology features, indexed by cell_id
    catalog: pd.DataFrame  # feature_catalog()
    etag: str = ""
    codes: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)
    #: multi-valued facets: column → (cells × values boolean matrix, values)
    multi: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)
    #: cells × features with a physiological range: True where the value lies outside it
    flags: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: per cell, the lower-case text the search box looks in (:data:`TEXT_FIELDS`)
    text: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    _json_cache: dict[str, bytes] = field(default_factory=dict)
    _aligned: dict[str, np.ndarray] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict)

    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def memo(self, key: str, compute: Any) -> Any:
        """``compute()`` once per snapshot (tables derived from the atlas at this version);
        concurrent callers wait for the one computation instead of repeating it.

        Parameters
        ----------
        key
            Name of the derived value in this snapshot's memo.
        compute
            Callable without arguments that computes it (called at most once per key).

        Returns
        -------
        Any
            The stored result of ``compute()``.
        """
        if key in self._memo:
            return self._memo[key]
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def numeric_features(self) -> list[tuple[str, str]]:
        """``(column, kind)`` of the numerical features offered for brushing (non-empty).

        Returns
        -------
        list of tuple of (str, str)
            Ephys columns (kind ``"ephys"``), then morphology columns (``"morphology"``), each
            with at least one measured value, in column order.
        """
        out = [(c, "ephys") for c in self.ephys.columns if self.ephys[c].notna().any()]
        out += [(c, "morphology") for c in self.morph.columns if self.morph[c].notna().any()]
        return out


class PortalData:
    """Cached, read-mostly access to one atlas for the web layer.

    Parameters
    ----------
    atlas
        The open atlas.
    refresh_s
        How often (at most) to check whether the atlas changed under the portal.
    """

    def __init__(self, atlas: Atlas, *, refresh_s: float = 5.0) -> None:
        self.atlas = atlas
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._snap: Snapshot | None = None
        self._checked = 0.0
        self._recordings: dict[str, Any] = {}

    def invalidate(self) -> None:
        """Forget the cached snapshot (after a write)."""
        with self._lock:
            self._snap = None
            self._checked = 0.0

    def fresh_snapshot(self) -> Snapshot | None:
        """The cached snapshot when it needs no re-check now, else None (no I/O).

        Returns
        -------
        Snapshot or None
            The snapshot when it was checked less than ``refresh_s`` seconds ago.
        """
        snap = self._snap
        if snap is not None and time.monotonic() - self._checked < self.refresh_s:
            return snap
        return None

    def snapshot(self) -> Snapshot:
        """The current snapshot (rebuilt when the atlas changed).

        At most every ``refresh_s`` seconds this reads the atlas's data version and rebuilds the
        snapshot when it changed. While one request re-checks, others get the cached snapshot.

        Returns
        -------
        Snapshot
            The cell table, the wide feature tables and the feature catalog at one data
            version.
        """
        now = time.monotonic()
        snap = self._snap
        if snap is not None and now - self._checked < self.refresh_s:
            return snap
        if snap is not None and not self._lock.acquire(blocking=False):
            return snap  # another request is re-checking: serve the current one meanwhile
        if snap is None:
            self._lock.acquire()
        try:
            if self._snap is not None and time.monotonic() - self._checked < self.refresh_s:
                return self._snap
            version = Q.data_version(self.atlas)
            if self._snap is None or self._snap.version != version:
                self._snap = self._build(version)
            self._checked = time.monotonic()
            return self._snap
        finally:
            self._lock.release()

    def _build(self, version: str) -> Snapshot:
        cells = self.atlas.cells()
        cells = cells.drop(columns=["id"], errors="ignore")
        cells["t_type_family"] = t_type_family(cells["subclass"], cells["t_type"])
        cells = cells.join(CT.cell_type_columns(self.atlas))  # e-/m-/me-/assigned t-types
        avail = Q.availability(self.atlas).reindex(cells.index, fill_value=False)
        cells = cells.join(avail)
        ephys = self.atlas.ephys_features(level="cell")
        ephys = ephys.reindex(cells.index.intersection(ephys.index))
        morph = Q.morphology_features(self.atlas)
        catalog = Q.feature_catalog(self.atlas)
        etag = hashlib.sha1(version.encode()).hexdigest()[:16]
        # QC status and range flags
        cell_units = catalog[(catalog["kind"] == "ephys") & (catalog["level"] == "cell")]
        units = dict(zip(cell_units["name"], cell_units["unit"], strict=True))
        flags = Q.range_flags(ephys, units).reindex(cells.index, fill_value=False).astype(bool)
        summary = Q.qc_summary(self.atlas).reindex(cells.index)
        n_checks = summary["n_checks"].fillna(0).to_numpy(dtype=float)
        n_failed = summary["n_failed"].fillna(0).to_numpy(dtype=float)
        cells["qc_status"] = np.where(
            n_checks == 0, "not checked", np.where(n_failed > 0, "failed", "passed")
        )
        cells["qc_failed"] = summary["failed"].to_numpy(dtype=object)
        cells["n_flagged"] = flags.sum(axis=1).to_numpy(dtype=int)
        members = Q.dataset_members(self.atlas)
        by_cell: dict[str, list[str]] = {}
        for cid, ds in zip(members["cell_id"], members["dataset"], strict=True):
            by_cell.setdefault(str(cid), []).append(str(ds))
        cells["datasets"] = [by_cell.get(str(c), []) for c in cells.index]
        codes = {}
        for col in FACETS:
            if col in MULTI_FACETS:
                continue
            c, uniques = pd.factorize(cells[col].astype("string").fillna(MISSING))
            codes[col] = (np.asarray(c), [str(u) for u in uniques])
        multi = {
            "dataset": _matrix([v or [MISSING] for v in cells["datasets"]]),
            "qc": _matrix(
                [
                    [st, *(["outside physiological range"] if nf else [])]
                    for st, nf in zip(cells["qc_status"], cells["n_flagged"], strict=True)
                ]
            ),
        }
        text = _search_text(cells)
        snap = Snapshot(
            version,
            cells,
            ephys,
            morph,
            catalog,
            etag=etag,
            codes=codes,
            multi=multi,
            flags=flags,
            text=text,
        )
        # ready before serving: what requests would otherwise compute on first use
        snap.memo("connections", lambda: Q.connections(self.atlas))
        self.dataset_info(snap)
        self.origins(snap)
        self.feature_units(snap)
        return snap

    # ------------------------------------------------------------------ queries on the snapshot

    def filter_mask(
        self,
        snap: Snapshot,
        filters: dict[str, list[str]],
        *,
        ranges: dict[str, tuple[float | None, float | None]] | None = None,
        query: str | None = None,
        exclude_flagged: bool = False,
    ) -> np.ndarray:
        """Boolean mask over ``snap.cells``: every facet matches one of its listed values
        (``"(unknown)"`` = missing; for a multi-valued facet, any of the cell's values), every
        numerical range holds (inclusive), ``query`` is in the cell's name, t-type, subclass, Cre
        line, donor or datasets, and (with ``exclude_flagged``) no value of the cell lies outside
        its physiological range.

        Parameters
        ----------
        snap
            The snapshot to filter.
        filters
            Facet column (of :data:`FACETS` or :data:`AVAILABILITY`) → accepted values; an
            empty list does not filter. Availability values are ``"true"``/``"1"``/``"yes"`` or
            anything else for false.
        ranges
            Numerical feature → ``(low, high)`` bounds, either None for open; cells where the
            feature is missing are excluded.
        query
            Case-insensitive substring of the fields in :data:`TEXT_FIELDS`; None or empty
            does not filter.
        exclude_flagged
            Drop the cells with a value outside its documented physiological range.

        Returns
        -------
        numpy.ndarray
            Boolean, one entry per row of ``snap.cells``.

        Raises
        ------
        patchatlas.atlas.AtlasError
            A range names a feature that is not in the atlas.
        """
        df = snap.cells
        mask = np.ones(len(df), dtype=bool)
        for col, values in filters.items():
            if not values:
                continue
            if col in AVAILABILITY:
                want = [str(v).lower() in ("1", "true", "yes") for v in values]
                mask &= np.isin(df[col].to_numpy(dtype=bool), want)
                continue
            if col in snap.multi:
                mat, uniq = snap.multi[col]
                cols = [i for i, u in enumerate(uniq) if u in set(values)]
                mask &= mat[:, cols].any(axis=1) if cols else np.zeros(len(df), dtype=bool)
                continue
            codes, uniques = snap.codes[col]
            wanted = [i for i, u in enumerate(uniques) if u in set(values)]
            mask &= np.isin(codes, wanted)
        if exclude_flagged:
            mask &= df["n_flagged"].to_numpy(dtype=int) == 0
        for name, (lo, hi) in (ranges or {}).items():
            vals = self.aligned(snap, name)
            ok = np.isfinite(vals)
            if lo is not None:
                ok &= vals >= lo
            if hi is not None:
                ok &= vals <= hi
            mask &= ok
        if query:
            q = query.lower().strip()
            if q:
                text = pd.Series(snap.text, dtype=object).astype(str)
                mask &= text.str.contains(q, regex=False).to_numpy(dtype=bool)
        return mask

    def filter_cells(
        self,
        snap: Snapshot,
        filters: dict[str, list[str]],
        *,
        ranges: dict[str, tuple[float | None, float | None]] | None = None,
        query: str | None = None,
    ) -> pd.DataFrame:
        """The rows of ``snap.cells`` selected by :meth:`filter_mask`.

        Parameters
        ----------
        snap
            The snapshot to filter.
        filters, ranges, query
            As for :meth:`filter_mask`.

        Returns
        -------
        pandas.DataFrame
            The selected rows, indexed by ``cell_id``.
        """
        return snap.cells[self.filter_mask(snap, filters, ranges=ranges, query=query)]

    def aligned(self, snap: Snapshot, name: str) -> np.ndarray:
        """A numerical feature as a float array in the row order of ``snap.cells``.

        Parameters
        ----------
        snap
            The snapshot; the array is cached in it.
        name
            Feature name (see :meth:`feature_column`).

        Returns
        -------
        numpy.ndarray
            float64, NaN where a cell has no value (registry unit of the feature).
        """
        if name not in snap._aligned:
            col = self.feature_column(snap, name).reindex(snap.cells.index)
            snap._aligned[name] = col.to_numpy(dtype=float)
        return snap._aligned[name]

    @staticmethod
    def feature_column(snap: Snapshot, name: str) -> pd.Series:
        """A numerical feature (ephys first, then morphology) as a Series over cells.

        Parameters
        ----------
        snap
            The snapshot.
        name
            An ephys or morphology feature column, or ``depth_um``, ``normalized_depth`` or
            ``t_type_confidence`` of the cell table.

        Returns
        -------
        pandas.Series
            The feature indexed by ``cell_id``; a cell without a row in the feature's table
            is absent (:meth:`aligned` gives it NaN).

        Raises
        ------
        patchatlas.atlas.AtlasError
            No feature of that name in the atlas.
        """
        if name in snap.ephys.columns:
            return snap.ephys[name]
        if name in snap.morph.columns:
            return snap.morph[name]
        if name in ("depth_um", "normalized_depth", "t_type_confidence"):
            return pd.to_numeric(snap.cells[name], errors="coerce")
        from patchatlas.atlas import AtlasError

        raise AtlasError(
            f"feature {name!r} is not in this atlas; list them at /api/features/registry"
        )

    def origins(self, snap: Snapshot) -> dict[int, str]:
        """Provenance id → where the values it describes come from: the imported dataset and
        table, or the engine with its package version and analysis profile.

        Parameters
        ----------
        snap
            The snapshot (the map is computed once per data version).

        Returns
        -------
        dict of int to str
        """

        def build() -> dict[int, str]:
            out: dict[int, str] = {}
            for r in Q.provenance(self.atlas).to_dict("records"):
                params = r["parameters"] if isinstance(r["parameters"], dict) else {}
                engine = str(r["engine"])
                if engine.startswith("import:"):
                    tables = params.get("tables") or {}
                    what = tables.get("ephys") or tables.get("morphology") or ""
                    out[int(r["id"])] = f"{engine.removeprefix('import:')} {what}".strip()
                    continue
                extra = ", ".join(
                    f"{k} {params[k]}" for k in ("profile", "version") if params.get(k) is not None
                )
                out[int(r["id"])] = (
                    f"{engine} (patchatlas {r['package_version']}{', ' + extra if extra else ''})"
                )
            return out

        origins: dict[int, str] = snap.memo("origins", build)
        return origins

    def dataset_info(self, snap: Snapshot) -> list[dict[str, Any]]:
        """:func:`patchatlas.atlas.portal.dataset_info`, once per data version.

        Parameters
        ----------
        snap
            The snapshot.

        Returns
        -------
        list of dict
        """
        info: list[dict[str, Any]] = snap.memo("datasets", lambda: Q.dataset_info(self.atlas))
        return info

    @staticmethod
    def feature_units(snap: Snapshot) -> dict[str, str]:
        """The unit of each numerical feature: the stored unit (cell level), else the
        registry's, else the physiological-range table's.

        Parameters
        ----------
        snap
            The snapshot.

        Returns
        -------
        dict of str to str
            Feature name → unit (features without a known unit are absent).
        """

        def build() -> dict[str, str]:
            from patchatlas.core.vocabulary import PHYSIOLOGICAL_RANGES
            from patchatlas.web.registry import definitions

            out: dict[str, str] = {
                "depth_um": "µm",
                "normalized_depth": "1",
                "t_type_confidence": "1",
            }
            for name, r in PHYSIOLOGICAL_RANGES.items():
                out[name] = r.unit
            for name, d in definitions().items():
                if isinstance(d.get("unit"), str) and d["unit"]:
                    out[name] = d["unit"]
            cat = snap.catalog[snap.catalog["level"] == "cell"]
            for name, unit in zip(cat["name"], cat["unit"], strict=True):
                if isinstance(unit, str) and unit:
                    out[str(name)] = unit
            return out

        units: dict[str, str] = snap.memo("units", build)
        return units

    def facet_counts(self, snap: Snapshot, mask: np.ndarray) -> dict[str, dict[str, int]]:
        """Value counts of each facet over the selected cells (missing = ``(unknown)``).

        Parameters
        ----------
        snap
            The snapshot.
        mask
            Boolean selection over ``snap.cells`` (:meth:`filter_mask`).

        Returns
        -------
        dict of str to dict of str to int
            Facet → value → number of selected cells, most frequent first, values with no
            selected cell left out; each availability flag → ``{"true": n, "false": n}``.
        """
        out: dict[str, dict[str, int]] = {}
        for col in FACETS:
            if col in snap.multi:
                mat, uniq = snap.multi[col]
                n = mat[mask].sum(axis=0)
                order = np.argsort(-n, kind="stable")
                out[col] = {uniq[i]: int(n[i]) for i in order if n[i] > 0}
                continue
            codes, uniques = snap.codes[col]
            n = np.bincount(codes[mask], minlength=len(uniques))
            order = np.argsort(-n, kind="stable")
            out[col] = {uniques[i]: int(n[i]) for i in order if n[i] > 0}
        for col in AVAILABILITY:
            flag = snap.cells[col].to_numpy(dtype=bool)[mask]
            out[col] = {"true": int(flag.sum()), "false": int((~flag).sum())}
        return out

    def search_payload(self, snap: Snapshot, *, n_features: int = 24) -> bytes:
        """Everything the search page filters client-side, as compact column-wise JSON.

        The values of the ``n_features`` numerical features measured in the most cells are
        included; the others are listed (``features``) and fetched on demand with
        :meth:`feature_values`.

        Parameters
        ----------
        snap
            The snapshot; the encoded payload is cached in it.
        n_features
            Number of features whose values are included.

        Returns
        -------
        bytes
            UTF-8 JSON with ``version`` (the snapshot's ETag), ``n``, ``facets``, ``multi``
            (the multi-valued facets, whose columns hold lists), ``availability``, ``columns``
            (cell ids, facet, t-type, donor and availability columns), ``features`` (name,
            kind, unit, number of cells measured), ``values``, ``flagged`` (feature → positions
            of the cells whose value lies outside its physiological range) and ``ranges``.
        """
        key = f"search:{n_features}"
        if key in snap._json_cache:
            return snap._json_cache[key]
        cells = snap.cells
        cols: dict[str, Any] = {"cell_id": [str(x) for x in cells.index]}
        for col in (*FACETS, "t_type", "donor"):
            if col in snap.multi:
                mat, uniq = snap.multi[col]
                cols[col] = [[uniq[j] for j in np.flatnonzero(row)] for row in mat]
                continue
            cols[col] = [None if pd.isna(v) else str(v) for v in cells[col].tolist()]
        for col in AVAILABILITY:
            cols[col] = [bool(v) for v in cells[col].tolist()]
        cell_level = snap.catalog[snap.catalog["level"] == "cell"]
        units = {(r["name"], r["kind"]): r["unit"] for r in cell_level.to_dict("records")}
        feats: list[dict[str, Any]] = []
        for name, kind in snap.numeric_features():
            frame = snap.ephys if kind == "ephys" else snap.morph
            n = int(frame[name].notna().sum())
            feats.append({"name": name, "kind": kind, "unit": units.get((name, kind)), "n": n})
        feats.sort(key=lambda f: (-int(f["n"]), str(f["name"])))
        values = {str(f["name"]): self._values(snap, str(f["name"])) for f in feats[:n_features]}
        flagged = {
            str(c): np.flatnonzero(snap.flags[c].to_numpy(dtype=bool)).tolist()
            for c in snap.flags.columns
            if snap.flags[c].any()
        }
        from patchatlas.core.vocabulary import PHYSIOLOGICAL_RANGES

        payload = {
            "version": snap.etag,
            "n": len(cells),
            "facets": FACETS,
            "multi": sorted(MULTI_FACETS),
            "availability": AVAILABILITY,
            "text_fields": list(TEXT_FIELDS),
            "columns": cols,
            "features": feats,
            "values": values,
            "flagged": flagged,
            "ranges": {
                k: {"low": r.low, "high": r.high, "unit": r.unit, "note": r.note}
                for k, r in PHYSIOLOGICAL_RANGES.items()
            },
        }
        data = json.dumps(to_jsonable(payload), separators=(",", ":"), allow_nan=False).encode()
        snap._json_cache[key] = data
        return data

    def _values(self, snap: Snapshot, name: str) -> list[float | None]:
        arr = self.feature_column(snap, name).reindex(snap.cells.index).to_numpy(dtype=float)
        return [None if not math.isfinite(v) else round(v, 6) for v in arr.tolist()]

    def feature_values(self, snap: Snapshot, names: list[str]) -> dict[str, list[float | None]]:
        """Values of numerical features in the cell order of :meth:`search_payload`.

        Parameters
        ----------
        snap
            The snapshot.
        names
            Feature names (see :meth:`feature_column`).

        Returns
        -------
        dict of str to list of float or None
            Name → one value per cell, rounded to 6 decimals, None where missing or not
            finite.

        Raises
        ------
        patchatlas.atlas.AtlasError
            A name is not a feature of the atlas.
        """
        return {n: self._values(snap, n) for n in names}

    def recording(self, path: str) -> Any:
        """The :class:`~patchatlas.ephys.Recording` in ``path`` (the last 16 are kept).

        Parameters
        ----------
        path
            A recording file the atlas references, read with :func:`patchatlas.read`.

        Returns
        -------
        Any
            The recording, from the cache of the 16 most recently used ones when present.
        """
        with self._lock:
            rec = self._recordings.get(path)
            if rec is not None:
                self._recordings[path] = self._recordings.pop(path)
                return rec
        from patchatlas.reading import read as read_file

        rec = read_file(path)
        with self._lock:
            self._recordings[path] = rec
            while len(self._recordings) > 16:
                self._recordings.pop(next(iter(self._recordings)))
        return rec
