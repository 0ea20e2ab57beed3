"""patchatlas: the open platform for single-neuron cell-types data.

Read patch-clamp, Patch-seq and morphology files (:func:`read`), extract features
(:mod:`patchatlas.ephys`, :mod:`patchatlas.morphology`), and build a multimodal cell-types atlas
(:class:`Atlas`). Heavy submodules are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchatlas import errors
from patchatlas._version import __version__
from patchatlas.reading import load_allen_model, read

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas import Atlas
    from patchatlas.core import FeatureTable, Morphology, Recording, Stimulus, Sweep

__all__ = [
    "Atlas",
    "FeatureTable",
    "Morphology",
    "Recording",
    "Stimulus",
    "Sweep",
    "__version__",
    "errors",
    "load_allen_model",
    "read",
]

_LAZY = {
    "Recording": "patchatlas.core",
    "Sweep": "patchatlas.core",
    "Stimulus": "patchatlas.core",
    "Morphology": "patchatlas.core",
    "FeatureTable": "patchatlas.core",
    "Atlas": "patchatlas.atlas",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'patchatlas' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(mod), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
