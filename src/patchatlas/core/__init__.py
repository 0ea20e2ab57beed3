"""The data model of patchatlas: what readers produce and engines consume.

A leaf package: it imports only numpy, pandas and :mod:`patchatlas.errors`, never a reader, an
engine, the atlas or an access layer.

* :mod:`~patchatlas.core.recording` — :class:`Recording` of :class:`Sweep` objects with their
  :class:`Stimulus` (:class:`Epoch` pieces, :class:`StimulusKind`, :class:`ClampMode`).
* :mod:`~patchatlas.core.ontology` — Allen stimulus names and codes (:class:`StimulusOntology`).
* :mod:`~patchatlas.core.morphology` — :class:`Morphology` (node table) and
  :class:`MorphologySet`; :mod:`~patchatlas.core.tree` holds the vectorised tree utilities.
* :mod:`~patchatlas.core.expression` — :class:`PatchseqDataset` (counts, metadata, ephys).
* :mod:`~patchatlas.core.multipatch` — :class:`MultipatchExperiment` (cells, synchronous sweeps,
  pulse trains, pairs).
* :mod:`~patchatlas.core.table` — :class:`FeatureTable`, the columnar per-item result table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchatlas.core.morphology import (
    APICAL,
    AXON,
    BASAL,
    SOMA,
    TYPE_NAMES,
    Issue,
    LayerDrawings,
    Morphology,
    MorphologySet,
)
from patchatlas.core.multipatch import (
    CellPair,
    ConnectionCall,
    MultipatchCell,
    MultipatchExperiment,
    PulseTrain,
    SyncSweep,
)
from patchatlas.core.ontology import StimulusOntology, kind_from_name
from patchatlas.core.recording import (
    SWEEP_TABLE_COLUMNS,
    ClampMode,
    DeclaredStimulus,
    Epoch,
    PlausibilityFinding,
    Recording,
    Stimulus,
    StimulusKind,
    Sweep,
)
from patchatlas.core.table import FeatureTable

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.core.expression import JoinReport, PatchseqDataset

__all__ = [
    "APICAL",
    "AXON",
    "BASAL",
    "SOMA",
    "SWEEP_TABLE_COLUMNS",
    "TYPE_NAMES",
    "CellPair",
    "ClampMode",
    "ConnectionCall",
    "DeclaredStimulus",
    "Epoch",
    "FeatureTable",
    "Issue",
    "JoinReport",
    "LayerDrawings",
    "Morphology",
    "MorphologySet",
    "MultipatchCell",
    "MultipatchExperiment",
    "PatchseqDataset",
    "PlausibilityFinding",
    "PulseTrain",
    "Recording",
    "Stimulus",
    "StimulusKind",
    "StimulusOntology",
    "Sweep",
    "SyncSweep",
    "kind_from_name",
]

# pandas-backed classes load on first use (``import patchatlas.core`` stays numpy-only)
_LAZY = {
    "PatchseqDataset": "patchatlas.core.expression",
    "JoinReport": "patchatlas.core.expression",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'patchatlas.core' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(mod), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
