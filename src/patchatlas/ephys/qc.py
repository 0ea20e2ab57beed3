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
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from patchatlas.ephys.model import Recording, StimulusKind, Sweep

__all__ = ["QCRules", "recording_qc", "sweep_qc"]


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

    def with_(self, **changes: Any) -> QCRules:
        """Copy with some thresholds changed."""
        return replace(self, **changes)


def _rms(x: np.ndarray) -> float:
    if x.size < 2:
        return math.nan
    return float(np.sqrt(np.mean((x - x.mean()) ** 2)))


def sweep_qc(sweep: Sweep, *, rules: QCRules | None = None, flags: bool = True) -> dict[str, Any]:
    """QC of one current-clamp sweep: ``{rule: value, rule_pass: bool | None, passed: bool}``."""
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

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fa: dict[str, Any] | None
            fr: dict[str, Any] | None
            try:
                _, fa = analyze_sweep(sweep, profile="allen")
                _, fr = analyze_sweep(sweep, profile="robust")
            except Exception:  # QC must report, not raise
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
    """:func:`sweep_qc` for every current-clamp sweep of a recording."""
    return [
        sweep_qc(sw, rules=rules, flags=flags)
        for sw in recording
        if sw.clamp_mode == "current_clamp"
    ]
