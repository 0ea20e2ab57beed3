"""Synaptic physiology in the atlas: multipatch experiments, pairs, calls, measurements, traces.

Writes go through :class:`ExperimentRecord` (plain, picklable: what the ``synphys`` ingest engine
and the importers hand over) into ``multipatch_experiments`` → ``pairs`` → ``connections``,
``synapse_measurements`` and ``pair_traces``, one transaction per experiment; an experiment
written again replaces its pairs. Reads return DataFrames for the portal and the CLI.

Tables (revision 0005 added the columns marked *):

* ``multipatch_experiments``: name, species*, ingest_name* and content_key* (the ingest skips an
  unchanged file), metadata, provenance*;
* ``pairs``: pre/post cell, distance_um, lateral_distance_um*, vertical_distance_um*,
  n_ex_test_spikes*, n_in_test_spikes*, probed*, status*, problems*;
* ``connections`` (one per called pair): connected, synapse_type, confidence, electrical*,
  source* (``manual``, ``published``, ``aisynphys``, ``auto``), p_value*;
* ``synapse_measurements``: registry name, value, unit (:data:`patchatlas.synphys.MEASUREMENTS`);
* ``pair_traces``: ``average:<category>``, ``resting:<mode>`` (the averaged response, its fit
  and fitted curve) and ``stp`` (per protocol and pulse: mean amplitude and the
  Tsodyks-Markram prediction).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from patchatlas.atlas import schema as S
from patchatlas.atlas.records import CellRecord, json_safe
from patchatlas.errors import AtlasError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas.api import Atlas

__all__ = [
    "PAIR_FIELDS",
    "ExperimentRecord",
    "cell_annotations",
    "experiment_content_keys",
    "experiments",
    "pair_detail",
    "synphys_pairs",
    "write_experiment",
    "write_experiment_cell",
    "write_experiments",
]

T = S.Base.metadata.tables
#: pair columns an :class:`ExperimentRecord` may carry (others are ignored)
PAIR_FIELDS: tuple[str, ...] = (
    "pre",
    "post",
    "pre_cell",
    "post_cell",
    "distance_um",
    "lateral_distance_um",
    "vertical_distance_um",
    "n_ex_test_spikes",
    "n_in_test_spikes",
    "probed",
    "connected",
    "synapse_type",
    "electrical",
    "call_source",
    "p_value",
    "confidence",
    "status",
    "problems",
)


@dataclass
class ExperimentRecord:
    """One multipatch experiment ready for the atlas (no database code; picklable).

    Attributes
    ----------
    name
        Experiment name (unique in the atlas).
    cells
        Cell name → annotations (``species``, ``layer``, ``depth_um``, ``cre_line``,
        ``subclass``, ``t_type``, ``dataset`` ...; other keys go to the cell's metadata).
    pairs
        One row per ordered pair (:data:`PAIR_FIELDS`; ``pre_cell``/``post_cell`` name cells of
        ``cells``).
    measurements
        ``pre, post, name, value, unit`` (electrodes of ``pairs``).
    traces
        ``{"pre", "post", "kind", "data"}`` dicts (``data`` JSON-safe).
    species
        Species of the experiment.
    metadata
        Experiment metadata (JSON-safe).
    engine
        Provenance engine (``"synphys"``, ``"import:aisynphys"`` ...).
    parameters
        Provenance parameters.
    """

    name: str
    cells: dict[str, dict[str, Any]]
    pairs: pd.DataFrame
    measurements: pd.DataFrame = field(default_factory=pd.DataFrame)
    traces: list[dict[str, Any]] = field(default_factory=list)
    species: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    engine: str = "synphys"
    parameters: dict[str, Any] = field(default_factory=dict)


def _f(v: Any) -> float | None:
    if v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _i(v: Any) -> int | None:
    x = _f(v)
    return None if x is None else round(x)


def _b(v: Any) -> bool | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return bool(v)


def _s(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)


def write_experiment(
    conn: Connection,
    record: ExperimentRecord,
    *,
    ingest_name: str | None = None,
    content_key: str | None = None,
    source_file_id: int | None = None,
) -> int:
    """Store one experiment on ``conn`` (inside the caller's transaction); returns its id.

    Its cells are created or annotated, its earlier pairs (with their calls, measurements and
    traces) replaced.

    Parameters
    ----------
    conn
        An open connection inside a transaction.
    record
        The experiment.
    ingest_name
        Name of the ingest task that produced it (the ingest's skip key).
    content_key
        The task's content key.
    source_file_id
        The ``source_files`` row of its file.

    Returns
    -------
    int
        The experiment's database id.

    Raises
    ------
    AtlasError
        A pair names a cell the record does not define.
    """
    from patchatlas.atlas.store import insert_ignore, insert_provenance, upsert_cells

    e, p, cn, sm, tr = (
        T["multipatch_experiments"],
        T["pairs"],
        T["connections"],
        T["synapse_measurements"],
        T["pair_traces"],
    )
    pairs = record.pairs.reset_index(drop=True)
    names = (
        set(pairs["pre_cell"].dropna()) | set(pairs["post_cell"].dropna()) if len(pairs) else set()
    )
    missing = sorted(names - set(record.cells))
    if missing:
        raise AtlasError(
            f"write_experiment({record.name!r}): pairs name cells {missing[:5]} the record does "
            "not define; add them to ExperimentRecord.cells"
        )
    ids = upsert_cells(conn, record.cells)
    prov = insert_provenance(conn, record.engine, record.parameters)
    insert_ignore(conn, e, {"name": record.name, "metadata": {}}, "name")
    eid = int(conn.execute(select(e.c.id).where(e.c.name == record.name)).scalar_one())
    values: dict[str, Any] = {
        "metadata": json_safe(record.metadata),
        "species": record.species,
        "provenance_id": prov,
        "ingest_name": ingest_name,
        "content_key": content_key,
    }
    if source_file_id is not None:
        values["source_file_id"] = source_file_id
    conn.execute(update(e).where(e.c.id == eid).values(**values))
    old = select(p.c.id).where(p.c.experiment_id == eid)
    for table in (tr, sm, cn):
        conn.execute(delete(table).where(table.c.pair_id.in_(old)))
    conn.execute(delete(p).where(p.c.experiment_id == eid))
    usable = pairs.dropna(subset=["pre_cell", "post_cell"]) if len(pairs) else pairs
    rows = [
        {
            "experiment_id": eid,
            "pre_cell_id": ids[r["pre_cell"]],
            "post_cell_id": ids[r["post_cell"]],
            "distance_um": _f(r.get("distance_um")),
            "lateral_distance_um": _f(r.get("lateral_distance_um")),
            "vertical_distance_um": _f(r.get("vertical_distance_um")),
            "n_ex_test_spikes": _i(r.get("n_ex_test_spikes")),
            "n_in_test_spikes": _i(r.get("n_in_test_spikes")),
            "probed": _b(r.get("probed")),
            "status": _s(r.get("status")),
            "problems": _s(r.get("problems")),
        }
        for r in usable.to_dict("records")
    ]
    if not rows:
        return eid
    conn.execute(insert(p), rows)
    pk = {
        (r.pre_cell_id, r.post_cell_id): int(r.id)
        for r in conn.execute(
            select(p.c.id, p.c.pre_cell_id, p.c.post_cell_id).where(p.c.experiment_id == eid)
        )
    }
    by_el: dict[tuple[str, str], int] = {}
    calls = []
    for r in usable.to_dict("records"):
        pid = pk[(ids[r["pre_cell"]], ids[r["post_cell"]])]
        by_el[(str(r["pre"]), str(r["post"]))] = pid
        conn_v = _b(r.get("connected"))
        if conn_v is None:
            continue
        calls.append(
            {
                "pair_id": pid,
                "connected": conn_v,
                "synapse_type": _s(r.get("synapse_type")),
                "confidence": _f(r.get("confidence")),
                "provenance_id": prov,
                "electrical": _b(r.get("electrical")),
                "source": _s(r.get("call_source")),
                "p_value": _f(r.get("p_value")),
            }
        )
    if calls:
        conn.execute(insert(cn), calls)
    meas = record.measurements
    if len(meas):
        mrows: list[dict[str, Any]] = []
        for r in meas.to_dict("records"):
            mpid = by_el.get((str(r["pre"]), str(r["post"])))
            val = _f(r.get("value"))
            if mpid is None or val is None:
                continue
            mrows.append(
                {
                    "pair_id": mpid,
                    "name": str(r["name"]),
                    "value": val,
                    "unit": _s(r.get("unit")),
                    "provenance_id": prov,
                }
            )
        if mrows:
            conn.execute(insert(sm), mrows)
    trows: list[dict[str, Any]] = []
    for t in record.traces:
        tpid = by_el.get((str(t["pre"]), str(t["post"])))
        if tpid is not None:
            trows.append(
                {
                    "pair_id": tpid,
                    "kind": str(t["kind"]),
                    "data": json_safe(t["data"]),
                    "provenance_id": prov,
                }
            )
    if trows:
        conn.execute(insert(tr), trows)
    return eid


def write_experiment_cell(conn: Connection, record: CellRecord) -> int:
    """Store an ingest task whose engine output holds experiments (the ``synphys`` engine).

    Called by :func:`patchatlas.atlas.store.write_cell` for such records: the task's files
    become ``source_files`` rows (without a cell), every experiment of the outputs is written
    with the task's name and content key, and the task's recorded failures are cleared.

    Parameters
    ----------
    conn
        An open connection inside a transaction.
    record
        The computed task (its outputs' ``experiment`` hold :class:`ExperimentRecord` objects).

    Returns
    -------
    int
        The id of the (last) experiment written.
    """
    from patchatlas.atlas.store import clear_errors

    file_ids = []
    for f in record.files:
        res = conn.execute(
            insert(T["source_files"]).values(
                cell_id=None,
                path=f.path,
                size=int(f.size),
                sha256=f.sha256,
                format=f.format,
                role=f.role,
                created_at=S._now(),
            )
        )
        key = res.inserted_primary_key
        assert key is not None
        file_ids.append(int(key[0]))
    eid = -1
    for out in record.outputs:
        exp = getattr(out, "experiment", None)
        if exp is None:
            continue
        eid = write_experiment(
            conn,
            exp,
            ingest_name=record.name,
            content_key=record.content_key,
            source_file_id=file_ids[0] if file_ids else None,
        )
    clear_errors(conn, record.name)
    return eid


def experiment_content_keys(conn: Connection) -> dict[str, str | None]:
    """``{ingest name: content key}`` of every ingested experiment.

    Parameters
    ----------
    conn
        An open connection.

    Returns
    -------
    dict
        Ingest task name → its content key.
    """
    e = T["multipatch_experiments"]
    return {
        r.ingest_name: r.content_key
        for r in conn.execute(select(e.c.ingest_name, e.c.content_key))
        if r.ingest_name is not None
    }


def write_experiments(atlas: Atlas, records: Iterable[ExperimentRecord]) -> int:
    """Store experiments, one transaction each.

    Parameters
    ----------
    atlas
        The atlas, open for writing.
    records
        The experiments.

    Returns
    -------
    int
        Experiments written.
    """
    atlas.require_writable("write_experiments")
    n = 0
    for rec in records:
        with atlas.engine.begin() as conn:
            write_experiment(conn, rec)
        n += 1
    return n


def _read(atlas: Atlas, stmt: Any) -> pd.DataFrame:
    with atlas.engine.connect() as conn:
        return pd.read_sql(stmt, conn)


def experiments(atlas: Atlas) -> pd.DataFrame:
    """The multipatch experiments with their pair and connection counts.

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        ``experiment_id, name, species, ingest_name, n_pairs, n_connected``.
    """
    e, p, cn = T["multipatch_experiments"], T["pairs"], T["connections"]
    base = _read(
        atlas,
        select(e.c.id.label("experiment_id"), e.c.name, e.c.species, e.c.ingest_name).order_by(
            e.c.id
        ),
    )
    counts = _read(
        atlas,
        select(p.c.experiment_id, p.c.id, cn.c.connected).select_from(
            p.outerjoin(cn, cn.c.pair_id == p.c.id)
        ),
    )
    g = counts.groupby("experiment_id")
    base["n_pairs"] = base["experiment_id"].map(g.size()).fillna(0).astype(int)
    conn_n = g["connected"].apply(lambda s: int(s.fillna(False).astype(bool).sum()))
    base["n_connected"] = base["experiment_id"].map(conn_n).fillna(0).astype(int)
    return base


def synphys_pairs(atlas: Atlas, *, experiment: str | None = None) -> pd.DataFrame:
    """Every stored pair with its call and both cells' annotations.

    Parameters
    ----------
    atlas
        The open atlas.
    experiment
        Only this experiment (default: all).

    Returns
    -------
    pandas.DataFrame
        ``pair_id, experiment, pre_cell, post_cell, distance_um, lateral_distance_um,
        vertical_distance_um, n_ex_test_spikes, n_in_test_spikes, probed, status, problems,
        connected, synapse_type, electrical, call_source, p_value, confidence`` and
        ``pre_/post_`` ``subclass, t_type, layer, cre_line, depth_um``; distances in µm.
    """
    p, cn, e = T["pairs"], T["connections"], T["multipatch_experiments"]
    pre, post = aliased(T["cells"]), aliased(T["cells"])
    cols = [
        p.c.id.label("pair_id"),
        e.c.name.label("experiment"),
        pre.c.name.label("pre_cell"),
        post.c.name.label("post_cell"),
        p.c.distance_um,
        p.c.lateral_distance_um,
        p.c.vertical_distance_um,
        p.c.n_ex_test_spikes,
        p.c.n_in_test_spikes,
        p.c.probed,
        p.c.status,
        p.c.problems,
        cn.c.connected,
        cn.c.synapse_type,
        cn.c.electrical,
        cn.c.source.label("call_source"),
        cn.c.p_value,
        cn.c.confidence,
    ]
    for alias, side in ((pre, "pre"), (post, "post")):
        for c in ("subclass", "t_type", "layer", "cre_line", "depth_um"):
            cols.append(alias.c[c].label(f"{side}_{c}"))
    stmt = (
        select(*cols)
        .select_from(
            p.join(e, p.c.experiment_id == e.c.id)
            .join(pre, p.c.pre_cell_id == pre.c.id)
            .join(post, p.c.post_cell_id == post.c.id)
            .outerjoin(cn, cn.c.pair_id == p.c.id)
        )
        .order_by(p.c.id)
    )
    if experiment is not None:
        stmt = stmt.where(e.c.name == experiment)
    df = _read(atlas, stmt)
    for c in ("connected", "electrical", "probed"):
        df[c] = df[c].astype("boolean")
    return df


def pair_detail(atlas: Atlas, pair_id: int) -> dict[str, Any]:
    """One pair: its row, measurements (with units) and traces.

    Parameters
    ----------
    atlas
        The open atlas.
    pair_id
        The pair's database id.

    Returns
    -------
    dict
        ``pair`` (the :func:`synphys_pairs` row as a dict), ``measurements`` (DataFrame
        ``name, value, unit``), ``traces`` (``{kind: data}``).

    Raises
    ------
    AtlasError
        No such pair.
    """
    p, sm, tr = T["pairs"], T["synapse_measurements"], T["pair_traces"]
    with atlas.engine.connect() as conn:
        eid = conn.execute(select(p.c.experiment_id).where(p.c.id == pair_id)).scalar()
        if eid is None:
            raise AtlasError(f"no pair {pair_id} in the atlas; list the pairs first")
        name = conn.execute(
            select(T["multipatch_experiments"].c.name).where(
                T["multipatch_experiments"].c.id == eid
            )
        ).scalar_one()
        traces = {
            r.kind: r.data
            for r in conn.execute(
                select(tr.c.kind, tr.c.data).where(tr.c.pair_id == pair_id).order_by(tr.c.id)
            )
        }
    rows = synphys_pairs(atlas, experiment=name)
    row = rows[rows["pair_id"] == pair_id]
    meas = _read(
        atlas,
        select(sm.c.name, sm.c.value, sm.c.unit).where(sm.c.pair_id == pair_id).order_by(sm.c.id),
    )
    return {"pair": row.iloc[0].to_dict(), "measurements": meas, "traces": traces}


def cell_annotations(
    cells: Sequence[Mapping[str, Any]], *, species: str | None, dataset: str
) -> dict[str, dict[str, Any]]:
    """Cell name → atlas annotations from multipatch cell descriptions (helper for writers).

    Parameters
    ----------
    cells
        Dicts with ``cell_id``, ``electrode``, ``cell_class``, ``layer``, ``cre_line``,
        ``t_type``, ``depth_um``, ``position_um``.
    species
        Species of the experiment.
    dataset
        Dataset label of the cells (the experiment name).

    Returns
    -------
    dict
        Annotations as :func:`patchatlas.atlas.store.upsert_cells` takes them (the class goes
        to ``subclass``).
    """
    out: dict[str, dict[str, Any]] = {}
    for c in cells:
        depth = c.get("depth_um")
        pos = c.get("position_um")
        out[str(c["cell_id"])] = {
            "dataset": dataset,
            "species": species,
            "layer": c.get("layer"),
            "depth_um": depth if depth is not None and np.isfinite(depth) else None,
            "cre_line": c.get("cre_line"),
            "subclass": c.get("cell_class"),
            "t_type": c.get("t_type"),
            "electrode": c.get("electrode"),
            "position_um": list(pos) if pos is not None else None,
        }
    return out
