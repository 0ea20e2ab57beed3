"""Synaptic connectivity: tested pairs and their connection calls, the class × class connection
probability and probability against distance.

The statistics (probabilities, binomial intervals, bins) are computed by
:mod:`patchatlas.synphys.connectivity`; this router reads the pairs from the atlas, adds the
portal's t-type family, and serialises.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from patchatlas.atlas import portal as Q
from patchatlas.synphys import connectivity as C
from patchatlas.web.api._common import Limit, Offset, PageOut, Portal, json_response, page
from patchatlas.web.service import PortalData, records
from patchatlas.web.service import t_type_family as family_of

__all__ = ["INTERVAL", "router"]

router = APIRouter()

#: the interval the answers carry, as they name it
INTERVAL = "Clopper-Pearson 95 %"


def _connections(p: PortalData) -> pd.DataFrame:
    snap = p.snapshot()
    df: pd.DataFrame = snap.memo("connections", lambda: Q.connections(p.atlas))
    return df


@router.get("/pairs", tags=["connectivity"], response_model=PageOut)
def list_pairs(
    request: Request,
    p: Portal,
    connected: bool | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Response:
    """Tested pre → post pairs with their connection calls, paged."""
    df = _connections(p)
    if connected is not None:
        df = df[df["connected"].astype("boolean").fillna(False) == connected]
    return json_response(
        request, page(len(df), offset, limit, records(df.iloc[offset : offset + limit]))
    )


@router.get("/pairs/{pair_id}", tags=["connectivity"])
def one_pair(request: Request, p: Portal, pair_id: int) -> Response:
    """One pair, its connection call and its synapse measurements."""
    df = _connections(p)
    row = df[df["pair_id"] == pair_id]
    if row.empty:
        raise HTTPException(404, f"no pair {pair_id} in the atlas; list them at /api/pairs")
    out = records(row)[0]
    out["measurements"] = records(Q.synapse_measurements(p.atlas, pair_id))
    return json_response(request, out)


@router.get("/connectivity", tags=["connectivity"])
def connectivity_matrix(
    request: Request,
    p: Portal,
    by: Annotated[str, Query(pattern="^(t_type_family|subclass|t_type|layer)$")] = "t_type_family",
) -> Response:
    """Class × class connection probability: tested and connected pair counts, probability and
    Clopper-Pearson 95 % interval per (pre class, post class)
    (:func:`patchatlas.synphys.connectivity_matrix`)."""
    df = _connections(p)
    if by == "t_type_family":
        df = df.assign(
            pre_t_type_family=family_of(df["pre_subclass"], df["pre_t_type"]),
            post_t_type_family=family_of(df["post_subclass"], df["post_t_type"]),
        )
    table = C.connectivity_matrix(df, by=by)
    classes = list(dict.fromkeys(table["pre"]))
    return json_response(
        request, {"by": by, "interval": INTERVAL, "classes": classes, "matrix": records(table)}
    )


@router.get("/connectivity/distance", tags=["connectivity"])
def connectivity_distance(
    request: Request,
    p: Portal,
    bin_um: Annotated[float, Query(gt=0, le=10_000)] = 25.0,
) -> Response:
    """Connection probability against intersomatic distance (bins of ``bin_um`` µm) with
    Clopper-Pearson 95 % intervals (:func:`patchatlas.synphys.connectivity_by_distance`)."""
    table = C.connectivity_by_distance(_connections(p), bin_um=bin_um)
    return json_response(request, {"bin_um": bin_um, "interval": INTERVAL, "bins": records(table)})
