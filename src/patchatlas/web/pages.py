"""Server-rendered pages. Each page is a Jinja2 template plus a small script that draws from the
REST API with the vendored uPlot (no CDN)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from patchatlas._version import __version__
from patchatlas.atlas import portal as Q
from patchatlas.web.api import cell_name, portal
from patchatlas.web.service import AVAILABILITY, FACETS

__all__ = ["CELL_FIELDS", "NAV", "TYPE_LEVELS", "render_error", "router", "templates"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["tojson_attr"] = lambda v: json.dumps(v)

NAV = [
    ("/", "Cell search"),
    ("/types/index", "Cell types"),
    ("/compare", "Compare"),
    ("/types", "Expression → physiology"),
    ("/celltypes", "Cell types"),
    ("/models", "Models"),
    ("/connectivity", "Connectivity"),
    ("/features", "Feature registry"),
    ("/status", "Status"),
    ("/docs", "API"),
]
#: the type levels a type page exists for (cell table column → label)
TYPE_LEVELS: dict[str, str] = {
    "t_type": "t-type",
    "subclass": "subclass",
    "t_type_family": "t-type family",
}


def render_error(request: Request, status: int, heading: str, message: str) -> Response:
    """The styled error page (404, 500 …) with the portal's header and navigation.

    Parameters
    ----------
    request
        The failed request.
    status
        HTTP status.
    heading
        Page title (``"Not found"``).
    message
        What went wrong, already fit for users.

    Returns
    -------
    fastapi.responses.Response
    """
    settings = request.app.state.settings
    portal_data = request.app.state.portal
    snap = portal_data.fresh_snapshot()
    base = {
        "title": settings.title,
        "nav": NAV,
        "version": __version__,
        "atlas_url": "",
        "n_cells": len(snap.cells) if snap is not None else "…",
        "writable": settings.token is not None,
        "status": status,
        "heading": heading,
        "message": message,
    }
    resp = templates.TemplateResponse(request, "error.html", base, status_code=status)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


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
    """Morphology viewer of one cell: 3-D (vendored three.js) with the 2-D projections as the
    fallback."""
    name = cell_name(portal(request), cell_id)
    return _render(request, "morphology.html", cell_id=name)


#: the annotations listed on a cell page, in order (field → label)
CELL_FIELDS: dict[str, str] = {
    "species": "Species",
    "region": "Region",
    "layer": "Layer",
    "depth_um": "Soma depth (µm)",
    "cre_line": "Cre line",
    "reporter": "Reporter",
    "dendrite_type": "Dendrite type",
    "t_type_family": "t-type family",
    "subclass": "Subclass",
    "t_type": "t-type",
    "t_type_confidence": "t-type confidence",
    "donor": "Donor",
    "source": "Source record",
}


@router.get("/cells/{cell_id:path}", response_class=HTMLResponse)
def cell_page(request: Request, cell_id: str) -> Response:
    """One cell: annotations with their origin, datasets with citation and licence, QC, the
    transcriptome against its type, its features on its type's distributions, a morphology
    thumbnail, the sweep browser, f-I and phase plot, and its features with units."""
    p = portal(request)
    name = cell_name(p, cell_id)
    info = p.atlas.cell(name)
    snap = p.snapshot()
    row = snap.cells.loc[name] if name in snap.cells.index else None
    meta: dict[str, Any] = {}
    for k in CELL_FIELDS:
        v = row[k] if row is not None and k in row.index else info.get(k)
        meta[k] = None if v is None or (not isinstance(v, str) and pd.isna(v)) else v
    donor = info.get("donor") or {}
    meta["donor"] = donor.get("name") if donor else None
    source = (info.get("metadata") or {}).get("source")  # fetched cells: Allen / DANDI
    meta["source"] = source["label"] if isinstance(source, dict) and source.get("label") else None
    avail = {k: bool(row[k]) if row is not None else False for k in AVAILABILITY}
    return _render(
        request,
        "cell.html",
        cell_id=name,
        meta=meta,
        labels=CELL_FIELDS,
        donor=donor,
        avail=avail,
        counts={k: v for k, v in info.items() if k.startswith("n_")},
    )


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request) -> Response:
    """Two to four cells side by side: features, sweeps at matched amplitudes, morphologies
    (``/compare?cells=A&cells=B``)."""
    p = portal(request)
    wanted = [c.strip() for c in request.query_params.getlist("cells") if c.strip()]
    wanted = list(dict.fromkeys(wanted))[:4]
    names = [cell_name(p, c) for c in wanted]
    return _render(request, "compare.html", cells=names)


@router.get("/types/index", response_class=HTMLResponse)
def types_index(request: Request) -> Response:
    """Every cell type of the atlas with its size, per level (t-type family, subclass,
    t-type)."""
    snap = portal(request).snapshot()
    groups: dict[str, list[tuple[str, int]]] = {}
    for level in ("t_type_family", "subclass", "t_type"):
        counts = snap.cells[level].astype("string").value_counts()
        groups[level] = [(str(k), int(v)) for k, v in counts.items()]
    return _render(request, "types_index.html", groups=groups, levels=TYPE_LEVELS)


@router.get("/types/{level}/{name:path}", response_class=HTMLResponse)
def type_page(request: Request, level: str, name: str) -> Response:
    """One cell type (a t-type, subclass or t-type family): counts per dataset, feature
    distributions, example cells."""
    if level not in TYPE_LEVELS:
        raise HTTPException(404, f"no type level {level!r}; use one of {', '.join(TYPE_LEVELS)}")
    snap = portal(request).snapshot()
    col = snap.cells[level].astype("string")
    members = snap.cells[(col == name).fillna(False).to_numpy(dtype=bool)]
    if members.empty:
        raise HTTPException(404, f"no cell of {TYPE_LEVELS[level]} {name!r} in this atlas")
    per_dataset: dict[str, int] = {}
    for ds in members["datasets"]:
        for d in ds or ["(no dataset)"]:
            per_dataset[d] = per_dataset.get(d, 0) + 1
    from patchatlas.core.vocabulary import class_of, family_of

    return _render(
        request,
        "type.html",
        level=level,
        level_label=TYPE_LEVELS[level],
        type_name=name,
        n_cells=len(members),
        per_dataset=sorted(per_dataset.items(), key=lambda kv: -kv[1]),
        family=family_of(name) if level != "t_type" else None,
        klass=class_of(name) if level != "t_type" else None,
        species=members["species"].astype("string").value_counts().to_dict(),
    )


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request) -> Response:
    """Ingest runs, failed files with their reasons, datasets and the provenance of every
    computed value."""
    return _render(request, "status.html")


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request) -> Response:
    """Upload recordings, reconstructions and a metadata CSV, and ingest them in the background
    (needs the portal's token)."""
    return _render(request, "upload.html")


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


@router.get("/pairs/{pair_id}", response_class=HTMLResponse)
def pair_page(request: Request, pair_id: int) -> Response:
    """One multipatch pair: averaged responses with fits, STP train and recovery."""
    return _render(request, "pair.html", pair_id=pair_id)


@router.get("/features", response_class=HTMLResponse)
def features_page(request: Request) -> Response:
    """The feature registry."""
    return _render(request, "features.html")
