"""Feature definitions for the portal, gathered from the project's feature registries.

Each modality publishes its registry as ``patchatlas.<modality>.feature_registry()`` (a DataFrame
with at least ``name`` and ``definition``; ``unit``, ``convention`` and ``window`` when known). The
portal reads whichever registries this installation has; features without an entry are listed
with their stored unit and no definition.
"""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache
from typing import Any

import pandas as pd

__all__ = ["REGISTRY_MODULES", "definitions"]

log = logging.getLogger("patchatlas.web")

REGISTRY_MODULES: tuple[str, ...] = (
    "patchatlas.ephys",
    "patchatlas.morphology",
    "patchatlas.synphys",
    "patchatlas.models",
)


@lru_cache(maxsize=1)
def definitions() -> dict[str, dict[str, Any]]:
    """``{feature name: {definition, unit, convention, window, source}}`` over every registry
    that is installed (first entry wins for a name listed by several conventions)."""
    out: dict[str, dict[str, Any]] = {}
    for mod_name in REGISTRY_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        fn = getattr(mod, "feature_registry", None)
        if not callable(fn):
            continue
        try:
            table = fn()
        except Exception as exc:  # a broken registry must not take the portal down
            log.warning("feature registry of %s failed: %s", mod_name, exc)
            continue
        if not isinstance(table, pd.DataFrame) or "name" not in table.columns:
            continue
        for row in table.to_dict("records"):
            name = str(row["name"])
            if name in out:
                continue
            out[name] = {
                "definition": row.get("definition"),
                "unit": row.get("unit"),
                "convention": row.get("convention"),
                "window": row.get("window", row.get("stimulus_window")),
                "source": mod_name,
            }
    return out
