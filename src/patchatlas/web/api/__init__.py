"""The REST API (``/api/...``): read-only endpoints, plus token-protected writes.

One router per seam, combined into :data:`router` (mounted by
:func:`patchatlas.web.create_app`):

=================  =================================================================
module             endpoints
=================  =================================================================
``cells``          ``/atlas``, ``/cells``, ``/cells/{id}``, ``/cells/{id}/qc``, ``/search``
``sweeps``         ``/cells/{id}/sweeps[/{index}[/phase]]``, ``/cells/{id}/fi``, ``…/nwb``
``features``       ``/cells/{id}/features``, ``/features``, ``/features/registry``
``morphology``     ``/cells/{id}/morphology``, ``/cells/{id}/morphology.swc``
``patchseq``       ``/cells/{id}/transcriptome``, ``/cells/{id}/context``
``models``         ``/cells/{id}/models``, ``/models``, ``/types``, ``/types/physiology``
``biophys``        ``/models/biophysical``, ``/cells/{id}/models/biophysical``
``crossmodal``     ``/crossmodal``, ``/crossmodal/predictions``
``celltypes``      ``/celltypes[/types|/type]``, ``/cells/{id}/celltypes``
``connectivity``   ``/pairs``, ``/pairs/{id}``, ``/connectivity``, ``/connectivity/distance``
``status``         ``/datasets``, ``/ingest/runs``, ``/ingest/errors``, ``/provenance``
``writes``         ``/annotations/{id}``, ``/uploads``, ``/uploads/batch``, ``/uploads/jobs/{id}``
=================  =================================================================

Shared helpers live in the private seam ``_common``. Nothing here computes science: spikes,
f-I points and features are the stored analysis results, the phase plot is
:func:`patchatlas.ephys.phase_plane`, connectivity statistics are
:mod:`patchatlas.synphys.connectivity`.
"""

from __future__ import annotations

from fastapi import APIRouter

from patchatlas.web.api import (
    biophys,
    cells,
    celltypes,
    connectivity,
    crossmodal,
    features,
    models,
    morphology,
    patchseq,
    status,
    sweeps,
    writes,
)
from patchatlas.web.api._common import ERRORS, cell_name, portal

__all__ = ["cell_name", "portal", "router"]

router = APIRouter(prefix="/api", responses=ERRORS)
# ``cells`` goes last: its ``/cells/{cell_id:path}`` would answer for every ``/cells/.../x``
for _sub in (
    sweeps,
    features,
    morphology,
    patchseq,
    biophys,
    models,
    crossmodal,
    celltypes,
    connectivity,
    status,
    writes,
    cells,
):
    router.include_router(_sub.router)
del _sub
