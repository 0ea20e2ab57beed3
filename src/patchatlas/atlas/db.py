"""Database URLs and engines: ``sqlite:///atlas.db`` (embedded) or ``postgresql://…`` (shared)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from patchatlas.errors import AtlasError, MissingDependencyError

__all__ = ["make_engine", "normalize_url", "sqlite_path"]


def normalize_url(url: str | os.PathLike[str]) -> str:
    """Turn a path or URL into a SQLAlchemy URL.

    A plain path (``atlas.db``) means SQLite. ``postgresql://`` gets the ``psycopg`` driver (v3)
    when no driver is named.

    Parameters
    ----------
    url
        ``sqlite:///…``, ``postgresql://…`` (any driver), or a plain file path.

    Returns
    -------
    str
        The URL (a plain path becomes ``sqlite:///`` + its absolute path, ``~`` expanded);
        the password, if any, is kept.

    Raises
    ------
    AtlasError
        The URL names an unsupported database or cannot be parsed.
    """
    s = os.fspath(url)
    if "://" not in s:
        return "sqlite:///" + str(Path(s).expanduser().resolve())
    try:
        u = make_url(s)
    except ArgumentError as exc:
        raise AtlasError(f"atlas URL {s!r} cannot be parsed ({exc})") from exc
    backend = u.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise AtlasError(
            f"atlas URL {s!r}: database {backend!r} is not supported; "
            "use sqlite:///path/atlas.db or postgresql://user@host/db"
        )
    if backend == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_pragmas_ro(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA query_only=ON")
    cur.close()


def sqlite_path(url: str | os.PathLike[str]) -> Path | None:
    """The file of a SQLite atlas URL (None for PostgreSQL or an in-memory database).

    Parameters
    ----------
    url
        Atlas URL or plain path.

    Returns
    -------
    Path or None
    """
    u = make_url(normalize_url(url))
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(url: str | os.PathLike[str], *, read_only: bool = False, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine for an atlas URL (SQLite: WAL journal, foreign keys, 60 s busy wait).

    Nothing is created: a SQLite file appears on the first write, in a folder that must exist.

    Parameters
    ----------
    url
        Atlas URL or plain path.
    read_only
        Refuse every write at the connection level (SQLite ``PRAGMA query_only``, PostgreSQL
        ``default_transaction_read_only``).
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    sqlalchemy.Engine

    Raises
    ------
    MissingDependencyError
        ``postgresql://`` without ``psycopg`` installed.
    """
    s = normalize_url(url)
    u = make_url(s)
    if u.get_backend_name() == "postgresql":
        if u.drivername.endswith("psycopg") and importlib.util.find_spec("psycopg") is None:
            raise MissingDependencyError(
                f"atlas URL {u.render_as_string()}: PostgreSQL needs psycopg; "
                "install it with `pip install 'patchatlas[postgres]'`"
            )
        kwargs.setdefault("pool_pre_ping", True)
        if read_only:
            kwargs.setdefault("connect_args", {"options": "-c default_transaction_read_only=on"})
        return create_engine(s, **kwargs)
    kwargs.setdefault("connect_args", {"timeout": 60})
    engine = create_engine(s, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas_ro if read_only else _sqlite_pragmas)
    return engine
