"""Multipatch experiments in MIES-style NWB 2 files (Allen Synaptic Physiology raw data).

MIES writes one series per headstage per sweep (read here with h5py; pynwb is not needed):

* ``/acquisition/data_<sweep:05d>_AD<k>`` — the recorded trace of a headstage, a
  ``CurrentClampSeries`` (potential) or ``VoltageClampSeries`` (current): ``data`` with its
  ``conversion`` and ``unit`` attributes, ``starting_time`` (s since the session start) with its
  sampling ``rate``, an ``electrode`` link to ``/general/intracellular_ephys/electrode_<hs>``
  and (NWB ≥ 2.2) a ``sweep_number`` attribute;
* ``/stimulus/presentation/data_<sweep:05d>_DA<k>`` — the command of the same headstage and
  sweep (current in current clamp, potential in voltage clamp).

The headstage number (the digits of the electrode's name) is the electrode id. Which headstage
holds which cell, and the cells' positions and classes, are not in the NWB file: give them with
``cells=`` or in a JSON sidecar ``<stem>.cells.json``::

    {"name": "...", "species": "mouse",
     "cells": {"1": {"cell_class": "pv", "position_um": [x, y, z], "layer": "2/3", ...}},
     "calls": [{"pre": "1", "post": "2", "connected": true, "synapse_type": "ex"}]}

Without either every headstage that recorded becomes a cell; with them, headstages not listed
are *headstages without a cell* (kept and reported by the analysis). Traces are converted to mV
and pA; each sweep's ``start_time`` is its series' ``starting_time``. Pulse trains are not read
from the file: :func:`patchatlas.synphys.analyze` finds them in the commands.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from patchatlas.core.multipatch import (
    ConnectionCall,
    MultipatchCell,
    MultipatchExperiment,
    SyncSweep,
)
from patchatlas.core.recording import ClampMode, Sweep
from patchatlas.errors import CorruptFileError, DataError, ReadError

__all__ = ["read_mies_multipatch"]

_SERIES = re.compile(r"data_(\d+)_(AD|DA)(\d+)")
_SCALE = {"volts": 1e3, "v": 1e3, "mv": 1.0, "amperes": 1e12, "a": 1e12, "pa": 1.0}


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.size == 1:
        first: Any = v.ravel()[0]
        return str(_text(first))
    return str(v)


def _headstage(group: Any, name: str, m: re.Match[str] | None) -> str:
    try:
        link = group.get("electrode")
        if link is not None:
            digits = re.findall(r"\d+", str(link.name).rsplit("/", 1)[-1])
            if digits:
                return str(digits[-1])
    except (KeyError, ValueError, RuntimeError):
        pass
    if m is not None:
        return m.group(3)
    raise CorruptFileError(None, f"series {name} names no electrode")


def _series(group: Any, name: str, path: Path) -> tuple[int, str, str, float, float, Any]:
    """(sweep, headstage, neurodata_type, start time, rate, data in mV/pA)."""
    m = _SERIES.fullmatch(name)
    kind = _text(group.attrs.get("neurodata_type", ""))
    if "sweep_number" in group.attrs:
        sweep = int(np.asarray(group.attrs["sweep_number"]).ravel()[0])
    elif "sweep_number" in group:
        sweep = int(np.asarray(group["sweep_number"][()]).ravel()[0])
    elif m is not None:
        sweep = int(m.group(1))
    else:
        raise CorruptFileError(path, f"series {name} has no sweep number")
    try:
        hs = _headstage(group, name, m)
    except CorruptFileError as exc:
        raise CorruptFileError(path, str(exc).split(": ", 1)[-1]) from exc
    if "data" not in group or "starting_time" not in group:
        raise CorruptFileError(path, f"series {name} lacks data or starting_time")
    ds = group["data"]
    unit = _text(ds.attrs.get("unit", "")).lower()
    if unit not in _SCALE:
        raise CorruptFileError(path, f"series {name}: unknown unit {unit!r}")
    conv = float(ds.attrs.get("conversion", 1.0))
    data = np.asarray(ds[()], dtype=np.float64) * conv * _SCALE[unit]
    st = group["starting_time"]
    rate = float(st.attrs.get("rate", math.nan))
    if not (math.isfinite(rate) and rate > 0):
        raise CorruptFileError(path, f"series {name}: no sampling rate")
    return sweep, hs, kind, float(st[()]), rate, data


def _load_sidecar(path: Path) -> dict[str, Any]:
    side = path.with_suffix(".cells.json")
    if not side.is_file():
        return {}
    try:
        out: dict[str, Any] = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReadError(side, f"the cells sidecar is not valid JSON ({exc})") from exc
    return out


def _cell(el: str, spec: Mapping[str, Any] | MultipatchCell) -> MultipatchCell:
    if isinstance(spec, MultipatchCell):
        return spec
    pos = spec.get("position_um")
    pia = spec.get("pia_direction")
    return MultipatchCell(
        el,
        cell_id=str(spec.get("cell_id", "")),
        position_um=tuple(float(x) for x in pos) if pos is not None else None,  # type: ignore[arg-type]
        pia_direction=tuple(float(x) for x in pia) if pia is not None else None,  # type: ignore[arg-type]
        layer=spec.get("layer"),
        cell_class=spec.get("cell_class"),
        cre_line=spec.get("cre_line"),
        t_type=spec.get("t_type"),
        depth_um=float(spec.get("depth_um", math.nan)),
        metadata={k: v for k, v in spec.items() if k not in MultipatchCell.__dataclass_fields__},
    )


def read_mies_multipatch(
    path: str | os.PathLike[str],
    *,
    cells: Mapping[str, Mapping[str, Any] | MultipatchCell] | None = None,
    name: str | None = None,
    species: str | None = None,
) -> MultipatchExperiment:
    """Read a MIES-style multipatch NWB 2 file.

    Parameters
    ----------
    path
        The ``.nwb`` file.
    cells
        Headstage id → cell annotations (``cell_class``, ``position_um``, ``layer`` ...) or a
        :class:`~patchatlas.core.MultipatchCell`; default: the sidecar ``<stem>.cells.json``,
        or every headstage that recorded.
    name
        Experiment name (default: the sidecar's, or the file stem).
    species
        Species (default: the sidecar's).

    Returns
    -------
    MultipatchExperiment
        One synchronous sweep per sweep number (traces in mV and pA, commands attached).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing file, not HDF5, or no patch-clamp series.
    patchatlas.errors.CorruptFileError
        A series without data, rate, sweep number or a known unit.
    """
    import h5py

    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "no such file", "check the path")
    side = _load_sidecar(p)
    try:
        h5 = h5py.File(p, "r")
    except OSError as exc:
        raise ReadError(p, f"not an HDF5/NWB file ({exc})") from exc
    with h5:
        acq = h5.get("acquisition")
        if acq is None or not len(acq):
            raise ReadError(p, "has no /acquisition series", "is this a MIES multipatch NWB?")
        responses: dict[tuple[int, str], tuple[str, float, float, Any]] = {}
        for key in sorted(acq):
            g = acq[key]
            if not hasattr(g, "attrs") or "Clamp" not in _text(g.attrs.get("neurodata_type", "")):
                continue
            sweep, hs, kind, start, rate, data = _series(g, key, p)
            responses.setdefault((sweep, hs), (kind, start, rate, data))
        if not responses:
            raise ReadError(p, "holds no CurrentClampSeries or VoltageClampSeries")
        commands: dict[tuple[int, str], Any] = {}
        pres = h5.get("stimulus/presentation")
        for key in sorted(pres or {}):
            g = pres[key]
            if not hasattr(g, "attrs") or "Stimulus" not in _text(
                g.attrs.get("neurodata_type", "")
            ):
                continue
            sweep, hs, _, _, _, data = _series(g, key, p)
            commands.setdefault((sweep, hs), data)
        session = _text(h5["session_description"][()]) if "session_description" in h5 else ""
    spec = cells if cells is not None else side.get("cells")
    heads = sorted({hs for _, hs in responses}, key=lambda s: (len(s), s))
    cell_list = (
        [_cell(str(el), sp) for el, sp in spec.items()]
        if spec is not None
        else [MultipatchCell(hs) for hs in heads]
    )
    sweeps = []
    for number in sorted({s for s, _ in responses}):
        traces: dict[str, Sweep] = {}
        start = math.nan
        for (s, hs), (kind, st, rate, data) in responses.items():
            if s != number:
                continue
            cmd = commands.get((s, hs))
            if cmd is not None and cmd.shape != data.shape:
                cmd = None
            if math.isnan(start):
                start = st
            vc = kind.startswith("VoltageClamp")
            try:
                traces[hs] = Sweep(
                    v=cmd if vc and cmd is not None else (data if not vc else np.zeros_like(data)),
                    i=data if vc else cmd,
                    sampling_rate=rate,
                    number=number,
                    clamp_mode=ClampMode.VOLTAGE_CLAMP if vc else ClampMode.CURRENT_CLAMP,
                    metadata={"series": f"data_{s:05d}", "headstage": hs, "starting_time": st},
                )
            except DataError as exc:
                raise CorruptFileError(p, f"sweep {number}, headstage {hs}: {exc}") from exc
        sweeps.append(SyncSweep(number, traces, start_time=start))
    calls = [
        ConnectionCall(
            str(c["pre"]),
            str(c["post"]),
            c.get("connected"),
            c.get("synapse_type"),
            c.get("electrical"),
            str(c.get("source", "manual")),
        )
        for c in side.get("calls", [])
    ]
    try:
        return MultipatchExperiment(
            name or side.get("name") or p.stem,
            cell_list,
            sweeps,
            species=species or side.get("species"),
            metadata={"layout": "mies-nwb2", "session_description": session},
            source=str(p),
            calls=calls,
        )
    except DataError as exc:
        raise CorruptFileError(p, str(exc)) from exc
