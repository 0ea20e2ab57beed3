"""Plausibility checks run by every electrophysiology reader after reading a file.

Internal seam of :mod:`patchatlas.io` (used by the ABF, text, Igor and NWB readers). A header can
state units that the values contradict: a current labelled A holding -5 (-5e12 pA), a "voltage"
that is a stimulus monitor (+4000 mV), a trace that is all NaN. Reading such a file "successfully"
is worse than refusing it, so :func:`check_recording` looks at the values of every sweep:

* ``all_nan`` (error): a recorded trace (current-clamp ``v``, voltage-clamp ``i``) holds no
  finite sample;
* ``command_unavailable`` (warning): the command (current-clamp ``i``, voltage-clamp ``v``) is
  all NaN: the file does not say what was applied;
* ``membrane_voltage_range``: current clamp, median ``v`` outside [-250, 150] mV or values
  beyond 2000 mV in magnitude (error); median outside [-130, 40] mV (warning);
* ``command_range``: voltage clamp, a command beyond 1000 mV in magnitude (error), beyond
  250 mV (warning);
* ``current_scale``: a current whose largest magnitude exceeds 1e7 pA (error: a
  unit-scaling error, A read as pA ...) or 2e5 pA (warning), or a current that is non-zero but
  never exceeds 0.01 pA in any sweep of the file (warning: amperes read as pA or nA; one
  zero-amplitude sweep holds float rounding noise of that size, so this is judged per file).

Medians come from at most 4096 samples per trace and magnitudes from the whole trace (one min and
one max), so the checks cost little; a memory-mapped (``lazy``) trace is only sampled in a few
blocks, so they do not page it in. Warnings are logged (with the
file) and kept in :attr:`~patchatlas.core.Recording.plausibility`; errors raise
:class:`~patchatlas.errors.ImplausibleDataError`, unless the caller passed
``plausibility="warn"``, which keeps them as findings instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import ClampMode, PlausibilityFinding, Recording
from patchatlas.errors import ImplausibleDataError, ParameterError

log = logging.getLogger("patchatlas.io")

#: what ``plausibility=`` accepts
MODES = ("error", "warn")

# limits (mV, pA)
V_ERR = (-250.0, 150.0)
V_WARN = (-130.0, 40.0)
V_ABS = 2000.0
CMD_ERR = 1000.0
CMD_WARN = 250.0
I_ERR = 1e7
I_WARN = 2e5
I_TINY = 1e-2

_SAMPLE = 4096  # samples a median is taken from
_BLOCKS = 8  # memory-mapped traces: blocks of _BLOCK contiguous samples
_BLOCK = 512

FloatArray = npt.NDArray[np.floating[Any]]


def check_mode(plausibility: str, path: Path) -> str:
    """``plausibility`` if it is one of :data:`MODES`, else a :class:`ParameterError`."""
    if plausibility not in MODES:
        raise ParameterError(
            f"{path}: plausibility={plausibility!r}; use 'error' (refuse implausible files, the "
            "default) or 'warn' (read them and keep the findings)"
        )
    return plausibility


def sample(a: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """At most 4096 samples of a trace, float64: evenly strided for arrays in memory, in 8
    evenly spaced contiguous blocks for memory-mapped ones (few pages touched)."""
    arr = np.asarray(a) if not isinstance(a, np.ndarray) else a
    n = arr.shape[0]
    if n <= _SAMPLE:
        return np.asarray(arr, dtype=np.float64)
    if isinstance(arr, np.memmap):
        starts = np.linspace(0, n - _BLOCK, _BLOCKS).astype(np.int64)
        return np.concatenate([np.asarray(arr[s : s + _BLOCK], dtype=np.float64) for s in starts])
    return np.asarray(arr[:: -(-n // _SAMPLE)], dtype=np.float64)


class _Stats:
    """Statistics of one trace: the median of a sample, and the largest magnitude over the
    whole trace (over the sampled blocks for a memory-mapped one). NaN-aware."""

    __slots__ = ("all_nan", "hi", "lo", "max_abs", "median", "top")

    def __init__(self, a: npt.ArrayLike, scale: float = 1.0) -> None:
        arr = np.asarray(a) if not isinstance(a, np.ndarray) else a
        whole = not isinstance(arr, np.memmap) and arr.size > 0
        lo = hi = math.nan
        if whole:
            with np.errstate(invalid="ignore"):
                lo, hi = float(np.min(arr)), float(np.max(arr))
            if not (math.isfinite(lo) and math.isfinite(hi)):  # NaN or inf somewhere
                fin_all = arr[np.isfinite(arr)]
                lo, hi = (float(fin_all.min()), float(fin_all.max())) if fin_all.size else (lo, hi)
                whole = fin_all.size > 0
        s = sample(arr)
        fin = s[np.isfinite(s)]
        if fin.size == 0 and whole:
            fin = sample(arr[np.isfinite(arr)])
        self.all_nan = fin.size == 0
        if self.all_nan:
            self.median = self.hi = self.lo = self.top = self.max_abs = math.nan
            return
        self.median = float(np.median(fin)) * scale
        if not whole:
            lo, hi = float(fin.min()), float(fin.max())
        self.lo, self.top = sorted((lo * scale, hi * scale))
        self.max_abs = self.hi = max(abs(self.lo), abs(self.top))


def membrane_like(values: npt.ArrayLike, scale: float = 1.0) -> tuple[bool, tuple[float, float]]:
    """Whether a trace can be a membrane potential (in mV after multiplying by ``scale``):
    finite, median inside the error band of ``membrane_voltage_range``, no value beyond it in
    magnitude, not flat zero. Also returns the trace's (min, max) in mV (NaN when empty)."""
    st = _Stats(values, scale)
    if st.all_nan:
        return False, (math.nan, math.nan)
    ok = V_ERR[0] <= st.median <= V_ERR[1] and st.hi <= V_ABS and st.hi > 0.0
    return ok, (st.lo, st.top)


