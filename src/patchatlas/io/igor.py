"""Igor Pro binary waves (``.ibw``, versions 2 and 5) via igor2.

One wave holds one channel of one sweep. A voltage wave is paired with the current wave of the
same sweep when it sits beside it under the Blue Brain naming scheme
(``<cell>_Ch3_<protocol>_<sweep>.ibw`` voltage, ``..._Ch0_...`` current), or any other wave whose
name differs only in the channel field and whose units are amperes. A folder of waves reads as one
recording. When the wave note holds the pulse protocol (``P0AMP3:50;P0DUR3:2000`` ...), the
stimulus windows and amplitudes come from it (``Stimulus.source == "note"``); otherwise they are
inferred from the current wave. Every recording then goes through the plausibility checks of
:mod:`patchatlas.io._plausibility` (an unlabelled wave is taken as mV / pA: a wave in V or A
without a unit label is caught there).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import (
    ClampMode,
    DeclaredStimulus,
    Epoch,
    Recording,
    Stimulus,
    Sweep,
)
from patchatlas.errors import CorruptFileError, ReadError
from patchatlas.io._common import check_file, quantity_of, unit_factor, wrap_errors
from patchatlas.io._plausibility import check_mode, check_recording

__all__ = ["read_ibw", "read_igor_folder"]

_CHAN = re.compile(r"^(?P<pre>.*?)_?Ch(?P<ch>\d+)_(?P<post>.+)$")


class _Wave:
    __slots__ = ("data", "dt", "note", "path", "quantity", "unit", "x0")

    def __init__(
        self,
        path: Path,
        data: npt.NDArray[np.floating[Any]],
        dt: float,
        x0: float,
        unit: str,
        note: str,
    ) -> None:
        self.path, self.data, self.dt, self.x0, self.unit, self.note = (
            path,
            data,
            dt,
            x0,
            unit,
            note,
        )
        self.quantity = quantity_of(unit)


def _load_wave(path: Path) -> _Wave:
    check_file(path)
    with wrap_errors(path, "an Igor binary wave"):
        from igor2 import binarywave

        d = binarywave.load(str(path))
        w = d["wave"]
        h = w["wave_header"]
        data = np.asarray(w["wData"])
        if "sfA" in h:  # version 5
            dt = float(h["sfA"][0])
            x0 = float(h["sfB"][0])
            unit = b"".join(h["dataUnits"]).decode("latin-1")
            if not unit and w.get("data_units"):
                unit = w["data_units"].decode("latin-1")
        else:  # versions 1-3
            dt = float(h["hsA"])
            x0 = float(h["hsB"])
            unit = b"".join(h["dataUnits"]).decode("latin-1")
        note_raw = w.get("note", b"")
        note = note_raw.decode("latin-1", "replace") if isinstance(note_raw, bytes) else ""
    if data.ndim != 1:
        raise CorruptFileError(path, f"holds a {data.ndim}-D wave; patchatlas reads 1-D sweeps")
    if data.size == 0:
        raise CorruptFileError(path, "the wave has no samples")
    if not (math.isfinite(dt) and dt > 0):
        raise CorruptFileError(path, f"invalid sampling interval {dt!r} in the wave header")
    return _Wave(path, data, dt, x0, unit.strip(), note)


def _note_fields(note: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in note.replace("\r", ";").split(";"):
        key, sep, val = part.partition(":")
        if sep and key.strip() and key.strip() not in out:
            out[key.strip()] = val.strip()
    return out


def _note_epochs(fields: dict[str, str]) -> list[Epoch]:
    """Step epochs of the note's pulse protocol (``P0AMPk`` pA for ``P0DURk`` ms, in order).

    Blue Brain acquisition notes describe the command as consecutive segments; segments at 0 pA
    are baseline. Returns an empty list when the note has no such protocol.
    """
    epochs: list[Epoch] = []
    t = 0.0
    k = 1
    while f"P0DUR{k}" in fields:
        try:
            dur = float(fields[f"P0DUR{k}"]) * 1e-3
            amp = float(fields.get(f"P0AMP{k}", "0"))
        except ValueError:
            return []
        if dur > 0 and amp != 0.0:
            epochs.append(Epoch("step", t, t + dur, amp))
        t += max(dur, 0.0)
        k += 1
    return epochs


def _partner(path: Path) -> Path | None:
    m = _CHAN.match(path.stem)
    if not m:
        return None
    cands = sorted(path.parent.glob(f"{m['pre']}*Ch*_{m['post']}{path.suffix}"))
    return next((c for c in cands if c != path), None)


def _scaled(w: _Wave, qty: str) -> npt.NDArray[np.floating[Any]]:
    f = unit_factor(w.unit, qty) if w.unit else None
    if f is None:
        # Unlabelled waves: assume library units and say so.
        return w.data
    return w.data if f == 1.0 else w.data * f


def _sweep_number(path: Path) -> int:
    m = re.search(r"(\d+)$", path.stem)
    return int(m.group(1)) if m else 0


def _pair(path: Path) -> tuple[_Wave, _Wave | None]:
    """Return (voltage wave, current wave or None) for the sweep that ``path`` belongs to."""
    w = _load_wave(path)
    other_path = _partner(path)
    other = _load_wave(other_path) if other_path is not None else None
    if w.quantity == "current" and other is not None and other.quantity != "current":
        return other, w
    if other is not None and other.quantity == "current":
        return w, other
    if w.quantity == "current":
        raise ReadError(
            path,
            "is a current wave and no voltage wave of the same sweep was found beside it",
            "read the voltage (Ch3) wave, or keep both channels in one folder",
        )
    return w, None


def _make_sweep(vw: _Wave, iw: _Wave | None) -> Sweep:
    v = _scaled(vw, "voltage")
    i = _scaled(iw, "current") if iw is not None else None
    if i is not None and i.shape != v.shape:
        raise CorruptFileError(
            vw.path, f"voltage has {v.size} samples but the current wave has {i.size}"
        )
    fields = _note_fields(vw.note or (iw.note if iw else ""))
    meta: dict[str, Any] = {"note": fields, "voltage_wave": vw.path.name}
    if iw is not None:
        meta["current_wave"] = iw.path.name
    note_epochs = _note_epochs(fields)
    declared = None
    if note_epochs:
        # the note is the protocol as programmed: it defines the stimulus (the recorded current's
        # scale can differ from it: the B6/B8 cells' recorded steps are ~2x the programmed
        # amplitude); sweep clock
        declared = DeclaredStimulus(
            origin="note",
            epochs=tuple(
                Epoch(e.kind, e.start + vw.x0, e.end + vw.x0, e.amplitude) for e in note_epochs
            ),
        )
    return Sweep(
        v=v,
        i=i,
        sampling_rate=1.0 / vw.dt,
        number=_sweep_number(vw.path),
        clamp_mode=ClampMode.CURRENT_CLAMP,
        stimulus=Stimulus(name=fields.get("PATTERN") or None),
        t0=vw.x0,
        metadata=meta,
        declared=declared,
    )


def _finish(sweeps: list[Sweep], path: Path, cell_id: str, plausibility: str) -> Recording:
    sweeps.sort(key=lambda s: s.number)
    rec = Recording(sweeps=sweeps, cell_id=cell_id, source=path, format="igor")
    return check_recording(
        rec,
        path,
        plausibility=plausibility,
        labels={"v": "voltage wave", "i": "current wave"},
        hint="label the waves' data units in Igor (mV, pA), or rescale them",
    )


def _wave_name(path: Path) -> str:
    """The name a single wave gives its sweep: the file stem without the channel field
    (``B95_Ch3_IDRest_107`` and ``B95_Ch0_IDRest_107`` are both ``B95_IDRest_107``)."""
    m = _CHAN.match(path.stem)
    if not m:
        return path.stem
    return f"{m['pre']}_{m['post']}" if m["pre"] else m["post"]


def read_ibw(
    path: str | Path, *, cell_id: str | None = None, plausibility: str = "error"
) -> Recording:
    """Read one sweep from an Igor binary wave (and its current partner, when present).

    Parameters
    ----------
    path
        An ``.ibw`` wave, voltage or current; the other channel of the same sweep is looked
        up beside it (the names differ only in the ``Ch<k>`` field).
    cell_id
        Identifier of the recording (default: the wave's own name without its channel field,
        ``B95_IDRest_107`` for ``B95_Ch3_IDRest_107.ibw``; a folder of waves is named by the
        folder, :func:`read_igor_folder`).
    plausibility
        ``"error"`` (default) refuses implausible values; ``"warn"`` reads them and keeps the
        findings.

    Returns
    -------
    Recording
        One current-clamp sweep in mV and pA (unlabelled waves are taken as mV / pA as
        stored), numbered by the trailing digits of the file name; a pulse protocol in the
        wave note is kept in ``Sweep.declared``, the parsed note in ``Sweep.metadata["note"]``.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing or unreadable wave, a current wave without its voltage partner, a wave that is
        not 1-D, empty, or has an invalid sampling interval, or channels of different lengths.
    """
    p = Path(path)
    check_mode(plausibility, p)
    with wrap_errors(p, "an Igor binary wave"):
        sweep = _make_sweep(*_pair(p))
    return _finish([sweep], p, cell_id or _wave_name(p), plausibility)


def read_igor_folder(
    path: str | Path, *, cell_id: str | None = None, plausibility: str = "error"
) -> Recording:
    """Read every sweep of a folder of Igor waves as one recording.

    Parameters
    ----------
    path
        Folder of ``.ibw`` waves; voltage and current waves of one sweep are paired as in
        :func:`read_ibw`.
    cell_id
        Identifier of the recording (default: the folder name).
    plausibility
        ``"error"`` (default) refuses implausible values; ``"warn"`` reads them and keeps the
        findings.

    Returns
    -------
    Recording
        One sweep per voltage wave, sorted by sweep number; see :func:`read_ibw`.

    Raises
    ------
    patchatlas.errors.ReadError
        The folder holds no ``.ibw`` files, or one of them cannot be read (see
        :func:`read_ibw`).
    """
    p = Path(path)
    check_mode(plausibility, p)
    files = sorted(p.glob("*.ibw"))
    if not files:
        raise ReadError(p, "holds no .ibw files")
    seen: set[Path] = set()
    sweeps: list[Sweep] = []
    for f in files:
        if f in seen:
            continue
        vw, iw = _pair(f)
        seen.add(vw.path)
        if iw is not None:
            seen.add(iw.path)
        with wrap_errors(vw.path, "an Igor binary wave"):
            sweeps.append(_make_sweep(vw, iw))
    return _finish(sweeps, p, cell_id or p.name, plausibility)
