"""cell types: typing runs (kind, level, method, model provenance, scores) and per-cell type
assignments (label, confidence)

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-07

A cell can carry t-, e-, m- and me-type assignments from several methods (a mapping onto a
reference taxonomy, a classifier predicting t-types from physiology, a clustering): one
``celltype_runs`` row per typing (what, how, with which model and scores) and one
``celltype_assignments`` row per cell and run. The published ``cells.t_type`` stays as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "celltype_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("level", sa.String(length=50), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("package_version", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_celltype_runs")),
        sa.UniqueConstraint("name", name=op.f("uq_celltype_runs_name")),
    )
    op.create_table(
        "celltype_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["cells.id"],
            name=op.f("fk_celltype_assignments_cell_id_cells"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["celltype_runs.id"],
            name=op.f("fk_celltype_assignments_run_id_celltype_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_celltype_assignments")),
        sa.UniqueConstraint("run_id", "cell_id", name=op.f("uq_celltype_assignments_run_id")),
    )
    op.create_index(
        op.f("ix_celltype_assignments_run_id"), "celltype_assignments", ["run_id"], unique=False
    )
    op.create_index(
        op.f("ix_celltype_assignments_cell_id"), "celltype_assignments", ["cell_id"], unique=False
    )
    op.create_index(
        op.f("ix_celltype_assignments_label"), "celltype_assignments", ["label"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_celltype_assignments_label"), table_name="celltype_assignments")
    op.drop_index(op.f("ix_celltype_assignments_cell_id"), table_name="celltype_assignments")
    op.drop_index(op.f("ix_celltype_assignments_run_id"), table_name="celltype_assignments")
    op.drop_table("celltype_assignments")
    op.drop_table("celltype_runs")
