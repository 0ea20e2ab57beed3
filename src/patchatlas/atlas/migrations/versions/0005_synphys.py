"""synaptic physiology: experiment ingest keys, pair test counts and status, call source and
p-value, pair traces

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

``multipatch_experiments`` gains ``species``, ``ingest_name`` and ``content_key`` (the ingest
skips an unchanged experiment file) and ``provenance_id``; ``pairs`` gains the lateral and
vertical distances, the counts of test spikes passing the excitatory / inhibitory QC, ``probed``,
``status`` and ``problems`` (bad input reported per pair); ``connections`` gains ``electrical``,
``source`` (manual, published, aisynphys, auto) and ``p_value``; the new ``pair_traces`` table
holds a pair's averaged responses with their fits and its short-term plasticity trains.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("multipatch_experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("species", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("ingest_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("content_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("provenance_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_multipatch_experiments_provenance_id_provenance"),
            "provenance",
            ["provenance_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            batch_op.f("ix_multipatch_experiments_ingest_name"), ["ingest_name"], unique=False
        )
    with op.batch_alter_table("pairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lateral_distance_um", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("vertical_distance_um", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("n_ex_test_spikes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("n_in_test_spikes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("probed", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("problems", sa.Text(), nullable=True))
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("electrical", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("p_value", sa.Float(), nullable=True))
    op.create_table(
        "pair_traces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("provenance_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pairs.id"],
            name=op.f("fk_pair_traces_pair_id_pairs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provenance_id"],
            ["provenance.id"],
            name=op.f("fk_pair_traces_provenance_id_provenance"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_traces")),
    )
    op.create_index(op.f("ix_pair_traces_pair_id"), "pair_traces", ["pair_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pair_traces_pair_id"), table_name="pair_traces")
    op.drop_table("pair_traces")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("p_value")
        batch_op.drop_column("source")
        batch_op.drop_column("electrical")
    with op.batch_alter_table("pairs", schema=None) as batch_op:
        for col in (
            "problems",
            "status",
            "probed",
            "n_in_test_spikes",
            "n_ex_test_spikes",
            "vertical_distance_um",
            "lateral_distance_um",
        ):
            batch_op.drop_column(col)
    with op.batch_alter_table("multipatch_experiments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_multipatch_experiments_ingest_name"))
        batch_op.drop_constraint(
            batch_op.f("fk_multipatch_experiments_provenance_id_provenance"), type_="foreignkey"
        )
        for col in ("provenance_id", "content_key", "ingest_name", "species"):
            batch_op.drop_column(col)
