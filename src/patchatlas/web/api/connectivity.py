"""Synaptic connectivity: tested pairs and their connection calls, the class × class connection
probability, probability against distance with its Gaussian fit, and one pair's traces (averaged
responses with their fits, the short-term plasticity train).

The statistics (probabilities, binomial intervals, bins, the profile-likelihood fit) are computed
by :mod:`patchatlas.synphys`; the stored analyses are read with :mod:`patchatlas.atlas.synphys`.
This router reads, adds the portal's t-type family, and serialises.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from patchatlas.atlas import portal as Q
from patchatlas.atlas import synphys as SA
from patchatlas.errors import AtlasError, PatchAtlasError
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


@router.get("/connectivity/profile", tags=["connectivity"])
def connectivity_profile(
    request: Request,
    p: Portal,
    by: Annotated[str, Query(pattern="^(t_type_family|subclass|t_type|layer)$")] = "subclass",
    sigma: Annotated[float | None, Query(gt=0, le=10_000)] = None,
) -> Response:
    """Gaussian fit of connection probability against distance, for all pairs and per
    (pre class, post class) with a connection: ``p_max`` with its profile-likelihood 95 %
    interval and ``sigma`` (µm; fitted unless given), and the fitted curve
    (:func:`patchatlas.synphys.fit_distance_profile`)."""
    df = _connections(p)
    if by == "t_type_family":
        df = df.assign(
            pre_t_type_family=family_of(df["pre_subclass"], df["pre_t_type"]),
            post_t_type_family=family_of(df["post_subclass"], df["post_t_type"]),
        )
    df = df[df["connected"].notna() & df["distance_um"].notna()]
    groups: list[tuple[str, str, pd.DataFrame]] = [("all", "all", df)]
    if len(df):
        keys = df[[f"pre_{by}", f"post_{by}"]].astype("string").fillna("(unknown)")
        for (a, b), g in df.groupby([keys[f"pre_{by}"], keys[f"post_{by}"]], sort=True):
            if g["connected"].astype(bool).any():
                groups.append((str(a), str(b), g))
    out = []
    for a, b, g in groups:
        if not len(g):
            continue
        d = g["distance_um"].to_numpy(float)
        y = g["connected"].astype(bool).to_numpy()
        try:
            fit = C.fit_distance_profile(d, y, sigma=sigma)
        except PatchAtlasError:
            continue
        x = [float(v) for v in range(0, int(max(d.max(), 1.0)) + 10, 10)]
        out.append(
            {
                "pre": a,
                "post": b,
                "n_tested": fit.n_tested,
                "n_connected": fit.n_connected,
                "p_max": fit.p_max,
                "ci_low": fit.ci_low,
                "ci_high": fit.ci_high,
                "sigma_um": fit.sigma,
                "sigma_fixed": fit.sigma_fixed,
                "curve": {"x": x, "y": [float(v) for v in fit.probability(x)]},
            }
        )
    return json_response(request, {"by": by, "interval": "profile likelihood 95 %",
                                   "profiles": out})  # fmt: skip


@router.get("/pairs/{pair_id}/traces", tags=["connectivity"])
def pair_traces(request: Request, p: Portal, pair_id: int) -> Response:
    """One pair's stored analysis: its row, measurements (registry names, units) and traces
    (``average:<category>`` and ``resting:<mode>``: time in s after the presynaptic spike, the
    averaged response, its fitted curve and parameters; ``stp``: mean amplitude per pulse and
    protocol with the Tsodyks-Markram prediction)."""
    if not 0 < pair_id < 2**63:
        raise HTTPException(404, f"no pair {pair_id} in the atlas; list them at /api/pairs")
    try:
        det = SA.pair_detail(p.atlas, pair_id)
    except AtlasError as exc:
        raise HTTPException(404, str(exc)) from None
    row = records(pd.DataFrame([det["pair"]]))[0]
    return json_response(
        request,
        {"pair": row, "measurements": records(det["measurements"]), "traces": det["traces"]},
    )
