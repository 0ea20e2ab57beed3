"""Writing to the atlas: one cell per transaction, safe to repeat and to run concurrently.

:func:`write_cell` stores a :class:`~patchatlas.atlas.records.CellRecord` on an open connection
(the caller owns the transaction, so a crash leaves either the whole cell or nothing). Re-writing a
cell replaces what the same engines wrote before and keeps the rest (imported features,
transcriptome links). On PostgreSQL the cell row is locked (``SELECT … FOR UPDATE``) so concurrent
writers of the same cell serialise instead of duplicating; locks are always taken donor → cell, so
writers of different cells never deadlock.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from patchatlas._version import __version__
from patchatlas.atlas import schema as S
from patchatlas.atlas.records import (
    CELL_FIELDS,
    DONOR_FIELDS,
    FEATURE_COLUMNS,
    FLOAT_CELL_FIELDS,
    QC_COLUMNS,
    CellFailure,
    CellRecord,
    EngineOutput,
    json_safe,
)

__all__ = [
    "as_float",
    "clear_errors",
    "get_or_create_cell",
    "get_or_create_donor",
    "insert_ignore",
    "insert_provenance",
    "record_failure",
    "upsert_cells",
    "write_cell",
    "write_features",
]

T = S.Base.metadata.tables


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any], key: str) -> None:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` of one row, on SQLite and PostgreSQL.

    Parameters
    ----------
    conn
        Open connection (the caller owns the transaction).
    table
        Target table.
    values
        Column → value of the row.
    key
        The unique column the conflict is detected on.
    """
    if conn.dialect.name == "postgresql":
        stmt: Any = (
            postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
        )
    else:
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    conn.execute(stmt)


