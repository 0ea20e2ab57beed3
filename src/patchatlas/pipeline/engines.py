"""The engine registry: which files an engine handles, its pure compute function, what it stores.

An :class:`Engine` takes the files of one cell that it handles plus its parameters and returns an
:class:`~patchatlas.atlas.records.EngineOutput` (tables in memory). It never touches the
database; the pipeline hands the outputs to the atlas writer. New modalities register themselves
with :func:`register_engine`.

Built in:

``ephys``
    ``.abf .nwb .ibw`` through :func:`patchatlas.read`. Stores recordings and sweep metadata, and
    features from ``patchatlas.ephys.cell_features`` / ``sweep_features`` / ``detect_spikes``
    when those are available.
``morphology``
    ``.swc .asc`` through ``patchatlas.morphology.read`` and ``features`` (when available).
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patchatlas.atlas.records import (
    FEATURE_COLUMNS,
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
        """True when this engine reads ``path`` (by extension)."""
        return Path(path).suffix.lower() in self.extensions


ENGINES: dict[str, Engine] = {}


def register_engine(engine: Engine) -> Engine:
    """Add (or replace) an engine in the registry; returns it."""
    ENGINES[engine.name] = engine
    return engine


def engine_for(path: str | Path, engines: Mapping[str, Engine] | None = None) -> Engine | None:
    """The first available engine that handles ``path``."""
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


def _numeric(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else math.nan


class _FeatureRows:
    """Feature rows (``FEATURE_COLUMNS``) collected as numpy columns, not one dict per row: a
    cell can have tens of thousands of per-spike values."""

    def __init__(self) -> None:
        self._level: list[np.ndarray] = []
        self._sweep: list[np.ndarray] = []
        self._spike: list[np.ndarray] = []
        self._name: list[np.ndarray] = []
        self._value: list[np.ndarray] = []

    def _add(
        self,
        level: str,
        sweep: int | None,
        spike: np.ndarray | None,
        names: np.ndarray,
        values: np.ndarray,
    ) -> None:
        n = len(values)
        if n == 0:
            return
        self._level.append(np.full(n, level, dtype=object))
        self._sweep.append(np.full(n, np.nan if sweep is None else float(sweep)))
        self._spike.append(np.full(n, np.nan) if spike is None else spike.astype(float))
        self._name.append(names)
        self._value.append(values)

    def add_mapping(self, values: Mapping[str, Any], level: str, sweep: int | None = None) -> None:
        """Numeric values of a ``name → value`` mapping (others are not features)."""
        names, vals = [], []
        for name, v in values.items():
            f = _numeric(v)
            if f is None:
                continue
            names.append(str(name))
            vals.append(f)
        self._add(level, sweep, None, np.array(names, dtype=object), np.array(vals, dtype=float))

    def add_table(self, table: Any, level: str, sweep: int | None) -> None:
        """Numeric columns of a per-spike table (a ``FeatureTable`` or anything pandas takes):
        one row per (column, spike), column by column."""
        if isinstance(table, dict):
            cols = [(str(k), np.asarray(v)) for k, v in table.items()]
        else:
            df = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
            num = df.select_dtypes("number")
            cols = [(str(k), num[k].to_numpy(dtype=float)) for k in num.columns]
        cols = [(k, a) for k, a in cols if a.ndim == 1 and a.dtype.kind in "iuf" and len(a)]
        if not cols:
            return
        n = len(cols[0][1])
        names = np.repeat(np.array([k for k, _ in cols], dtype=object), n)
        values = np.concatenate([a.astype(float) for _, a in cols])
        spikes = np.tile(np.arange(n), len(cols))
        self._add(level, sweep, spikes, names, values)

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with ``FEATURE_COLUMNS``."""
        if not self._value:
            return pd.DataFrame(columns=list(FEATURE_COLUMNS))
        n = sum(len(v) for v in self._value)
        return pd.DataFrame(
            {
                "level": np.concatenate(self._level),
                "sweep_number": np.concatenate(self._sweep),
                "spike_index": np.concatenate(self._spike),
                "name": np.concatenate(self._name),
                "value": np.concatenate(self._value),
                "unit": np.full(n, None, dtype=object),
                "native_name": np.full(n, None, dtype=object),
            },
            columns=list(FEATURE_COLUMNS),
        )


