"""Write a :class:`~patchatlas.ephys.Recording` as NWB 2 with the current icephys tables.

Layout written (pynwb):

* one ``IntracellularElectrode``; per sweep a ``CurrentClampSeries`` response (``acquisition``,
  data in mV with ``conversion=1e-3``, unit volts) and a ``CurrentClampStimulusSeries``
  (``stimulus/presentation``, data in pA with ``conversion=1e-12``, unit amperes); voltage-clamp
  sweeps as ``VoltageClampSeries`` / ``VoltageClampStimulusSeries``. Data keep their dtype, so
  values read back exactly;
* ``IntracellularRecordingsTable`` (one row per sweep) with patchatlas columns holding the sweep
  number, the stimulus kind, amplitude, window, holding level, name and source, ``t0`` and the
  sweep metadata as JSON (see :data:`patchatlas.io.nwb.PATCHATLAS_COLUMNS`);
* ``SimultaneousRecordingsTable`` (one row per sweep), ``SequentialRecordingsTable`` (one row
  per stimulus kind, ``stimulus_type`` = the kind), one ``RepetitionsTable`` row and one
  ``ExperimentalConditionsTable`` row;
* recording metadata (JSON-serialisable entries) in ``notes``; species, institution,
  experimenter ... also in their NWB fields.

Not written: ``Sweep.i_recorded`` (the recorded current beside a command) and metadata entries
that are not JSON-serialisable (numpy arrays are stored as lists).

The file is written to a temporary file beside the target and renamed into place, so a failed
write never leaves a half-written ``.nwb``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from patchatlas.core.recording import ClampMode, Recording, Sweep
from patchatlas.errors import WriteError
from patchatlas.io.nwb import FILE_LAYOUT_KEYS, PATCHATLAS_COLUMNS

__all__ = ["write_nwb"]


def _jsonable(value: Any) -> Any:
    """``value`` as JSON-compatible data, or raise TypeError."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(type(value).__name__)


def _json_dict(meta: dict[str, Any]) -> dict[str, Any]:
    """Keep the entries that survive JSON (numpy arrays become lists)."""
    out: dict[str, Any] = {}
    for key, val in meta.items():
        try:
            text = json.dumps(val, default=_jsonable, allow_nan=True)
        except (TypeError, ValueError):
            continue
        out[str(key)] = json.loads(text)
    return out


def _start_time(meta: dict[str, Any]) -> datetime:
    raw = meta.get("session_start_time")
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _text_field(meta: dict[str, Any], key: str) -> str | None:
    val = meta.get(key)
    return val if isinstance(val, str) and val else None


