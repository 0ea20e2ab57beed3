"""Plain-text traces: time + voltage [+ current] columns, whitespace, comma or tab separated.

Columns are found from a header line when there is one (names such as ``time``/``t``,
``voltage``/``v``/``vm``, ``current``/``i``, with units in brackets or after an underscore:
``t_ms``, ``V (mV)``, ``I[pA]``). Without a header, two columns are time and voltage; with three,
the column whose values sit where membrane potentials sit (median below -30 mV) is the voltage.
Units that are not declared are inferred and logged: time in ms when the median step is at least
1.5 (i.e. rates of at most ~670 Hz would otherwise be implied), voltage in V when all values are
within ±1, current in A when all values are within ±1e-6 (10 nA is 1e-8 A), in nA when within
±20. Pass ``time_unit=``, ``voltage_unit=``, ``current_unit=`` to override. Non-uniform time
stamps are kept as-is (``Sweep.time``); repeated time stamps (variable-step simulators print an
event time twice) are kept as given, with a ``repeated_time_stamps`` finding.
Every recording then goes through the plausibility checks of :mod:`patchatlas.io._plausibility`.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import (
    ClampMode,
    DeclaredStimulus,
    PlausibilityFinding,
    Recording,
    Stimulus,
    Sweep,
)
from patchatlas.errors import CorruptFileError, ReadError
from patchatlas.io._common import check_file, uniform_time, unit_factor, wrap_errors
from patchatlas.io._plausibility import check_mode, check_recording

__all__ = ["read_text"]

log = logging.getLogger("patchatlas.io.text")

_ROLE_WORDS = {
    "time": ("time", "t", "times", "timestamp", "sec", "ms"),
    "voltage": ("voltage", "v", "vm", "volt", "membrane_potential", "potential", "mv"),
    "current": ("current", "i", "im", "stim", "stimulus", "command", "pa", "na"),
}
_UNIT_RE = re.compile(r"[\[(]\s*([a-zA-Zµ]+)\s*[\])]|_([a-zA-Zµ]+)$")


def _parse_header(line: str, delim: str | None) -> list[tuple[str | None, str | None]] | None:
    """Roles and units of the header's columns, or None when the line is numeric."""
    body = line.strip().lstrip("#").strip()
    parts = [p.strip() for p in (body.split(delim) if delim else body.split()) if p.strip()]
    try:
        [float(p) for p in parts]
        return None
    except ValueError:
        pass
    out: list[tuple[str | None, str | None]] = []
    for p in parts:
        m = _UNIT_RE.search(p)
        unit = (m.group(1) or m.group(2)) if m else None
        name = _UNIT_RE.sub("", p).strip().lower()
        role = next((r for r, words in _ROLE_WORDS.items() if name in words), None)
        if role is None and unit is not None:
            role = next(
                (q for q in ("time", "voltage", "current") if unit_factor(unit, q) is not None),
                None,
            )
        out.append((role, unit))
    return out


def _load_table(
    path: Path,
) -> tuple[npt.NDArray[np.float64], list[tuple[str | None, str | None]] | None]:
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        first = ""
        for line in fh:
            if line.strip():
                first = line
                break
    if not first:
        raise CorruptFileError(path, "the file holds no data lines")
    delim = "," if "," in first else ("\t" if "\t" in first else None)
    header = _parse_header(first, delim)
    # loadtxt drops a "#"-prefixed header as a comment on its own
    skip = 1 if header is not None and not first.lstrip().startswith("#") else 0
    with wrap_errors(path, "a numeric text table"):
        data = np.loadtxt(path, delimiter=delim, skiprows=skip, comments="#", ndmin=2)
    if data.shape[0] < 2:
        raise CorruptFileError(path, f"holds {data.shape[0]} data row(s); a trace needs at least 2")
    if data.shape[1] < 2:
        raise CorruptFileError(
            path, f"has {data.shape[1]} column(s); expected time and voltage (and current)"
        )
    if header is not None and len(header) != data.shape[1]:
        log.warning(
            "%s: header names %d columns but rows have %d; ignoring the header",
            path,
            len(header),
            data.shape[1],
        )
        header = None
    return data, header


