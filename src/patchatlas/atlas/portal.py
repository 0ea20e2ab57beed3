"""Read (and annotate) queries the web portal needs beyond :class:`~patchatlas.atlas.Atlas`.

Only :mod:`patchatlas.atlas` touches the database; the portal calls these functions with an open
:class:`~patchatlas.atlas.Atlas`. Every function returns plain DataFrames / dicts.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from patchatlas.atlas import schema as S
from patchatlas.atlas.api import Atlas
from patchatlas.atlas.records import json_safe
from patchatlas.errors import AtlasError

__all__ = [
    "ANNOTATIONS_KEY",
    "annotate",
    "availability",
    "cell_labels",
    "cell_name",
    "cell_transcriptome",
    "connections",
    "data_version",
    "dataset_info",
    "dataset_members",
    "distribution",
    "feature_catalog",
    "ingest_failures",
    "ingest_runs",
    "models",
    "morphology_features",
    "morphology_metadata",
    "provenance",
    "qc",
    "qc_summary",
    "range_flags",
    "read_counts",
    "synapse_measurements",
    "transcriptome_samples",
    "write_pairs",
]

T = S.Base.metadata.tables
ANNOTATIONS_KEY = "annotations"


def _read(atlas: Atlas, stmt: Any) -> pd.DataFrame:
    with atlas.engine.connect() as conn:
        res = conn.execute(stmt)
        return pd.DataFrame(res.fetchall(), columns=list(res.keys()))


def data_version(atlas: Atlas) -> str:
    """A string that changes whenever cells, features, models, pairs or the recorded ingest
    failures change (for caches/ETags).

    Built from the number of cells and of ingest failures, the latest cell update time and the
    largest row id of each data table (an index look-up; a re-ingest deletes and inserts rows,
    so ids grow).

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    str
        The parts joined by ``"|"``; equal strings mean unchanged data.
    """
    c = T["cells"]
    parts: list[str] = []
    with atlas.engine.connect() as conn:
        parts.append(str(conn.execute(select(func.max(c.c.updated_at))).scalar_one()))
        parts.append(str(conn.execute(select(func.count()).select_from(c)).scalar_one()))
        e = T["ingest_errors"]
        parts.append(str(conn.execute(select(func.count()).select_from(e)).scalar_one()))
        for name in (
            "cells",
            "ephys_features",
            "morphologies",
            "models",
            "pairs",
            "connections",
            "qc_results",
            "sweeps",
            "crossmodal_runs",
            "ingest_errors",
            "cell_labels",
            "cell_datasets",
            "celltype_assignments",
        ):
            t = T[name]
            parts.append(str(conn.execute(select(func.max(t.c.id))).scalar_one()))
    return "|".join(parts)


def cell_name(atlas: Atlas, cell_id: str | int) -> str:
    """The stored name of a cell given by name or integer database id.

    Parameters
    ----------
    atlas
        The open atlas.
    cell_id
        Cell name or database id.

    Returns
    -------
    str
        The cell's name.

    Raises
    ------
    AtlasError
        No such cell.
    """
    _, name = atlas._cell_pk(cell_id)
    return name


def ingest_failures(atlas: Atlas) -> dict[str, Any]:
    """What the ingests into this atlas failed on.

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    dict
        ``n_failed``: the files whose cells currently fail to ingest (one row each in
        :meth:`~patchatlas.atlas.Atlas.errors`); ``n_runs``: ingest runs recorded; ``last_run``:
        the latest run's ``source``, ``finished_at`` and ``n_done`` / ``n_skipped`` /
        ``n_failed`` (None before any run).
    """
    e, r = T["ingest_errors"], T["ingest_runs"]
    with atlas.engine.connect() as conn:
        n_failed = int(conn.execute(select(func.count()).select_from(e)).scalar_one())
        n_runs = int(conn.execute(select(func.count()).select_from(r)).scalar_one())
        last = (
            conn.execute(
                select(r.c.source, r.c.finished_at, r.c.n_done, r.c.n_skipped, r.c.n_failed)
                .order_by(r.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return {
        "n_failed": n_failed,
        "n_runs": n_runs,
        "last_run": None if last is None else json_safe(dict(last)),
    }


def availability(atlas: Atlas) -> pd.DataFrame:
    """Per cell: which kinds of data the atlas holds (``has_ephys``, ``has_sweeps``,
    ``has_morphology``, ``has_transcriptome``, ``has_model``), indexed by ``cell_id``.

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        One row per cell (index ``cell_id``, the cell name) and one boolean column per kind:
        True when the cell has at least one row of ephys features, recordings, morphologies,
        transcriptomes or models.
    """
    c = T["cells"]
    out = _read(atlas, select(c.c.id, c.c.name.label("cell_id")))
    checks = {
        "has_ephys": select(T["ephys_features"].c.cell_id).distinct(),
        "has_sweeps": select(T["recordings"].c.cell_id).distinct(),
        "has_morphology": select(T["morphologies"].c.cell_id).distinct(),
        "has_transcriptome": select(T["cell_transcriptomes"].c.cell_id).distinct(),
        "has_model": select(T["models"].c.cell_id).distinct(),
    }
    for key, stmt in checks.items():
        ids = set(_read(atlas, stmt).iloc[:, 0].tolist()) if len(out) else set()
        out[key] = out["id"].isin(ids)
    return out.drop(columns="id").set_index("cell_id")


def feature_catalog(atlas: Atlas) -> pd.DataFrame:
    """The ephys and morphology feature names the atlas holds: ``name, kind, level, unit,
    native_name, n_cells``.

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        One row per ephys (name, level) and per morphology feature name (level ``"cell"``),
        with ``kind`` ``"ephys"`` or ``"morphology"``, the stored unit and native name, and the
        number of cells that have it; sorted by kind, level and name.
    """
    f = T["ephys_features"]
    eph = _read(
        atlas,
        select(
            f.c.name,
            f.c.level,
            func.max(f.c.unit).label("unit"),
            func.max(f.c.native_name).label("native_name"),
            func.count(func.distinct(f.c.cell_id)).label("n_cells"),
        ).group_by(f.c.name, f.c.level),
    )
    eph.insert(1, "kind", "ephys")
    mf, m = T["morphology_features"], T["morphologies"]
    mor = _read(
        atlas,
        select(
            mf.c.name,
            func.max(mf.c.unit).label("unit"),
            func.max(mf.c.native_name).label("native_name"),
            func.count(func.distinct(m.c.cell_id)).label("n_cells"),
        )
        .select_from(mf.join(m, mf.c.morphology_id == m.c.id))
        .group_by(mf.c.name),
    )
    mor.insert(1, "kind", "morphology")
    mor.insert(2, "level", "cell")
    out = pd.concat([eph, mor], ignore_index=True)
    return out.sort_values(["kind", "level", "name"], ignore_index=True)


def morphology_features(atlas: Atlas) -> pd.DataFrame:
    """Wide table of morphology features: one row per cell (first reconstruction), one column
    per feature.

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell_id`` (the cell name), float values in the units of
        :func:`feature_catalog` (NaN where missing or not numeric); only cells with a
        reconstruction. Empty (no columns) when the atlas holds none.
    """
    mf, m, c = T["morphology_features"], T["morphologies"], T["cells"]
    long = _read(
        atlas,
        select(c.c.name.label("cell_id"), mf.c.name, mf.c.value)
        .select_from(mf.join(m, mf.c.morphology_id == m.c.id).join(c, m.c.cell_id == c.c.id))
        .order_by(m.c.id),
    )
    if long.empty:
        return pd.DataFrame(index=pd.Index([], name="cell_id"))
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    out = long.pivot_table(index="cell_id", columns="name", values="value", aggfunc="first")
    out.columns.name = None
    return out


def morphology_metadata(atlas: Atlas, cell_id: str | int) -> dict[str, Any]:
    """The stored metadata of a cell's (first) reconstruction (``{}`` when it has none), e.g.
    ``layer_aligned`` and ``layer_depths`` (top of each layer below pia, µm).

    Parameters
    ----------
    atlas
        The open atlas.
    cell_id
        Cell name or database id.

    Returns
    -------
    dict of str to Any
        A copy of the metadata; ``{}`` when the cell has no reconstruction or is not in the
        atlas.
    """
    m = T["morphologies"]
    c = T["cells"]
    key = c.c.id == cell_id if isinstance(cell_id, int) else c.c.name == str(cell_id)
    with atlas.engine.connect() as conn:
        row = conn.execute(
            select(m.c.metadata)
            .select_from(m.join(c, m.c.cell_id == c.c.id))
            .where(key)
            .order_by(m.c.id)
        ).first()
    meta = row[0] if row is not None else None
    return dict(meta) if isinstance(meta, dict) else {}


def qc(atlas: Atlas, cell_id: str | int) -> pd.DataFrame:
    """A cell's QC results: ``sweep_number, check, passed, value, message``.

    Parameters
    ----------
    atlas
        The open atlas.
    cell_id
        Cell name or database id.

    Returns
    -------
    pandas.DataFrame
        One row per stored check, in storage order; ``sweep_number`` is missing where a
        result is not tied to one sweep (e.g. imported QC values).

    Raises
    ------
    AtlasError
        No such cell.
    """
    pk, _ = atlas._cell_pk(cell_id)
    q = T["qc_results"]
    return _read(
        atlas,
        select(q.c.sweep_number, q.c.check, q.c.passed, q.c.value, q.c.message)
        .where(q.c.cell_id == pk)
        .order_by(q.c.id),
    )


def models(atlas: Atlas, cell_id: str | int | None = None) -> pd.DataFrame:
    """Fitted models: ``model_id, cell_id, kind, name, parameters, fit_scores`` (dict columns).

    Parameters
    ----------
    atlas
        The open atlas.
    cell_id
        Cell name or database id; None lists the models of every cell.

    Returns
    -------
    pandas.DataFrame
        One row per model in storage order; ``cell_id`` is the cell name, ``parameters`` and
        ``fit_scores`` hold dicts.

    Raises
    ------
    AtlasError
        ``cell_id`` names no cell.
    """
    mo, c = T["models"], T["cells"]
    stmt = (
        select(
            mo.c.id.label("model_id"),
            c.c.name.label("cell_id"),
            mo.c.kind,
            mo.c.name,
            mo.c.parameters,
            mo.c.fit_scores,
        )
        .select_from(mo.join(c, mo.c.cell_id == c.c.id))
        .order_by(mo.c.id)
    )
    if cell_id is not None:
        pk, _ = atlas._cell_pk(cell_id)
        stmt = stmt.where(mo.c.cell_id == pk)
    return _read(atlas, stmt)


def connections(atlas: Atlas) -> pd.DataFrame:
    """Tested pairs with their connection call and both cells' classes.

    Columns: ``pair_id, experiment, pre_cell, post_cell, distance_um, connected, synapse_type,
    confidence, pre_subclass, post_subclass, pre_t_type, post_t_type, pre_layer, post_layer``
    (``connected`` is missing where the pair has no call).

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        One row per tested pair, ordered by ``pair_id``; ``distance_um`` in µm, cells by
        name.
    """
    p, cn, e = T["pairs"], T["connections"], T["multipatch_experiments"]
    pre, post = aliased(T["cells"]), aliased(T["cells"])
    stmt = (
        select(
            p.c.id.label("pair_id"),
            e.c.name.label("experiment"),
            pre.c.name.label("pre_cell"),
            post.c.name.label("post_cell"),
            p.c.distance_um,
            cn.c.connected,
            cn.c.synapse_type,
            cn.c.confidence,
            pre.c.subclass.label("pre_subclass"),
            post.c.subclass.label("post_subclass"),
            pre.c.t_type.label("pre_t_type"),
            post.c.t_type.label("post_t_type"),
            pre.c.layer.label("pre_layer"),
            post.c.layer.label("post_layer"),
        )
        .select_from(
            p.join(e, p.c.experiment_id == e.c.id)
            .join(pre, p.c.pre_cell_id == pre.c.id)
            .join(post, p.c.post_cell_id == post.c.id)
            .outerjoin(cn, cn.c.pair_id == p.c.id)
        )
        .order_by(p.c.id)
    )
    return _read(atlas, stmt)


def synapse_measurements(atlas: Atlas, pair_id: int) -> pd.DataFrame:
    """Measured synaptic properties of one pair: ``name, value, unit``.

    Parameters
    ----------
    atlas
        The open atlas.
    pair_id
        Database id of the pair (``pair_id`` of :func:`connections`).

    Returns
    -------
    pandas.DataFrame
        One row per measurement in storage order, each with its own unit; empty for a pair
        without measurements or an unknown id.
    """
    sm = T["synapse_measurements"]
    return _read(
        atlas,
        select(sm.c.name, sm.c.value, sm.c.unit).where(sm.c.pair_id == pair_id).order_by(sm.c.id),
    )


def annotate(atlas: Atlas, cell_id: str | int, key: str, value: Any) -> dict[str, Any]:
    """Set a free-text annotation ``key = value`` on a cell (stored in ``cells.metadata``).

    Returns the cell's annotations after the change.

    Parameters
    ----------
    atlas
        The atlas, open for writing.
    cell_id
        Cell name or database id.
    key
        Annotation name (surrounding white space is removed); an existing one is replaced.
    value
        The annotation, stored as a JSON-safe value.

    Returns
    -------
    dict of str to Any
        All annotations of the cell after the change.

    Raises
    ------
    AtlasError
        Unknown cell, an empty key, or an atlas open read-only.
    """
    key = str(key).strip()
    if not key:
        raise AtlasError("annotate(): the annotation key is empty; give a short name")
    pk, _ = atlas._cell_pk(cell_id)
    c = T["cells"]
    atlas.require_writable("annotate")
    with atlas.engine.begin() as conn:
        q = select(c.c.metadata).where(c.c.id == pk)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        meta = dict(conn.execute(q).scalar_one() or {})
        notes = dict(meta.get(ANNOTATIONS_KEY) or {})
        notes[key] = json_safe(value)
        meta[ANNOTATIONS_KEY] = notes
        conn.execute(update(c).where(c.c.id == pk).values(metadata=meta, updated_at=S._now()))
    return notes


def write_pairs(atlas: Atlas, experiment: str, pairs: pd.DataFrame) -> int:
    """Store a multipatch experiment's tested pairs and connection calls (one transaction).

    Parameters
    ----------
    atlas
        The atlas; the cells must exist already.
    experiment
        Experiment name (created when new; its pairs are replaced).
    pairs
        Columns ``pre_cell, post_cell`` (cell names), optional ``distance_um``, ``connected``
        (bool, missing = no call), ``synapse_type``, ``confidence``.

    Returns
    -------
    int
        Number of pairs stored.

    Raises
    ------
    AtlasError
        A pair names a cell that is not in the atlas.
    """
    from sqlalchemy import delete, insert

    from patchatlas.atlas.store import insert_ignore

    e, p, cn, c = T["multipatch_experiments"], T["pairs"], T["connections"], T["cells"]
    atlas.require_writable("write_pairs")
    with atlas.engine.begin() as conn:
        ids = {r.name: r.id for r in conn.execute(select(c.c.id, c.c.name))}
        missing = sorted(set(pairs["pre_cell"]).union(pairs["post_cell"]) - set(ids))
        if missing:
            raise AtlasError(
                f"write_pairs({experiment!r}): cells {', '.join(map(str, missing[:5]))} are not in "
                "the atlas; store the cells first"
            )
        insert_ignore(conn, e, {"name": experiment, "metadata": {}}, "name")
        eid = conn.execute(select(e.c.id).where(e.c.name == experiment)).scalar_one()
        old = select(p.c.id).where(p.c.experiment_id == eid)
        conn.execute(delete(cn).where(cn.c.pair_id.in_(old)))
        conn.execute(delete(p).where(p.c.experiment_id == eid))
        for r in pairs.to_dict("records"):
            dist = r.get("distance_um")
            res = conn.execute(
                insert(p).values(
                    experiment_id=eid,
                    pre_cell_id=ids[r["pre_cell"]],
                    post_cell_id=ids[r["post_cell"]],
                    distance_um=None if dist is None or pd.isna(dist) else float(dist),
                )
            )
            pk = res.inserted_primary_key
            assert pk is not None
            call = r.get("connected")
            if call is None or pd.isna(call):
                continue
            conf = r.get("confidence")
            conn.execute(
                insert(cn).values(
                    pair_id=int(pk[0]),
                    connected=bool(call),
                    synapse_type=r.get("synapse_type"),
                    confidence=None if conf is None or pd.isna(conf) else float(conf),
                )
            )
    return len(pairs)


# ------------------------------------------------------------------------- labels and datasets


def dataset_members(atlas: Atlas) -> pd.DataFrame:
    """Every (cell, dataset) membership: the datasets that named a cell on import
    (``cell_datasets``) and each cell's own ``cells.dataset``.

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell_id`` (the cell name) and ``dataset``, one row per distinct pair, in
        cell order.
    """
    c, cd = T["cells"], T["cell_datasets"]
    own = _read(
        atlas,
        select(c.c.id, c.c.name.label("cell_id"), c.c.dataset).where(c.c.dataset.is_not(None)),
    )
    imported = _read(
        atlas,
        select(c.c.id, c.c.name.label("cell_id"), cd.c.dataset).select_from(
            cd.join(c, cd.c.cell_id == c.c.id)
        ),
    )
    out = pd.concat([own, imported], ignore_index=True)
    if out.empty:
        return pd.DataFrame(columns=["cell_id", "dataset"])
    out = out.drop_duplicates(subset=["id", "dataset"]).sort_values(["id", "dataset"])
    return out[["cell_id", "dataset"]].reset_index(drop=True)


def cell_labels(atlas: Atlas, cell_id: str | int) -> pd.DataFrame:
    """Each annotation of a cell as each dataset gave it.

    Parameters
    ----------
    atlas
        The open atlas.
    cell_id
        Cell name or database id.

    Returns
    -------
    pandas.DataFrame
        ``field, value, native, dataset, source`` (``value``: harmonised; ``native``: as the
        table wrote it; ``source``: table file and column), in storage order.

    Raises
    ------
    AtlasError
        No such cell.
    """
    pk, _ = atlas._cell_pk(cell_id)
    lab = T["cell_labels"]
    return _read(
        atlas,
        select(lab.c.field, lab.c.value, lab.c.native, lab.c.dataset, lab.c.source)
        .where(lab.c.cell_id == pk)
        .order_by(lab.c.id),
    )


def dataset_info(atlas: Atlas) -> list[dict[str, Any]]:
    """The datasets of the atlas: size and, for imported ones, title, citation, DOI, licence,
    upstream location, tables and when they were imported (from the latest import's
    provenance).

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    list of dict
        One dict per dataset, largest first: ``name``, ``n_cells`` and, where known,
        ``title``, ``citation``, ``doi``, ``licence``, ``url``, ``tables``, ``imported_at``,
        ``package_version``.
    """
    members = dataset_members(atlas)
    counts = members.groupby("dataset").size().sort_values(ascending=False)
    pv = T["provenance"]
    prov = _read(
        atlas,
        select(pv.c.engine, pv.c.package_version, pv.c.parameters, pv.c.created_at)
        .where(pv.c.engine.like("import:%"))
        .order_by(pv.c.id),
    )
    latest: dict[str, dict[str, Any]] = {}
    for r in prov.to_dict("records"):
        latest[str(r["engine"]).removeprefix("import:")] = {str(k): v for k, v in r.items()}
    out = []
    for name, n in counts.items():
        row: dict[str, Any] = {"name": str(name), "n_cells": int(n)}
        p = latest.get(str(name))
        if p is not None:
            params = p["parameters"] if isinstance(p["parameters"], dict) else {}
            for key in ("title", "citation", "doi", "licence", "url", "tables"):
                if params.get(key):
                    row[key] = params[key]
            row["imported_at"] = json_safe(p["created_at"])
            row["package_version"] = p["package_version"]
        out.append(row)
    return out


def qc_summary(atlas: Atlas) -> pd.DataFrame:
    """Per cell: how many QC checks carry a verdict, how many failed, and which.

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell_id`` (cell name), only cells with at least one verdict: ``n_checks``,
        ``n_failed`` and ``failed`` (the names of the failed checks, comma-separated).
    """
    q, c = T["qc_results"], T["cells"]
    df = _read(
        atlas,
        select(c.c.name.label("cell_id"), q.c.check, q.c.passed)
        .select_from(q.join(c, q.c.cell_id == c.c.id))
        .where(q.c.passed.is_not(None)),
    )
    if df.empty:
        return pd.DataFrame(
            {"n_checks": [], "n_failed": [], "failed": []}, index=pd.Index([], name="cell_id")
        )
    df["failed_flag"] = ~df["passed"].astype(bool)
    g = df.groupby("cell_id", sort=False)
    out = pd.DataFrame({"n_checks": g.size(), "n_failed": g["failed_flag"].sum().astype(int)})
    bad = df[df["failed_flag"]].groupby("cell_id", sort=False)["check"]
    out["failed"] = bad.agg(lambda s: ", ".join(dict.fromkeys(map(str, s)))).reindex(out.index)
    return out


#: factors from a stored unit to a range's unit (stored → range)
_UNIT_FACTORS: dict[tuple[str, str], float] = {
    ("s", "ms"): 1e3,
    ("ms", "s"): 1e-3,
    ("V", "mV"): 1e3,
    ("GΩ", "MΩ"): 1e3,
    ("Ohm", "MΩ"): 1e-6,
    ("MOhm", "MΩ"): 1.0,
    ("", "1"): 1.0,
}


def range_flags(features: pd.DataFrame, units: dict[str, Any] | None = None) -> pd.DataFrame:
    """Which values lie outside their documented physiological range
    (:data:`patchatlas.core.vocabulary.PHYSIOLOGICAL_RANGES`).

    Parameters
    ----------
    features
        Wide table of cell features (one column per registry name, library units).
    units
        The stored unit of each feature (:func:`feature_catalog`); a value stored in another
        unit than its range is converted (s ↔ ms, V → mV …) or, where no conversion is known,
        not checked. None: the library units are assumed.

    Returns
    -------
    pandas.DataFrame
        Boolean, same index, only the columns that have a range; True = outside (missing
        values are never flagged).
    """
    from patchatlas.core.vocabulary import PHYSIOLOGICAL_RANGES

    cols = [c for c in features.columns if c in PHYSIOLOGICAL_RANGES]
    out = pd.DataFrame(index=features.index)
    for col in cols:
        r = PHYSIOLOGICAL_RANGES[col]
        factor = 1.0
        stored = (units or {}).get(col)
        if isinstance(stored, str) and stored != r.unit:
            if (stored, r.unit) not in _UNIT_FACTORS:
                continue
            factor = _UNIT_FACTORS[(stored, r.unit)]
        x = pd.to_numeric(features[col], errors="coerce").to_numpy(dtype=float) * factor
        with_value = ~pd.isna(x)
        out[col] = with_value & ~((x >= r.low) & (x <= r.high))
    return out


def cell_transcriptome(atlas: Atlas, cell_id: str | int) -> list[dict[str, Any]]:
    """The transcriptome samples linked to a cell.

    Parameters
    ----------
    atlas
        The open atlas.
    cell_id
        Cell name or database id.

    Returns
    -------
    list of dict
        One dict per linked sample: ``dataset`` (the expression matrix's name), ``path``,
        ``format``, ``n_genes``, ``sample_id``, ``library_size``, ``genes_detected``.

    Raises
    ------
    AtlasError
        No such cell.
    """
    pk, _ = atlas._cell_pk(cell_id)
    ct, td = T["cell_transcriptomes"], T["transcriptome_datasets"]
    df = _read(
        atlas,
        select(
            td.c.name.label("dataset"),
            td.c.path,
            td.c.format,
            td.c.n_genes,
            ct.c.sample_id,
            ct.c.library_size,
            ct.c.genes_detected,
        )
        .select_from(ct.join(td, ct.c.dataset_id == td.c.id))
        .where(ct.c.cell_id == pk)
        .order_by(ct.c.id),
    )
    return [json_safe(r) for r in df.to_dict("records")]


def transcriptome_samples(atlas: Atlas, dataset: str) -> pd.DataFrame:
    """Every cell linked to an expression matrix: ``cell_id, sample_id, library_size``.

    Parameters
    ----------
    atlas
        The open atlas.
    dataset
        The expression matrix's name (``dataset`` of :func:`cell_transcriptome`).

    Returns
    -------
    pandas.DataFrame
        One row per linked cell, ``cell_id`` the cell name.
    """
    ct, td, c = T["cell_transcriptomes"], T["transcriptome_datasets"], T["cells"]
    return _read(
        atlas,
        select(c.c.name.label("cell_id"), ct.c.sample_id, ct.c.library_size)
        .select_from(ct.join(td, ct.c.dataset_id == td.c.id).join(c, ct.c.cell_id == c.c.id))
        .where(td.c.name == dataset),
    )


def read_counts(path: str, fmt: str) -> pd.DataFrame:
    """An expression matrix the atlas links to, as a cells × genes DataFrame of raw counts.

    Parameters
    ----------
    path
        The matrix file (``transcriptome_datasets.path``).
    fmt
        Its stored format (``"csv:genes_x_cells"``, ``"h5ad"`` …).

    Returns
    -------
    pandas.DataFrame
        Rows are sample ids, columns genes.

    Raises
    ------
    patchatlas.errors.PatchAtlasError
        The file is missing or unreadable (a ``ReadError``), or the transcriptomics extra
        (anndata) is not installed (``MissingDependencyError``).
    """
    from patchatlas.io.expression import read_expression

    orientation = fmt.split(":", 1)[1] if ":" in fmt else "auto"
    adata = read_expression(path, orientation=orientation)  # type: ignore[arg-type]
    return pd.DataFrame(
        adata.X if not hasattr(adata.X, "toarray") else adata.X.toarray(),
        index=adata.obs_names.astype(str),
        columns=adata.var_names.astype(str),
    )


# ------------------------------------------------------------------------------ ingest status


def ingest_runs(atlas: Atlas, *, limit: int = 100) -> pd.DataFrame:
    """The latest ingest runs: ``id, source, started_at, finished_at, n_done, n_skipped,
    n_failed, parameters, package_version``, newest first.

    Parameters
    ----------
    atlas
        The open atlas.
    limit
        How many runs.

    Returns
    -------
    pandas.DataFrame
    """
    r = T["ingest_runs"]
    return _read(atlas, select(r).order_by(r.c.id.desc()).limit(int(limit)))


def provenance(atlas: Atlas) -> pd.DataFrame:
    """Every provenance record with the number of rows of each kind that point at it.

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        ``id, engine, package_version, parameters, created_at, n_features, n_qc,
        n_morphologies, n_labels``, newest first.
    """
    pv = T["provenance"]
    df = _read(atlas, select(pv).order_by(pv.c.id.desc()))
    for key, table in (
        ("n_features", "ephys_features"),
        ("n_qc", "qc_results"),
        ("n_morphologies", "morphologies"),
        ("n_labels", "cell_labels"),
    ):
        t = T[table]
        cnt = _read(
            atlas,
            select(t.c.provenance_id, func.count().label("n")).group_by(t.c.provenance_id),
        )
        m = dict(zip(cnt["provenance_id"], cnt["n"], strict=True)) if len(cnt) else {}
        df[key] = [int(m.get(i, 0)) for i in df["id"]] if len(df) else []
    return df


def distribution(values: Any, value: float | None, *, bins: int = 24) -> dict[str, Any]:
    """Where one value lies in a group's distribution (for a cell's feature against its type).

    Parameters
    ----------
    values
        The group's values (NaN ignored).
    value
        The cell's value (None or NaN: not placed).
    bins
        Histogram bins over the group's range (widened to include ``value``).

    Returns
    -------
    dict
        ``n``, ``q1``, ``median``, ``q3``, ``percentile`` (share of the group below ``value``,
        %, None without a value), ``edges`` and ``counts`` of the histogram.
    """
    import numpy as np

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    v = None if value is None or not np.isfinite(float(value)) else float(value)
    out: dict[str, Any] = {"n": int(x.size), "value": v}
    if x.size == 0:
        return {
            **out,
            "q1": None,
            "median": None,
            "q3": None,
            "percentile": None,
            "edges": [],
            "counts": [],
        }
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    lo, hi = float(x.min()), float(x.max())
    if v is not None:
        lo, hi = min(lo, v), max(hi, v)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(x, bins=int(bins), range=(lo, hi))
    pct = None if v is None else float(100.0 * (np.sum(x < v) + 0.5 * np.sum(x == v)) / x.size)
    return {
        **out,
        "q1": float(q1),
        "median": float(med),
        "q3": float(q3),
        "percentile": pct,
        "edges": edges.tolist(),
        "counts": counts.tolist(),
    }
