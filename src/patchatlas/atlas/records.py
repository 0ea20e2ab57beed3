"""What engines hand to the atlas: plain, picklable records (no database code here).

Workers build a :class:`CellRecord` per cell (in a process pool or on a Dask worker) and the writer
stores it in one transaction with :func:`patchatlas.atlas.store.write_cell`. Tables are pandas
DataFrames with the columns listed in ``*_COLUMNS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patchatlas.core.recording import SWEEP_TABLE_COLUMNS

__all__ = [
    "CELL_FIELDS",
    "DONOR_FIELDS",
    "FEATURE_COLUMNS",
    "QC_COLUMNS",
    "SWEEP_COLUMNS",
    "CellFailure",
    "CellRecord",
    "EngineOutput",
    "FileRecord",
    "MorphologyRecord",
    "RecordingRecord",
    "json_safe",
]

# Cell annotations with their own column in ``cells`` (others go to ``cells.metadata``).
CELL_FIELDS: tuple[str, ...] = (
    "dataset",
    "species",
    "region",
    "layer",
    "depth_um",
    "normalized_depth",
    "cre_line",
    "reporter",
    "dendrite_type",
    "subclass",
    "t_type",
    "t_type_confidence",
)
FLOAT_CELL_FIELDS = frozenset({"depth_um", "normalized_depth", "t_type_confidence"})
# Donor annotations (``donor`` names the donor; ``donor_*`` fill its columns).
DONOR_FIELDS: tuple[str, ...] = ("species", "sex", "age", "genotype", "medical_conditions")

SWEEP_COLUMNS: tuple[str, ...] = SWEEP_TABLE_COLUMNS
#: ``recording``: position of the sweep's recording in :attr:`EngineOutput.recordings` (None for
#: cell-level rows); ``in_window``: a spike counted in its sweep's ``n_spikes``
FEATURE_COLUMNS: tuple[str, ...] = (
    "level",
    "recording",
    "sweep_number",
    "spike_index",
    "name",
    "value",
    "unit",
    "native_name",
    "in_window",
)
QC_COLUMNS: tuple[str, ...] = ("recording", "sweep_number", "check", "passed", "value", "message")


def json_safe(obj: Any) -> Any:
    """Turn metadata into JSON-storable values (numpy scalars, paths, dates, NaN → None).

    Parameters
    ----------
    obj
        Any value; dicts, lists, tuples and sets are converted recursively.

    Returns
    -------
    object
        Only dicts (with string keys), lists, str, int, float (finite), bool and ``None``:
        numpy values become Python values (arrays of more than 1000 elements a placeholder
        string), paths strings, dates ISO strings, NaN/inf ``None``, anything else its
        ``str``.
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist()) if obj.size <= 1000 else f"<array {obj.shape}>"
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    return str(obj)


@dataclass
class FileRecord:
    """A source file, identified by content."""

    path: str
    size: int
    sha256: str
    format: str
    role: str = "ephys"


@dataclass
class RecordingRecord:
    """One file's recording: metadata and the sweep table (``SWEEP_COLUMNS``, plus an optional
    ``metadata`` column of per-sweep bookkeeping dicts)."""

    file_index: int
    format: str
    sweeps: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class MorphologyRecord:
    """A reconstruction: features (``name, value, unit, native_name``) and validation issues
    (``severity, code, message``)."""

    file_index: int | None
    features: pd.DataFrame
    issues: pd.DataFrame | None = None
    convention: str | None = None
    n_nodes: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class EngineOutput:
    """Everything one engine computed for one cell, with the parameters that produced it."""

    engine: str
    parameters: dict[str, Any] = field(default_factory=dict)
    recordings: list[RecordingRecord] = field(default_factory=list)
    features: pd.DataFrame | None = None
    qc: pd.DataFrame | None = None
    morphologies: list[MorphologyRecord] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    #: a multipatch experiment (:class:`patchatlas.atlas.synphys.ExperimentRecord`)
    experiment: Any = None


@dataclass
class CellRecord:
    """One cell to store: its name, annotations, source files and engine outputs.

    ``metadata`` keys in :data:`CELL_FIELDS` fill the cell's columns, ``donor`` (plus
    ``donor_sex``, ``donor_age`` ...) its donor, everything else goes to ``cells.metadata``.
    ``content_key`` identifies the inputs and engine settings; the ingest skips a cell whose stored
    key is equal.
    """

    name: str
    metadata: dict[str, Any] = field(default_factory=dict)
    files: list[FileRecord] = field(default_factory=list)
    outputs: list[EngineOutput] = field(default_factory=list)
    content_key: str | None = None


@dataclass
class CellFailure:
    """A cell that could not be computed: which file, at which stage, and why."""

    name: str
    path: str
    stage: str
    error_type: str
    reason: str
