"""The atlas schema (SQLAlchemy 2 ORM). The same tables on SQLite and PostgreSQL.

The schema is versioned by the Alembic migrations shipped in :mod:`patchatlas.atlas.migrations`;
this module describes the *head* revision. Never change a table here without adding a migration.

Layout
------
- ``donors`` → ``cells`` (specimens: species, region, layer, depth, Cre line, reporter, dendrite
  type, t-type with confidence) → ``source_files`` (path, size, sha256, format) →
  ``recordings`` → ``sweeps`` (metadata only: raw traces stay in the source file).
- ``ephys_features``: one long table for spike-, sweep- and cell-level values; the wide per-cell
  view is :meth:`patchatlas.atlas.Atlas.ephys_features` (a pivot, because the set of feature names
  is open-ended).
- ``qc_results``; ``morphologies`` → ``morphology_features``, ``morphology_issues``;
  ``transcriptome_datasets`` → ``cell_transcriptomes``; ``models``;
  ``multipatch_experiments`` → ``pairs`` → ``connections``, ``synapse_measurements``.
- ``provenance``: every computed row points at one (package version, engine, parameters, time).
- ``ingest_errors`` (current failures, one row per failing file) and ``ingest_runs``.
- ``cell_datasets`` (every dataset a cell belongs to) and ``cell_labels`` (each annotation as
  each dataset gave it: harmonised value, native label, table and column; revision 0007).
- ``crossmodal_runs`` → ``crossmodal_scores``, ``crossmodal_predictions``: stored expression →
  physiology benchmarks (revision 0003).
- Synaptic physiology (revision 0005): experiments carry their ingest name and content key,
  pairs their lateral/vertical distances, test counts, status and problems, connection calls
  their source, p-value and gap-junction call, and ``pair_traces`` hold the averaged responses
  with their fits and the short-term plasticity trains of a pair (JSON).
- ``celltype_runs`` → ``celltype_assignments``: t-, e-, m-, me-type assignments of cells by
  method, with confidence and model provenance (revision 0006).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["SCHEMA_TABLES", "Base"]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base with a stable constraint-naming convention (needed by migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


def _cell_fk(nullable: bool = False) -> Mapped[int]:
    return mapped_column(ForeignKey("cells.id", ondelete="CASCADE"), index=True, nullable=nullable)


def _prov_fk() -> Mapped[int | None]:
    return mapped_column(ForeignKey("provenance.id", ondelete="SET NULL"), nullable=True)


class Provenance(Base):
    """Who computed a row: engine, package version, parameters, time."""

    __tablename__ = "provenance"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    engine: Mapped[str] = mapped_column(String(64))
    package_version: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class Donor(Base):
    """A donor animal or human subject."""

    __tablename__ = "donors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    species: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(20))
    age: Mapped[str | None] = mapped_column(String(50))
    genotype: Mapped[str | None] = mapped_column(String(300))
    medical_conditions: Mapped[str | None] = mapped_column(String(300))
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)


class Cell(Base):
    """A specimen (one patched cell) and its annotations."""

    __tablename__ = "cells"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    dataset: Mapped[str | None] = mapped_column(String(100), index=True)
    donor_id: Mapped[int | None] = mapped_column(
        ForeignKey("donors.id", ondelete="SET NULL"), index=True
    )
    species: Mapped[str | None] = mapped_column(String(100), index=True)
    region: Mapped[str | None] = mapped_column(String(100))
    layer: Mapped[str | None] = mapped_column(String(50))
    depth_um: Mapped[float | None] = mapped_column(Float)
    normalized_depth: Mapped[float | None] = mapped_column(Float)
    cre_line: Mapped[str | None] = mapped_column(String(200))
    reporter: Mapped[str | None] = mapped_column(String(200))
    dendrite_type: Mapped[str | None] = mapped_column(String(50))
    subclass: Mapped[str | None] = mapped_column(String(100))
    t_type: Mapped[str | None] = mapped_column(String(200), index=True)
    t_type_confidence: Mapped[float | None] = mapped_column(Float)
    content_key: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_now, onupdate=_now)


class CellDataset(Base):
    """A cell's membership of a dataset (a published table set or a lab's own data), kept for
    every dataset that names the cell (revision 0007): a cell of two publications counts in
    both."""

    __tablename__ = "cell_datasets"
    __table_args__ = (UniqueConstraint("dataset", "cell_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = _cell_fk()
    dataset: Mapped[str] = mapped_column(String(100), index=True)
    provenance_id: Mapped[int | None] = _prov_fk()


class CellLabel(Base):
    """One annotation of a cell as one dataset gave it (revision 0007): the harmonised
    ``value`` (:mod:`patchatlas.core.vocabulary`), the ``native`` label, and where it came from
    (``dataset`` and ``source``: the table file and column)."""

    __tablename__ = "cell_labels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = _cell_fk()
    field: Mapped[str] = mapped_column(String(50))
    value: Mapped[str | None] = mapped_column(String(300))
    native: Mapped[str | None] = mapped_column(String(300))
    dataset: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(300))
    provenance_id: Mapped[int | None] = _prov_fk()


class SourceFile(Base):
    """A data file a cell's data came from (identified by content)."""

    __tablename__ = "source_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = _cell_fk(nullable=True)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(50), default="ephys")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class RecordingRow(Base):
    """One recording (one file's sweeps) of a cell."""

    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = _cell_fk()
    source_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("source_files.id", ondelete="CASCADE"), index=True
    )
    format: Mapped[str] = mapped_column(String(50))
    n_sweeps: Mapped[int] = mapped_column(Integer)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    provenance_id: Mapped[int | None] = _prov_fk()


