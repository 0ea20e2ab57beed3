"""The multipatch ingest engine (``synphys``) and the synaptic-physiology importers.

The engine handles experiment files (``.mpx`` simple layout, ``.syn`` connection matrices, and
MIES multipatch ``.nwb`` when asked for explicitly: ``patchatlas ingest DIR --engine synphys``,
since ``.nwb`` goes to the ``ephys`` engine otherwise). One file is one ingest task: it is read
(:func:`patchatlas.io.multipatch.read_experiment`), analysed once with
:func:`patchatlas.synphys.analyze` when it has sweeps, and handed to the atlas as an
:class:`~patchatlas.atlas.synphys.ExperimentRecord`; content keys, resumability, the local pool
and Dask come from :func:`patchatlas.pipeline.ingest` unchanged. Pairs whose cells are missing
(a headstage without a cell) cannot be stored as pairs; their problems are kept in the
experiment's metadata (``problems``).

:func:`import_aisynphys` stores an Allen Synaptic Physiology SQLite release (read with
:func:`patchatlas.io.aisynphys.read_aisynphys`); :func:`pair_table` gathers the tested pairs of
many experiment files (analysed or with published calls) for connectivity statistics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from patchatlas.atlas.records import EngineOutput
from patchatlas.atlas.synphys import ExperimentRecord, cell_annotations
from patchatlas.core.multipatch import MultipatchExperiment
from patchatlas.errors import DataError
from patchatlas.pipeline.engines import Engine, register_engine

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas.api import Atlas
    from patchatlas.synphys import SynphysResult

__all__ = [
    "SYNPHYS_ENGINE_VERSION",
    "compute_synphys",
    "experiment_record",
    "import_aisynphys",
    "pair_table",
    "synphys_engine",
]

#: what the synphys engine stores; bump when that changes (part of every task's content key)
SYNPHYS_ENGINE_VERSION = 1
_MAX_POINTS = 600


def _version() -> str:
    from patchatlas._version import __version__

    return f"synphys/{SYNPHYS_ENGINE_VERSION} patchatlas/{__version__}"


def _cells(exp: MultipatchExperiment) -> dict[str, dict[str, Any]]:
    return cell_annotations(
        [
            {
                "cell_id": c.cell_id,
                "electrode": c.electrode,
                "cell_class": c.cell_class,
                "layer": c.layer,
                "cre_line": c.cre_line,
                "t_type": c.t_type,
                "depth_um": c.depth_um,
                "position_um": c.position_um,
            }
            for c in exp.cells
        ],
        species=exp.species,
        dataset=exp.name,
    )


def _thin(t: np.ndarray, *ys: np.ndarray) -> tuple[list[float | None], ...]:
    step = max(1, math.ceil(t.size / _MAX_POINTS))

    def clean(a: np.ndarray) -> list[float | None]:
        return [None if not np.isfinite(v) else float(f"{v:.6g}") for v in a[::step]]

    return (clean(t), *(clean(y) for y in ys))


def _average_payload(av: Any, unit: str) -> dict[str, Any]:
    fit = av.fit
    curve = fit.curve(av.t) if fit is not None else np.full(av.t.size, np.nan)
    t, y, c = _thin(av.t, av.y, curve)
    return {
        "category": av.category,
        "unit": unit,
        "t": t,
        "y": y,
        "fit_curve": c,
        "n": av.n,
        "sign": av.sign,
        "fit": None
        if fit is None
        else {
            **fit.params,
            "latency": fit.latency,
            "nrmse": fit.nrmse,
            "at_bound": list(fit.at_bound),
        },
    }


def experiment_record(
    experiment: MultipatchExperiment, result: SynphysResult | None = None
) -> ExperimentRecord:
    """The atlas record of an experiment and (when it was analysed) its analysis.

    Parameters
    ----------
    experiment
        The experiment (cells, calls, distances).
    result
        Its :func:`patchatlas.synphys.analyze` result; None for an experiment of calls only
        (a connection matrix, an import): the pairs then carry the calls.

    Returns
    -------
    ExperimentRecord
        Cells, pairs, measurements and traces for :func:`patchatlas.atlas.synphys.write_experiment`.
    """
    cells = {c.electrode: c.cell_id for c in experiment.cells}
    meta: dict[str, Any] = dict(experiment.metadata)
    if result is None:
        rows = []
        for cp in experiment.pairs():
            call = experiment.call(cp.pre, cp.post)
            rows.append(
                {
                    "pre": cp.pre,
                    "post": cp.post,
                    "pre_cell": cells[cp.pre],
                    "post_cell": cells[cp.post],
                    "distance_um": cp.distance_um,
                    "lateral_distance_um": cp.lateral_distance_um,
                    "vertical_distance_um": cp.vertical_distance_um,
                    "probed": call is not None and call.connected is not None,
                    "connected": None if call is None else call.connected,
                    "synapse_type": None if call is None else call.synapse_type,
                    "electrical": None if call is None else call.electrical,
                    "call_source": None if call is None else call.source,
                    "status": "calls only" if call is not None else "no data",
                }
            )
        return ExperimentRecord(
            experiment.name, _cells(experiment), pd.DataFrame(rows),
            species=experiment.species, metadata=meta, engine="synphys",
            parameters={"analysis": None, "source": experiment.source},
        )  # fmt: skip
    pairs = result.pairs
    orphan = pairs[pairs["pre_cell"].isna() | pairs["post_cell"].isna()]
    if len(orphan):
        meta["problems"] = [
            {"pre": r.pre, "post": r.post, "problem": r.problems} for r in orphan.itertuples()
        ]
    traces: list[dict[str, Any]] = []
    for pa in result.details.values():
        if pa.row.get("pre_cell") is None or pa.row.get("post_cell") is None:
            continue
        for av in pa.averages:
            unit = "mV" if av.category.startswith("ic") else "pA"
            traces.append({"pre": pa.pre, "post": pa.post, "kind": f"average:{av.category}",
                           "data": _average_payload(av, unit)})  # fmt: skip
        for mode, av in pa.resting.items():
            unit = "mV" if mode == "ic" else "pA"
            traces.append({"pre": pa.pre, "post": pa.post, "kind": f"resting:{mode}",
                           "data": _average_payload(av, unit)})  # fmt: skip
        if pa.stp is not None and len(pa.stp.pulses):
            tm = pa.stp.tm
            traces.append(
                {
                    "pre": pa.pre,
                    "post": pa.post,
                    "kind": "stp",
                    "data": {
                        "unit": "mV",
                        "pulses": pa.stp.pulses.to_dict("records"),
                        "protocols": pa.stp.protocols.to_dict("records"),
                        "summary": pa.stp.summary,
                        "tm": None
                        if tm is None
                        else {
                            "amp": tm.amp,
                            "U": tm.U,
                            "tau_rec": tm.tau_rec,
                            "tau_facil": tm.tau_facil,
                            "r2": tm.r2,
                            "rmse": tm.rmse,
                        },
                    },
                }
            )
    keep = pairs[pairs["pre_cell"].notna() & pairs["post_cell"].notna()]
    return ExperimentRecord(
        experiment.name,
        _cells(experiment),
        keep.reset_index(drop=True),
        result.measurements(),
        traces,
        species=experiment.species,
        metadata=meta,
        engine="synphys",
        parameters=dict(result.provenance),
    )


_ANALYSIS_KEYS = ("alpha", "min_responses", "max_frequency", "probe_threshold", "fit_all_pairs")


def compute_synphys(
    paths: Sequence[Path], file_indices: Sequence[int], params: Mapping[str, Any]
) -> EngineOutput:
    """Read one experiment file, analyse it and hand the record to the atlas (pure apart from
    reading).

    Parameters
    ----------
    paths
        The task's experiment file (exactly one).
    file_indices
        Its position in the task's file list.
    params
        Keyword arguments of :func:`patchatlas.synphys.analyze` (``alpha``,
        ``min_responses``, ``max_frequency``, ``probe_threshold``, ``fit_all_pairs``).

    Returns
    -------
    EngineOutput
        ``engine="synphys"`` with the :class:`ExperimentRecord` in ``experiment``.

    Raises
    ------
    patchatlas.errors.DataError
        More than one experiment file in a task.
    """
    from patchatlas.io.multipatch import read_experiment
    from patchatlas.synphys import analyze

    if len(paths) != 1:
        raise DataError(
            f"the synphys engine takes one experiment file per task, got {len(paths)}; list "
            "each experiment as its own entry"
        )
    exp = read_experiment(paths[0])
    kw = {k: params[k] for k in _ANALYSIS_KEYS if k in params}
    result = analyze(exp, **kw) if exp.sweeps else None
    record = experiment_record(exp, result)
    return EngineOutput(
        engine="synphys",
        parameters={"version": _version(), "analysis": kw, "source": str(paths[0])},
        experiment=record,
    )


synphys_engine = register_engine(
    Engine(
        name="synphys",
        extensions=(".mpx", ".syn", ".nwb"),
        compute=compute_synphys,
        stores=(
            "source_files",
            "multipatch_experiments",
            "cells",
            "pairs",
            "connections",
            "synapse_measurements",
            "pair_traces",
        ),
        version=lambda: _version(),
    )
)


def import_aisynphys(
    path: str | Path,
    atlas: Atlas,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Store an Allen Synaptic Physiology SQLite release (schema 22) in an atlas.

    Cells, pairs (distances, test counts), the experts' calls, the synapse measurements
    (latency, resting PSP/PSC amplitude, kinetics; registry names and units) and the averaged
    responses with their fits (medium/full releases) are stored, one transaction per
    experiment, with provenance ``import:aisynphys``.

    Parameters
    ----------
    path
        The ``.sqlite`` release.
    atlas
        The atlas, open for writing.
    progress
        ``progress(done, total)`` after each experiment.

    Returns
    -------
    int
        Experiments stored.
    """
    from patchatlas.atlas.synphys import write_experiment
    from patchatlas.io.aisynphys import read_aisynphys
    from patchatlas.synphys import MEASUREMENTS

    rel = read_aisynphys(path)
    atlas.require_writable("import_aisynphys")
    pairs = rel.pairs
    fits = rel.avg_fits
    n = 0
    for exp in rel.experiments:
        rec = experiment_record(exp)
        g = pairs[pairs["experiment"] == exp.name].set_index(["pre", "post"])
        extra = ("distance_um", "lateral_distance_um", "vertical_distance_um",
                 "n_ex_test_spikes", "n_in_test_spikes")  # fmt: skip
        if len(rec.pairs):
            prs = rec.pairs.set_index(["pre", "post"])
            for col in extra:
                if col in g.columns:
                    prs[col] = g[col].reindex(prs.index)
            prs["probed"] = (prs["n_ex_test_spikes"].fillna(0) > 10) | (
                prs["n_in_test_spikes"].fillna(0) > 10
            )
            rec.pairs = prs.reset_index()
        rows: list[dict[str, Any]] = []
        for idx, r in g.iterrows():
            pre, post = str(idx[0]), str(idx[1])  # type: ignore[index]
            for name in ("latency", "psp_amplitude", "psp_rise_time", "psp_decay_tau",
                         "psc_amplitude", "psc_rise_time", "psc_decay_tau", "n_ex_test_spikes",
                         "n_in_test_spikes", "stp_initial_50hz", "stp_induction_50hz",
                         "stp_recovery_250ms", "stp_recovery_single_250ms",
                         "paired_pulse_ratio_50hz"):  # fmt: skip
                v = r.get(name)
                if v is not None and np.isfinite(v):
                    rows.append({"pre": pre, "post": post, "name": name, "value": float(v),
                                 "unit": MEASUREMENTS[name].unit})  # fmt: skip
        rec.measurements = pd.DataFrame(rows)
        if len(fits):
            for fr in fits[fits["experiment"] == exp.name].to_dict("records"):
                data = fr.get("avg_data")
                if data is None:
                    continue
                t0 = float(fr.get("avg_data_start_time") or 0.0)
                tt = t0 + np.arange(np.asarray(data).size) * 5e-5
                t, y = _thin(tt, np.asarray(data, dtype=float))
                hold = int(abs(round(float(fr.get("holding") or 0))))
                rec.traces.append(
                    {
                        "pre": fr["pre"],
                        "post": fr["post"],
                        "kind": f"average:{fr['clamp_mode']}_{hold}",
                        "data": {
                            "t": t,
                            "y": y,
                            "unit": "mV" if fr["clamp_mode"] == "ic" else "pA",
                            "n": fr.get("n_averaged_responses"),
                            "fit": {
                                "amp": fr.get("fit_amp"),
                                "xoffset": fr.get("fit_xoffset"),
                                "rise_time": fr.get("fit_rise_time"),
                                "decay_tau": fr.get("fit_decay_tau"),
                                "nrmse": fr.get("nrmse"),
                            },
                        },
                    }
                )
        rec.engine = "import:aisynphys"
        rec.parameters = {"source": str(path), "schema_version": rel.schema_version}
        with atlas.engine.begin() as conn:
            write_experiment(conn, rec)
        n += 1
        if progress is not None:
            progress(n, len(rel.experiments))
    return n


