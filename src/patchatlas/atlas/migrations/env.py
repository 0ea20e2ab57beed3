"""Alembic environment: runs on the connection passed in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from patchatlas.atlas.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - we always pass a connection
    raise RuntimeError("patchatlas migrations run through patchatlas.atlas.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
