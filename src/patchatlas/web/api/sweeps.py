"""Sweeps and traces: a cell's sweep table, one sweep's trace with its stored spikes, the
first-AP phase plot, the f-I curve and the NWB download.

Nothing here detects spikes or computes features: spike markers are the spikes the ingest stored
(:meth:`patchatlas.atlas.Atlas.spikes`, the spikes behind the sweep features), the f-I curve is
:meth:`patchatlas.atlas.Atlas.fi_curve` (long squares, stored ``avg_rate``), and the phase plot is
:func:`patchatlas.ephys.phase_plane` on the trace at the stored first spike.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from patchatlas.errors import PatchAtlasError
from patchatlas.web import traces
from patchatlas.web.api._common import (
    Limit,
    Offset,
    PageOut,
    Portal,
    cell_name,
    json_response,
    load_sweep,
    page,
    sweep_row,
)
from patchatlas.web.service import PortalData, records

__all__ = ["SPIKE_COLUMNS", "first_spike", "router", "stored_spikes"]

router = APIRouter()

#: the stored spike columns sent with a sweep (those the atlas holds)
SPIKE_COLUMNS = ("spike_index", "in_window", "threshold_t", "threshold_v", "peak_t", "peak_v")
#: where the spike markers and the f-I points come from, as the answers say it
STORED = "stored analysis (patchatlas.ephys.analyze)"
NO_FEATURES = "no stored features"


def stored_spikes(p: PortalData, name: str, row: pd.Series) -> pd.DataFrame:
    """The spikes the atlas stores for one sweep (matched by recording and sweep number).

    Parameters
    ----------
    p
        The portal.
    name
        Cell name.
    row
        The sweep's row of the cell's sweep table (``recording_id``, ``number``).

    Returns
    -------
    pandas.DataFrame
        One row per stored spike, by spike index: :data:`SPIKE_COLUMNS` that the atlas holds.
    """
    df = p.atlas.spikes(
        name, recording_id=int(row["recording_id"]), sweep_number=int(row["number"])
    )
    return df[[c for c in SPIKE_COLUMNS if c in df.columns]].reset_index(drop=True)


def first_spike(spikes: pd.DataFrame) -> pd.Series | None:
    """The first spike in the stimulus window (the earliest threshold) of a sweep's stored
    spikes; where no spike carries the flag (an atlas written before it existed), the first
    spike. None without one.

    Parameters
    ----------
    spikes
        :func:`stored_spikes` of one sweep.

    Returns
    -------
    pandas.Series or None
    """
    if spikes.empty or "threshold_t" not in spikes.columns:
        return None
    flag = spikes["in_window"].astype("boolean")
    chosen = spikes[flag.fillna(False).to_numpy(dtype=bool)] if flag.notna().any() else spikes
    chosen = chosen[np.isfinite(chosen["threshold_t"].to_numpy(dtype=float))]
    if chosen.empty:
        return None
    first: pd.Series = chosen.sort_values("threshold_t", kind="stable").iloc[0]
    return first


def _stored_n_spikes(p: PortalData, name: str, row: pd.Series) -> float | None:
    sw = p.atlas.ephys_features("sweep", wide=False, cells=[name], names=["n_spikes"])
    hit = sw[
        (sw["recording_id"] == int(row["recording_id"]))
        & (sw["sweep_number"] == int(row["number"]))
    ]
    return None if hit.empty else float(hit["value"].iloc[0])


@router.get("/cells/{cell_id:path}/sweeps/{index}/phase", tags=["sweeps"])
def sweep_phase(request: Request, p: Portal, cell_id: str, index: int) -> Response:
    """First-AP phase plot of a sweep: dV/dt (V/s, = mV/ms) against V (mV) around the first
    stored spike in the stimulus window (:func:`patchatlas.ephys.phase_plane` on the trace at
    the stored threshold time); ``phase`` is ``null`` when the sweep has no stored spike."""
    from patchatlas.ephys import phase_plane

    name, row = sweep_row(p, cell_id, index)
    spike = first_spike(stored_spikes(p, name, row))
    phase: dict[str, Any] | None = None
    if spike is not None:
        sweep = load_sweep(p, name, index, row)
        threshold_t = float(spike["threshold_t"])
        v, dvdt = phase_plane(np.asarray(sweep.t, float), np.asarray(sweep.v, float), threshold_t)
        phase = {
            "spike_index": int(spike["spike_index"]),
            "threshold_t": threshold_t,
            "v": traces.clean(v, 3),
            "dvdt": traces.clean(dvdt, 3),
        }
    return json_response(
        request,
        {"index": index, "units": {"v": "mV", "dvdt": "V/s"}, "source": STORED, "phase": phase},
        max_age=3600,
    )


@router.get("/cells/{cell_id:path}/sweeps/{index}", tags=["sweeps"])
def sweep_trace(
    request: Request,
    p: Portal,
    cell_id: str,
    index: int,
    points: Annotated[int, Query(ge=10, le=200_000, description="about this many points")] = 2000,
) -> Response:
    """One sweep's response and stimulus, min/max-downsampled to about ``points`` samples, with
    the spikes the atlas stores for it (``spikes``: index, ``in_window``, threshold and peak
    time (s) and voltage (mV); ``spike_times_s``: their threshold times; ``n_spikes``: the
    stored in-window count, null when the sweep has no stored features). ``index`` is the row
    of the sweep in ``/sweeps``."""
    name, row = sweep_row(p, cell_id, index)
    payload = traces.sweep_payload(load_sweep(p, name, index, row), points=points)
    spikes = stored_spikes(p, name, row)
    n_spikes = _stored_n_spikes(p, name, row)
    payload.update(
        index=index,
        recording_id=int(row["recording_id"]),
        spikes=records(spikes),
        spike_times_s=traces.clean(spikes.get("threshold_t", pd.Series(dtype=float)), 6),
        n_spikes=n_spikes,
        spike_source=STORED if n_spikes is not None or len(spikes) else NO_FEATURES,
    )
    return json_response(request, payload, max_age=3600)


@router.get("/cells/{cell_id:path}/sweeps", tags=["sweeps"], response_model=PageOut)
def sweep_table(
    request: Request, p: Portal, cell_id: str, offset: Offset = 0, limit: Limit = 1000
) -> Response:
    """A cell's sweeps (metadata; ``index`` addresses one in ``/sweeps/{index}``)."""
    name = cell_name(p, cell_id)
    table = p.atlas.sweeps(name).table.reset_index(drop=True)
    table.insert(0, "index", np.arange(len(table)))
    table["path"] = table["path"].map(lambda s: None if s is None else Path(str(s)).name)
    return json_response(
        request, page(len(table), offset, limit, records(table.iloc[offset : offset + limit]))
    )


