"""Create and upgrade an atlas database with the migrations shipped in the package."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

__all__ = [
    "alembic_config",
    "current_revision",
    "drop_all",
    "head_revision",
    "revisions",
    "upgrade",
]

_LOCK_KEY = 0x70617463  # PostgreSQL advisory lock id for schema changes ("patc")


def alembic_config() -> Config:
    """An Alembic :class:`~alembic.config.Config` pointing at ``patchatlas.atlas:migrations``.

    Returns
    -------
    alembic.config.Config
        A config without a database URL; pass the connection in ``cfg.attributes["connection"]``.
    """
    cfg = Config()
    cfg.set_main_option("script_location", "patchatlas.atlas:migrations")
    return cfg


def head_revision() -> str:
    """The newest schema revision this version of patchatlas knows.

    Returns
    -------
    str
        The head revision id of the shipped migrations.
    """
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def revisions() -> list[str]:
    """Every schema revision this version of patchatlas knows, oldest first.

    Returns
    -------
    list of str
    """
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def drop_all(engine: Engine) -> None:
    """Drop every table of the database (the atlas schema and the Alembic version table).

    Parameters
    ----------
    engine
        The database.
    """
    from sqlalchemy import MetaData

    meta = MetaData()
    meta.reflect(bind=engine)
    with engine.begin() as conn:
        meta.drop_all(conn)


def current_revision(engine: Engine) -> str | None:
    """The revision an atlas database is at (``None`` for an empty database).

    Parameters
    ----------
    engine
        The database.

    Returns
    -------
    str or None
        The Alembic revision stored in the database, or ``None`` when it has none (an empty
        database, or one that is not a patchatlas atlas).
    """
    with engine.connect() as conn:
        rev: Any = MigrationContext.configure(conn).get_current_revision()
        return rev if rev is None else str(rev)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (creating it when empty).

    On PostgreSQL an advisory lock serialises concurrent callers (several workers opening the same
    atlas at once).

    Parameters
    ----------
    engine
        The database.
    revision
        Target revision id (default: the newest, ``"head"``).
    """
    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
