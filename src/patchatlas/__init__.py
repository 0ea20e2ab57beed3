"""patchatlas: the open platform for single-neuron cell-types data.

Read patch-clamp, Patch-seq and morphology files (:func:`read`), extract features, and build a
multimodal cell-types atlas. Heavy submodules are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchatlas import errors
from patchatlas._version import __version__
from patchatlas.io import read

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas import Atlas
    from patchatlas.ephys.model import Recording, Stimulus, Sweep

__all__ = ["Atlas", "Recording", "Stimulus", "Sweep", "__version__", "errors", "read"]


def __getattr__(name: str) -> Any:
    if name in ("Recording", "Sweep", "Stimulus"):
        from patchatlas.ephys import model

        return getattr(model, name)
    if name == "Atlas":
        from patchatlas.atlas import Atlas

        return Atlas
    raise AttributeError(f"module 'patchatlas' has no attribute {name!r}")
