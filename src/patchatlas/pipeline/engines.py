"""The engine registry: which files an engine handles, its pure compute function, what it stores.

An :class:`Engine` takes the files of one cell that it handles plus its parameters and returns an
:class:`~patchatlas.atlas.records.EngineOutput` (tables in memory). It never touches the
database; the pipeline hands the outputs to the atlas writer. New modalities register themselves
with :func:`register_engine`.

Built in:

``ephys``
    ``.abf .nwb .ibw`` through :func:`patchatlas.read`, analysed once with
    :func:`patchatlas.ephys.analyze`: recordings and sweeps, the spikes behind the sweep
    features, sweep and cell features (registry names and units), QC, provenance.
``morphology``
    ``.swc .asc`` through :func:`patchatlas.io.read_morphology`, measured with
    :func:`patchatlas.morphology.features` and validated.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from patchatlas.atlas.records import (
    EngineOutput,
    MorphologyRecord,
    RecordingRecord,
)

__all__ = [
    "ENGINES",
    "Engine",
    "engine_for",
    "ephys_engine",
    "morphology_engine",
    "register_engine",
]

ComputeFn = Callable[[Sequence[Path], Sequence[int], Mapping[str, Any]], EngineOutput]


@dataclass(frozen=True)
class Engine:
    """One modality of the ingest.

    Attributes
    ----------
    name
        Registry key; also the provenance ``engine`` of what it stores.
    extensions
        File extensions it handles (lower case, with the dot).
    compute
        ``compute(paths, file_indices, params) -> EngineOutput``: pure, picklable (module-level).
        ``file_indices`` are the positions of ``paths`` in the cell's file list, for linking
        recordings/morphologies to their source files.
    stores
        Atlas tables it writes (documentation and re-ingest scope).
    version
        ``version() -> str``; part of every cell's content key, so a change of what the engine
        computes (e.g. feature extraction becoming available) triggers a recompute.
    available
        ``available() -> bool``: whether its dependencies are importable.
    defaults
        Default parameters (merged under the user's).
    """

    name: str
    extensions: tuple[str, ...]
    compute: ComputeFn
    stores: tuple[str, ...]
    version: Callable[[], str]
    available: Callable[[], bool] = lambda: True
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def handles(self, path: str | Path) -> bool:
        """True when this engine reads ``path`` (by extension).

        Parameters
        ----------
        path
            A file path (only its last suffix is looked at, case-insensitively).

        Returns
        -------
        bool
            Whether the suffix is one of :attr:`extensions` (availability is not checked).
        """
        return Path(path).suffix.lower() in self.extensions


ENGINES: dict[str, Engine] = {}


def register_engine(engine: Engine) -> Engine:
    """Add (or replace) an engine in the registry; returns it.

    Register engines when a module is imported, so that worker processes (which import the
    module again) see them too.

    Parameters
    ----------
    engine
        The engine; it replaces any registered engine of the same name.

    Returns
    -------
    Engine
        ``engine`` itself.
    """
    ENGINES[engine.name] = engine
    return engine


def engine_for(path: str | Path, engines: Mapping[str, Engine] | None = None) -> Engine | None:
    """The first available engine that handles ``path``.

    Parameters
    ----------
    path
        A file path (matched by extension).
    engines
        Engines to choose from, in order (default: the registry, :data:`ENGINES`).

    Returns
    -------
    Engine or None
        The first engine that handles the extension and whose dependencies are importable,
        or ``None``.
    """
    for e in (engines or ENGINES).values():
        if e.handles(path) and e.available():
            return e
    return None


# --------------------------------------------------------------------------------------- ephys


def _optional(module: str, name: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(mod, name, None)


#: what the ephys engine stores; bump when that changes (part of every cell's content key)
EPHYS_ENGINE_VERSION = 2


def _ephys_version() -> str:
    from patchatlas._version import __version__

    return f"ephys/{EPHYS_ENGINE_VERSION} patchatlas/{__version__}"


def compute_ephys(
    paths: Sequence[Path], file_indices: Sequence[int], params: Mapping[str, Any]
) -> EngineOutput:
    """Read a cell's recordings, analyse them with :func:`patchatlas.ephys.analyze`, and hand
    the result to the atlas as it is (pure apart from reading).

    Parameters
    ----------
    paths
        The cell's ephys files; their sweeps are analysed together as one cell.
    file_indices
        Position of each path in the cell's file list.
    params
        ``profile`` (default ``"allen"``), ``features`` (run the analysis, default True; False
        stores recordings and sweep metadata only), ``spikes`` (store per-spike rows, default
        True), ``qc`` (store the sweep and cell QC, default True).

    Returns
    -------
    EngineOutput
        The recordings (sweep tables with per-sweep bookkeeping; the reader's plausibility
        findings in the recording metadata under ``"plausibility"``), the features in registry
        names with units (spike rows flagged ``in_window``), QC, and the analysis provenance.
    """
    from patchatlas.core.recording import Recording
    from patchatlas.reading import read as read_file

    profile = str(params.get("profile", "allen"))
    recordings: list[RecordingRecord] = []
    positions: list[int] = []  # per sweep of the combined recording: its file's position
    sweeps_all = []
    for k, (p, idx) in enumerate(zip(paths, file_indices, strict=True)):
        rec = read_file(p)
        rec_meta = dict(rec.metadata)
        if rec.plausibility:  # the reader's plausibility findings are stored with the recording
            rec_meta["plausibility"] = [f.to_dict() for f in rec.plausibility]
        recordings.append(
            RecordingRecord(
                file_index=idx, format=rec.format, sweeps=rec.sweep_table(), metadata=rec_meta
            )
        )
        positions += [k] * len(rec.sweeps)
        sweeps_all.extend(rec.sweeps)
    if not params.get("features", True):
        return EngineOutput(
            engine="ephys",
            parameters={"profile": profile, "analysis": None, "version": _ephys_version()},
            recordings=recordings,
        )
    from patchatlas.ephys import analyze

    combined = Recording(
        sweeps=sweeps_all, cell_id=Path(paths[0]).stem if paths else "", source=Path(paths[0])
    )
    result = analyze(combined, profile=profile, qc=bool(params.get("qc", True)))
    origin = {id(sw): k for sw, k in zip(combined.sweeps, positions, strict=True)}
    levels = ("sweep", "spike") if params.get("spikes", True) else ("sweep",)
    frames = [result.features(lv, sweep_key=lambda sw: origin[id(sw)]) for lv in ("cell", *levels)]
    features = pd.concat([f for f in frames if len(f)], ignore_index=True)
    features = features.rename(columns={"sweep_key": "recording"})
    # QC rows name a sweep by number: map it to its recording where that is unambiguous
    by_number: dict[int, set[int]] = {}
    for sa in result.sweeps:
        by_number.setdefault(sa.number, set()).add(origin[id(sa.sweep)])
    where = {n: next(iter(ks)) for n, ks in by_number.items() if len(ks) == 1}
    # per-sweep bookkeeping goes with the sweep rows, not into the features
    analysed = {(origin[id(sa.sweep)], sa.number): sa for sa in result.sweeps}
    for k, rr in enumerate(recordings):
        meta: list[dict[str, Any] | None] = []
        for num in rr.sweeps["number"]:
            found = analysed.get((k, int(num)))
            meta.append(
                None
                if found is None
                else {
                    "filter_khz_used": found.filter_khz,
                    "n_spikes_detected": 0 if found.spikes is None else len(found.spikes),
                    **({"analysis_error": found.error} if found.error else {}),
                }
            )
        rr.sweeps = rr.sweeps.assign(metadata=pd.Series(meta, index=rr.sweeps.index, dtype=object))
    qc = None
    if result.qc is not None:
        qc = result.qc.copy()
        qc.insert(
            0,
            "recording",
            [None if pd.isna(n) else where.get(int(n)) for n in qc["sweep_number"]],
        )
        qc["message"] = [
            m or (f"limit {lim}" if lim else "")
            for m, lim in zip(qc["message"], qc["limit"], strict=True)
        ]
    return EngineOutput(
        engine="ephys",
        parameters={
            **result.provenance,
            "levels": ["cell", *levels],
            "version": _ephys_version(),
        },
        recordings=recordings,
        features=features,
        qc=qc,
    )


ephys_engine = register_engine(
    Engine(
        name="ephys",
        extensions=(".abf", ".nwb", ".ibw"),
        compute=compute_ephys,
        stores=("source_files", "recordings", "sweeps", "ephys_features"),
        version=lambda: _ephys_version(),  # looked up at call time (tests patch it)
        defaults={"profile": "allen", "features": True, "spikes": True, "qc": True},
    )
)


# ---------------------------------------------------------------------------------- morphology


def _morphology_available() -> bool:
    return _optional("patchatlas.morphology", "features") is not None


def compute_morphology(
    paths: Sequence[Path], file_indices: Sequence[int], params: Mapping[str, Any]
) -> EngineOutput:
    """Read reconstructions and analyse them with :func:`patchatlas.morphology.analyze`.

    Parameters
    ----------
    paths
        The cell's reconstructions.
    file_indices
        Position of each path in the cell's file list.
    params
        ``convention`` (default ``"allen"``), ``profile`` (validation, default ``"analysis"``).

    Returns
    -------
    EngineOutput
        One morphology record per file: features with registry units, validation issues.
    """
    from patchatlas.io import read_morphology
    from patchatlas.morphology import analyze

    convention = str(params.get("convention", "allen"))
    profile = str(params.get("profile", "analysis"))
    out = []
    for p, idx in zip(paths, file_indices, strict=True):
        morph = read_morphology(p)
        res = analyze(morph, convention=convention, profile=profile)
        issues = pd.DataFrame(
            [
                {"severity": str(i.severity), "code": str(i.code), "message": str(i.message)}
                for i in res.issues
            ],
            columns=["severity", "code", "message"],
        )
        fdf = res.table()
        fdf["native_name"] = None
        out.append(
            MorphologyRecord(
                file_index=idx,
                features=fdf,
                issues=issues,
                convention=convention,
                n_nodes=len(morph),
            )
        )
    return EngineOutput(
        engine="morphology",
        parameters={"convention": convention, "profile": profile, "version": _morphology_version()},
        morphologies=out,
    )


def _morphology_version() -> str:
    from patchatlas._version import __version__

    return f"morphology/2 patchatlas/{__version__}"


morphology_engine = register_engine(
    Engine(
        name="morphology",
        extensions=(".swc", ".asc"),
        compute=compute_morphology,
        stores=("source_files", "morphologies", "morphology_features", "morphology_issues"),
        version=lambda: _morphology_version(),
        available=_morphology_available,
        defaults={"convention": "allen", "profile": "analysis"},
    )
)
