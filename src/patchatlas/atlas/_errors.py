"""Atlas exceptions (importable without SQLAlchemy)."""

from __future__ import annotations

from patchatlas.errors import PatchAtlasError

__all__ = ["AtlasError", "MissingDependencyError"]


class AtlasError(PatchAtlasError):
    """The atlas database cannot be used as asked (bad URL, unknown cell, unknown filter ...)."""


class MissingDependencyError(AtlasError, ImportError):
    """An optional package needed for this operation is not installed."""