def _clean(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def as_float(v: Any) -> float | None:
    """A finite float for the database, or None (missing, non-numeric or non-finite values).

    Parameters
    ----------
    v
        Any value (numpy scalars, strings, NaN ...).

    Returns
    -------
    float or None
    """
    v = _clean(v)
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _as_str(v: Any) -> str | None:
    v = _clean(v)
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def get_or_create_donor(conn: Connection, name: str, fields: Mapping[str, Any]) -> int:
    """Id of the donor ``name``, created (with ``fields``) when new.

    Parameters
    ----------
    conn
        An open connection inside the caller's transaction.
    name
        The donor's name (unique).
    fields
        Donor annotations: the donor columns (species, sex, age ...) update the row where
        given; other keys go to the donor's JSON metadata when it is created.

    Returns
    -------
    int
        The donor's database id.
    """
    values = {k: _as_str(fields.get(k)) for k in DONOR_FIELDS}
    extra = json_safe({k: v for k, v in fields.items() if k not in DONOR_FIELDS})
    insert_ignore(conn, T["donors"], {"name": name, **values, "metadata": extra}, "name")
    donor_id = conn.execute(select(T["donors"].c.id).where(T["donors"].c.name == name)).scalar_one()
    filled = {k: v for k, v in values.items() if v is not None}
    if filled:
        conn.execute(update(T["donors"]).where(T["donors"].c.id == donor_id).values(**filled))
    return int(donor_id)


def _split_metadata(
    metadata: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    cols: dict[str, Any] = {}
    donor: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    donor_name: str | None = None
    for k, v in metadata.items():
        if k in CELL_FIELDS:
            cols[k] = as_float(v) if k in FLOAT_CELL_FIELDS else _as_str(v)
        elif k == "donor":
            donor_name = _as_str(v)
        elif k.startswith("donor_"):
            donor[k[len("donor_") :]] = v
        elif k == "cell_id":
            continue
        else:
            extra[k] = v
    if "species" in cols and cols["species"] is not None:
        donor.setdefault("species", cols["species"])
    if donor_name is not None:
        extra["_donor_fields"] = donor
    return cols, json_safe(extra), donor_name


def get_or_create_cell(
    conn: Connection,
    name: str,
    metadata: Mapping[str, Any],
    *,
    donor_cache: dict[str, int] | None = None,
) -> int:
    """Id of cell ``name`` (created when new, annotations updated when given), row-locked on
    PostgreSQL until the transaction ends. ``donor_cache`` (name → id) saves donor look-ups in
    bulk imports.

    Parameters
    ----------
    conn
        An open connection inside the caller's transaction.
    name
        The cell's name (unique).
    metadata
        Annotations: cell columns (species, layer, depth_um, t_type ...) set where not empty;
        ``donor`` names the donor and ``donor_<field>`` gives its fields; other keys are
        merged into the cell's JSON metadata.
    donor_cache
        Donor name → id, read and filled here.

    Returns
    -------
    int
        The cell's database id.
    """
    cols, extra, donor_name = _split_metadata(metadata)
    donor_fields = extra.pop("_donor_fields", {})
    if donor_name is not None:
        if donor_cache is not None and donor_name in donor_cache:
            cols["donor_id"] = donor_cache[donor_name]
        else:
            cols["donor_id"] = get_or_create_donor(conn, donor_name, donor_fields)
            if donor_cache is not None:
                donor_cache[donor_name] = cols["donor_id"]
    cells = T["cells"]
    insert_ignore(conn, cells, {"name": name, "metadata": {}}, "name")
    q = select(cells.c.id, cells.c.metadata).where(cells.c.name == name)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).one()
    changes = {k: v for k, v in cols.items() if v is not None}
    if extra:
        merged = dict(row.metadata or {})
        merged.update(extra)
        changes["metadata"] = merged
    if changes:
        changes["updated_at"] = S._now()
        conn.execute(update(cells).where(cells.c.id == row.id).values(**changes))
    return int(row.id)


def upsert_cells(conn: Connection, cells: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Create or annotate many cells at once (bulk imports); returns ``{name: id}``.

    Same semantics as :func:`get_or_create_cell` per cell, in a handful of statements: donors are
    created first, new cells inserted with one ``executemany``, existing ones updated.

    Parameters
    ----------
    conn
        An open connection inside the caller's transaction.
    cells
        Cell name → annotations (as ``metadata`` of :func:`get_or_create_cell`).

    Returns
    -------
    dict of str to int
        Cell name → database id, for every cell given.
    """
    c = T["cells"]
    split = {name: _split_metadata(meta) for name, meta in cells.items()}
    donor_ids: dict[str, int] = {}
    for _name, (_cols, extra, donor_name) in split.items():
        fields = extra.pop("_donor_fields", {})
        if donor_name is not None and donor_name not in donor_ids:
            donor_ids[donor_name] = get_or_create_donor(conn, donor_name, fields)
    names = list(cells)
    existing: dict[str, Any] = {}
    for k in range(0, len(names), 5000):
        chunk = names[k : k + 5000]
        for r in conn.execute(select(c.c.name, c.c.id, c.c.metadata).where(c.c.name.in_(chunk))):
            existing[r.name] = r
    now = S._now()
    new_rows = []
    for name in names:
        cols, extra, donor_name = split[name]
        values = {k: v for k, v in cols.items() if v is not None}
        if donor_name is not None:
            values["donor_id"] = donor_ids[donor_name]
        if name in existing:
            row = existing[name]
            if extra:
                merged = dict(row.metadata or {})
                merged.update(extra)
                values["metadata"] = merged
            if values:
                values["updated_at"] = now
                conn.execute(update(c).where(c.c.id == row.id).values(**values))
            continue
        full = dict.fromkeys(CELL_FIELDS)
        full.update(values)
        full.update(
            name=name,
            metadata=extra,
            created_at=now,
            updated_at=now,
            donor_id=values.get("donor_id"),
        )
        new_rows.append(full)
    if new_rows:
        conn.execute(insert(c), new_rows)
    ids = {r.name: int(r.id) for r in existing.values()}
    new_names = [r["name"] for r in new_rows]
    for k in range(0, len(new_names), 5000):
        part = new_names[k : k + 5000]
        ids.update(
            {
                r.name: int(r.id)
                for r in conn.execute(select(c.c.name, c.c.id).where(c.c.name.in_(part)))
            }
        )
    return ids


def insert_provenance(conn: Connection, engine: str, parameters: Mapping[str, Any]) -> int:
    """A new provenance row (package version, engine, parameters, now); returns its id.

    Parameters
    ----------
    conn
        An open connection inside the caller's transaction.
    engine
        What computed the rows it will describe (``"ephys"``, ``"import:m1_scala2021"`` ...).
    parameters
        How they were computed (stored as JSON, via :func:`~patchatlas.atlas.records.json_safe`).

    Returns
    -------
    int
        The provenance id.
    """
    res = conn.execute(
        insert(T["provenance"]).values(
            engine=engine,
            package_version=__version__,
            parameters=json_safe(dict(parameters)),
            created_at=S._now(),
        )
    )
    pk = res.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def _records(df: pd.DataFrame | None, columns: Sequence[str]) -> list[dict[str, Any]]:
    if df is None or len(df) == 0:
        return []
    out = df.reindex(columns=list(columns)).astype(object)
    out = out.where(pd.notna(out), None)
    rows: list[dict[str, Any]] = out.to_dict("records")  # type: ignore[assignment]
    for r in rows:
        for k, v in r.items():
            r[k] = _clean(v)
    return rows


def _column_values(col: pd.Series, kind: str) -> list[Any]:
    """One column as Python values for the driver, NaN/NA → None, without a per-cell pandas
    round trip: ``kind`` is ``"float"``, ``"int"`` or ``"str"`` (kept as given)."""
    if kind != "str" and isinstance(col.dtype, pd.api.extensions.ExtensionDtype):
        # nullable Int64 / boolean / Float64: as float with NaN holes (the fast path below)
        with contextlib.suppress(TypeError, ValueError):
            col = pd.Series(col.to_numpy(dtype=float, na_value=np.nan), index=col.index)
    arr = col.to_numpy()
    if arr.dtype.kind in "fiub":
        if kind == "str":
            return [_clean(v) for v in arr.tolist()]
        f = arr.astype(float)
        ok = np.isfinite(f)
        if kind == "int":
            vals: list[Any] = (
                f.astype(np.int64, copy=False).tolist()
                if ok.all()
                else [
                    int(v) if good else None
                    for v, good in zip(f.tolist(), ok.tolist(), strict=True)
                ]
            )
            return vals
        if ok.all():
            return f.tolist()
        return [v if good else None for v, good in zip(f.tolist(), ok.tolist(), strict=True)]
    # object columns: plain strings with NaN/None holes take the fast path
    if kind == "str":
        vals = arr.tolist()
        if {type(v) for v in vals} <= {str, type(None), float}:
            missing = pd.isna(arr)
            if not missing.any():
                return vals
            return [None if m else v for v, m in zip(vals, missing.tolist(), strict=True)]
    # anything else: the general (slow) conversion, value by value
    if kind == "float":
        return [as_float(v) for v in arr]
    if kind == "int":
        return [None if (c := _clean(v)) is None else int(c) for v in arr]
    return [_clean(v) for v in arr]


def _recording_ids(col: pd.Series, recording_ids: Sequence[int] | None) -> list[int | None]:
    """Positions in an engine output's recordings → their database ids."""
    pos = _column_values(col, "int")
    if recording_ids is None:
        return [None] * len(pos)
    return [None if k is None else recording_ids[k] for k in pos]


def write_features(
    conn: Connection,
    cell_id: int,
    features: pd.DataFrame,
    *,
    provenance_id: int,
    recording_ids: Sequence[int] | None = None,
) -> int:
    """Append rows (``FEATURE_COLUMNS``) to ``ephys_features`` for one cell; returns the count.

    Columns are converted as whole arrays and sent in one ``executemany`` (``COPY`` on
    PostgreSQL): a cell can have tens of thousands of per-spike rows.

    Parameters
    ----------
    conn
        Open connection (the caller owns the transaction).
    cell_id
        Database id of the cell.
    features
        Rows with :data:`~patchatlas.atlas.records.FEATURE_COLUMNS` (missing columns are null).
    provenance_id
        The provenance row they point at.
    recording_ids
        Database ids of the engine output's recordings, in order: the ``recording`` column
        (a position) is mapped through them.

    Returns
    -------
    int
        Rows written.
    """
    if features is None or len(features) == 0:
        return 0
    df = features.reindex(columns=list(FEATURE_COLUMNS))
    n = len(df)
    level = [v or "cell" for v in _column_values(df["level"], "str")]
    in_window = _column_values(df["in_window"], "int")
    cols: dict[str, list[Any]] = {
        "cell_id": [cell_id] * n,
        "level": level,
        "recording_id": _recording_ids(df["recording"], recording_ids),
        "sweep_number": _column_values(df["sweep_number"], "int"),
        "spike_index": _column_values(df["spike_index"], "int"),
        "name": _column_values(df["name"], "str"),
        "value": _column_values(df["value"], "float"),
        "unit": _column_values(df["unit"], "str"),
        "native_name": _column_values(df["native_name"], "str"),
        "in_window": [None if v is None else bool(v) for v in in_window],
        "provenance_id": [provenance_id] * n,
    }
    keys = list(cols)
    if conn.dialect.name == "postgresql" and _copy_rows(conn, "ephys_features", keys, cols):
        return n
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)
    if marker is None:
        rows = [dict(zip(keys, r, strict=True)) for r in zip(*cols.values(), strict=True)]
        conn.execute(insert(T["ephys_features"]), rows)
        return n
    # the driver's executemany with positional tuples: no per-row parameter processing
    names = ", ".join(f'"{k}"' for k in keys)
    conn.exec_driver_sql(
        f'INSERT INTO "ephys_features" ({names}) VALUES ({", ".join([marker] * len(keys))})',
        list(zip(*cols.values(), strict=True)),
    )
    return n


def _copy_rows(conn: Connection, table: str, keys: list[str], cols: dict[str, list[Any]]) -> bool:
    """``COPY table (keys) FROM STDIN`` on the connection's psycopg 3 cursor (same transaction);
    False when the driver has no COPY (then the caller inserts)."""
    raw = conn.connection.driver_connection
    cursor = getattr(raw, "cursor", None)
    if cursor is None or not hasattr(raw, "pgconn"):  # not psycopg 3
        return False
    names = ", ".join(f'"{k}"' for k in keys)
    with cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in zip(*cols.values(), strict=True):
            copy.write_row(row)
    return True


def _delete_engine_rows(conn: Connection, cell_id: int, engines: Iterable[str]) -> None:
    """Remove what ``engines`` stored for a cell before (re-ingest), keep everything else."""
    engines = list(engines)
    prov = select(T["provenance"].c.id).where(T["provenance"].c.engine.in_(engines))
    for name in ("ephys_features", "qc_results", "models"):
        t = T[name]
        conn.execute(delete(t).where(t.c.cell_id == cell_id, t.c.provenance_id.in_(prov)))
    rec, sw = T["recordings"], T["sweeps"]
    rec_ids = select(rec.c.id).where(rec.c.cell_id == cell_id, rec.c.provenance_id.in_(prov))
    conn.execute(delete(sw).where(sw.c.recording_id.in_(rec_ids)))
    morph = T["morphologies"]
    m_ids = select(morph.c.id).where(morph.c.cell_id == cell_id, morph.c.provenance_id.in_(prov))
    for name in ("morphology_features", "morphology_issues"):
        t = T[name]
        conn.execute(delete(t).where(t.c.morphology_id.in_(m_ids)))
    conn.execute(delete(morph).where(morph.c.cell_id == cell_id, morph.c.provenance_id.in_(prov)))
    conn.execute(delete(rec).where(rec.c.cell_id == cell_id, rec.c.provenance_id.in_(prov)))
    sf = T["source_files"]
    used = (
        select(rec.c.source_file_id)
        .where(rec.c.source_file_id.is_not(None))
        .union(select(morph.c.source_file_id).where(morph.c.source_file_id.is_not(None)))
    )
    conn.execute(delete(sf).where(sf.c.cell_id == cell_id, sf.c.id.not_in(used)))


def _write_output(conn: Connection, cell_id: int, out: EngineOutput, file_ids: list[int]) -> None:
    prov_id = insert_provenance(conn, out.engine, out.parameters)
    recording_ids: list[int] = []
    for rec in out.recordings:
        res = conn.execute(
            insert(T["recordings"]).values(
                cell_id=cell_id,
                source_file_id=file_ids[rec.file_index] if rec.file_index is not None else None,
                format=rec.format,
                n_sweeps=len(rec.sweeps),
                metadata=json_safe(rec.metadata),
                provenance_id=prov_id,
            )
        )
        pk = res.inserted_primary_key
        assert pk is not None
        recording_ids.append(int(pk[0]))
        rows = _records(rec.sweeps, list(rec.sweeps.columns))
        sweeps = [
            {
                "recording_id": int(pk[0]),
                "number": int(r["number"]),
                "clamp_mode": str(r.get("clamp_mode") or ""),
                "stimulus_kind": str(r.get("kind") or "unknown"),
                "stimulus_name": r.get("stimulus_name") or None,
                "amplitude_pa": as_float(r.get("amplitude_pa")),
                "start_s": as_float(r.get("start_s")),
                "end_s": as_float(r.get("end_s")),
                "sampling_rate_hz": float(r["sampling_rate_hz"]),
                "duration_s": float(r["duration_s"]),
                "metadata": json_safe(r["metadata"]) if r.get("metadata") else None,
            }
            for r in rows
        ]
        if sweeps:
            conn.execute(insert(T["sweeps"]), sweeps)
    if out.features is not None:
        write_features(
            conn, cell_id, out.features, provenance_id=prov_id, recording_ids=recording_ids
        )
    qc_rows = _records(out.qc, list(QC_COLUMNS))
    for r in qc_rows:
        pos = r.pop("recording")
        r.update(
            cell_id=cell_id,
            provenance_id=prov_id,
            value=as_float(r["value"]),
            recording_id=None if pos is None else recording_ids[int(pos)],
        )
        r["passed"] = None if r["passed"] is None else bool(r["passed"])
    if qc_rows:
        conn.execute(insert(T["qc_results"]), qc_rows)
    for m in out.morphologies:
        res = conn.execute(
            insert(T["morphologies"]).values(
                cell_id=cell_id,
                source_file_id=file_ids[m.file_index] if m.file_index is not None else None,
                convention=m.convention,
                n_nodes=m.n_nodes,
                metadata=json_safe(m.metadata),
                provenance_id=prov_id,
            )
        )
        pk = res.inserted_primary_key
        assert pk is not None
        mid = int(pk[0])
        frows = _records(m.features, ["name", "value", "unit", "native_name"])
        for r in frows:
            r.update(morphology_id=mid, provenance_id=prov_id, value=as_float(r["value"]))
        if frows:
            conn.execute(insert(T["morphology_features"]), frows)
        irows = _records(m.issues, ["severity", "code", "message"])
        for r in irows:
            r["morphology_id"] = mid
            r["message"] = str(r["message"] or "")
            r["severity"] = str(r["severity"] or "warning")
            r["code"] = str(r["code"] or "")
        if irows:
            conn.execute(insert(T["morphology_issues"]), irows)
    for model in out.models:
        conn.execute(
            insert(T["models"]).values(
                cell_id=cell_id,
                kind=str(model.get("kind", "unknown")),
                name=model.get("name"),
                parameters=json_safe(model.get("parameters", {})),
                fit_scores=json_safe(model.get("fit_scores", {})),
                provenance_id=prov_id,
            )
        )


def write_cell(conn: Connection, record: CellRecord) -> int:
    """Store one cell (annotations, files, every engine output) on ``conn``; returns its id.

    Call inside a transaction (``with engine.begin() as conn``): the cell is then stored entirely
    or not at all. Data the same engines stored for this cell before are replaced.

    Parameters
    ----------
    conn
        An open connection inside the caller's transaction.
    record
        The computed cell (:func:`patchatlas.pipeline.compute_cell`): annotations, source
        files, engine outputs and content key. Its recorded failures are cleared.

    Returns
    -------
    int
        The cell's database id (a multipatch experiment's id for the ``synphys`` engine).
    """
    if any(o.experiment is not None for o in record.outputs):
        from patchatlas.atlas.synphys import write_experiment_cell

        return write_experiment_cell(conn, record)
    cell_id = get_or_create_cell(conn, record.name, record.metadata)
    _delete_engine_rows(conn, cell_id, [o.engine for o in record.outputs])
    file_ids: list[int] = []
    for f in record.files:
        res = conn.execute(
            insert(T["source_files"]).values(
                cell_id=cell_id,
                path=f.path,
                size=int(f.size),
                sha256=f.sha256,
                format=f.format,
                role=f.role,
                created_at=S._now(),
            )
        )
        pk = res.inserted_primary_key
        assert pk is not None
        file_ids.append(int(pk[0]))
    for out in record.outputs:
        _write_output(conn, cell_id, out, file_ids)
    if record.content_key is not None:
        conn.execute(
            update(T["cells"])
            .where(T["cells"].c.id == cell_id)
            .values(content_key=record.content_key)
        )
    clear_errors(conn, record.name)
    return cell_id


def clear_errors(conn: Connection, cell_name: str) -> None:
    """Forget the recorded failures of a cell (it has now been stored).

    Parameters
    ----------
    conn
        An open connection inside the caller's transaction.
    cell_name
        The cell's name.
    """
    t = T["ingest_errors"]
    conn.execute(delete(t).where(t.c.cell_name == cell_name))


def record_failure(conn: Connection, failure: CellFailure) -> None:
    """Record (replace) the failure of a cell in ``ingest_errors``.

    Parameters
    ----------
    conn
        An open connection inside the caller's transaction.
    failure
        The failure: cell name, file, stage, error type and reason.
    """
    clear_errors(conn, failure.name)
    conn.execute(
        insert(T["ingest_errors"]).values(
            cell_name=failure.name,
            path=failure.path,
            stage=failure.stage,
            error_type=failure.error_type,
            reason=failure.reason,
            created_at=S._now(),
        )
    )


def content_keys(conn: Connection) -> dict[str, str | None]:
    """``{cell name: content_key}`` of every stored cell (for the ingest's skip decision)."""
    from patchatlas.atlas.synphys import experiment_content_keys

    c = T["cells"]
    keys = {r.name: r.content_key for r in conn.execute(select(c.c.name, c.c.content_key))}
    keys.update(experiment_content_keys(conn))
    return keys


def counts(conn: Connection) -> dict[str, int]:
    """Row count of every table."""
    return {
        name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
        for name, t in T.items()
    }
