"""one analysis, one data layer: spikes per recording with their window flag, sweep metadata,
registry units; what earlier ingests stored wrong is removed and their cells marked for recompute

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Schema: ``ephys_features`` and ``qc_results`` gain ``recording_id`` (a cell with several files
has several sweeps of one number), ``ephys_features`` gains ``in_window`` (whether a spike is one
of its sweep's ``n_spikes``), ``sweeps`` gains ``metadata`` (bookkeeping: the dV/dt filter used,
analysis errors).

Data, for rows the ``ephys`` ingest engine wrote before this revision:

* spike rows are deleted: that engine re-detected spikes over the whole sweep with default
  parameters, so they disagree with the stored sweep features;
* cell and sweep rows whose name is not a registry feature of their level (bookkeeping such as
  ``sweep_number``, ``filter_khz_used``, ``n_sweeps``) are deleted;
* the remaining rows get their registry unit (they were stored without one);
* the cells' content keys are cleared, so the next ``patchatlas ingest`` recomputes them with
  this version (their source files are needed for that).

Imported tables (provenance ``import:*``) are not touched. The registry below is a snapshot of
``patchatlas.ephys.registry`` at this revision (migrations do not import library code).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

REGISTRY_UNITS: dict[tuple[str, str], str] = {
    ("cell", "vrest"): "mV",
    ("cell", "ri"): "MΩ",
    ("cell", "tau"): "ms",
    ("cell", "tau_n_fits"): "1",
    ("cell", "tau_rmse_mv"): "mV",
    ("cell", "tau_r2_min"): "1",
    ("cell", "sag"): "1",
    ("cell", "vm_for_sag"): "mV",
    ("cell", "f_i_curve_slope"): "Hz/pA",
    ("cell", "threshold_i_long_square"): "pA",
    ("cell", "rheobase_sweep_num"): "1",
    ("cell", "thumbnail_sweep_num"): "1",
    ("cell", "adaptation"): "1",
    ("cell", "avg_isi"): "ms",
    ("cell", "avg_firing_rate"): "Hz",
    ("cell", "latency"): "s",
    ("cell", "threshold_i_short_square"): "pA",
    ("cell", "threshold_i_ramp"): "pA",
    ("cell", "threshold_v_long_square"): "mV",
    ("cell", "threshold_v_short_square"): "mV",
    ("cell", "threshold_v_ramp"): "mV",
    ("cell", "threshold_t_long_square"): "s",
    ("cell", "threshold_t_short_square"): "s",
    ("cell", "threshold_t_ramp"): "s",
    ("cell", "peak_v_long_square"): "mV",
    ("cell", "peak_v_short_square"): "mV",
    ("cell", "peak_v_ramp"): "mV",
    ("cell", "peak_t_long_square"): "s",
    ("cell", "peak_t_short_square"): "s",
    ("cell", "peak_t_ramp"): "s",
    ("cell", "trough_v_long_square"): "mV",
    ("cell", "trough_v_short_square"): "mV",
    ("cell", "trough_v_ramp"): "mV",
    ("cell", "trough_t_long_square"): "s",
    ("cell", "trough_t_short_square"): "s",
    ("cell", "trough_t_ramp"): "s",
    ("cell", "fast_trough_v_long_square"): "mV",
    ("cell", "fast_trough_v_short_square"): "mV",
    ("cell", "fast_trough_v_ramp"): "mV",
    ("cell", "fast_trough_t_long_square"): "s",
    ("cell", "fast_trough_t_short_square"): "s",
    ("cell", "fast_trough_t_ramp"): "s",
    ("cell", "slow_trough_v_long_square"): "mV",
    ("cell", "slow_trough_v_short_square"): "mV",
    ("cell", "slow_trough_v_ramp"): "mV",
    ("cell", "slow_trough_t_long_square"): "s",
    ("cell", "slow_trough_t_short_square"): "s",
    ("cell", "slow_trough_t_ramp"): "s",
    ("cell", "upstroke_downstroke_ratio_long_square"): "1",
    ("cell", "upstroke_downstroke_ratio_short_square"): "1",
    ("cell", "upstroke_downstroke_ratio_ramp"): "1",
    ("cell", "upstroke_long_square"): "V/s",
    ("cell", "upstroke_short_square"): "V/s",
    ("cell", "upstroke_ramp"): "V/s",
    ("cell", "downstroke_long_square"): "V/s",
    ("cell", "downstroke_short_square"): "V/s",
    ("cell", "downstroke_ramp"): "V/s",
    ("cell", "width_long_square"): "s",
    ("cell", "width_short_square"): "s",
    ("cell", "width_ramp"): "s",
    ("sweep", "avg_rate"): "Hz",
    ("sweep", "n_spikes"): "1",
    ("sweep", "latency"): "s",
    ("sweep", "first_isi"): "s",
    ("sweep", "mean_isi"): "s",
    ("sweep", "median_isi"): "s",
    ("sweep", "isi_cv"): "1",
    ("sweep", "adapt"): "1",
    ("sweep", "burst_n"): "1",
    ("sweep", "burst_max_index"): "1",
    ("sweep", "pause_n"): "1",
    ("sweep", "pause_frac"): "1",
    ("sweep", "v_baseline"): "mV",
    ("sweep", "peak_deflect_v"): "mV",
    ("sweep", "peak_deflect_index"): "sample",
    ("sweep", "sag"): "1",
    ("sweep", "vm_for_sag"): "mV",
    ("sweep", "stim_amp"): "pA",
    ("sweep", "n_spikes_outside_window"): "1",
    ("sweep", "depolarization_block"): "bool",
    ("spike", "threshold_index"): "sample",
    ("spike", "threshold_t"): "s",
    ("spike", "threshold_v"): "mV",
    ("spike", "threshold_i"): "pA",
    ("spike", "peak_index"): "sample",
    ("spike", "peak_t"): "s",
    ("spike", "peak_v"): "mV",
    ("spike", "peak_i"): "pA",
    ("spike", "trough_index"): "sample",
    ("spike", "trough_t"): "s",
    ("spike", "trough_v"): "mV",
    ("spike", "trough_i"): "pA",
    ("spike", "fast_trough_index"): "sample",
    ("spike", "fast_trough_t"): "s",
    ("spike", "fast_trough_v"): "mV",
    ("spike", "fast_trough_i"): "pA",
    ("spike", "adp_index"): "sample",
    ("spike", "adp_t"): "s",
    ("spike", "adp_v"): "mV",
    ("spike", "adp_i"): "pA",
    ("spike", "slow_trough_index"): "sample",
    ("spike", "slow_trough_t"): "s",
    ("spike", "slow_trough_v"): "mV",
    ("spike", "slow_trough_i"): "pA",
    ("spike", "upstroke_index"): "sample",
    ("spike", "upstroke_t"): "s",
    ("spike", "upstroke_v"): "mV",
    ("spike", "downstroke_index"): "sample",
    ("spike", "downstroke_t"): "s",
    ("spike", "downstroke_v"): "mV",
    ("spike", "upstroke"): "V/s",
    ("spike", "downstroke"): "V/s",
    ("spike", "upstroke_downstroke_ratio"): "1",
    ("spike", "width"): "s",
    ("spike", "clipped"): "bool",
}


def _ephys_provenance() -> sa.Select:  # type: ignore[type-arg]
    prov = sa.table("provenance", sa.column("id"), sa.column("engine"))
    return sa.select(prov.c.id).where(prov.c.engine == "ephys")


def upgrade() -> None:
    with op.batch_alter_table("ephys_features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recording_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("in_window", sa.Boolean(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_ephys_features_recording_id_recordings"),
            "recordings",
            ["recording_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            batch_op.f("ix_ephys_features_recording_id"), ["recording_id"], unique=False
        )
    with op.batch_alter_table("qc_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recording_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_qc_results_recording_id_recordings"),
            "recordings",
            ["recording_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metadata", sa.JSON(), nullable=True))

    feats = sa.table(
        "ephys_features",
        sa.column("id"),
        sa.column("cell_id"),
        sa.column("level"),
        sa.column("name"),
        sa.column("unit"),
        sa.column("provenance_id"),
    )
    cells = sa.table("cells", sa.column("id"), sa.column("content_key"))
    conn = op.get_bind()
    ephys = _ephys_provenance()
    touched = sa.select(feats.c.cell_id).where(feats.c.provenance_id.in_(ephys)).distinct()
    conn.execute(sa.update(cells).where(cells.c.id.in_(touched)).values(content_key=None))
    conn.execute(sa.delete(feats).where(feats.c.provenance_id.in_(ephys), feats.c.level == "spike"))
    for level in ("cell", "sweep"):
        names = sorted(n for (lv, n) in REGISTRY_UNITS if lv == level)
        conn.execute(
            sa.delete(feats).where(
                feats.c.provenance_id.in_(ephys),
                feats.c.level == level,
                feats.c.name.not_in(names),
            )
        )
    by_unit: dict[tuple[str, str], list[str]] = {}
    for (level, name), unit in REGISTRY_UNITS.items():
        if level != "spike":
            by_unit.setdefault((level, unit), []).append(name)
    for (level, unit), names in by_unit.items():
        conn.execute(
            sa.update(feats)
            .where(
                feats.c.provenance_id.in_(ephys),
                feats.c.level == level,
                feats.c.name.in_(names),
                feats.c.unit.is_(None),
            )
            .values(unit=unit)
        )


def downgrade() -> None:
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.drop_column("metadata")
    with op.batch_alter_table("qc_results", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_qc_results_recording_id_recordings"), type_="foreignkey"
        )
        batch_op.drop_column("recording_id")
    with op.batch_alter_table("ephys_features", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ephys_features_recording_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_ephys_features_recording_id_recordings"), type_="foreignkey"
        )
        batch_op.drop_column("in_window")
        batch_op.drop_column("recording_id")