def _sweeps(numbers: Iterable[int]) -> str:
    nums = sorted(set(numbers))
    if len(nums) > 6:
        return f"sweeps {nums[0]}-{nums[-1]} ({len(nums)})"
    return ("sweep " if len(nums) == 1 else "sweeps ") + ", ".join(map(str, nums))


class _Collector:
    """Findings grouped by (check, severity, message template) over the sweeps; each message
    shows the values of the worst sweep (highest ``score``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.groups: dict[tuple[str, str, str], tuple[list[int], float, dict[str, Any]]] = {}
        self.largest: dict[str, tuple[float, list[int]]] = {}  # current role -> max |i|

    def add(
        self,
        check: str,
        severity: str,
        template: str,
        number: int,
        score: float = 0.0,
        **values: Any,
    ) -> None:
        key = (check, severity, template)
        numbers, best, shown = self.groups.get(key, ([], -math.inf, {}))
        numbers.append(number)
        if score > best:
            best, shown = score, {**values, "sweep": number}
        self.groups[key] = (numbers, best, shown)

    def findings(self) -> list[PlausibilityFinding]:
        out = []
        for (check, severity, template), (numbers, _, values) in self.groups.items():
            text = template.format(**values)
            if len(set(numbers)) > 1 and "{" in template:
                text += f" (sweep {values['sweep']} shown)"
            out.append(
                PlausibilityFinding(
                    check=check,
                    severity=severity,
                    message=f"{self.path}: {_sweeps(numbers)}: {text}",
                    sweeps=tuple(sorted(set(numbers))),
                )
            )
        return out


def _current(c: _Collector, what: str, a: FloatArray | None, number: int) -> None:
    if a is None:
        return
    st = _Stats(a)
    if st.all_nan:
        return
    if st.hi > I_ERR:
        c.add(
            "current_scale",
            "error",
            f"{what} reaches {{hi:.3g}} pA, impossible for a patch-clamp current: the channel's "
            "unit is wrong (a unit-scaling error)",
            number,
            st.hi,
            hi=st.hi,
        )
    elif st.hi > I_WARN:
        c.add(
            "current_scale",
            "warning",
            f"{what} reaches {{hi:.3g}} pA, more than an amplifier delivers: check the unit",
            number,
            st.hi,
            hi=st.hi,
        )
    top, numbers = c.largest.get(what, (0.0, []))
    c.largest[what] = (max(top, st.max_abs), [*numbers, number])


def _tiny_currents(c: _Collector) -> None:
    for what, (top, numbers) in c.largest.items():
        if 0.0 < top < I_TINY:
            for n in numbers:
                c.add(
                    "current_scale",
                    "warning",
                    f"{what} never exceeds {top:.3g} pA in magnitude in any sweep: the values "
                    "look like amperes read as pA or nA; check the unit",
                    n,
                )


def recording_findings(
    rec: Recording, path: Path, labels: Mapping[str, str] | None = None
) -> list[PlausibilityFinding]:
    """Run the checks on every sweep of ``rec`` (see the module docs).

    Parameters
    ----------
    rec
        A recording as a reader made it (mV, pA).
    path
        The file it came from (named in every message).
    labels
        The file's name for the channel behind ``"v"``, ``"i"`` and ``"i_recorded"`` (e.g.
        ``"ADC0 'IN 0' (A)"``), added to the messages.

    Returns
    -------
    list of PlausibilityFinding
        One finding per check, severity and message, listing the sweeps concerned.
    """
    c = _Collector(path)
    lab = {k: f" [{v}]" for k, v in (labels or {}).items() if v}
    v_of, i_of, r_of = lab.get("v", ""), lab.get("i", ""), lab.get("i_recorded", "")
    for s in rec.sweeps:
        n = s.number
        if s.clamp_mode is ClampMode.CURRENT_CLAMP:
            st = _Stats(s.v)
            if st.all_nan:
                c.add("all_nan", "error", f"the membrane voltage{v_of} is all NaN", n)
            elif not (V_ERR[0] <= st.median <= V_ERR[1]) or st.hi > V_ABS:
                c.add(
                    "membrane_voltage_range",
                    "error",
                    f"the membrane voltage{v_of} (median {{median:.4g}} mV, up to {{hi:.4g}} mV in "
                    "magnitude) is outside any membrane range: this channel is not a membrane "
                    "potential, or its unit is wrong",
                    n,
                    max(abs(st.median), st.hi),
                    median=st.median,
                    hi=st.hi,
                )
            elif not (V_WARN[0] <= st.median <= V_WARN[1]):
                c.add(
                    "membrane_voltage_range",
                    "warning",
                    f"the median membrane voltage{v_of} {{median:.4g}} mV is outside the usual "
                    f"[{V_WARN[0]:g}, {V_WARN[1]:g}] mV",
                    n,
                    abs(st.median),
                    median=st.median,
                )
            if s.i is not None and _Stats(s.i).all_nan:
                c.add(
                    "command_unavailable",
                    "warning",
                    f"the command current{i_of} is all NaN (the file does not say what was "
                    "applied)",
                    n,
                )
            else:
                _current(c, f"the command current{i_of}", s.i, n)
            _current(c, f"the recorded current{r_of}", s.i_recorded, n)
        else:
            if s.i is None or _Stats(s.i).all_nan:
                c.add("all_nan", "error", f"the recorded current{i_of} is all NaN", n)
            else:
                _current(c, f"the recorded current{i_of}", s.i, n)
            st = _Stats(s.v)
            if st.all_nan:
                c.add(
                    "command_unavailable",
                    "warning",
                    f"the voltage command{v_of} is unknown (all NaN): the file does not say what "
                    "was applied",
                    n,
                )
            elif st.hi > CMD_ERR:
                c.add(
                    "command_range",
                    "error",
                    f"the voltage command{v_of} reaches {{hi:.4g}} mV, beyond any clamp command: "
                    "its unit is wrong",
                    n,
                    st.hi,
                    hi=st.hi,
                )
            elif st.hi > CMD_WARN:
                c.add(
                    "command_range",
                    "warning",
                    f"the voltage command{v_of} reaches {{hi:.4g}} mV",
                    n,
                    st.hi,
                    hi=st.hi,
                )
    _tiny_currents(c)
    return c.findings()


def check_recording(
    rec: Recording,
    path: Path,
    *,
    plausibility: str = "error",
    findings: Sequence[PlausibilityFinding] = (),
    hint: str = "",
    labels: Mapping[str, str] | None = None,
) -> Recording:
    """Run the checks, log and keep the findings, raise on errors (unless ``"warn"``).

    Parameters
    ----------
    rec
        The recording a reader made.
    path
        Its file.
    plausibility
        ``"error"``: raise :class:`~patchatlas.errors.ImplausibleDataError` on any error
        finding; ``"warn"``: keep error findings on the recording instead.
    findings
        The reader's own findings (header contradictions it resolved, a missing stimulus
        file ...), kept ahead of those found here.
    hint
        What the user can do, appended to the error message (reader options that override
        the header).
    labels
        The file's names of the channels behind ``v``, ``i`` and ``i_recorded`` (see
        :func:`recording_findings`).

    Returns
    -------
    Recording
        ``rec``, with :attr:`~patchatlas.core.Recording.plausibility` extended.

    Raises
    ------
    patchatlas.errors.ImplausibleDataError
        An error finding, with ``plausibility="error"``.
    """
    check_mode(plausibility, path)
    found = [*findings, *recording_findings(rec, path, labels)]
    errors = [f for f in found if f.severity == "error"]
    if errors and plausibility == "error":
        problems = "; ".join(f.message.removeprefix(f"{path}: ") for f in errors)
        tip = hint or "if the header is wrong, pass the reader's unit options"
        raise ImplausibleDataError(
            path,
            f"implausible values ({', '.join(sorted({f.check for f in errors}))}): {problems}",
            f"{tip}; plausibility='warn' reads the file anyway",
        )
    for f in found:
        log.warning("%s [%s, %s]", f.message, f.check, f.severity)
    rec.plausibility.extend(found)
    return rec