def write_nwb(
    recording: Recording, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``recording`` to an NWB 2 file with the icephys table hierarchy.

    Parameters
    ----------
    recording
        The recording to write (current- and voltage-clamp sweeps).
    path
        Target ``.nwb`` file.
    overwrite
        Replace an existing file (default: refuse).

    Returns
    -------
    Path
        The file written. :func:`patchatlas.read` gives back the same sweeps (arrays, numbers,
        stimulus kind/amplitude/window, metadata).

    Raises
    ------
    patchatlas.errors.WriteError
        The target exists (without ``overwrite``), its folder is missing, pynwb is not
        installed, or the recording cannot be written.
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise WriteError(f"{p}: file exists (pass overwrite=True to replace it)")
    if not p.parent.is_dir():
        raise WriteError(f"{p}: folder {p.parent} does not exist (create it first)")
    if not recording.sweeps:
        raise WriteError(f"{p}: recording {recording.cell_id!r} has no sweeps to write")
    try:
        import pynwb  # noqa: F401
    except ImportError as exc:
        raise WriteError(
            f"{p}: writing NWB needs pynwb, which is not installed (pip install 'patchatlas[nwb]')"
        ) from exc
    tmp = p.with_name(f".{p.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.nwb")
    try:
        nwbfile = _build_file(recording)
        from pynwb import NWBHDF5IO

        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwbfile)
        os.replace(tmp, p)
    except WriteError:
        raise
    except Exception as exc:
        raise WriteError(
            f"{p}: cannot write recording {recording.cell_id!r} as NWB "
            f"({type(exc).__name__}: {str(exc)[:300]})"
        ) from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def _build_file(recording: Recording) -> Any:
    from pynwb import NWBFile
    from pynwb.file import Subject

    meta = recording.metadata
    notes = {
        "patchatlas_cell_id": recording.cell_id,
        "patchatlas_metadata": _json_dict(meta),
    }
    kwargs: dict[str, Any] = {}
    for key in ("institution", "lab", "experiment_description", "session_id"):
        val = _text_field(meta, key)
        if val:
            kwargs[key] = val
    exp = meta.get("experimenter")
    if isinstance(exp, str) and exp:
        kwargs["experimenter"] = [exp]
    elif isinstance(exp, list) and exp and all(isinstance(x, str) for x in exp):
        kwargs["experimenter"] = exp
    raw_subject = meta.get("subject")
    subject: dict[str, Any] = raw_subject if isinstance(raw_subject, dict) else {}
    sub_kw = {
        k: str(v)
        for k, v in {**subject, "species": meta.get("species", subject.get("species"))}.items()
        if k in ("species", "subject_id", "sex", "genotype", "strain", "description")
        and isinstance(v, str)
        and v
    }
    if sub_kw:
        kwargs["subject"] = Subject(**sub_kw)
    nwbfile = NWBFile(
        session_description=_text_field(meta, "session_description")
        or f"patchatlas recording {recording.cell_id}",
        identifier=recording.cell_id or uuid.uuid4().hex,
        session_start_time=_start_time(meta),
        notes=json.dumps(notes, default=_jsonable),
        **kwargs,
    )
    device = nwbfile.create_device(name="amplifier", description="written by patchatlas")
    el_names = {s.metadata.get("electrode") for s in recording.sweeps}
    el_name = next((n for n in el_names if isinstance(n, str) and n), "electrode_0")
    electrode = nwbfile.create_icephys_electrode(
        name=el_name, description=f"electrode of {recording.cell_id}", device=device
    )
    table = nwbfile.get_intracellular_recordings()
    for col, desc in PATCHATLAS_COLUMNS.items():
        table.add_column(name=col, description=desc)

    seq_members: dict[str, list[int]] = {}
    clock = 0.0
    used: set[str] = set()
    for k, sweep in enumerate(recording.sweeps):
        base = f"sweep_{sweep.number:05d}" if sweep.number >= 0 else f"sweep_m{-sweep.number:05d}"
        if base in used:
            base = f"{base}_{k}"
        used.add(base)
        start_time = sweep.metadata.get("starting_time")
        if not (isinstance(start_time, int | float) and math.isfinite(start_time)):
            start_time = clock
        clock = float(start_time) + sweep.duration
        resp, stim = _series(sweep, base, float(start_time), electrode)
        nwbfile.add_acquisition(resp)
        if stim is not None:
            nwbfile.add_stimulus(stim)
        st = sweep.stimulus
        row = table.add_recording(
            electrode=electrode,
            stimulus=stim,
            response=resp,
            patchatlas_sweep_number=int(sweep.number),
            patchatlas_kind=st.kind.value,
            patchatlas_amplitude_pa=float(st.amplitude),
            patchatlas_start_s=float(st.start),
            patchatlas_end_s=float(st.end),
            patchatlas_holding_pa=float(st.holding),
            patchatlas_stimulus_name=st.name or "",
            patchatlas_stimulus_source=st.source,
            patchatlas_t0_s=float(sweep.t0),
            patchatlas_metadata=json.dumps(
                _json_dict({k: v for k, v in sweep.metadata.items() if k not in FILE_LAYOUT_KEYS}),
                default=_jsonable,
            ),
        )
        sim = nwbfile.add_icephys_simultaneous_recording(recordings=[row])
        seq_members.setdefault(st.kind.value, []).append(sim)
    seq_rows = [
        nwbfile.add_icephys_sequential_recording(simultaneous_recordings=rows, stimulus_type=kind)
        for kind, rows in seq_members.items()
    ]
    rep = nwbfile.add_icephys_repetition(sequential_recordings=seq_rows)
    nwbfile.add_icephys_experimental_condition(repetitions=[rep])
    return nwbfile


def _series(sweep: Sweep, base: str, start_time: float, electrode: Any) -> tuple[Any, Any]:
    from pynwb.icephys import (
        CurrentClampSeries,
        CurrentClampStimulusSeries,
        VoltageClampSeries,
        VoltageClampStimulusSeries,
    )

    timing: dict[str, Any]
    if sweep.time is not None:
        timing = {"timestamps": np.asarray(sweep.time, dtype=np.float64)}
    else:
        timing = {"rate": float(sweep.sampling_rate), "starting_time": start_time}
    common = {
        "electrode": electrode,
        "gain": 1.0,
        "stimulus_description": sweep.stimulus.name or sweep.stimulus.kind.value,
        **timing,
    }
    if sweep.number >= 0:
        common["sweep_number"] = np.uint32(sweep.number)  # NWB: uint32, no cast warning
    if sweep.clamp_mode is ClampMode.CURRENT_CLAMP:
        resp = CurrentClampSeries(
            name=base, data=np.asarray(sweep.v), conversion=1e-3, unit="volts", **common
        )
        stim = (
            CurrentClampStimulusSeries(
                name=f"{base}_stimulus",
                data=np.asarray(sweep.i),
                conversion=1e-12,
                unit="amperes",
                **common,
            )
            if sweep.i is not None
            else None
        )
        return resp, stim
    if sweep.i is None:
        raise WriteError(f"sweep {sweep.number}: voltage-clamp sweep without a current trace")
    resp = VoltageClampSeries(
        name=base, data=np.asarray(sweep.i), conversion=1e-12, unit="amperes", **common
    )
    v = np.asarray(sweep.v)
    stim = (
        VoltageClampStimulusSeries(
            name=f"{base}_stimulus", data=v, conversion=1e-3, unit="volts", **common
        )
        if not np.all(np.isnan(v))
        else None
    )
    return resp, stim
