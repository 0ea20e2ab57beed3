"""Datasets: the simulated offline demo data (from the point-neuron engine
:mod:`patchatlas.models.pointneuron`), synthetic morphologies and expression, the published
Patch-seq tables, and dataset clients (with ``io``, the only packages that touch files or the
network).

Submodules are imported on first use (``from patchatlas.datasets import simulate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.datasets.synthetic_omics import synthetic_expression, synthetic_patchseq

__all__ = ["synthetic_expression", "synthetic_patchseq"]


def __getattr__(name: str) -> Any:  # lazy: keep `import patchatlas.datasets` light
    if name in ("synthetic_expression", "synthetic_patchseq"):
        import importlib

        _mod = importlib.import_module("patchatlas.datasets.synthetic_omics")

        return getattr(_mod, name)
    raise AttributeError(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
