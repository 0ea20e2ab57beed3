"""Morphology: a cell's reconstruction (features, validation issues, layer layout) and its SWC
download."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from patchatlas.atlas import AtlasError
from patchatlas.atlas import portal as Q
from patchatlas.web.api._common import Portal, cell_name, json_response
from patchatlas.web.service import PortalData, records

__all__ = ["layer_layout", "router"]

router = APIRouter()


def _morph(p: PortalData, cell_id: str) -> Any:
    name = cell_name(p, cell_id)
    try:
        return p.atlas.morphology(name)
    except AtlasError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get(
    "/cells/{cell_id:path}/morphology.swc",
    tags=["morphology"],
    responses={200: {"content": {"text/plain": {}}}},
)
def cell_swc(p: Portal, cell_id: str) -> Response:
    """Download the cell's reconstruction as SWC (the stored source file)."""
    m = _morph(p, cell_id)
    src = Path(m.source) if m.source else None
    if src is None or src.suffix.lower() != ".swc":
        raise HTTPException(404, f"cell {m.cell_id!r}: the reconstruction has no SWC source file")
    if not src.is_file():
        raise HTTPException(404, f"cell {m.cell_id!r}: the SWC file {src.name} is missing")
    return FileResponse(
        src,
        media_type="text/plain",
        filename=src.name,
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/cells/{cell_id:path}/morphology", tags=["morphology"])
def cell_morphology(request: Request, p: Portal, cell_id: str) -> Response:
    """The cell's reconstruction: features, validation issues and whether an SWC is available
    (rendered by the morphology viewer page)."""
    m = _morph(p, cell_id)
    src = Path(m.source) if m.source else None
    has_swc = bool(src and src.suffix.lower() == ".swc" and src.is_file())
    meta = Q.morphology_metadata(p.atlas, m.cell_id)
    aligned, layers = layer_layout(meta)
    try:
        pia_y = float(meta.get("pia_y", 0.0))
    except (TypeError, ValueError):
        pia_y = 0.0
    return json_response(
        request,
        {
            "cell_id": m.cell_id,
            "features": dict(m.features.items()),
            "issues": records(m.issues),
            "swc_url": f"/api/cells/{m.cell_id}/morphology.swc" if has_swc else None,
            "layer_aligned": aligned,
            "layer_boundaries": layers,
            "pia_y": pia_y if (aligned or layers) else None,
        },
    )


def layer_layout(meta: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
    """Whether a stored reconstruction is layer-aligned, and the tops of its layers.

    A layer-aligned reconstruction has pia at y = 0 and depth = −y. The layer tops are the
    stored ``layer_depths``, else for an aligned one the reference depths it was aligned to
    (:data:`patchatlas.morphology.alignment.MOUSE_LAYER_DEPTHS` unless the metadata names others).

    Parameters
    ----------
    meta
        The reconstruction's stored metadata.

    Returns
    -------
    aligned : bool
    layers : list of dict
        ``layer`` and ``top_um`` (µm below pia), from the top.
    """
    aligned = bool(meta.get("layer_aligned"))
    depths = meta.get("layer_depths") or meta.get("reference_depths")
    if not isinstance(depths, dict) and aligned:
        try:
            from patchatlas.morphology.alignment import MOUSE_LAYER_DEPTHS
        except ImportError:  # the morphology extra is not installed
            depths = None
        else:
            depths = {"1": 0.0, **MOUSE_LAYER_DEPTHS}
    layers: list[dict[str, Any]] = []
    if isinstance(depths, dict):
        for name, top in depths.items():
            try:
                val = float(top)
            except (TypeError, ValueError):
                continue
            if math.isfinite(val):
                layers.append({"layer": str(name), "top_um": val})
        layers.sort(key=lambda x: x["top_um"])
    return aligned, layers
