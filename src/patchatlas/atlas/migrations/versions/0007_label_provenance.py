"""label provenance: every dataset a cell belongs to, and each annotation as each dataset gave it

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-10

``cell_datasets`` lists every dataset that names a cell (a cell of two publications counts in
both; ``cells.dataset`` keeps the first). ``cell_labels`` keeps, per cell, field and dataset, the
harmonised value (:mod:`patchatlas.core.vocabulary`), the native label and its source (table file
and column). Existing cells are entered in ``cell_datasets`` under their ``cells.dataset``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cell_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=100), nullable=False),
        sa.Column("provenance_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["cells.id"],
            name=op.f("fk_cell_datasets_cell_id_cells"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provenance_id"],
            ["provenance.id"],
            name=op.f("fk_cell_datasets_provenance_id_provenance"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cell_datasets")),
        sa.UniqueConstraint("dataset", "cell_id", name=op.f("uq_cell_datasets_dataset")),
    )
    with op.batch_alter_table("cell_datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cell_datasets_cell_id"), ["cell_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cell_datasets_dataset"), ["dataset"], unique=False)
    op.create_table(
        "cell_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=True),
        sa.Column("native", sa.String(length=300), nullable=True),
        sa.Column("dataset", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.Column("provenance_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["cells.id"],
            name=op.f("fk_cell_labels_cell_id_cells"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provenance_id"],
            ["provenance.id"],
            name=op.f("fk_cell_labels_provenance_id_provenance"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cell_labels")),
    )
    with op.batch_alter_table("cell_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cell_labels_cell_id"), ["cell_id"], unique=False)
    cells = sa.table("cells", sa.column("id"), sa.column("dataset"))
    members = sa.table("cell_datasets", sa.column("cell_id"), sa.column("dataset"))
    op.get_bind().execute(
        sa.insert(members).from_select(
            ["cell_id", "dataset"],
            sa.select(cells.c.id, cells.c.dataset).where(cells.c.dataset.is_not(None)),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("cell_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cell_labels_cell_id"))
    op.drop_table("cell_labels")
    with op.batch_alter_table("cell_datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cell_datasets_dataset"))
        batch_op.drop_index(batch_op.f("ix_cell_datasets_cell_id"))
    op.drop_table("cell_datasets")