@router.get("/cells/{cell_id:path}/fi", tags=["sweeps"])
def fi_curve(request: Request, p: Portal, cell_id: str) -> Response:
    """f-I curve: the stored firing rate (``avg_rate``, Hz) of each long-square sweep against
    its amplitude (pA), from :meth:`patchatlas.atlas.Atlas.fi_curve`. Without stored features
    ``points`` is empty and ``message`` says why."""
    name = cell_name(p, cell_id)
    fi = p.atlas.fi_curve(name)
    fi = fi[np.isfinite(fi["amplitude_pa"].astype(float)) & np.isfinite(fi["avg_rate"])]
    points = records(
        fi.rename(columns={"avg_rate": "rate_hz"})[
            ["amplitude_pa", "rate_hz", "recording_id", "sweep_number"]
        ]
    )
    message = None
    if not points:
        rates = p.atlas.ephys_features("sweep", wide=False, cells=[name], names=["avg_rate"])
        message = NO_FEATURES if rates.empty else "no long-square sweep with a stored firing rate"
    return json_response(
        request,
        {
            "cell_id": name,
            "source": STORED if points else "none",
            "message": message,
            "points": points,
        },
    )


def _nwb_writer() -> Any:
    import patchatlas.io as pio

    return getattr(pio, "write_nwb", None)


def _rmtree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


@router.get(
    "/cells/{cell_id:path}/nwb",
    tags=["sweeps"],
    responses={200: {"content": {"application/x-nwb": {}}}, 501: {}},
)
def cell_nwb(p: Portal, cell_id: str, recording: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Full-resolution NWB 2 file of one of the cell's recordings (needs
    ``patchatlas.io.write_nwb`` and pynwb)."""
    name = cell_name(p, cell_id)
    writer = _nwb_writer()
    if writer is None:
        raise HTTPException(
            501,
            "NWB download needs patchatlas.io.write_nwb, which this patchatlas does not have yet; "
            "use the sweep JSON (/sweeps/{index}?points=...) or the source file meanwhile",
        )
    table = p.atlas.sweeps(name).table
    paths = list(dict.fromkeys(str(x) for x in table["path"].dropna()))
    if recording >= len(paths):
        raise HTTPException(404, f"cell {name!r} has {len(paths)} recordings with source files")
    rec = p.recording(paths[recording])
    tmpdir = tempfile.mkdtemp(prefix="patchatlas-nwb-")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    try:
        out = Path(writer(rec, Path(tmpdir) / f"{safe}_{recording}.nwb", overwrite=True))
    except (PatchAtlasError, OSError) as exc:
        _rmtree(tmpdir)
        raise HTTPException(500, f"writing NWB for cell {name!r} failed: {exc}") from exc
    except BaseException:
        _rmtree(tmpdir)
        raise
    return FileResponse(
        out,
        media_type="application/x-nwb",
        filename=out.name,
        background=BackgroundTask(_rmtree, tmpdir),
    )
