"""Server-rendered pages. Each page is a Jinja2 template plus a small script that draws from the
REST API with the vendored uPlot (no CDN)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from patchatlas._version import __version__
from patchatlas.atlas import portal as Q
from patchatlas.web.api import cell_name, portal
from patchatlas.web.service import AVAILABILITY, FACETS

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["tojson_attr"] = lambda v: json.dumps(v)

NAV = [
    ("/", "Cell search"),
    ("/types", "Expression → physiology"),
    ("/celltypes", "Cell types"),
    ("/models", "Models"),
    ("/connectivity", "Connectivity"),
    ("/features", "Feature registry"),
    ("/docs", "API"),
]


def _render(request: Request, name: str, **ctx: Any) -> Response:
    settings = request.app.state.settings
    snap = request.app.state.portal.snapshot()
    base = {
        "title": settings.title,
        "nav": NAV,
        "version": __version__,
        "atlas_url": settings.atlas_url,
        "n_cells": len(snap.cells),
        "writable": settings.token is not None,
    }
    resp = templates.TemplateResponse(request, name, {**base, **ctx})
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request) -> Response:
    """Cell Feature Search; says so when ingests failed or the atlas holds no cells."""
    n_failed = Q.ingest_failures(portal(request).atlas)["n_failed"]
    return _render(
        request, "search.html", facets=FACETS, availability=AVAILABILITY, n_failed=n_failed
    )


@router.get("/cells/{cell_id:path}/morphology", response_class=HTMLResponse)
def morphology_page(request: Request, cell_id: str) -> Response:
    """Morphology viewer of one cell."""
    name = cell_name(portal(request), cell_id)
    return _render(request, "morphology.html", cell_id=name)


@router.get("/cells/{cell_id:path}", response_class=HTMLResponse)
def cell_page(request: Request, cell_id: str) -> Response:
    """Electrophysiology page of one cell."""
    p = portal(request)
    name = cell_name(p, cell_id)
    info = p.atlas.cell(name)
    meta = {
        k: info.get(k)
        for k in (
            "dataset",
            "species",
            "region",
            "layer",
            "depth_um",
            "cre_line",
            "reporter",
            "dendrite_type",
            "subclass",
            "t_type",
            "t_type_confidence",
        )
    }
    donor = info.get("donor") or {}
    if donor:
        meta["donor"] = donor.get("name")
    source = (info.get("metadata") or {}).get("source")  # fetched cells: Allen / DANDI
    if isinstance(source, dict) and source.get("label"):
        meta["source"] = source["label"]
    return _render(
        request,
        "cell.html",
        cell_id=name,
        meta=meta,
        counts={k: v for k, v in info.items() if k.startswith("n_")},
    )


@router.get("/types", response_class=HTMLResponse)
def types_page(request: Request) -> Response:
    """Expression → physiology."""
    return _render(request, "types.html")


@router.get("/celltypes", response_class=HTMLResponse)
def celltypes_page(request: Request) -> Response:
    """Cell types: typing runs, per-type size, features and confusion against t-types."""
    return _render(request, "celltypes.html")


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request) -> Response:
    """Fitted models."""
    return _render(request, "models.html")


@router.get("/connectivity", response_class=HTMLResponse)
def connectivity_page(request: Request) -> Response:
    """Connectivity matrix and probability vs distance."""
    return _render(request, "connectivity.html")


@router.get("/features", response_class=HTMLResponse)
def features_page(request: Request) -> Response:
    """The feature registry."""
    return _render(request, "features.html")