class SweepRow(Base):
    """Metadata of one sweep; traces are loaded lazily from the source file."""

    __tablename__ = "sweeps"
    __table_args__ = (UniqueConstraint("recording_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    clamp_mode: Mapped[str] = mapped_column(String(30))
    stimulus_kind: Mapped[str] = mapped_column(String(30))
    stimulus_name: Mapped[str | None] = mapped_column(String(200))
    amplitude_pa: Mapped[float | None] = mapped_column(Float)
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    sampling_rate_hz: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    #: bookkeeping of the analysis (filter actually used, analysis error ...; revision 0004)
    extra: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)


class EphysFeature(Base):
    """Long table of electrophysiology features (level ``cell``, ``sweep`` or ``spike``).

    Sweep and spike rows name their recording (``recording_id``, revision 0004): a cell with
    several files can have two sweeps of one number. Spike rows say whether the spike is one of
    its sweep's ``n_spikes`` (``in_window``)."""

    __tablename__ = "ephys_features"
    __table_args__ = (Index("ix_ephys_features_cell_level", "cell_id", "level"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(10))
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    sweep_number: Mapped[int | None] = mapped_column(Integer)
    spike_index: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), index=True)
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(30))
    native_name: Mapped[str | None] = mapped_column(String(200))
    in_window: Mapped[bool | None] = mapped_column(Boolean)
    provenance_id: Mapped[int | None] = _prov_fk()


class QCResult(Base):
    """One quality-control check of a cell or sweep."""

    __tablename__ = "qc_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = _cell_fk()
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE")
    )
    sweep_number: Mapped[int | None] = mapped_column(Integer)
    check: Mapped[str] = mapped_column(String(100))
    passed: Mapped[bool | None] = mapped_column(Boolean)
    value: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    provenance_id: Mapped[int | None] = _prov_fk()


class MorphologyRow(Base):
    """A reconstruction of a cell."""

    __tablename__ = "morphologies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = _cell_fk()
    source_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("source_files.id", ondelete="CASCADE")
    )
    convention: Mapped[str | None] = mapped_column(String(50))
    n_nodes: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    provenance_id: Mapped[int | None] = _prov_fk()


class MorphologyFeature(Base):
    """One morphology feature value."""

    __tablename__ = "morphology_features"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    morphology_id: Mapped[int] = mapped_column(
        ForeignKey("morphologies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(30))
    native_name: Mapped[str | None] = mapped_column(String(200))
    provenance_id: Mapped[int | None] = _prov_fk()


class MorphologyIssue(Base):
    """A validation issue found in a reconstruction."""

    __tablename__ = "morphology_issues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    morphology_id: Mapped[int] = mapped_column(
        ForeignKey("morphologies.id", ondelete="CASCADE"), index=True
    )
    severity: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)


class TranscriptomeDataset(Base):
    """An expression matrix (AnnData or counts file) holding many cells."""

    __tablename__ = "transcriptome_datasets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(50))
    sha256: Mapped[str | None] = mapped_column(String(64))
    n_cells: Mapped[int | None] = mapped_column(Integer)
    n_genes: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)


class CellTranscriptome(Base):
    """Link of a cell to its sample (column / ``obs`` name) in a transcriptome dataset."""

    __tablename__ = "cell_transcriptomes"
    __table_args__ = (UniqueConstraint("dataset_id", "cell_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = _cell_fk()
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("transcriptome_datasets.id", ondelete="CASCADE")
    )
    sample_id: Mapped[str] = mapped_column(String(200))
    library_size: Mapped[float | None] = mapped_column(Float)
    genes_detected: Mapped[int | None] = mapped_column(Integer)


class ModelRow(Base):
    """A fitted neuron model (GLIF or biophysical): parameters and fit scores."""

    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = _cell_fk()
    kind: Mapped[str] = mapped_column(String(50))
    name: Mapped[str | None] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fit_scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provenance_id: Mapped[int | None] = _prov_fk()


class MultipatchExperiment(Base):
    """A multipatch (synaptic physiology) experiment."""

    __tablename__ = "multipatch_experiments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("source_files.id", ondelete="SET NULL")
    )
    donor_id: Mapped[int | None] = mapped_column(ForeignKey("donors.id", ondelete="SET NULL"))
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    species: Mapped[str | None] = mapped_column(String(100))
    ingest_name: Mapped[str | None] = mapped_column(String(200), index=True)
    content_key: Mapped[str | None] = mapped_column(String(64))
    provenance_id: Mapped[int | None] = _prov_fk()


