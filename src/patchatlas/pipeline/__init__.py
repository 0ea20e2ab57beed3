"""The ingest pipeline: engines (registry), tasks, executors (local pool, Dask), resumable ingest.

The pipeline composes engines and hands their outputs to :mod:`patchatlas.atlas`; it holds no
science and never touches the database directly.
"""

from patchatlas.pipeline.engines import ENGINES, Engine, engine_for, register_engine
from patchatlas.pipeline.ingest import IngestSummary, Task, compute_cell, discover, ingest
from patchatlas.pipeline.synphys import synphys_engine  # noqa: F401  (registers the engine)

__all__ = [
    "ENGINES",
    "Engine",
    "IngestSummary",
    "Task",
    "compute_cell",
    "discover",
    "engine_for",
    "ingest",
    "register_engine",
]