def _callable_with(fn: Any, n_positional: int) -> bool:
    """True when ``fn`` can be called with ``n_positional`` arguments and nothing else."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    rest = params[n_positional:]
    return not any(
        p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in rest
    )


def _ephys_version() -> str:
    have = [
        n
        for n in ("cell_features", "sweep_features", "detect_spikes")
        if _optional("patchatlas.ephys", n) is not None
    ]
    return "ephys/1+" + ",".join(have)


def compute_ephys(
    paths: Sequence[Path], file_indices: Sequence[int], params: Mapping[str, Any]
) -> EngineOutput:
    """Read electrophysiology files and compute their features (pure apart from reading).

    Parameters
    ----------
    paths
        The cell's ephys files; their sweeps are analysed together as one cell.
    file_indices
        Position of each path in the cell's file list.
    params
        ``profile`` (feature profile, default ``"allen"``), ``features`` (run the feature
        extraction, default True; False stores recordings and sweep metadata only), ``spikes``
        (store per-spike features, default True).
    """
    from patchatlas.core.recording import Recording
    from patchatlas.reading import read as read_file

    profile = str(params.get("profile", "allen"))
    recordings = []
    sweeps_all = []
    for p, idx in zip(paths, file_indices, strict=True):
        rec = read_file(p)
        recordings.append(
            RecordingRecord(
                file_index=idx, format=rec.format, sweeps=rec.sweep_table(), metadata=rec.metadata
            )
        )
        sweeps_all.extend(rec.sweeps)
    combined = Recording(
        sweeps=sweeps_all, cell_id=Path(paths[0]).stem if paths else "", source=Path(paths[0])
    )
    from patchatlas.errors import PatchAtlasError

    rows = _FeatureRows()
    qc: list[dict[str, Any]] = []
    analyse = bool(params.get("features", True))
    cell_features = _optional("patchatlas.ephys", "cell_features") if analyse else None
    sweep_features = _optional("patchatlas.ephys", "sweep_features") if analyse else None
    detect_spikes = _optional("patchatlas.ephys", "detect_spikes") if analyse else None
    if detect_spikes is not None and not _callable_with(detect_spikes, 2):
        detect_spikes = None  # needs more than (t, v): leave per-spike features to the cell level
    computed = []

    def not_analysable(check: str, sweep: int | None, exc: PatchAtlasError) -> None:
        # The data cannot give these features (e.g. no long-square sweep): the recording is still
        # stored, and why the features are missing is kept as a failed QC check.
        qc.append(
            {
                "sweep_number": sweep,
                "check": check,
                "passed": False,
                "value": None,
                "message": f"{type(exc).__name__}: {exc}",
            }
        )

    # The cell analysis already computes every current-clamp sweep's features (with the same
    # defaults as ``sweep_features``): analyse once and reuse them instead of a second pass.
    reuse: dict[int, Mapping[str, Any]] = {}
    fused = (
        cell_features is not None
        and sweep_features is not None
        and profile == "allen"
        and cell_features is _optional("patchatlas.ephys.cell", "cell_features")
        and sweep_features is _optional("patchatlas.ephys.train", "sweep_features")
    )
    if cell_features is not None:
        try:
            if fused:
                from patchatlas.ephys.cell import analyze_recording, cell_record

                results = analyze_recording(combined, profile=profile)
                values = cell_record(results, n_sweeps=len(combined))
                values["profile"] = profile
                reuse = {id(r.sweep): r.features for r in results if r.ok}
            else:
                values = cell_features(combined, profile=profile)
            rows.add_mapping(values, "cell")
        except PatchAtlasError as exc:
            not_analysable("cell_features", None, exc)
        computed.append("cell")
    if sweep_features is not None:
        for s in sweeps_all:
            found = reuse.get(id(s))
            try:
                rows.add_mapping(
                    found if found is not None else sweep_features(s), "sweep", s.number
                )
            except PatchAtlasError as exc:
                not_analysable("sweep_features", s.number, exc)
        computed.append("sweep")
    if detect_spikes is not None and params.get("spikes", True):
        for s in sweeps_all:
            if s.clamp_mode.value != "current_clamp":
                continue
            try:
                table = detect_spikes(s.t, s.v)
            except PatchAtlasError as exc:
                not_analysable("detect_spikes", s.number, exc)
                continue
            rows.add_table(table, "spike", s.number)
        computed.append("spike")
    features = rows.frame()
    return EngineOutput(
        engine="ephys",
        parameters={"profile": profile, "levels": computed, "version": _ephys_version()},
        recordings=recordings,
        features=features,
        qc=pd.DataFrame(qc, columns=["sweep_number", "check", "passed", "value", "message"]),
    )


ephys_engine = register_engine(
    Engine(
        name="ephys",
        extensions=(".abf", ".nwb", ".ibw"),
        compute=compute_ephys,
        stores=("source_files", "recordings", "sweeps", "ephys_features"),
        version=lambda: _ephys_version(),  # looked up at call time (tests patch it)
        defaults={"profile": "allen", "features": True, "spikes": True},
    )
)


# ---------------------------------------------------------------------------------- morphology


def _morphology_available() -> bool:
    return _optional("patchatlas.morphology", "features") is not None


def compute_morphology(
    paths: Sequence[Path], file_indices: Sequence[int], params: Mapping[str, Any]
) -> EngineOutput:
    """Read reconstructions and compute their features with ``patchatlas.morphology``."""
    from patchatlas.io import read_morphology as read

    features = _optional("patchatlas.morphology", "features")
    validate = _optional("patchatlas.morphology", "validate")
    convention = str(params.get("convention", "allen"))
    out = []
    for p, idx in zip(paths, file_indices, strict=True):
        morph = read(p)
        values = features(morph, convention=convention)
        fdf = pd.DataFrame(
            [
                {"name": str(k), "value": _numeric(v), "unit": None, "native_name": None}
                for k, v in values.items()
                if _numeric(v) is not None
            ],
            columns=["name", "value", "unit", "native_name"],
        )
        issues = None
        if validate is not None:
            found = validate(morph)
            issues = pd.DataFrame(
                [
                    {
                        "severity": str(getattr(i, "severity", "warning")),
                        "code": str(getattr(i, "code", type(i).__name__)),
                        "message": str(getattr(i, "message", i)),
                    }
                    for i in (found or [])
                ],
                columns=["severity", "code", "message"],
            )
        n_nodes: int | None
        try:
            n_nodes = len(morph)
        except TypeError:
            n_nodes = None
        out.append(
            MorphologyRecord(
                file_index=idx, features=fdf, issues=issues, convention=convention, n_nodes=n_nodes
            )
        )
    return EngineOutput(
        engine="morphology",
        parameters={"convention": convention},
        morphologies=out,
    )


morphology_engine = register_engine(
    Engine(
        name="morphology",
        extensions=(".swc", ".asc"),
        compute=compute_morphology,
        stores=("source_files", "morphologies", "morphology_features", "morphology_issues"),
        version=lambda: "morphology/1",
        available=_morphology_available,
        defaults={"convention": "allen"},
    )
)
