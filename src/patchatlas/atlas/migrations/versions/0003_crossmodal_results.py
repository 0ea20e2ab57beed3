"""crossmodal results: benchmark runs, per-feature scores, predicted vs observed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crossmodal_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("package_version", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossmodal_runs")),
        sa.UniqueConstraint("name", name=op.f("uq_crossmodal_runs_name")),
    )
    op.create_table(
        "crossmodal_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("regime", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=True),
        sa.Column("r2", sa.Float(), nullable=True),
        sa.Column("r", sa.Float(), nullable=True),
        sa.Column("within_type_r2", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crossmodal_runs.id"],
            name=op.f("fk_crossmodal_scores_run_id_crossmodal_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossmodal_scores")),
    )
    op.create_index(
        op.f("ix_crossmodal_scores_run_id"), "crossmodal_scores", ["run_id"], unique=False
    )
    op.create_table(
        "crossmodal_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("regime", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("cell_name", sa.String(length=200), nullable=False),
        sa.Column("t_type", sa.String(length=200), nullable=True),
        sa.Column("observed", sa.Float(), nullable=True),
        sa.Column("predicted", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crossmodal_runs.id"],
            name=op.f("fk_crossmodal_predictions_run_id_crossmodal_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossmodal_predictions")),
    )
    op.create_index(
        op.f("ix_crossmodal_predictions_run_id"),
        "crossmodal_predictions",
        ["run_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_crossmodal_predictions_run_id"), table_name="crossmodal_predictions")
    op.drop_table("crossmodal_predictions")
    op.drop_index(op.f("ix_crossmodal_scores_run_id"), table_name="crossmodal_scores")
    op.drop_table("crossmodal_scores")
    op.drop_table("crossmodal_runs")
