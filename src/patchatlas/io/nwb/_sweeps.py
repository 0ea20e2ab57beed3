"""Recording assembly: sweep pairs to :class:`~patchatlas.core.Sweep` objects in library units.

The clamp mode comes from the series type (``CurrentClampSeries``, ``VoltageClampSeries`` ...;
the NWB 1 ``ancestry``), or from the units when the type says nothing. Values are converted to
mV and pA (``data x conversion + offset`` in the series' unit); in voltage clamp ``v`` is the
command and ``i`` the recorded current. Sweep times are on the sweep's own clock (``t0 = 0``);
the series' ``starting_time`` (session clock) is kept in ``Sweep.metadata``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from patchatlas.core.ontology import StimulusOntology, kind_from_name
from patchatlas.core.recording import (
    ClampMode,
    DeclaredStimulus,
    PlausibilityFinding,
    Recording,
    Stimulus,
    StimulusKind,
    Sweep,
)
from patchatlas.errors import CorruptFileError, ReadError
from patchatlas.io._common import uniform_time
from patchatlas.io.nwb._allen import pipeline_version
from patchatlas.io.nwb._series import Pair

log = logging.getLogger("patchatlas.io.nwb")

_VC = ("VoltageClamp",)
_CC = ("CurrentClamp", "IZeroClamp")


def _mode_of(pair: Pair) -> ClampMode | None:
    for tr in (pair.response, pair.stimulus):
        if tr is None:
            continue
        if any(k in tr.type_name for k in _VC):
            return ClampMode.VOLTAGE_CLAMP
        if any(k in tr.type_name for k in _CC):
            return ClampMode.CURRENT_CLAMP
    if pair.response is not None:
        q = pair.response.quantity_from_unit()
        if q == "voltage":
            return ClampMode.CURRENT_CLAMP
        if q == "current":
            return ClampMode.VOLTAGE_CLAMP
    if pair.stimulus is not None:
        q = pair.stimulus.quantity_from_unit()
        if q == "current":
            return ClampMode.CURRENT_CLAMP
        if q == "voltage":
            return ClampMode.VOLTAGE_CLAMP
    return None


def _clean_code(code: str) -> str:
    return re.sub(r"(_DA_\d+)?(\[\d+\])?$", "", code.strip())


def _make_sweep(pair: Pair, path: Path, onto: StimulusOntology | None) -> Sweep | None:
    resp, stim = pair.response, pair.stimulus
    if resp is None:
        log.warning("%s: sweep %d has a stimulus but no response; skipped", path, pair.number)
        return None
    mode = _mode_of(pair)
    if mode is None:
        log.warning("%s: sweep %d: clamp mode unknown; assuming current clamp", path, pair.number)
        mode = ClampMode.CURRENT_CLAMP
    meta = dict(pair.metadata)
    stored = pair.stored or {}
    t0 = float(stored.get("patchatlas_t0_s", 0.0) or 0.0)
    time = None
    starting_time = resp.starting_time
    if resp.rate is not None:
        rate = resp.rate
    elif resp.timestamps is not None and resp.timestamps.size == resp.data.shape[0]:
        ts = resp.timestamps
        uniform, rate, first = uniform_time(ts)
        starting_time = first
        if not uniform:
            if not math.isfinite(rate):
                raise CorruptFileError(
                    path, f"series {resp.name}: time stamps decrease or never advance"
                )
            time = ts - ts[0] + t0
    else:
        raise CorruptFileError(path, f"series {resp.name} has neither a rate nor time stamps")
    if not (math.isfinite(rate) and rate > 0):
        raise CorruptFileError(path, f"series {resp.name} has an invalid sampling rate {rate!r}")
    if (
        stim is not None
        and stim.rate is not None
        and not math.isclose(stim.rate, rate, rel_tol=1e-6)
    ):
        log.warning(
            "%s: sweep %d: stimulus rate %g Hz differs from response rate %g Hz; stimulus dropped",
            path,
            pair.number,
            stim.rate,
            rate,
        )
        stim = None
    if mode is ClampMode.CURRENT_CLAMP:
        v = resp.values("voltage", path)
        i = stim.values("current", path) if stim is not None else None
    else:
        i = resp.values("current", path)
        v = stim.values("voltage", path) if stim is not None else np.full(i.shape, np.nan)
    if i is not None and i.shape != v.shape:
        m = min(i.shape[0], v.shape[0])
        log.warning(
            "%s: sweep %d: response has %d samples, stimulus %d; both cut to %d",
            path,
            pair.number,
            resp.data.shape[0],
            stim.data.shape[0] if stim is not None else 0,
            m,
        )
        v, i = v[:m], i[:m]
        if time is not None:
            time = time[:m]
    if v.shape[0] == 0:
        raise CorruptFileError(path, f"sweep {pair.number} ({resp.name}) holds no samples")
    code = pair.stimulus_code
    name = pair.stimulus_name
    if name is None and code:
        name = (onto.name(code) if onto is not None else None) or _clean_code(code)
    meta["starting_time"] = starting_time
    meta["response_series"] = resp.name
    if stim is not None:
        meta["stimulus_series"] = stim.name
    meta["series_type"] = resp.type_name
    meta["units"] = {"response": resp.unit, "stimulus": stim.unit if stim is not None else None}
    if pair.electrode:
        meta["electrode"] = pair.electrode
    if code:
        meta["stimulus_code"] = code
    if stored.get("patchatlas_metadata"):
        try:
            extra = json.loads(str(stored["patchatlas_metadata"]))
        except ValueError:
            extra = None
        if isinstance(extra, dict):
            meta = {**meta, **extra}
    return Sweep(
        v=v,
        i=i,
        sampling_rate=float(rate),
        number=pair.number,
        clamp_mode=mode,
        stimulus=Stimulus(name=name),
        t0=t0,
        time=time,
        metadata=meta,
    )


def _name_kind(sweep: Sweep, pair: Pair, onto: StimulusOntology | None) -> StimulusKind | None:
    if pair.stimulus_name:
        kind = kind_from_name(pair.stimulus_name)
        if kind is not None:
            return kind
    if pair.stimulus_code and onto is not None:
        return onto.kind(pair.stimulus_code)
    return kind_from_name(sweep.stimulus.name)


def _declared(kind: StimulusKind | None, row: dict[str, Any] | None) -> DeclaredStimulus | None:
    """What the file states about a sweep's stimulus: the kind its stimulus name or code implies,
    and the ``patchatlas_*`` columns of a file written by :func:`patchatlas.io.write_nwb`."""
    if not row:
        return None if kind is None else DeclaredStimulus(origin="name", kind=kind)

    def num(key: str) -> float:
        v = row.get(key)
        try:
            return float(v) if v is not None else math.nan
        except (TypeError, ValueError):
            return math.nan

    stored_kind = kind
    with contextlib.suppress(ValueError):
        if row.get("patchatlas_kind") is not None:
            stored_kind = StimulusKind(str(row["patchatlas_kind"]))
    name = row.get("patchatlas_stimulus_name")
    return DeclaredStimulus(
        origin="file",
        kind=stored_kind,
        amplitude=num("patchatlas_amplitude_pa"),
        start=num("patchatlas_start_s"),
        end=num("patchatlas_end_s"),
        holding=num("patchatlas_holding_pa"),
        name=str(name) if name else None,
        source=str(row.get("patchatlas_stimulus_source") or "file"),
    )


def pairing_findings(pairs: list[Pair], path: Path) -> list[PlausibilityFinding]:
    """Findings about how sweeps were paired (a response and a stimulus linked to different
    electrodes, paired by the sweep table)."""
    out = []
    for p in pairs:
        info = p.metadata.get("paired_across_electrodes")
        if not info:
            continue
        out.append(
            PlausibilityFinding(
                "electrode_mismatch",
                "warning",
                f"{path}: sweep {p.number}: the response "
                f"{p.metadata.get('response_series', '?')} is linked to electrode "
                f"{info['response_electrode']!r} and the stimulus "
                f"{p.metadata.get('stimulus_series', '?')} to {info['stimulus_electrode']!r}; "
                "the sweep table puts them in one sweep, so they are read as a pair",
                (p.number,),
            )
        )
    return out


def build_recording(
    pairs: list[Pair],
    path: Path,
    layout: str,
    version: str,
    meta: dict[str, Any],
    onto: StimulusOntology | None,
    cell_id: str | None,
    electrode: str | None,
) -> Recording:
    electrodes = sorted({p.electrode for p in pairs if p.electrode})
    if electrode is not None:
        if electrode not in electrodes:
            raise ReadError(
                path, f"has no electrode {electrode!r}", f"electrodes in this file: {electrodes}"
            )
        pairs = [p for p in pairs if p.electrode == electrode]
    elif len(electrodes) > 1:
        log.warning(
            "%s: %d electrodes (%s); reading %s (pass electrode=... for another)",
            path,
            len(electrodes),
            ", ".join(electrodes),
            electrodes[0],
        )
        pairs = [p for p in pairs if p.electrode in (electrodes[0], None)]
    kept: list[tuple[Sweep, Pair]] = []
    for p in pairs:
        s = _make_sweep(p, path, onto)
        if s is not None:
            kept.append((s, p))
    if not kept:
        raise CorruptFileError(
            path,
            f"holds no intracellular sweeps with a response series (layout {layout})",
            "check that the file has acquisition series (CurrentClampSeries/VoltageClampSeries)",
        )
    kept.sort(key=lambda sp: sp[0].number)
    sweeps = [s for s, _ in kept]
    for s, p in kept:
        s.declared = _declared(_name_kind(s, p, onto), p.stored)
    rec_meta = dict(meta)
    stored_cell = rec_meta.pop("patchatlas_cell_id", None)
    rec_meta["nwb_version"] = version
    rec_meta["layout"] = layout
    if electrodes:
        rec_meta["electrodes"] = electrodes
    gen = rec_meta.get("generated_by")
    if layout == "nwb1-allen" and isinstance(gen, dict):
        v = pipeline_version(gen)
        rec_meta["allen_pipeline_version"] = f"{v[0]}.{v[1]}" if v else None
        rec_meta["conversion_applied"] = v is not None and v >= (1, 1)
    return Recording(
        sweeps=sweeps,
        cell_id=cell_id or (str(stored_cell) if stored_cell else path.stem),
        source=path,
        format=layout,
        metadata=rec_meta,
    )