def _assign_columns(
    data: npt.NDArray[np.float64], header: list[tuple[str | None, str | None]] | None, path: Path
) -> tuple[int, int, int | None, dict[str, str | None]]:
    units: dict[str, str | None] = {"time": None, "voltage": None, "current": None}
    ncol = data.shape[1]
    if header is not None and all(r is not None for r, _ in header[:2]):
        roles = [r for r, _ in header]
        if "time" in roles and "voltage" in roles:
            for r, u in header:
                if r is not None and units.get(r) is None:
                    units[r] = u
            ic = roles.index("current") if "current" in roles else None
            return roles.index("time"), roles.index("voltage"), ic, units
    if ncol == 2:
        return 0, 1, None, units
    med = np.median(data[:, 1:3], axis=0)
    if med[0] < -30 and med[1] >= -30:
        return 0, 1, 2, units
    if med[1] < -30 and med[0] >= -30:
        return 0, 2, 1, units
    log.warning("%s: cannot tell voltage from current by value; taking column 2 as voltage", path)
    return 0, 1, 2, units


def _factor(unit: str | None, qty: str, guess: str, path: Path) -> float:
    if unit is not None:
        f = unit_factor(unit, qty)
        if f is None:
            raise ReadError(path, f"unknown {qty} unit {unit!r}", f"pass {qty}_unit='...'")
        return f
    f = unit_factor(guess, qty)
    assert f is not None
    return f


def read_text(
    path: str | Path,
    *,
    time_unit: str | None = None,
    voltage_unit: str | None = None,
    current_unit: str | None = None,
    stim_start: float | None = None,
    stim_end: float | None = None,
    cell_id: str | None = None,
    plausibility: str = "error",
) -> Recording:
    """Read a text trace as a one-sweep recording.

    Parameters
    ----------
    path
        Text file with columns time, voltage and optionally current.
    time_unit, voltage_unit, current_unit
        Units of the columns (``"s"``, ``"ms"``; ``"mV"``, ``"V"``; ``"pA"``, ``"nA"``) when the
        file does not declare them. Undeclared units are inferred and logged.
    stim_start, stim_end
        Stimulus window in s, for files without a current column.
    cell_id
        Identifier of the recording (defaults to the file stem).
    plausibility
        ``"error"`` (default) refuses implausible values (a voltage outside any membrane range,
        an absurd current); ``"warn"`` reads them and keeps the findings.

    Returns
    -------
    Recording
        One current-clamp sweep (number 0) in s, mV and pA; the units used (declared, given or
        inferred) are in ``metadata["units"]`` and ``metadata["inferred_units"]``, a given
        stimulus window in ``Sweep.declared``, plausibility findings in ``plausibility``.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing or empty file, an unknown unit, fewer than 2 rows, NaN/inf times or voltages,
        time stamps that decrease or never advance, or implausible values
        (:class:`~patchatlas.errors.ImplausibleDataError`).
    """
    p = Path(path)
    check_file(p)
    check_mode(plausibility, p)
    with wrap_errors(p, "a text trace"):
        rec, findings, labels = _read(
            p, time_unit, voltage_unit, current_unit, stim_start, stim_end, cell_id
        )
    return check_recording(
        rec,
        p,
        plausibility=plausibility,
        findings=findings,
        labels=labels,
        hint="pass time_unit=, voltage_unit= or current_unit= when the units are not what the "
        "file states or patchatlas inferred",
    )


