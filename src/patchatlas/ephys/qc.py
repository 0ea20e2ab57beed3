"""Sweep quality control: the Allen "Ephys QC Criteria v1.1" sweep rules as a configurable rule
set, plus patchatlas flags (detection disagreement, depolarisation block, integrity).

Each rule reports its value, its limit and pass/fail; a rule that cannot be evaluated (window
outside the sweep, ramp exemptions) has value NaN and ``passed=None`` and does not fail the sweep.

Rules (defaults from Allen v1.1; windows on the sweep clock):

* ``pre_noise_rms_mv`` ≤ 0.07: RMS of V about its mean over the first 1.5 ms of the sweep (after
  a test pulse when the stimulus has one);
* ``post_noise_rms_mv`` ≤ 0.07: same over the last 1.5 ms (not for ramps);
* ``slow_noise_rms_mv`` ≤ 0.5: over the 500 ms before the stimulus;
* ``vm_delta_mv`` ≤ 1.0: |mean V over the 500 ms before the stimulus − mean V over the last
  500 ms of the sweep| (not for ramps);
* integrity: finite samples, a stimulus window inside the sweep;
* ``detection_disagreement``: the allen and robust profiles count different numbers of spikes in
  the window (patchatlas; flag, not a failure unless configured);
* ``depolarization_block``: the robust profile's flag (patchatlas; flag).

Cell rules (:func:`cell_qc`; Allen v1.1 defaults, all configurable in :class:`QCRules`), computed
from the voltage-clamp test-pulse sweeps the acquisition software records around the experiment.
Sweeps are identified by their stimulus code (``Stimulus.name`` or the ``stimulus_code``
metadata the NWB readers keep), by prefix, case-insensitive: MIES/Allen ``EXTPINBATH`` (pipette
in the bath), ``EXTPCllATT`` (cell attached, the seal), ``EXTPBREAKN`` (break-in),
``EXTPBLWOUT`` (blowout). The last sweep of each role is used.

* ``blowout_mv`` ∈ [−10, 10]: mean recorded voltage of the blowout sweep (current clamp);
* ``electrode_0_pa``: abs(mean recorded current over the first 5 ms of the bath sweep) ≤ 200;
* ``seal_gohm`` ≥ 1: steady-state resistance ΔV/ΔI of the last test pulse of the seal sweep, ΔI =
  mean current over the last 1 ms of the pulse − mean baseline before the pulse;
* ``initial_access_resistance_mohm`` ∈ [1, 20]: ΔV / peak ΔI of the last test pulse of the
  break-in sweep (peak: the largest excursion in the direction of ΔV during the pulse);
* ``input_access_resistance_ratio`` ≤ 0.15: initial access resistance / input resistance ``ri``
  (from the long-square analysis, :func:`patchatlas.ephys.cell_features`).

A measurement that is missing (no such sweep, a pulse that cannot be measured, no ``ri``) has
value NaN, a ``reason``, and fails the cell ("missing values fail the cell", Allen v1.1) unless
``QCRules.missing_fails`` is False, in which case its ``passed`` is None.

Reading comes first: the readers' plausibility findings (a voltage outside any membrane range,
an absurd current, a missing stimulus file, ...; :attr:`Recording.plausibility`) are listed by
:func:`plausibility_table` beside these rules (``patchatlas ephys qc`` prints them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import patchatlas.ephys._notes as _notes
from patchatlas.core.recording import ClampMode, Recording, StimulusKind, Sweep
from patchatlas.errors import PatchAtlasError

__all__ = [
    "CELL_RULES",
    "CellQC",
    "QCRules",
    "TestPulse",
    "cell_qc",
    "cell_rule_verdict",
    "plausibility_table",
    "qc_sweep_role",
    "recording_qc",
    "sweep_qc",
    "voltage_clamp_pulses",
]

# cell rule name → unit (order of the report)
CELL_RULES: dict[str, str] = {
    "blowout_mv": "mV",
    "electrode_0_pa": "pA",
    "seal_gohm": "GΩ",
    "initial_access_resistance_mohm": "MΩ",
    "input_access_resistance_ratio": "",
}


@dataclass(frozen=True, slots=True)
class QCRules:
    """Thresholds and windows of the sweep QC rules (Allen v1.1 defaults)."""

    pre_noise_rms_mv: float = 0.07
    post_noise_rms_mv: float = 0.07
    slow_noise_rms_mv: float = 0.5
    vm_delta_mv: float = 1.0
    noise_window_s: float = 0.0015
    slow_window_s: float = 0.5
    fail_on_flags: tuple[str, ...] = field(default_factory=tuple)
    # cell rules (Allen v1.1)
    blowout_mv: tuple[float, float] = (-10.0, 10.0)
    electrode_0_pa: float = 200.0
    seal_gohm: float = 1.0
    initial_access_resistance_mohm: tuple[float, float] = (1.0, 20.0)
    input_access_resistance_ratio: float = 0.15
    electrode_0_window_s: float = 0.005
    steady_window_s: float = 0.001
    missing_fails: bool = True
    bath_codes: tuple[str, ...] = ("EXTPINBATH",)
    seal_codes: tuple[str, ...] = ("EXTPCllATT",)
    breakin_codes: tuple[str, ...] = ("EXTPBREAKN",)
    blowout_codes: tuple[str, ...] = ("EXTPBLWOUT",)

    def with_(self, **changes: Any) -> QCRules:
        """Copy with some thresholds changed.

        Parameters
        ----------
        **changes
            New values of fields of :class:`QCRules` (same units as the field names say:
            ``_mv`` mV, ``_pa`` pA, ``_s`` s, ``_gohm`` GΩ, ``_mohm`` MΩ).

        Returns
        -------
        QCRules
            A new rule set; this one is unchanged.
        """
        return replace(self, **changes)


def _rms(x: np.ndarray) -> float:
    if x.size < 2:
        return math.nan
    return float(np.sqrt(np.mean((x - x.mean()) ** 2)))


def sweep_qc(sweep: Sweep, *, rules: QCRules | None = None, flags: bool = True) -> dict[str, Any]:
    """QC of one current-clamp sweep: ``{rule: value, rule_pass: bool | None, passed: bool}``.

    Parameters
    ----------
    sweep
        A current-clamp sweep (``v`` in mV, ``t`` in s).
    rules
        Limits and windows (default: :class:`QCRules`, Allen v1.1).
    flags
        Also run the allen and robust spike analyses for the ``detection_disagreement`` and
        ``depolarization_block`` flags (the slow part).

    Returns
    -------
    dict of str to Any
        ``sweep_number``, ``stimulus_kind``, ``integrity_finite`` and
        ``integrity_stimulus_in_sweep``; for a sweep with finite samples, each noise rule's
        value (mV) and ``<rule>_pass`` (None when it could not be evaluated); with ``flags`` (and
        an intact sweep) ``n_spikes_allen``, ``n_spikes_robust`` and the two flags; and
        ``passed``: integrity holds and no rule (or flag in ``rules.fail_on_flags``) failed.
    """
    r = rules or QCRules()
    v = np.asarray(sweep.v, dtype=np.float64)
    t = np.asarray(sweep.t, dtype=np.float64)
    fs = sweep.sampling_rate
    out: dict[str, Any] = {"sweep_number": sweep.number, "stimulus_kind": sweep.stimulus.kind.value}
    finite = bool(np.all(np.isfinite(v))) and v.size > 0
    s, e = sweep.stimulus.start, sweep.stimulus.end
    in_sweep = (
        v.size > 0 and math.isfinite(s) and math.isfinite(e) and t[0] <= s < e <= t[-1] + 1 / fs
    )
    out["integrity_finite"] = finite
    out["integrity_stimulus_in_sweep"] = in_sweep
    ramp = sweep.stimulus.kind == StimulusKind.RAMP
    nw = max(2, round(r.noise_window_s * fs))
    sw_n = round(r.slow_window_s * fs)
    t0 = float(t[0]) if v.size else 0.0
    tp = [ep for ep in sweep.stimulus.epochs if ep.kind == "test_pulse"]
    pre_start = int(np.searchsorted(t, tp[0].end + 0.01)) if tp else 0
    vals: dict[str, tuple[float, float]] = {}
    if finite:
        vals["pre_noise_rms_mv"] = (_rms(v[pre_start : pre_start + nw]), r.pre_noise_rms_mv)
        vals["post_noise_rms_mv"] = (math.nan if ramp else _rms(v[-nw:]), r.post_noise_rms_mv)
        if in_sweep and s - t0 >= r.slow_window_s:
            si = int(np.searchsorted(t, s))
            pre = v[si - sw_n : si]
            vals["slow_noise_rms_mv"] = (_rms(pre), r.slow_noise_rms_mv)
            delta = math.nan if ramp else abs(float(pre.mean()) - float(v[-sw_n:].mean()))
            vals["vm_delta_mv"] = (delta, r.vm_delta_mv)
        else:
            vals["slow_noise_rms_mv"] = (math.nan, r.slow_noise_rms_mv)
            vals["vm_delta_mv"] = (math.nan, r.vm_delta_mv)
    passed = finite and in_sweep
    for name, (value, limit) in vals.items():
        out[name] = value
        ok = None if not math.isfinite(value) else bool(value <= limit)
        out[f"{name}_pass"] = ok
        if ok is False:
            passed = False
    if flags and finite and in_sweep:
        from patchatlas.ephys.train import analyze_sweep

        fa: dict[str, Any] | None
        fr: dict[str, Any] | None
        try:
            with _notes.collecting():  # notes of the flag analyses are not QC findings
                _, fa = analyze_sweep(sweep, profile="allen")
                _, fr = analyze_sweep(sweep, profile="robust")
        except PatchAtlasError:  # QC must report, not raise
            fa = fr = None
        if fa is not None and fr is not None:
            out["n_spikes_allen"] = fa["n_spikes"]
            out["n_spikes_robust"] = fr["n_spikes"]
            out["detection_disagreement"] = bool(fa["n_spikes"] != fr["n_spikes"])
            out["depolarization_block"] = bool(fr.get("depolarization_block", False))
            for flag in r.fail_on_flags:
                if out.get(flag):
                    passed = False
    out["passed"] = bool(passed)
    return out


def recording_qc(
    recording: Recording, *, rules: QCRules | None = None, flags: bool = True
) -> list[dict[str, Any]]:
    """:func:`sweep_qc` for every current-clamp sweep of a recording, except the cell-QC sweeps
    (bath / seal / break-in / blowout, :func:`qc_sweep_role`), which :func:`cell_qc` reads.

    Parameters
    ----------
    recording
        The cell's sweeps; voltage-clamp sweeps are skipped.
    rules
        Limits, windows and cell-QC stimulus codes (default: :class:`QCRules`).
    flags
        Compute the spike-detection flags of each sweep (see :func:`sweep_qc`).

    Returns
    -------
    list of dict
        One :func:`sweep_qc` result per sweep checked, in recording order.
    """
    return [
        sweep_qc(sw, rules=rules, flags=flags)
        for sw in recording
        if sw.clamp_mode == "current_clamp" and qc_sweep_role(sw, rules) is None
    ]


# --------------------------------------------------------------------------------------------
# cell rules


@dataclass(frozen=True, slots=True)
class TestPulse:
    """One voltage-clamp command pulse and the current response to it.

    Attributes
    ----------
    start, end
        Pulse window in s on the sweep clock (``end`` exclusive).
    dv_mv
        Command step (pulse level − holding level), mV.
    baseline_pa
        Mean current before the pulse (up to one pulse length, after any previous pulse), pA.
    steady_pa, peak_pa
        Steady-state ΔI (mean over the last ``steady_window_s`` of the pulse − baseline) and peak
        ΔI (largest excursion in the direction of ``dv_mv`` during the pulse − baseline), pA.
    steady_resistance_mohm, peak_resistance_mohm
        ``1000 · dv_mv / steady_pa`` and ``1000 · dv_mv / peak_pa`` (mV/pA = GΩ); NaN when the
        current does not move in the direction of the command.
    """

    __test__ = False  # not a pytest class

    start: float
    end: float
    dv_mv: float
    baseline_pa: float
    steady_pa: float
    peak_pa: float
    steady_resistance_mohm: float
    peak_resistance_mohm: float


def _response_current(sweep: Sweep) -> np.ndarray | None:
    cur = sweep.i_recorded if sweep.i_recorded is not None else sweep.i
    return None if cur is None else np.asarray(cur, dtype=np.float64)


def voltage_clamp_pulses(sweep: Sweep, *, steady_window_s: float = 0.001) -> list[TestPulse]:
    """Square command pulses of a voltage-clamp sweep and their resistances.

    Parameters
    ----------
    sweep
        A voltage-clamp sweep: ``v`` is the command (mV), ``i_recorded`` (or ``i``) the recorded
        current (pA).
    steady_window_s
        Length of the steady-state window at the end of each pulse (s).

    Returns
    -------
    list of TestPulse
        Complete pulses (holding level on both sides, inside the sweep), in time order. The
        holding level is the median command; a pulse is a run of samples whose command differs
        from it.

    Raises
    ------
    patchatlas.errors.DataError
        The sweep is not voltage clamp or has no current trace.
    """
    from patchatlas.errors import DataError

    if sweep.clamp_mode != ClampMode.VOLTAGE_CLAMP:
        raise DataError(
            f"sweep {sweep.number} is {sweep.clamp_mode.value}; test-pulse resistances need a "
            "voltage-clamp sweep (command in v, recorded current in i)"
        )
    cur = _response_current(sweep)
    if cur is None:
        raise DataError(
            f"voltage-clamp sweep {sweep.number} has no current trace; pass the recorded current"
        )
    cmd = np.asarray(sweep.v, dtype=np.float64)
    n = cmd.size
    if n < 3 or not np.all(np.isfinite(cmd)):
        return []
    hold = float(np.median(cmd))
    span = float(np.max(np.abs(cmd - hold)))
    if span == 0.0:
        return []
    off = np.abs(cmd - hold) > 1e-6 * max(span, 1.0)
    edges = np.flatnonzero(np.diff(off.astype(np.int8)))
    starts = edges[~off[edges]] + 1  # holding → pulse
    ends = edges[off[edges]] + 1  # pulse → holding (exclusive end)
    if starts.size == 0 or ends.size == 0:
        return []
    # pair each start with the first end after it (complete pulses only)
    k = np.searchsorted(ends, starts, side="right")
    keep = k < ends.size
    starts, ends = starts[keep], ends[k[keep]]
    t = sweep.t
    nw = max(1, round(steady_window_s * sweep.sampling_rate))
    out: list[TestPulse] = []
    prev_end = 0
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        length = b - a
        base_lo = max(prev_end, a - length)
        prev_end = b
        dv = float(np.median(cmd[a:b])) - hold
        if a - base_lo < 2 or length < nw or not np.all(np.isfinite(cur[base_lo:b])):
            steady = peak = math.nan
            base = math.nan
        else:
            base = float(cur[base_lo:a].mean())
            steady = float(cur[b - nw : b].mean()) - base
            sgn = 1.0 if dv > 0 else -1.0
            peak = sgn * float(np.max(sgn * (cur[a:b] - base)))
        with np.errstate(divide="ignore", invalid="ignore"):
            r_ss = 1000.0 * dv / steady if steady * dv > 0 else math.nan
            r_pk = 1000.0 * dv / peak if peak * dv > 0 else math.nan
        out.append(
            TestPulse(
                float(t[a]),
                float(t[b - 1] + 1.0 / sweep.sampling_rate),
                dv,
                base,
                steady,
                peak,
                float(r_ss),
                float(r_pk),
            )
        )
    return out


def qc_sweep_role(sweep: Sweep, rules: QCRules | None = None) -> str | None:
    """``"bath"``, ``"seal"``, ``"breakin"``, ``"blowout"`` or None, from the stimulus code.

    Parameters
    ----------
    sweep
        Any sweep; its ``stimulus.name`` and ``metadata["stimulus_code"]`` are matched.
    rules
        The stimulus-code prefixes of each role (case-insensitive; default: :class:`QCRules`).

    Returns
    -------
    str or None
        The first role, in the order bath, seal, breakin, blowout, with a prefix that starts
        either code; None for an ordinary sweep.
    """
    r = rules or QCRules()
    codes = [sweep.stimulus.name or "", str(sweep.metadata.get("stimulus_code", ""))]
    codes = [c.strip().lower() for c in codes if c]
    for role, prefixes in (
        ("bath", r.bath_codes),
        ("seal", r.seal_codes),
        ("breakin", r.breakin_codes),
        ("blowout", r.blowout_codes),
    ):
        if any(c.startswith(p.lower()) for c in codes for p in prefixes):
            return role
    return None


@dataclass(frozen=True, slots=True)
class CellQC:
    """Result of :func:`cell_qc`: one row per rule, and the cell's verdict.

    Each row has ``rule``, ``value``, ``unit``, ``limit`` (text), ``passed`` (bool, or None when
    the value is missing and ``missing_fails`` is off), ``reason`` (why a value is missing, else
    ``""``) and ``sweep_number`` (the sweep measured, or None).
    """

    rows: tuple[dict[str, Any], ...]
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        """Flat ``{rule: value, rule_pass: passed, ..., "cell_passed": bool}``.

        Returns
        -------
        dict of str to Any
            Each rule's value (unit in :data:`CELL_RULES`) and ``<rule>_pass`` (bool or None),
            then ``cell_passed``.
        """
        out: dict[str, Any] = {}
        for row in self.rows:
            out[row["rule"]] = row["value"]
            out[f"{row['rule']}_pass"] = row["passed"]
        out["cell_passed"] = self.passed
        return out

    def to_pandas(self) -> Any:
        """The rows as a DataFrame.

        Returns
        -------
        pandas.DataFrame
            One row per rule with the columns ``rule``, ``value``, ``unit``, ``limit``,
            ``passed``, ``reason`` and ``sweep_number``.
        """
        import pandas as pd

        return pd.DataFrame(list(self.rows))


def _last_pulse(sweep: Sweep, r: QCRules) -> tuple[TestPulse | None, str]:
    """Last full-size pulse of a voltage-clamp sweep, or a reason why there is none."""
    if sweep.clamp_mode != ClampMode.VOLTAGE_CLAMP:
        return None, f"sweep {sweep.number} is {sweep.clamp_mode.value}, not voltage clamp"
    if _response_current(sweep) is None:
        return None, f"sweep {sweep.number} has no recorded current"
    pulses = voltage_clamp_pulses(sweep, steady_window_s=r.steady_window_s)
    if not pulses:
        return None, f"sweep {sweep.number} has no complete command pulse"
    big = max(abs(p.dv_mv) for p in pulses)
    last = [p for p in pulses if abs(p.dv_mv) >= 0.5 * big][-1]
    if not math.isfinite(last.baseline_pa):
        return None, (
            f"sweep {sweep.number}: the pulse at {last.start:g} s has non-finite current or "
            "less than 2 baseline samples before it"
        )
    return last, ""


def _cell_checks(r: QCRules) -> dict[str, tuple[Callable[[float], bool], str]]:
    lo_b, hi_b = r.blowout_mv
    lo_a, hi_a = r.initial_access_resistance_mohm
    return {
        "blowout_mv": (lambda x: lo_b <= x <= hi_b, f"[{lo_b:g}, {hi_b:g}]"),
        "electrode_0_pa": (lambda x: abs(x) <= r.electrode_0_pa, f"|x| <= {r.electrode_0_pa:g}"),
        "seal_gohm": (lambda x: x >= r.seal_gohm, f">= {r.seal_gohm:g}"),
        "initial_access_resistance_mohm": (lambda x: lo_a <= x <= hi_a, f"[{lo_a:g}, {hi_a:g}]"),
        "input_access_resistance_ratio": (
            lambda x: x <= r.input_access_resistance_ratio,
            f"<= {r.input_access_resistance_ratio:g}",
        ),
    }


def cell_rule_verdict(
    rule: str, value: float, *, rules: QCRules | None = None
) -> tuple[bool | None, str]:
    """The verdict of one cell QC rule on a value measured elsewhere (an imported QC table),
    under the same limits :func:`cell_qc` applies.

    Parameters
    ----------
    rule
        A rule of :data:`CELL_RULES` (``"seal_gohm"`` …).
    value
        The measured value, in the rule's unit (:data:`CELL_RULES`).
    rules
        Limits (default: :class:`QCRules`, Allen v1.1).

    Returns
    -------
    passed : bool or None
        None for a missing (non-finite) value: an imported table that does not state a value
        gives no verdict.
    limit : str
        The limit applied, as :func:`cell_qc` reports it.

    Raises
    ------
    patchatlas.errors.PatchAtlasError
        ``rule`` is not a cell QC rule.
    """
    checks = _cell_checks(rules or QCRules())
    if rule not in checks:
        raise PatchAtlasError(
            f"cell_rule_verdict: unknown cell QC rule {rule!r}; use one of {', '.join(checks)}"
        )
    test, limit = checks[rule]
    x = float(value)
    if not math.isfinite(x):
        return None, limit
    return bool(test(x)), limit


def cell_qc(
    recording: Recording,
    *,
    rules: QCRules | None = None,
    ri: float | None = None,
    sweeps: dict[str, int] | None = None,
) -> CellQC:
    """The Allen v1.1 cell QC rules of one recording (see the module docs).

    Parameters
    ----------
    recording
        The cell's sweeps, including the voltage-clamp bath / seal / break-in / blowout sweeps.
    rules
        Limits, windows and stimulus codes (:class:`QCRules`).
    ri
        Input resistance in MΩ. ``None``: computed with
        :func:`patchatlas.ephys.cell_features` (the long-square analysis).
    sweeps
        Explicit sweep numbers per role (``{"seal": 3, "breakin": 5}``), overriding the
        stimulus codes.

    Returns
    -------
    CellQC
        One row per rule in :data:`CELL_RULES` with value, limit, pass/fail and, for a missing
        value, the reason; ``passed`` is True when no rule failed.

    Raises
    ------
    patchatlas.errors.DataError
        ``sweeps`` names a sweep number the recording does not have, or an unknown role.
    """
    from patchatlas.errors import DataError

    r = rules or QCRules()
    roles: dict[str, Sweep] = {}
    for each in recording:
        role = qc_sweep_role(each, r)
        if role is not None:
            roles[role] = each  # the last sweep of each role
    for role, sweep_no in (sweeps or {}).items():
        if role not in ("bath", "seal", "breakin", "blowout"):
            raise DataError(
                f"recording {recording.cell_id!r}: unknown QC sweep role {role!r}; "
                "use bath, seal, breakin or blowout"
            )
        roles[role] = recording.sweep(sweep_no)

    values: dict[str, tuple[float, str, int | None]] = {}

    def missing(role: str, what: str) -> str:
        codes = {
            "bath": r.bath_codes,
            "seal": r.seal_codes,
            "breakin": r.breakin_codes,
            "blowout": r.blowout_codes,
        }[role]
        return f"no {what} sweep in this recording (code {'/'.join(codes)}*)"

    sw: Sweep | None = roles.get("blowout")
    if sw is None:
        values["blowout_mv"] = (math.nan, missing("blowout", "blowout"), None)
    elif sw.clamp_mode != ClampMode.CURRENT_CLAMP:
        values["blowout_mv"] = (
            math.nan,
            f"blowout sweep {sw.number} is voltage clamp: no recorded voltage",
            sw.number,
        )
    else:
        v = np.asarray(sw.v, dtype=np.float64)
        good = v.size > 0 and bool(np.all(np.isfinite(v)))
        values["blowout_mv"] = (
            float(v.mean()) if good else math.nan,
            "" if good else f"blowout sweep {sw.number} is empty or has non-finite samples",
            sw.number,
        )

    sw = roles.get("bath")
    if sw is None:
        values["electrode_0_pa"] = (math.nan, missing("bath", "voltage-clamp bath"), None)
    else:
        cur = _response_current(sw)
        nb = round(r.electrode_0_window_s * sw.sampling_rate)
        if sw.clamp_mode != ClampMode.VOLTAGE_CLAMP or cur is None:
            values["electrode_0_pa"] = (
                math.nan,
                f"bath sweep {sw.number} is not voltage clamp with a recorded current",
                sw.number,
            )
        elif cur.size < max(nb, 1) or not np.all(np.isfinite(cur[:nb])):
            values["electrode_0_pa"] = (
                math.nan,
                f"bath sweep {sw.number} is shorter than {r.electrode_0_window_s * 1e3:g} ms or "
                "has non-finite samples there",
                sw.number,
            )
        else:
            values["electrode_0_pa"] = (float(cur[:nb].mean()), "", sw.number)

    sw = roles.get("seal")
    if sw is None:
        values["seal_gohm"] = (math.nan, missing("seal", "voltage-clamp seal"), None)
    else:
        tp, why = _last_pulse(sw, r)
        val = tp.steady_resistance_mohm / 1000.0 if tp is not None else math.nan
        if tp is not None and not math.isfinite(val):
            why = f"seal sweep {sw.number}: steady current does not follow the command"
        values["seal_gohm"] = (val, why, sw.number)

    sw = roles.get("breakin")
    if sw is None:
        values["initial_access_resistance_mohm"] = (
            math.nan,
            missing("breakin", "voltage-clamp break-in"),
            None,
        )
    else:
        tp, why = _last_pulse(sw, r)
        val = tp.peak_resistance_mohm if tp is not None else math.nan
        if tp is not None and not math.isfinite(val):
            why = f"break-in sweep {sw.number}: peak current does not follow the command"
        values["initial_access_resistance_mohm"] = (val, why, sw.number)

    ra = values["initial_access_resistance_mohm"][0]
    if math.isfinite(ra) and ri is None:
        from patchatlas.ephys.cell import cell_features

        try:
            with _notes.collecting():  # a note about the long squares is not a QC finding
                ri = float(cell_features(recording)["ri"])
        except PatchAtlasError:  # QC must report, not raise
            ri = math.nan
    if not math.isfinite(ra):
        values["input_access_resistance_ratio"] = (
            math.nan,
            "needs initial_access_resistance_mohm, which is missing",
            None,
        )
    elif ri is None or not (math.isfinite(ri) and ri > 0):
        values["input_access_resistance_ratio"] = (
            math.nan,
            "no input resistance ri (needs subthreshold long-square sweeps with -100 < I < 0 pA)",
            None,
        )
    else:
        values["input_access_resistance_ratio"] = (ra / ri, "", None)

    checks = _cell_checks(r)
    rows = []
    cell_ok = True
    for rule, unit in CELL_RULES.items():
        value, reason, number = values[rule]
        test, limit = checks[rule]
        ok: bool | None
        if math.isfinite(value):
            ok, reason = bool(test(value)), ""
        else:
            ok = False if r.missing_fails else None
            reason = reason or "value could not be measured"
        if ok is False:
            cell_ok = False
        rows.append(
            {
                "rule": rule,
                "value": value,
                "unit": unit,
                "limit": limit,
                "passed": ok,
                "reason": reason,
                "sweep_number": number,
            }
        )
    return CellQC(tuple(rows), cell_ok)


PLAUSIBILITY_COLUMNS = ("cell_id", "check", "severity", "sweeps", "message")


def plausibility_table(recording: Recording) -> Any:
    """The reader's plausibility findings about a recording, one row per finding.

    Parameters
    ----------
    recording
        A recording as read (its :attr:`~patchatlas.core.Recording.plausibility`).

    Returns
    -------
    pandas.DataFrame
        Columns ``cell_id``, ``check`` (``"membrane_voltage_range"``, ``"current_scale"``,
        ``"command_unavailable"`` ...), ``severity`` (``"warning"``, or ``"error"`` for a file
        read with ``plausibility="warn"``), ``sweeps`` (the sweep numbers, space-separated;
        empty for the whole file) and ``message`` (names the file); no rows when every check
        passed.
    """
    import pandas as pd

    rows = [
        {
            "cell_id": recording.cell_id,
            "check": f.check,
            "severity": f.severity,
            "sweeps": " ".join(str(n) for n in f.sweeps),
            "message": f.message,
        }
        for f in recording.plausibility
    ]
    return pd.DataFrame(rows, columns=list(PLAUSIBILITY_COLUMNS))
