"""Electrophysiology: the sweep data model, stimulus inference, spike/sweep/cell features.

Feature extraction (``detect_spikes``, ``sweep_features``, ``cell_features``) is imported lazily
so that ``import patchatlas.ephys`` stays fast. Spike detection runs on a compiled kernel when
numba is installed, on NumPy otherwise (same results): :func:`backend_info` says which and why,
:func:`warm_up` loads the kernel ahead of the first sweep (``PATCHATLAS_NUMBA=0`` forces NumPy).
"""

from __future__ import annotations

from typing import Any

from patchatlas.core.recording import ClampMode, Epoch, Recording, Stimulus, StimulusKind, Sweep
from patchatlas.ephys.stimulus import (
    StimulusOntology,
    infer_epochs,
    infer_recording_stimuli,
    infer_stimulus,
)

__all__ = [
    "ClampMode",
    "Epoch",
    "Recording",
    "Stimulus",
    "StimulusKind",
    "StimulusOntology",
    "Sweep",
    "backend_info",
    "cell_features",
    "cell_qc",
    "detect_spikes",
    "efel_features",
    "feature_registry",
    "feature_vectors",
    "infer_epochs",
    "infer_recording_stimuli",
    "infer_stimulus",
    "sweep_features",
    "sweep_qc",
    "warm_up",
]

_LAZY = {
    "detect_spikes": "patchatlas.ephys.spikes",
    "sweep_features": "patchatlas.ephys.train",
    "cell_features": "patchatlas.ephys.cell",
    "FeatureTable": "patchatlas.core.table",
    "feature_registry": "patchatlas.ephys.registry",
    "feature_vectors": "patchatlas.ephys.vectors",
    "efel_features": "patchatlas.ephys.efel_names",
    "sweep_qc": "patchatlas.ephys.qc",
    "cell_qc": "patchatlas.ephys.qc",
    "warm_up": "patchatlas.ephys._backend",
    "backend_info": "patchatlas.ephys._backend",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'patchatlas.ephys' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(mod), name)
