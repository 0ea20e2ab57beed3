"""Pulse responses: per presynaptic pulse, the postsynaptic snippet, a matched baseline, QC.

For an ordered pair (pre → post), every pulse delivered to the presynaptic cell gives one
*response*: the postsynaptic trace from ``pre_window`` before the pulse onset to ``post_window``
after it (cut short at the next pulse; the rest is NaN), on a common grid. Each response is paired
with a *baseline* of the same length cut from a quiet stretch of the postsynaptic recording (no
pulse on any electrode from 50 ms before it to its end), drawn without replacement by a
generator seeded from the experiment and pair names (same input, same draw), from the same sweep
first and from the post cell's other sweeps in the same clamp mode when that sweep has run out.
The baseline goes through the same QC, so foreground and background statistics compare like
with like (Allen Synaptic Physiology's design).

QC (defaults of :class:`ResponseOptions`, those of the Allen pipeline):

* recording: holding current within ±800 pA; current clamp: baseline between −85 and −45 mV and
  noise SD ≤ 5 mV; voltage clamp: noise SD ≤ 200 pA; at most 10 % of samples exactly 0;
* response (separate flags for excitatory and inhibitory tests): a presynaptic spike; SD of the
  first 5 ms ≤ 1.5 mV (IC) / 15 pA (VC); IC: window maximum ≤ −40 mV and deflection ≤ 10 mV;
  VC: deflection ≤ 500 pA; no pulse on another electrode within 8 ms; holding for excitatory
  tests in (−85, −50) mV, for inhibitory tests in (−60, −50) mV (IC: median potential of the
  window; VC: command).

Units: s, mV (current clamp), pA (voltage clamp).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from patchatlas.core.multipatch import MultipatchExperiment, PulseTrain
from patchatlas.core.recording import ClampMode, Sweep
from patchatlas.synphys.stimulus import protocol

__all__ = ["RESPONSE_COLUMNS", "PairResponses", "ResponseOptions", "pair_responses", "signal_of"]

FloatArray = npt.NDArray[np.float64]

#: columns of :attr:`PairResponses.table`
RESPONSE_COLUMNS: tuple[str, ...] = (
    "sweep",
    "pulse",
    "onset",
    "spike_time",
    "spike_delay",
    "n_pulses",
    "previous_pulse_dt",
    "induction_frequency",
    "recovery_delay",
    "clamp_mode",
    "holding",
    "noise",
    "ex_qc",
    "in_qc",
    "qc_failure",
    "baseline_found",
    "baseline_ex_qc",
    "baseline_in_qc",
)


@dataclass(frozen=True)
class ResponseOptions:
    """Windows and QC limits of the response extraction (s, mV, pA).

    Attributes
    ----------
    pre_window, post_window
        Snippet before and after the pulse onset (s).
    quiet_before
        A baseline chunk needs no pulse this long before it (s).
    other_pulse_gap
        A pulse on another electrode this close makes a response fail QC (s).
    resting_interval
        A response is a *resting-state* response when the previous presynaptic pulse was at
        least this long before (s).
    max_holding_current
        Largest |holding current| of a usable recording (pA).
    ic_baseline_range
        Usable current-clamp baseline potentials (mV).
    ic_recording_noise, vc_recording_noise
        Largest noise SD of a usable recording (mV, pA).
    ic_noise, vc_noise
        Largest SD of the first 5 ms of a response (mV, pA).
    ic_max_potential
        Largest potential inside a current-clamp response window (mV).
    ic_max_deflection, vc_max_deflection
        Largest |deflection| from the pre-pulse baseline (mV, pA).
    ex_holding, in_holding
        Holding ranges of excitatory and inhibitory tests (mV, open intervals).
    max_zero_fraction
        Largest fraction of samples exactly 0 in a usable recording.
    ic_max_crosstalk, vc_max_crosstalk
        Largest stimulus crosstalk of a pair (mV, pA): the median jump in the 200 µs after the
        presynaptic pulse onset minus that of the matched baselines. A pair above it (and
        significantly different from its background) is flagged ``crosstalk_artifact`` and its
        automated call is withheld (:func:`patchatlas.synphys.analyze`). The current-clamp
        default is the reference's 60 µV (its classifier excluded pairs above it); the
        reference states no voltage-clamp limit, so None (not checked) is the default there.
    """

    pre_window: float = 10e-3
    post_window: float = 50e-3
    quiet_before: float = 50e-3
    other_pulse_gap: float = 8e-3
    resting_interval: float = 8.0
    max_holding_current: float = 800.0
    ic_baseline_range: tuple[float, float] = (-85.0, -45.0)
    ic_recording_noise: float = 5.0
    vc_recording_noise: float = 200.0
    ic_noise: float = 1.5
    vc_noise: float = 15.0
    ic_max_potential: float = -40.0
    ic_max_deflection: float = 10.0
    vc_max_deflection: float = 500.0
    ex_holding: tuple[float, float] = (-85.0, -50.0)
    in_holding: tuple[float, float] = (-60.0, -50.0)
    max_zero_fraction: float = 0.1
    ic_max_crosstalk: float | None = 0.06
    vc_max_crosstalk: float | None = None


@dataclass
class PairResponses:
    """The responses of one ordered pair.

    Attributes
    ----------
    pre, post
        Electrodes.
    t
        Time of each snippet sample relative to the pulse onset (s).
    dt
        Sampling interval of the snippets (s).
    data
        Responses, one row per pulse (mV or pA; NaN past the next pulse).
    baseline
        The matched baseline of each response (NaN rows where none was found).
    table
        One row per response (:data:`RESPONSE_COLUMNS`); ``spike_time`` is on the sweep clock,
        ``spike_delay`` after the onset (s), ``holding`` in mV.
    problems
        What made whole sweeps unusable for this pair (words).
    """

    pre: str
    post: str
    t: FloatArray
    dt: float
    data: FloatArray
    baseline: FloatArray
    table: pd.DataFrame
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.data.shape[0])


def signal_of(sweep: Sweep) -> tuple[FloatArray, str]:
    """The postsynaptic signal of a sweep and its clamp mode.

    Parameters
    ----------
    sweep
        A sweep.

    Returns
    -------
    signal : numpy.ndarray
        Membrane potential (mV) in current clamp; recorded current (pA) in voltage clamp.
    mode : str
        ``"ic"`` or ``"vc"``.
    """
    if sweep.clamp_mode == ClampMode.VOLTAGE_CLAMP:
        cur = sweep.i_recorded if sweep.i_recorded is not None else sweep.i
        if cur is None:
            return np.full(sweep.n_samples, np.nan), "vc"
        return np.asarray(cur, dtype=np.float64), "vc"
    return np.asarray(sweep.v, dtype=np.float64), "ic"


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha1(" ".join(parts).encode()).digest()[:8], "little")


def _cut(
    y: FloatArray, t0: float, dt_src: float, starts: FloatArray, n: int, dt: float
) -> FloatArray:
    """Snippets of ``n`` samples at ``dt`` starting at ``starts`` (s); NaN outside the trace."""
    if starts.size == 0:
        return np.zeros((0, n))
    if abs(dt_src - dt) <= 1e-9 * dt:
        i0 = np.rint((starts - t0) / dt).astype(np.int64)
        idx = i0[:, None] + np.arange(n)[None, :]
        ok = (idx >= 0) & (idx < y.size)
        out = np.full(idx.shape, np.nan)
        out[ok] = y[idx[ok]]
        return out
    tt = starts[:, None] + np.arange(n)[None, :] * dt
    src = t0 + np.arange(y.size) * dt_src
    out = np.interp(tt, src, y, left=np.nan, right=np.nan)
    return np.asarray(out, dtype=np.float64)


@dataclass
class _Recording:
    """Per-sweep state of the postsynaptic recording (computed once per sweep and post cell)."""

    y: FloatArray
    mode: str
    dt: float
    t0: float
    holding_current: float
    base: float
    noise: float
    usable: bool
    why: str


def _recording_qc(sweep: Sweep, opts: ResponseOptions) -> _Recording:
    y, mode = signal_of(sweep)
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        return _Recording(y, mode, sweep.dt, sweep.t0, math.nan, math.nan, math.nan, False, "empty")
    if mode == "ic":
        cmd = sweep.i
        hold_i = float(np.nanmedian(cmd)) if cmd is not None else 0.0
        base = float(np.median(finite))
    else:
        hold_i = float(np.median(finite))
        base = float(np.nanmedian(sweep.v))
    # robust noise: MAD of the first differences (insensitive to PSPs and pulses)
    noise = float(1.4826 * np.median(np.abs(np.diff(finite) - np.median(np.diff(finite)))))
    noise /= math.sqrt(2.0)
    why = ""
    if abs(hold_i) > opts.max_holding_current:
        why = f"holding current {hold_i:.0f} pA beyond ±{opts.max_holding_current:g} pA"
    elif mode == "ic" and not (opts.ic_baseline_range[0] <= base <= opts.ic_baseline_range[1]):
        why = f"baseline {base:.1f} mV outside {opts.ic_baseline_range} mV"
    elif mode == "ic" and noise > opts.ic_recording_noise:
        why = f"noise {noise:.2f} mV above {opts.ic_recording_noise:g} mV"
    elif mode == "vc" and noise > opts.vc_recording_noise:
        why = f"noise {noise:.1f} pA above {opts.vc_recording_noise:g} pA"
    elif float(np.mean(y == 0)) > opts.max_zero_fraction:
        why = "more than 10 % of samples are exactly 0"
    return _Recording(y, mode, sweep.dt, sweep.t0, hold_i, base, noise, not why, why)


def _snippet_qc(
    snips: FloatArray,
    hold_cmd: FloatArray,
    rec: _Recording,
    n_pre: int,
    n_5ms: int,
    opts: ResponseOptions,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], FloatArray, FloatArray, list[str]]:
    """Vectorised ex/in QC of snippets (rows). Returns ex, in, holding, noise, failure reason."""
    m = snips.shape[0]
    with np.errstate(all="ignore"):
        pre = snips[:, :n_pre]
        med = np.median if np.isfinite(pre).all() else np.nanmedian
        base = med(pre, axis=1) if n_pre else np.full(m, np.nan)
        noise = np.nanstd(snips[:, :n_5ms], axis=1)
        dev = np.nanmax(np.abs(snips - base[:, None]), axis=1)
        top = np.nanmax(snips, axis=1)
    holding = base if rec.mode == "ic" else hold_cmd
    reasons = [""] * m
    ok = np.full(m, rec.usable)
    if not rec.usable:
        reasons = [f"recording: {rec.why}"] * m
    if rec.mode == "ic":
        checks = [
            (noise <= opts.ic_noise, f"noise above {opts.ic_noise:g} mV"),
            (top <= opts.ic_max_potential, f"potential above {opts.ic_max_potential:g} mV"),
            (dev <= opts.ic_max_deflection, f"deflection above {opts.ic_max_deflection:g} mV"),
        ]
    else:
        checks = [
            (noise <= opts.vc_noise, f"noise above {opts.vc_noise:g} pA"),
            (dev <= opts.vc_max_deflection, f"deflection above {opts.vc_max_deflection:g} pA"),
        ]
    for passed, why in checks:
        passed = np.asarray(passed, dtype=bool)
        for i in np.flatnonzero(ok & ~passed):
            reasons[i] = why
        ok &= passed
    ex = ok & (holding > opts.ex_holding[0]) & (holding < opts.ex_holding[1])
    inh = ok & (holding > opts.in_holding[0]) & (holding < opts.in_holding[1])
    for i in np.flatnonzero(ok & ~ex & ~inh):
        reasons[i] = f"holding {holding[i]:.1f} mV outside the test ranges"
    return ex, inh, holding, noise, reasons


def _quiet_starts(
    n_samples: int, t0: float, dt: float, pulses: FloatArray, win: int, opts: ResponseOptions
) -> FloatArray:
    """Start times of non-overlapping quiet chunks of ``win`` samples in a sweep."""
    starts = np.asarray(t0 + np.arange(0, n_samples - win + 1, win) * dt, dtype=np.float64)
    if starts.size == 0 or pulses.size == 0:
        return starts
    ends = starts + win * dt
    lo = np.searchsorted(pulses, starts - opts.quiet_before, side="left")
    hi = np.searchsorted(pulses, ends, side="left")
    out: FloatArray = starts[hi == lo]
    return out


def pair_responses(
    experiment: MultipatchExperiment,
    pre: str,
    post: str,
    trains: Mapping[int, Mapping[str, PulseTrain]],
    *,
    options: ResponseOptions | None = None,
    dt: float | None = None,
    cache: dict[tuple[object, ...], object] | None = None,
) -> PairResponses:
    """Cut every response of ``pre → post`` with its matched baseline and QC flags.

    Parameters
    ----------
    experiment
        The experiment (its sweeps give the postsynaptic traces).
    pre, post
        Electrodes of the presynaptic and postsynaptic cells.
    trains
        Sweep position in ``experiment.sweeps`` → electrode → :class:`PulseTrain` *with* spike
        times (as :func:`patchatlas.synphys.analyze` prepares them).
    options
        Windows and QC limits (:class:`ResponseOptions`).
    dt
        Sampling interval of the snippets (s; default: the post cell's first sweep's).
    cache
        A dict shared by the calls for one experiment (the same ``trains`` and ``options``):
        the postsynaptic recordings' QC and quiet chunks are then computed once per post cell
        and sweep instead of once per pair.

    Returns
    -------
    PairResponses
        The snippets, baselines and the per-response table (empty when the pair shares no sweep
        with a presynaptic train).
    """
    opts = options or ResponseOptions()
    post_sweeps = [(k, sw) for k, sw in enumerate(experiment.sweeps) if post in sw.sweeps]
    if dt is None:
        dt = post_sweeps[0][1].sweeps[post].dt if post_sweeps else 5e-5
    n_pre = round(opts.pre_window / dt)
    n_win = n_pre + round(opts.post_window / dt)
    n_5ms = max(2, round(5e-3 / dt))
    t_rel = np.asarray((np.arange(n_win) - n_pre) * dt, dtype=np.float64)
    problems: list[str] = []
    rows: list[dict[str, object]] = []
    blocks: list[FloatArray] = []
    rng = np.random.default_rng(_seed(experiment.name, pre, post))
    pools: dict[int, list[tuple[float, bool, bool]]] = {}
    mode_of: dict[int, str] = {}
    recs: dict[int, _Recording] = {}
    shared: dict[tuple[object, ...], object] = cache if cache is not None else {}

    def recording(k: int) -> _Recording:
        if k not in recs:
            key = ("rec", k, post)
            if key not in shared:
                shared[key] = _recording_qc(experiment.sweeps[k].sweeps[post], opts)
            recs[k] = shared[key]  # type: ignore[assignment]
        return recs[k]

    def chunks(k: int) -> tuple[FloatArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        key = ("pool", k, post, n_win, dt)
        if key not in shared:
            sw = experiment.sweeps[k].sweeps[post]
            rec = recording(k)
            allp = np.sort(
                np.concatenate([np.asarray(tr.onsets) for tr in trains.get(k, {}).values()])
                if trains.get(k)
                else np.zeros(0)
            )
            win = round(n_win * dt / sw.dt)
            starts = _quiet_starts(sw.n_samples, sw.t0, sw.dt, allp, win, opts)
            ex = inh = np.zeros(starts.size, dtype=bool)
            if starts.size:
                sn = _cut(rec.y, sw.t0, sw.dt, starts, n_win, dt)
                cmd = _command_holding(sw, rec, starts, n_pre, dt)
                ex, inh, *_ = _snippet_qc(sn, cmd, rec, n_pre, n_5ms, opts)
            shared[key] = (starts, ex, inh)
        return shared[key]  # type: ignore[return-value]

    def pool(k: int) -> list[tuple[float, bool, bool]]:
        """Quiet chunks of sweep k (start, ex_ok, in_ok) in this pair's shuffled order."""
        if k not in pools:
            starts, ex, inh = chunks(k)
            order = rng.permutation(starts.size)
            pools[k] = [(float(starts[i]), bool(ex[i]), bool(inh[i])) for i in order]
            mode_of[k] = recording(k).mode
        return pools[k]

    # absolute times of presynaptic pulses (resting-state intervals across sweeps)
    history: list[float] = []
    for k, sync in post_sweeps:
        tr = trains.get(k, {}).get(pre)
        if tr is None or pre not in sync.sweeps or tr.n_pulses == 0:
            continue
        rec = recording(k)
        sw = sync.sweeps[post]
        onsets = np.asarray(tr.onsets, dtype=np.float64)
        spikes = (
            np.asarray(tr.spike_times, dtype=np.float64)
            if tr.spike_times is not None
            else np.full(onsets.size, np.nan)
        )
        starts = onsets - opts.pre_window
        sn = _cut(rec.y, sw.t0, sw.dt, starts, n_win, dt)
        nxt = np.append(onsets[1:], np.inf)
        cutoff = np.minimum(onsets + opts.post_window, nxt)
        late = (onsets[:, None] + t_rel[None, :]) >= cutoff[:, None]
        sn[late] = np.nan
        cmd = _command_holding(sw, rec, starts, n_pre, dt)
        ex, inh, holding, noise, reasons = _snippet_qc(sn, cmd, rec, n_pre, n_5ms, opts)
        has_spike = np.isfinite(spikes)
        others = [
            np.asarray(o.onsets) for e, o in trains.get(k, {}).items() if e != pre and o.n_pulses
        ]
        near = np.zeros(onsets.size, dtype=bool)
        if others:
            allo = np.sort(np.concatenate(others))
            j = np.searchsorted(allo, onsets)
            left = np.abs(onsets - allo[np.maximum(j - 1, 0)])
            right = np.abs(allo[np.minimum(j, allo.size - 1)] - onsets)
            near = np.minimum(left, right) < opts.other_pulse_gap
        for i in range(onsets.size):
            if not has_spike[i]:
                reasons[i] = "no presynaptic spike"
            elif near[i] and not reasons[i]:
                reasons[i] = "a pulse on another electrode within 8 ms"
        ex = ex & has_spike & ~near
        inh = inh & has_spike & ~near
        freq, delay = protocol(onsets)
        start_abs = sync.start_time
        for i in range(onsets.size):
            t_abs = (start_abs + onsets[i]) if math.isfinite(start_abs) else math.nan
            prev = (onsets[i] - onsets[i - 1]) if i else math.nan
            if i == 0:
                prev = (t_abs - history[-1]) if (history and math.isfinite(t_abs)) else math.nan
            rows.append(
                {
                    "sweep": sync.number,
                    "pulse": i + 1,
                    "onset": float(onsets[i]),
                    "spike_time": float(spikes[i]),
                    "spike_delay": float(spikes[i] - onsets[i]),
                    "n_pulses": int(onsets.size),
                    "previous_pulse_dt": prev,
                    "induction_frequency": freq,
                    "recovery_delay": delay,
                    "clamp_mode": rec.mode,
                    "holding": float(holding[i]),
                    "noise": float(noise[i]),
                    "ex_qc": bool(ex[i]),
                    "in_qc": bool(inh[i]),
                    "qc_failure": reasons[i] or None,
                    "_k": k,
                }
            )
        if math.isfinite(start_abs):
            history.append(start_abs + float(onsets[-1]))
        blocks.append(sn)
    if not rows:
        if not post_sweeps:
            problems.append(f"no sweep recorded the postsynaptic cell {post}")
        else:
            problems.append(f"no sweep stimulated {pre} while {post} was recorded")
        table = pd.DataFrame({c: [] for c in RESPONSE_COLUMNS})
        z = np.zeros((0, n_win))
        return PairResponses(pre, post, t_rel, dt, z, z.copy(), table, problems)
    data = np.concatenate(blocks, axis=0)
    table = pd.DataFrame(rows)
    # matched baselines: same sweep first, then other sweeps of the same clamp mode
    base = np.full(data.shape, np.nan)
    found = np.zeros(len(table), dtype=bool)
    b_ex = np.zeros(len(table), dtype=bool)
    b_in = np.zeros(len(table), dtype=bool)
    used: set[tuple[int, float]] = set()
    ks = table["_k"].to_numpy()
    order_all = [k for k, _ in post_sweeps]
    for r in range(len(table)):
        k = int(ks[r])
        want_ex, want_in = bool(table.at[r, "ex_qc"]), bool(table.at[r, "in_qc"])
        mode = recording(k).mode
        chosen = None
        for kk in [k, *[x for x in order_all if x != k]]:
            cands = pool(kk)
            if mode_of.get(kk) != mode:
                continue
            for start, e_ok, i_ok in cands:
                if (kk, start) in used:
                    continue
                if (want_ex and not e_ok) or (want_in and not i_ok):
                    continue
                chosen = (kk, start, e_ok, i_ok)
                break
            if chosen is not None:
                break
        if chosen is None:
            continue
        kk, start, e_ok, i_ok = chosen
        used.add((kk, start))
        sw = experiment.sweeps[kk].sweeps[post]
        snip = _cut(recording(kk).y, sw.t0, sw.dt, np.array([start]), data.shape[1], dt)[0]
        snip[np.isnan(data[r])] = np.nan  # same truncation as the response
        base[r] = snip
        found[r], b_ex[r], b_in[r] = True, e_ok, i_ok
    table["baseline_found"] = found
    table["baseline_ex_qc"] = b_ex
    table["baseline_in_qc"] = b_in
    unusable = sorted({recs[k].why for k in recs if not recs[k].usable})
    problems += [f"recording of {post} unusable: {w}" for w in unusable]
    table = table.drop(columns="_k")[list(RESPONSE_COLUMNS)]
    return PairResponses(pre, post, t_rel, dt, data, base, table, problems)


def _command_holding(
    sw: Sweep, rec: _Recording, starts: FloatArray, n_pre: int, dt: float
) -> FloatArray:
    """Command potential (mV) before each snippet in voltage clamp (NaN in current clamp)."""
    if rec.mode != "vc":
        return np.full(starts.size, np.nan)
    cmd = _cut(np.asarray(sw.v, dtype=np.float64), sw.t0, sw.dt, starts, max(n_pre, 1), dt)
    with np.errstate(all="ignore"):
        out: FloatArray = np.nanmedian(cmd, axis=1)
    return out