def pair_table(
    experiments: Sequence[MultipatchExperiment],
    *,
    analyze_sweeps: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
    **analysis: Any,
) -> pd.DataFrame:
    """The tested pairs of many experiments, for connectivity statistics.

    Experiments with sweeps are analysed (:func:`patchatlas.synphys.analyze`; calls they carry
    win); the others contribute their calls.

    Parameters
    ----------
    experiments
        The experiments.
    analyze_sweeps
        Analyse experiments that have sweeps (False: use their carried calls only).
    progress
        ``progress(done, total, experiment name)``.
    **analysis
        Keyword arguments of :func:`patchatlas.synphys.analyze`.

    Returns
    -------
    pandas.DataFrame
        ``experiment, pre, post, pre_class, post_class, distance_um, lateral_distance_um,
        vertical_distance_um, connected, synapse_type, electrical, call_source, probed``.
    """
    from patchatlas.synphys import analyze

    frames = []
    for k, exp in enumerate(experiments):
        cls = {c.electrode: c.cell_class for c in exp.cells}
        if exp.sweeps and analyze_sweeps:
            res = analyze(exp, **analysis)
            df = res.pairs[res.pairs["pre_cell"].notna() & res.pairs["post_cell"].notna()].copy()
        else:
            rec = experiment_record(exp)
            df = rec.pairs.copy()
            df["pre_class"] = df["pre"].map(cls)
            df["post_class"] = df["post"].map(cls)
        df.insert(0, "experiment", exp.name)
        frames.append(df)
        if progress is not None:
            progress(k + 1, len(experiments), exp.name)
    cols = ["experiment", "pre", "post", "pre_class", "post_class", "distance_um",
            "lateral_distance_um", "vertical_distance_um", "connected", "synapse_type",
            "electrical", "call_source", "probed"]  # fmt: skip
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    for c in cols:
        if c not in out.columns:
            out[c] = None
    out = out[cols]
    for c in ("connected", "electrical", "probed"):
        out[c] = out[c].astype("boolean")
    return out
