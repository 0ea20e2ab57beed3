"""Alembic migrations of the atlas schema, shipped inside the package so an installed wheel can
create and upgrade an atlas. Use :func:`patchatlas.atlas.migrate.upgrade`, not the alembic CLI."""
