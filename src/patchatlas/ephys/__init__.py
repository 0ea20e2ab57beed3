"""Electrophysiology: stimulus inference, spikes, sweep and cell features, QC, registry.

The entry point is :func:`analyze` (one recording → one :class:`EphysResult` with every sweep's
spikes and features, the Allen cell record, QC, provenance and units); the pipeline, the CLI,
the portal and the demo use it. The per-feature functions (:func:`detect_spikes`,
:func:`sweep_features`, :func:`cell_features` ...) stay public for users. The data model
(:class:`Recording`, :class:`Sweep` ...) lives in :mod:`patchatlas.core` and is re-exported here.

Feature extraction is imported on first use, so that ``import patchatlas.ephys`` stays fast.
Spike detection runs on a compiled kernel when numba is installed, on NumPy otherwise (same
results): :func:`backend_info` says which and why, :func:`warm_up` loads the kernel ahead of the
first sweep (``PATCHATLAS_NUMBA=0`` forces NumPy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from patchatlas.core.ontology import StimulusOntology
from patchatlas.core.recording import ClampMode, Epoch, Recording, Stimulus, StimulusKind, Sweep
from patchatlas.core.table import FeatureTable
from patchatlas.ephys.stimulus import (
    infer_epochs,
    infer_recording_stimuli,
    infer_stimulus,
    resolve_stimuli,
)

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.ephys._backend import backend_info, warm_up
    from patchatlas.ephys.analysis import EphysResult, SweepAnalysis, analyze
    from patchatlas.ephys.batch import features_table
    from patchatlas.ephys.cell import (
        analyze_recording,
        cell_features,
        cell_record,
        short_square_parameters,
    )
    from patchatlas.ephys.efel_names import efel_features
    from patchatlas.ephys.phase import phase_plane
    from patchatlas.ephys.qc import cell_qc, sweep_qc
    from patchatlas.ephys.registry import feature_registry
    from patchatlas.ephys.spikes import AllenParameters, detect_spikes
    from patchatlas.ephys.train import analyze_sweep, analyze_sweeps, sweep_features
    from patchatlas.ephys.vectors import feature_vectors

__all__ = [
    "AllenParameters",
    "ClampMode",
    "EphysResult",
    "Epoch",
    "FeatureTable",
    "Recording",
    "Stimulus",
    "StimulusKind",
    "StimulusOntology",
    "Sweep",
    "SweepAnalysis",
    "analyze",
    "analyze_recording",
    "analyze_sweep",
    "analyze_sweeps",
    "backend_info",
    "cell_features",
    "cell_qc",
    "cell_record",
    "detect_spikes",
    "efel_features",
    "feature_registry",
    "feature_vectors",
    "features_table",
    "infer_epochs",
    "infer_recording_stimuli",
    "infer_stimulus",
    "phase_plane",
    "resolve_stimuli",
    "short_square_parameters",
    "sweep_features",
    "sweep_qc",
    "warm_up",
]

_LAZY = {
    "analyze": "patchatlas.ephys.analysis",
    "EphysResult": "patchatlas.ephys.analysis",
    "SweepAnalysis": "patchatlas.ephys.analysis",
    "AllenParameters": "patchatlas.ephys.spikes",
    "detect_spikes": "patchatlas.ephys.spikes",
    "analyze_sweep": "patchatlas.ephys.train",
    "analyze_sweeps": "patchatlas.ephys.train",
    "sweep_features": "patchatlas.ephys.train",
    "analyze_recording": "patchatlas.ephys.cell",
    "cell_features": "patchatlas.ephys.cell",
    "cell_record": "patchatlas.ephys.cell",
    "short_square_parameters": "patchatlas.ephys.cell",
    "feature_registry": "patchatlas.ephys.registry",
    "feature_vectors": "patchatlas.ephys.vectors",
    "features_table": "patchatlas.ephys.batch",
    "efel_features": "patchatlas.ephys.efel_names",
    "phase_plane": "patchatlas.ephys.phase",
    "sweep_qc": "patchatlas.ephys.qc",
    "cell_qc": "patchatlas.ephys.qc",
    "warm_up": "patchatlas.ephys._backend",
    "backend_info": "patchatlas.ephys._backend",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'patchatlas.ephys' has no attribute {name!r}")
    return getattr(importlib.import_module(mod), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
