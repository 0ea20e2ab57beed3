"""The atlas: SQLAlchemy store (SQLite embedded, PostgreSQL shared), query API and exports.

>>> import patchatlas
>>> atlas = patchatlas.Atlas("sqlite:///atlas.db")      # doctest: +SKIP

Only this package touches the database. The schema is versioned with Alembic; the migrations
ship in :mod:`patchatlas.atlas.migrations`. Opening never migrates: an older atlas is upgraded
explicitly (``patchatlas atlas upgrade URL`` or :func:`upgrade_atlas`).
"""

import importlib.util

from patchatlas.errors import AtlasError, MissingDependencyError

_missing = [m for m in ("sqlalchemy", "alembic") if importlib.util.find_spec(m) is None]
if _missing:
    raise MissingDependencyError(
        f"the atlas needs {' and '.join(_missing)}; install it with "
        "`pip install 'patchatlas[atlas]'`"
    )

from patchatlas.atlas.api import Atlas, CellMorphology, CellSweeps, upgrade_atlas  # noqa: E402
from patchatlas.atlas.db import normalize_url  # noqa: E402
from patchatlas.atlas.migrate import current_revision, head_revision, upgrade  # noqa: E402

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
    "upgrade_atlas",
]
