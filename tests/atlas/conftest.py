"""Fixtures for the atlas tests: a fresh database on SQLite and on PostgreSQL.

PostgreSQL comes from ``PATCHATLAS_TEST_POSTGRES_URL`` (``bash .ci/postgres.sh start`` prints it).
Without it the PostgreSQL half skips, or fails under ``CI=true``. Every test gets its own database
(``CREATE DATABASE`` on the server), dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "PATCHATLAS_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_server_url() -> str:
    url = os.environ.get(PG_ENV, "")
    if not url:
        msg = f"{PG_ENV} is not set (run `bash .ci/postgres.sh start`)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return url


def _fresh_pg_database(server_url: str) -> tuple[str, object]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from patchatlas.atlas.db import normalize_url

    base = make_url(normalize_url(server_url))
    name = f"pa_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False), (admin, name)


def _drop_pg_database(handle: object) -> None:
    from sqlalchemy import text

    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database."""
    url, handle = _fresh_pg_database(postgres_server_url())
    try:
        yield url
    finally:
        from patchatlas.atlas.api import Atlas

        for a in Atlas._workers.values():
            a.close()
        Atlas._workers.clear()
        _drop_pg_database(handle)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def atlas_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty atlas database URL on each engine (SQLite file, PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'atlas.db'}"
        return
    url, handle = _fresh_pg_database(postgres_server_url())
    try:
        yield url
    finally:
        from patchatlas.atlas.api import Atlas

        for a in Atlas._workers.values():
            a.close()
        Atlas._workers.clear()
        _drop_pg_database(handle)


@pytest.fixture(scope="session")
def abf_dir(ephys_data: Path) -> Path:
    """The real ABF recordings."""
    return ephys_data / "abf_pyabf"


@pytest.fixture
def abf_folder(abf_dir: Path, tmp_path: Path) -> Path:
    """A folder of symlinks to the real ABFs plus one corrupt ``.abf`` (never copied in git)."""
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    for i, f in enumerate(sorted(abf_dir.glob("*.abf"))):
        target = folder / ("sub" if i % 3 == 0 else "") / f.name
        try:
            target.symlink_to(f)
        except OSError:
            shutil.copy(f, target)
    (folder / "corrupt.abf").write_bytes(b"ABF2" + b"\x00" * 100)
    return folder