class Pair(Base):
    """An ordered (pre → post) pair of cells tested in a multipatch experiment."""

    __tablename__ = "pairs"
    __table_args__ = (UniqueConstraint("experiment_id", "pre_cell_id", "post_cell_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("multipatch_experiments.id", ondelete="CASCADE")
    )
    pre_cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id", ondelete="CASCADE"))
    post_cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id", ondelete="CASCADE"))
    distance_um: Mapped[float | None] = mapped_column(Float)
    lateral_distance_um: Mapped[float | None] = mapped_column(Float)
    vertical_distance_um: Mapped[float | None] = mapped_column(Float)
    n_ex_test_spikes: Mapped[int | None] = mapped_column(Integer)
    n_in_test_spikes: Mapped[int | None] = mapped_column(Integer)
    probed: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str | None] = mapped_column(String(50))
    problems: Mapped[str | None] = mapped_column(Text)


class Connection(Base):
    """The connection call for a pair."""

    __tablename__ = "connections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), unique=True)
    connected: Mapped[bool] = mapped_column(Boolean)
    synapse_type: Mapped[str | None] = mapped_column(String(10))
    confidence: Mapped[float | None] = mapped_column(Float)
    provenance_id: Mapped[int | None] = _prov_fk()
    electrical: Mapped[bool | None] = mapped_column(Boolean)
    source: Mapped[str | None] = mapped_column(String(50))
    p_value: Mapped[float | None] = mapped_column(Float)


class SynapseMeasurement(Base):
    """A measured synaptic property of a pair (PSP amplitude, latency, rise, decay, STP ...)."""

    __tablename__ = "synapse_measurements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(30))
    provenance_id: Mapped[int | None] = _prov_fk()


class PairTrace(Base):
    """A plotted result of a pair: an averaged response with its fit, or an STP train (JSON;
    added in revision 0005)."""

    __tablename__ = "pair_traces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provenance_id: Mapped[int | None] = _prov_fk()


class IngestError(Base):
    """A cell that failed to ingest: which file, at which stage, and why."""

    __tablename__ = "ingest_errors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_name: Mapped[str] = mapped_column(String(200), index=True)
    path: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(50))
    error_type: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class IngestRun(Base):
    """One ``ingest`` invocation and its outcome (added in revision 0002)."""

    __tablename__ = "ingest_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    n_done: Mapped[int] = mapped_column(Integer, default=0)
    n_skipped: Mapped[int] = mapped_column(Integer, default=0)
    n_failed: Mapped[int] = mapped_column(Integer, default=0)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    package_version: Mapped[str] = mapped_column(String(64))


class CrossmodalRun(Base):
    """One stored expression → physiology benchmark (added in revision 0003)."""

    __tablename__ = "crossmodal_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    dataset: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    package_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class CrossmodalScore(Base):
    """One cross-validated score: a feature's R², r and within-type R² for a regime, model and
    repeat (the rows of ``patchatlas crossmodal benchmark``'s ``results.csv``)."""

    __tablename__ = "crossmodal_scores"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("crossmodal_runs.id", ondelete="CASCADE"), index=True
    )
    regime: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    feature: Mapped[str] = mapped_column(String(200))
    repeat: Mapped[int | None] = mapped_column(Integer)
    r2: Mapped[float | None] = mapped_column(Float)
    r: Mapped[float | None] = mapped_column(Float)
    within_type_r2: Mapped[float | None] = mapped_column(Float)


class CrossmodalPrediction(Base):
    """An out-of-fold prediction of one cell's feature (cells named as in the benchmark's
    dataset; they need not be cells of the atlas)."""

    __tablename__ = "crossmodal_predictions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("crossmodal_runs.id", ondelete="CASCADE"), index=True
    )
    regime: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    feature: Mapped[str] = mapped_column(String(200))
    cell_name: Mapped[str] = mapped_column(String(200))
    t_type: Mapped[str | None] = mapped_column(String(200))
    observed: Mapped[float | None] = mapped_column(Float)
    predicted: Mapped[float | None] = mapped_column(Float)


class CelltypeRun(Base):
    """One typing of cells: which kind of type (t, e, m, me), at which level, by which method,
    with which model and cross-validated scores (added in revision 0006)."""

    __tablename__ = "celltype_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(50))
    method: Mapped[str] = mapped_column(String(100))
    model: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str | None] = mapped_column(Text)
    package_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class CelltypeAssignment(Base):
    """The type a run assigned to one cell, with its confidence (revision 0006)."""

    __tablename__ = "celltype_assignments"
    __table_args__ = (UniqueConstraint("run_id", "cell_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("celltype_runs.id", ondelete="CASCADE"), index=True
    )
    cell_id: Mapped[int] = _cell_fk()
    label: Mapped[str] = mapped_column(String(200), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)


SCHEMA_TABLES: tuple[str, ...] = tuple(Base.metadata.tables)