def _repeated_stamps(
    t: npt.NDArray[np.float64], cols: list[npt.NDArray[np.float64]], path: Path
) -> PlausibilityFinding | None:
    """Refuse decreasing time stamps; a finding for repeated ones (kept as given)."""
    dt = np.diff(t)
    if bool(np.any(dt < 0)):
        k = int(np.flatnonzero(dt < 0)[0])
        raise CorruptFileError(
            path,
            f"time stamps decrease at data row {k + 2} ({t[k]:g} then {t[k + 1]:g})",
            "sort the rows by time",
        )
    rep = dt == 0
    if not bool(rep.any()):
        return None
    if bool(rep.all()):
        raise CorruptFileError(
            path, f"every time stamp is {t[0]:g}: the time column never advances"
        )
    differ = np.zeros(rep.size, dtype=bool)
    for c in cols:
        differ |= rep & (c[:-1] != c[1:])
    n_rep, n_diff = int(rep.sum()), int(differ.sum())
    detail = (
        "with equal values"
        if n_diff == 0
        else f"with different values at {n_diff} of them (a step at an event)"
    )
    return PlausibilityFinding(
        "repeated_time_stamps",
        "warning",
        f"{path}: {n_rep} of {t.size} time stamps repeat the one before ({detail}; a "
        "variable-step simulator's output?): the samples are kept as given on a non-uniform "
        "time axis (spike detection drops the repeats)",
    )


def _read(
    p: Path,
    time_unit: str | None,
    voltage_unit: str | None,
    current_unit: str | None,
    stim_start: float | None,
    stim_end: float | None,
    cell_id: str | None,
) -> tuple[Recording, list[PlausibilityFinding], dict[str, str]]:
    data, header = _load_table(p)
    tc, vc, ic, declared = _assign_columns(data, header, p)
    t_raw, v_raw = data[:, tc], data[:, vc]
    i_raw = data[:, ic] if ic is not None else None
    if not (np.all(np.isfinite(t_raw)) and np.all(np.isfinite(v_raw))):
        raise CorruptFileError(p, "time or voltage column holds NaN/inf values")
    findings: list[PlausibilityFinding] = []
    rep = _repeated_stamps(t_raw, [v_raw] + ([] if i_raw is None else [i_raw]), p)
    if rep is not None:
        findings.append(rep)

    inferred: list[str] = []
    tu = time_unit or declared["time"]
    if tu is None:
        steps = np.diff(t_raw)
        dt_med = float(np.median(steps[steps > 0]))  # repeated stamps say nothing of the unit
        tu = "ms" if dt_med >= 1.5e-3 else "s"
        inferred.append(f"time in {tu} (median step {dt_med:g})")
    vu = voltage_unit or declared["voltage"]
    if vu is None:
        vu = "V" if float(np.max(np.abs(v_raw))) <= 1.0 else "mV"
        inferred.append(f"voltage in {vu}")
    t = t_raw * _factor(tu, "time", "s", p)
    v = v_raw * _factor(vu, "voltage", "mV", p)
    i = None
    if i_raw is not None:
        cu = current_unit or declared["current"]
        if cu is None:
            top = float(np.max(np.abs(i_raw)))
            cu = "A" if 0.0 < top <= 1e-6 else ("nA" if top <= 20.0 else "pA")
            inferred.append(f"current in {cu}")
        i = i_raw * _factor(cu, "current", "pA", p)
    if inferred:
        log.info("%s: units not declared; inferred %s", p, ", ".join(inferred))

    uniform, rate, t0 = uniform_time(t)
    if not np.isfinite(rate):  # (decreasing or repeated stamps were handled above)
        raise CorruptFileError(p, "time stamps do not advance", "check the time column")
    stated = None
    if stim_start is not None or stim_end is not None:
        stated = DeclaredStimulus(
            origin="user",
            start=math.nan if stim_start is None else float(stim_start),
            end=math.nan if stim_end is None else float(stim_end),
        )
    meta: dict[str, Any] = {"units": {"time": tu, "voltage": vu}, "inferred_units": inferred}
    sweep = Sweep(
        v=v,
        i=i,
        sampling_rate=rate,
        number=0,
        clamp_mode=ClampMode.CURRENT_CLAMP,
        stimulus=Stimulus(source="none"),
        t0=t0,
        time=None if uniform else t,
        metadata=meta,
        declared=stated,
    )
    labels = {"v": f"column {vc + 1}"}
    if ic is not None:
        labels["i"] = f"column {ic + 1}"
    rec = Recording(
        sweeps=[sweep], cell_id=cell_id or p.stem, source=p, format="text", metadata=meta
    )
    return rec, findings, labels
