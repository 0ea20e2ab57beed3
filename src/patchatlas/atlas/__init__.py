"""The atlas: SQLAlchemy store (SQLite embedded, PostgreSQL shared), query API and exports.

>>> import patchatlas
>>> atlas = patchatlas.Atlas("sqlite:///atlas.db")      # doctest: +SKIP

Only this package touches the database. The schema is versioned with Alembic; the migrations
ship in :mod:`patchatlas.atlas.migrations` and run when an atlas is opened.
"""

from patchatlas.atlas.api import Atlas, CellMorphology, CellSweeps
from patchatlas.atlas.db import AtlasError, MissingDependencyError, normalize_url
from patchatlas.atlas.migrate import current_revision, head_revision, upgrade

__all__ = [
    "Atlas",
    "AtlasError",
    "CellMorphology",
    "CellSweeps",
    "MissingDependencyError",
    "current_revision",
    "head_revision",
    "normalize_url",
    "upgrade",
]
