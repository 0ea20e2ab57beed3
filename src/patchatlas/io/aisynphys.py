"""Read-only importer of the Allen Synaptic Physiology SQLite releases (schema version 22).

The releases (``synphys_r2.0``/``r2.1`` ``small``/``medium``/``full``) are SQLite files written by
aisynphys. This reader opens them read-only with the standard library's ``sqlite3``, checks the
schema version (``metadata.meta["db_version"]`` must be ``"22"``), reads tables **by column
name** (so extra or reordered columns do not matter), decodes ``array`` columns (``.npy`` blobs,
``allow_pickle=False``) and ``object`` columns (JSON text), and converts SI units to the
library's (m → µm, V → mV, A → pA; seconds stay seconds).

What it reads: ``slice``, ``experiment``, ``cell`` and ``pair`` (required); ``synapse``,
``dynamics``, ``cortical_cell_location``, ``patch_seq`` and ``avg_response_fit`` when present.
Cells are classed by ``cell_class_nonsynaptic`` (cre type and morphology only, so connectivity
by class is not circular), falling back to ``cell_class``. The calls (``has_synapse``,
``has_electrical`` and the synapse's type) are the Allen experts' manual calls (source
``"aisynphys"``).
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patchatlas.core.multipatch import ConnectionCall, MultipatchCell, MultipatchExperiment
from patchatlas.errors import CorruptFileError, DataError, ReadError

__all__ = ["SCHEMA_VERSION", "AisynphysRelease", "decode_array", "read_aisynphys"]

#: the aisynphys schema version this importer reads
SCHEMA_VERSION = "22"
_REQUIRED = ("slice", "experiment", "cell", "pair")
_SYNAPSE_UNITS = {
    "latency": 1.0,
    "psp_amplitude": 1e3,
    "psp_rise_time": 1.0,
    "psp_decay_tau": 1.0,
    "psc_amplitude": 1e12,
    "psc_rise_time": 1.0,
    "psc_decay_tau": 1.0,
}
_DYNAMICS = (
    "paired_pulse_ratio_50hz",
    "stp_initial_50hz",
    "stp_induction_50hz",
    "stp_recovery_250ms",
    "stp_recovery_single_250ms",
)


@dataclass
class AisynphysRelease:
    """What :func:`read_aisynphys` found in a release.

    Attributes
    ----------
    path
        The database file.
    schema_version
        Its schema version.
    experiments
        One :class:`~patchatlas.core.MultipatchExperiment` per experiment: cells (positions in
        µm, class, Cre line, layer, t-type), the manual calls and the pair distances.
    pairs
        One row per ordered pair: ``experiment, pre, post, distance_um, lateral_distance_um,
        vertical_distance_um, n_ex_test_spikes, n_in_test_spikes, has_synapse,
        has_electrical, synapse_type`` and the synapse measurements (``latency`` s,
        ``psp_amplitude`` mV, ``psp_rise_time`` s, ``psp_decay_tau`` s, ``psc_amplitude`` pA,
        ``psc_rise_time``, ``psc_decay_tau``) and dynamics columns when present.
    avg_fits
        Averaged-response fits (``avg_response_fit``): ``experiment, pre, post, clamp_mode,
        holding, fit_amp`` (mV or pA), ``fit_xoffset, fit_rise_time, fit_decay_tau`` (s),
        ``nrmse, n_averaged_responses, avg_data`` (array, mV or pA), ``avg_data_start_time``.
    """

    path: Path
    schema_version: str
    experiments: list[MultipatchExperiment] = field(default_factory=list)
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    avg_fits: pd.DataFrame = field(default_factory=pd.DataFrame)


def decode_array(blob: bytes | None) -> np.ndarray | None:
    """Decode an aisynphys ``array`` column value (a ``.npy`` blob).

    Parameters
    ----------
    blob
        The stored bytes (None: no value).

    Returns
    -------
    numpy.ndarray or None
        The array (pickled objects are refused).
    """
    if blob is None:
        return None
    return np.load(io.BytesIO(blob), allow_pickle=False)  # type: ignore[no-any-return]


def _json(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _table(con: sqlite3.Connection, name: str, tables: set[str]) -> pd.DataFrame | None:
    if name not in tables:
        return None
    return pd.read_sql_query(f'SELECT * FROM "{name}"', con)


def _num(df: pd.DataFrame, col: str, scale: float = 1.0) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index)
    return pd.to_numeric(df[col], errors="coerce") * scale


def _opt(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    s = str(value)
    return s or None


def read_aisynphys(path: str | os.PathLike[str], *, check_version: bool = True) -> AisynphysRelease:
    """Read an Allen Synaptic Physiology SQLite release (read-only).

    Parameters
    ----------
    path
        The ``.sqlite`` file.
    check_version
        Refuse a schema version other than :data:`SCHEMA_VERSION` (default). Other versions
        may lack or rename columns; with False the importer reads what it finds.

    Returns
    -------
    AisynphysRelease
        Experiments, pair table and averaged-response fits.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing file, not SQLite, a required table missing, or another schema version.
    """
    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "no such file", "give the path of a synphys_r*.sqlite release")
    try:
        con = sqlite3.connect(f"file:{p.resolve().as_posix()}?mode=ro", uri=True)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise ReadError(p, f"not a SQLite database ({exc})") from exc
    try:
        version = None
        if "metadata" in tables:
            meta = _table(con, "metadata", tables)
            if meta is not None and len(meta) and "meta" in meta.columns:
                version = str((_json(meta["meta"].iloc[0]) or {}).get("db_version"))
        if check_version and version != SCHEMA_VERSION:
            raise ReadError(
                p,
                f"schema version {version!r}; this importer reads version {SCHEMA_VERSION}",
                "use a r2.0/r2.1 release, or check_version=False to try anyway",
            )
        missing = [t for t in _REQUIRED if t not in tables]
        if missing:
            raise ReadError(p, f"lacks the tables {missing}", "is this an aisynphys release?")
        return _read(con, p, tables, version or "unknown")
    except (sqlite3.DatabaseError, KeyError, ValueError) as exc:
        raise CorruptFileError(p, f"unexpected content ({exc})") from exc
    finally:
        con.close()


def _read(con: sqlite3.Connection, p: Path, tables: set[str], version: str) -> AisynphysRelease:
    slices = _table(con, "slice", tables)
    expts = _table(con, "experiment", tables)
    cells = _table(con, "cell", tables)
    pairs = _table(con, "pair", tables)
    assert slices is not None and expts is not None and cells is not None and pairs is not None
    loc = _table(con, "cortical_cell_location", tables)
    pseq = _table(con, "patch_seq", tables)
    syn = _table(con, "synapse", tables)
    dyn = _table(con, "dynamics", tables)
    fits = _table(con, "avg_response_fit", tables)
    species = dict(zip(slices["id"], slices.get("species", pd.Series(dtype=object)), strict=False))
    layer = (
        dict(zip(loc["cell_id"], loc["cortical_layer"], strict=False))
        if loc is not None and "cortical_layer" in loc
        else {}
    )
    ttype = (
        dict(zip(pseq["cell_id"], pseq["tree_first_cluster"], strict=False))
        if pseq is not None and "tree_first_cluster" in pseq
        else {}
    )
    cell_el = dict(zip(cells["id"], cells["ext_id"].astype(str), strict=True))
    by_expt: dict[Any, list[MultipatchCell]] = {}
    for r in cells.to_dict("records"):
        pos = _json(r.get("position"))
        pos_um = (
            tuple(float(x) * 1e6 for x in pos)
            if isinstance(pos, list) and len(pos) == 3 and all(x is not None for x in pos)
            else None
        )
        cls = _opt(r.get("cell_class_nonsynaptic")) or _opt(r.get("cell_class"))
        depth = r.get("depth")
        by_expt.setdefault(r["experiment_id"], []).append(
            MultipatchCell(
                str(r["ext_id"]),
                position_um=pos_um,  # type: ignore[arg-type]
                layer=_opt(layer.get(r["id"])) or _opt(r.get("target_layer")),
                cell_class=cls,
                cre_line=_opt(r.get("cre_type")),
                t_type=_opt(ttype.get(r["id"])),
                depth_um=float(depth) * 1e6
                if depth is not None and np.isfinite(depth)
                else math.nan,
                metadata={
                    "aisynphys_cell_id": int(r["id"]),
                    "cell_class_synaptic": _opt(r.get("cell_class")),
                },
            )
        )
    out = pairs[["id", "experiment_id", "pre_cell_id", "post_cell_id"]].copy()
    out["pre"] = out["pre_cell_id"].map(cell_el)
    out["post"] = out["post_cell_id"].map(cell_el)
    out["distance_um"] = _num(pairs, "distance", 1e6)
    out["lateral_distance_um"] = _num(pairs, "lateral_distance", 1e6)
    out["vertical_distance_um"] = _num(pairs, "vertical_distance", 1e6)
    out["n_ex_test_spikes"] = _num(pairs, "n_ex_test_spikes")
    out["n_in_test_spikes"] = _num(pairs, "n_in_test_spikes")
    for c in ("has_synapse", "has_electrical", "has_polysynapse"):
        out[c] = (
            pairs[c].map(lambda v: None if v is None or v != v else bool(v)) if c in pairs else None
        )
    if syn is not None:
        s = syn.drop_duplicates("pair_id").set_index("pair_id")
        out["synapse_type"] = out["id"].map(s["synapse_type"]) if "synapse_type" in s else None
        for col, scale in _SYNAPSE_UNITS.items():
            out[col] = out["id"].map(_num(s, col, scale))
    else:
        out["synapse_type"] = None
    if dyn is not None:
        d = dyn.drop_duplicates("pair_id").set_index("pair_id")
        for col in _DYNAMICS:
            if col in d:
                out[col] = out["id"].map(pd.to_numeric(d[col], errors="coerce"))
    names = dict(zip(expts["id"], expts["ext_id"].astype(str), strict=True))
    out["experiment"] = out["experiment_id"].map(names)
    experiments = []
    groups = dict(iter(out.groupby("experiment_id", sort=True)))
    for eid in sorted(names):
        g = groups.get(eid, out.iloc[:0])
        cl = by_expt.get(eid, [])
        known = {c.electrode for c in cl}
        calls, dist = [], {}
        for r in g.to_dict("records"):
            if r["pre"] not in known or r["post"] not in known or r["pre"] == r["post"]:
                continue
            st = _opt(r.get("synapse_type"))
            calls.append(
                ConnectionCall(
                    r["pre"],
                    r["post"],
                    r.get("has_synapse"),
                    st if st in ("ex", "in") and r.get("has_synapse") else None,
                    r.get("has_electrical"),
                    "aisynphys",
                )
            )
            if np.isfinite(r["distance_um"]):
                dist[(r["pre"], r["post"])] = float(r["distance_um"])
        srow = expts.loc[expts["id"] == eid].iloc[0]
        try:
            experiments.append(
                MultipatchExperiment(
                    names[eid],
                    cl,
                    [],
                    species=_opt(species.get(srow.get("slice_id"))),
                    metadata={
                        "source": "aisynphys",
                        "project_name": _opt(srow.get("project_name")),
                        "schema_version": version,
                    },
                    source=str(p),
                    calls=calls,
                    distances_um=dist,
                )
            )
        except DataError as exc:
            raise CorruptFileError(p, f"experiment {names[eid]}: {exc}") from exc
    pair_cols = [c for c in out.columns if c not in ("id", "experiment_id", "pre_cell_id",
                                                     "post_cell_id")]  # fmt: skip
    table = out[["experiment", *[c for c in pair_cols if c != "experiment"]]].reset_index(drop=True)
    fit_table = pd.DataFrame()
    if fits is not None and syn is not None and len(fits):
        pair_of = dict(zip(syn["id"], syn["pair_id"], strict=True))
        f = fits.copy()
        f["pair_id"] = f["synapse_id"].map(pair_of)
        key = out.set_index("id")[["experiment", "pre", "post"]]
        f = f.join(key, on="pair_id")
        scales = np.where(f["clamp_mode"] == "vc", 1e12, 1e3)
        f["fit_amp"] = _num(f, "fit_amp") * scales
        f["fit_yoffset"] = _num(f, "fit_yoffset") * scales
        blobs = f["avg_data"].tolist() if "avg_data" in f.columns else [None] * len(f)
        arrays = [decode_array(b) for b in blobs]
        f["avg_data"] = pd.Series(
            [None if a is None else a * float(s) for a, s in zip(arrays, scales, strict=True)],
            index=f.index,
            dtype=object,
        )
        keep = ["experiment", "pre", "post", "clamp_mode", "holding", "fit_amp", "fit_xoffset",
                "fit_yoffset", "fit_rise_time", "fit_decay_tau", "nrmse",
                "n_averaged_responses", "avg_data", "avg_data_start_time"]  # fmt: skip
        fit_table = f[[c for c in keep if c in f.columns]].reset_index(drop=True)
    return AisynphysRelease(p, version, experiments, table, fit_table)
