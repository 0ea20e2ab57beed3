"""Private seam of :mod:`patchatlas.models.glif`: the fitting steps that come straight from data.

Internal API (used by :mod:`.fit`): :class:`Trace` (one sweep on the fitting grid),
:func:`passive`, :func:`reset_rule`, :func:`threshold_inf`, :func:`after_spike_currents`,
:func:`threshold_adaptation`. Each is a regression on the recorded traces (Teeter et al. 2018,
Methods: "parameters fit directly from the data"), and raises
:class:`~patchatlas.errors.IdentifiabilityError` when the sweeps given cannot determine it.
Voltages are mV, currents pA, times s; ``El`` is the fitted resting potential.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from patchatlas.errors import IdentifiabilityError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: candidate after-spike-current decay rates (1/s): τ ≈ 333, 100, 33, 10, 3.3 ms (Teeter)
ASC_RATES: tuple[float, ...] = (3.0, 10.0, 30.0, 100.0, 300.0)
#: candidate Θ_s decay rates b_s (1/s)
TH_SPIKE_RATES: FloatArray = np.geomspace(3.0, 1000.0, 24)
#: candidate Θ_v decay rates b_v (1/s)
TH_VOLTAGE_RATES: FloatArray = np.geomspace(3.0, 300.0, 9)


@dataclass
class Trace:
    """One current-clamp sweep on the fitting grid.

    ``spikes`` are the recorded spikes' threshold samples, ``vth`` their threshold voltages (mV,
    absolute); ``stim_end`` the sample where the stimulus's primary epoch ends (n when unknown).
    """

    number: int
    kind: str
    name: str
    amplitude: float
    v: FloatArray
    i: FloatArray
    dt: float
    spikes: IntArray
    vth: FloatArray
    stim_start: int
    stim_end: int
    baseline: float
    meta: dict[str, float] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Samples."""
        return int(self.v.shape[0])

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.n * self.dt


def _blocks(x: FloatArray, nb: int) -> FloatArray:
    m = x.shape[0] // nb
    return np.asarray(x[: m * nb].reshape(m, nb).mean(axis=1))


@dataclass(frozen=True)
class Passive:
    """R (MΩ), C (pF), E_L (mV), the AR(1) pole ``a`` per block, block length (samples), and
    the residual noise (mV)."""

    R: float
    C: float
    El: float
    a: float
    c: float
    nb: int
    noise: float
    n_sweeps: int


def _spike_free(t: Trace, *, before: float = 5e-3, after: float = 0.1) -> npt.NDArray[np.bool_]:
    """Samples at least ``before`` s before and ``after`` s after every spike."""
    ok = np.ones(t.n, dtype=bool)
    b, a = round(before / t.dt), round(after / t.dt)
    for s in t.spikes:
        ok[max(0, int(s) - b) : int(s) + a] = False
    return ok


def passive(traces: list[Trace], dt: float, *, block: float = 5e-4, max_steps: int = 6) -> Passive:
    """R, C and E_L by least squares of the sampled membrane equation away from spikes.

    On blocks of ``block`` s, ``V[k+1] = a V[k] + β I[k] + c`` (the exact solution of
    C dV/dt = I − (V − E_L)/R over a block with the current held): τ = −Δ/ln a,
    R = β / (1 − a), E_L = c / (1 − a), C = τ / R. Rows within 5 ms before to 100 ms after a
    spike are left out. The noise sweeps and the ``max_steps`` other sweeps of smallest
    amplitude are used (the most linear range: large steps bring in sag and rectification).
    """

    def usable(t: Trace) -> bool:
        return bool(_spike_free(t).mean() > 0.5)

    noise = [t for t in traces if t.kind == "noise" and usable(t)]
    steps = sorted(
        (t for t in traces if t.kind != "noise" and usable(t)),
        key=lambda t: (abs(t.amplitude) if math.isfinite(t.amplitude) else 0.0, t.number),
    )
    sub = noise + steps[:max_steps]
    if not sub:
        raise IdentifiabilityError(
            "no training sweep is mostly free of spikes: R, C and E_L (every level) need "
            "subthreshold responses; give hyperpolarising or small depolarising steps (or noise) "
            "for training"
        )
    nb = max(1, round(block / dt))
    xs, ys = [], []
    for t in sub:
        vb, ib = _blocks(t.v, nb), _blocks(t.i, nb)
        okb = _blocks(_spike_free(t).astype(float), nb) == 1.0
        if vb.shape[0] < 3:
            continue
        rows = okb[:-1] & okb[1:]
        xs.append(np.column_stack([vb[:-1], ib[:-1], np.ones(vb.shape[0] - 1)])[rows])
        ys.append(vb[1:][rows])
    if not xs or sum(len(y) for y in ys) < 10:
        raise IdentifiabilityError("the subthreshold stretches are too short for R and C")
    x, y = np.vstack(xs), np.concatenate(ys)
    if np.ptp(x[:, 1]) < 1.0:
        raise IdentifiabilityError(
            f"the {len(sub)} subthreshold training sweep(s) inject no varying current (range "
            f"{np.ptp(x[:, 1]):.2g} pA): R and C cannot be separated from E_L; add current steps"
        )
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    a, beta, c = (float(v) for v in coef)
    if not (0.0 < a < 1.0) or beta <= 0:
        raise IdentifiabilityError(
            f"the subthreshold regression gives no passive membrane (pole {a:.4g}, gain "
            f"{beta:.3g}): the subthreshold sweeps do not show an RC response"
        )
    delta = nb * dt
    tau = -delta / math.log(a)
    r = beta / ((1.0 - a) * 1e-3)
    el = c / (1.0 - a)
    cap = tau / (r * 1e-6)
    noise_sd = float(np.std(y - x @ coef))
    return Passive(R=r, C=cap, El=el, a=a, c=c, nb=nb, noise=noise_sd, n_sweeps=len(sub))


@dataclass(frozen=True)
class ResetRule:
    """Spike cut (samples), f_v, δV (mV), spikes used, their threshold spread (mV)."""

    cut: int
    fraction: float
    add: float
    n_spikes: int
    spread: float
    constrained: bool


def _following(t: Trace) -> IntArray:
    """Samples from each spike to the next spike (or to the stimulus end, else the sweep end)."""
    if t.spikes.size == 0:
        return np.zeros(0, dtype=np.int64)
    end = t.stim_end if 0 < t.stim_end <= t.n else t.n
    nxt = np.append(t.spikes[1:], max(end, int(t.spikes[-1])))
    return np.asarray(nxt - t.spikes, dtype=np.int64)


def reset_rule(traces: list[Trace], el: float, dt: float, *, min_spikes: int = 5) -> ResetRule:
    """Spike cut and reset rule: regress V(threshold + L) on V(threshold) across spikes.

    For each L from 1 to 10 ms (capped by the intervals), ``V_after − E_L = f_v (V_thr − E_L) +
    δV`` is fitted over every spike followed by at least L without a spike; the L with the least
    residual variance is the cut (Teeter et al. 2018). f_v > 1 is refitted with f_v = 1 and
    f_v < 0 with f_v = 0.
    """
    lo, hi = max(1, round(1e-3 / dt)), max(2, round(10e-3 / dt))
    step = max(1, round(2.5e-4 / dt))
    spikes = [
        (t, s, vth, f)
        for t in traces
        for s, vth, f in zip(t.spikes, t.vth, _following(t), strict=True)
    ]
    best: tuple[float, int, float, float, int, float] | None = None
    for cut in range(lo, hi + 1, step):
        use = [
            (t.v[s + cut] - el, vth - el)
            for t, s, vth, f in spikes
            if f > cut + 1 and s + cut < t.n
        ]
        if len(use) < min_spikes:
            continue
        y, x = np.array(use).T
        if np.ptp(x) > 1e-9:
            f_v, b = np.polyfit(x, y, 1)
        else:
            f_v, b = 0.0, float(np.mean(y))
        res = float(np.var(y - (f_v * x + b)))
        if best is None or res < best[0]:
            best = (res, cut, float(f_v), float(b), len(use), float(np.std(x)))
    if best is None:
        n_sp = len(spikes)
        raise IdentifiabilityError(
            f"{n_sp} training spike(s), fewer than {min_spikes} followed by >= 1 ms without a "
            "spike: the spike cut and the reset rule (f_v, δV) cannot be fitted; give sweeps "
            "with more spikes"
        )
    _, cut, f_v, b, n, spread = best
    constrained = False
    if not 0.0 <= f_v <= 1.0:
        # Teeter: a slope above 1 is refitted at 1; a negative slope (the reset falling as
        # the threshold rises) is refitted at 0, a fixed reset value (NEST accepts [0, 1])
        use = [
            (t.v[s + cut] - el, vth - el)
            for t, s, vth, f in spikes
            if f > cut + 1 and s + cut < t.n
        ]
        y, x = np.array(use).T
        f_v = 1.0 if f_v > 1.0 else 0.0
        b, constrained = float(np.mean(y - f_v * x)), True
    return ResetRule(
        cut=cut, fraction=f_v, add=b, n_spikes=n, spread=spread, constrained=constrained
    )


def threshold_inf(traces: list[Trace], el: float) -> tuple[float, str]:
    """Θ∞ (mV above E_L): the first spike's threshold of the smallest spiking short square
    (relative to its own baseline), else of the smallest spiking long square (rheobase sweep),
    else the lowest first-spike threshold of any sweep; and a note saying which."""
    spiking = [t for t in traces if t.spikes.size]
    if not spiking:
        raise IdentifiabilityError(
            "no training sweep has a spike: the threshold Θ∞ cannot be fitted; include the "
            "rheobase sweep (or short squares that evoke a spike) in the training set"
        )
    for kind, label in (
        ("short_square", "short square"),
        ("long_square", "long square (rheobase)"),
    ):
        cand = [t for t in spiking if t.kind == kind and math.isfinite(t.amplitude)]
        if cand:
            t = min(cand, key=lambda s: s.amplitude)
            ref = t.baseline if kind == "short_square" else el
            return float(
                t.vth[0] - ref
            ), f"first spike of the smallest spiking {label}, sweep {t.number}"
    t = min(spiking, key=lambda s: s.vth[0])
    return float(t.vth[0] - el), f"lowest first-spike threshold (sweep {t.number})"


@dataclass(frozen=True)
class AfterSpike:
    """After-spike currents: amplitudes δI (pA), rates k (1/s), R refitted jointly (MΩ)."""

    amp: tuple[float, float]
    k: tuple[float, float]
    R: float
    n_spikes: int
    sse: float


def _reset_impulses(t: Trace, cut: int, nb: int, m: int) -> FloatArray:
    imp = np.zeros(m)
    for s in t.spikes:
        b = (int(s) + cut + 1) // nb
        if b < m:
            imp[b] += 1.0
    return imp


def _valid_blocks(t: Trace, cut: int, nb: int, m: int, dt: float) -> npt.NDArray[np.bool_]:
    ok = np.ones(m, dtype=bool)
    pre = max(1, round(2e-3 / dt))
    for s in t.spikes:
        lo = max(0, (int(s) - pre) // nb)
        hi = min(m, (int(s) + cut + 1) // nb + 2)
        ok[lo:hi] = False
    return ok


def after_spike_currents(
    traces: list[Trace], pas: Passive, cut: int, dt: float, *, min_spikes: int = 3
) -> AfterSpike:
    """Two after-spike currents by linear regression between spikes, for every pair of fixed
    decay rates (:data:`ASC_RATES`); the pair with the least squared error wins.

    On the passive fit's blocks: ``V[k+1] − a V[k] − c = β (I[k] + Σ_j δI_j B_j[k])`` with
    ``B_j`` the sum of ``e^{−k_j (t − t_reset)}`` over earlier resets; β (hence R) is refitted
    jointly with the amplitudes.
    """
    nb, a, c = pas.nb, pas.a, pas.c
    delta = nb * dt
    n_sp = sum(max(0, t.spikes.size - 1) for t in traces)
    if n_sp < min_spikes:
        raise IdentifiabilityError(
            f"{n_sp} training spike(s) followed by another spike: after-spike currents (GLIF3-5) "
            f"need at least {min_spikes} inter-spike intervals; give sweeps with spike trains"
        )
    rows_y, rows_i, imps, valid, seg = [], [], [], [], []
    for t in traces:
        vb, ib = _blocks(t.v, nb), _blocks(t.i, nb)
        m = vb.shape[0]
        if m < 3:
            continue
        ok = _valid_blocks(t, cut, nb, m, dt)[:-1] & _valid_blocks(t, cut, nb, m, dt)[1:]
        rows_y.append((vb[1:] - a * vb[:-1] - c)[ok])
        rows_i.append(ib[:-1][ok])
        imps.append(_reset_impulses(t, cut, nb, m))
        valid.append(ok)
        seg.append(m)
    y = np.concatenate(rows_y)
    cur = np.concatenate(rows_i)
    basis: dict[float, FloatArray] = {}
    for k in ASC_RATES:
        cols = []
        for imp, ok in zip(imps, valid, strict=True):
            b = lfilter([1.0], [1.0, -math.exp(-k * delta)], imp)
            cols.append(b[:-1][ok])
        basis[k] = np.concatenate(cols)
    best: AfterSpike | None = None
    for k1, k2 in itertools.combinations(ASC_RATES, 2):
        x = np.column_stack([cur, basis[k1], basis[k2]])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        sse = float(np.sum((y - x @ coef) ** 2))
        beta = float(coef[0])
        if beta <= 0:
            continue
        if best is None or sse < best.sse:
            best = AfterSpike(
                amp=(float(coef[1]) / beta, float(coef[2]) / beta),
                k=(k1, k2),
                R=beta / ((1.0 - a) * 1e-3),
                n_spikes=n_sp,
                sse=sse,
            )
    if best is None:
        raise IdentifiabilityError(
            "the after-spike-current regression found no positive input gain"
        )
    return best


@dataclass(frozen=True)
class ThresholdAdaptation:
    """Θ∞ intercept (mV), δΘ_s (mV), b_s (1/s), a_v, b_v (1/s), spikes used, residual SD (mV)."""

    th_inf: float
    amp: float
    b_s: float
    a_v: float
    b_v: float
    n_spikes: int
    rmse: float


def _spike_history(t: Trace, cut: int, rate: float) -> FloatArray:
    s = t.spikes.astype(float)
    out = np.zeros(s.shape[0])
    for n in range(1, s.shape[0]):
        lag = (s[n] - (s[:n] + cut + 1)) * t.dt
        out[n] = np.sum(np.exp(-rate * lag[lag > 0]))
    return out


def _voltage_history(t: Trace, el: float, cut: int, rate: float) -> FloatArray:
    vrel = t.v - el
    mask = np.ones(t.n, dtype=bool)
    for s in t.spikes:
        mask[int(s) : int(s) + cut + 1] = False
    w = lfilter([t.dt], [1.0, -math.exp(-rate * t.dt)], np.where(mask, vrel, 0.0))
    idx = np.maximum(t.spikes - 1, 0)
    return np.asarray(w[idx])


def threshold_adaptation(
    traces: list[Trace], el: float, cut: int, *, voltage: bool, min_spikes: int = 5
) -> ThresholdAdaptation:
    """Spike-induced (and, with ``voltage``, voltage-dependent) threshold from the recorded
    spike thresholds: ``V_thr,n − E_L = Θ∞ + δΘ_s Σ_m e^{−b_s (t_n − t_reset,m)} [+ a_v W_n(b_v)]``
    with ``W`` the data voltage filtered by ``e^{−b_v t}``; linear in (Θ∞, δΘ_s, a_v) for each
    (b_s, b_v) on a grid, the least-squares pair wins. δΘ_s is kept ≥ 0.
    """
    spiking = [t for t in traces if t.spikes.size]
    y = np.concatenate([t.vth - el for t in spiking]) if spiking else np.zeros(0)
    n_later = sum(max(0, t.spikes.size - 1) for t in spiking)
    if n_later < min_spikes:
        raise IdentifiabilityError(
            f"{n_later} training spike(s) after a first spike in their sweep: the spike-induced "
            f"threshold (GLIF2/4/5) needs at least {min_spikes}; give sweeps with spike trains"
        )
    if voltage:
        n_amp = len({round(t.amplitude, 3) for t in spiking})
        if n_amp < 2:
            raise IdentifiabilityError(
                f"spikes at {n_amp} stimulus level only: the voltage-dependent threshold (GLIF5) "
                "needs spikes after different voltage histories (at least 2 spiking amplitudes)"
            )
    hist = {b: np.concatenate([_spike_history(t, cut, b) for t in spiking]) for b in TH_SPIKE_RATES}
    vrates = TH_VOLTAGE_RATES if voltage else (0.0,)
    vh = {
        b: (np.concatenate([_voltage_history(t, el, cut, b) for t in spiking]) if voltage else None)
        for b in vrates
    }
    best: ThresholdAdaptation | None = None
    for bs in TH_SPIKE_RATES:
        for bv in vrates:
            cols = [np.ones_like(y), hist[bs]]
            w = vh[bv]
            if w is not None:
                cols.append(w)
            x = np.column_stack(cols)
            coef = _constrained_lstsq(x, y, bv)
            if coef is None:
                continue
            rmse = float(np.sqrt(np.mean((y - x @ coef) ** 2)))
            if best is None or rmse < best.rmse - 1e-12:
                best = ThresholdAdaptation(
                    th_inf=float(coef[0]),
                    amp=float(coef[1]),
                    b_s=float(bs),
                    a_v=float(coef[2]) if w is not None else 0.0,
                    b_v=float(bv),
                    n_spikes=int(y.shape[0]),
                    rmse=rmse,
                )
    if best is None:
        raise IdentifiabilityError(
            "no threshold-adaptation fit keeps Θ∞ above E_L: the spike thresholds do not "
            "separate a spike-induced from a voltage-dependent threshold"
        )
    return best


#: largest steady-state voltage sensitivity of Θ_v allowed (a_v / b_v, mV per mV)
MAX_VOLTAGE_SENSITIVITY = 0.5


def _constrained_lstsq(x: FloatArray, y: FloatArray, bv: float) -> FloatArray | None:
    """Least squares of ``y`` on ``[1, S, (W)]`` with δΘ_s ≥ 0, 0 ≤ a_v ≤ 0.5 b_v and Θ∞ ≥ 0
    (None when no such solution exists). Bounds are enforced by fixing a coefficient at the
    bound it crosses and refitting the rest (the problem is at most 3-dimensional)."""
    k = x.shape[1]
    upper = {2: MAX_VOLTAGE_SENSITIVITY * bv} if k == 3 else {}
    fixed: dict[int, float] = {}
    for _ in range(k + 1):
        free = [j for j in range(k) if j not in fixed]
        rhs = y - sum((x[:, j] * v for j, v in fixed.items()), np.zeros_like(y))
        sol, *_ = np.linalg.lstsq(x[:, free], rhs, rcond=None)
        coef = np.zeros(k)
        for j, v in fixed.items():
            coef[j] = v
        coef[free] = sol
        moved = False
        for j in range(1, k):
            if j in fixed:
                continue
            if coef[j] < 0:
                fixed[j] = 0.0
                moved = True
            elif j in upper and coef[j] > upper[j]:
                fixed[j] = upper[j]
                moved = True
        if not moved:
            return coef if coef[0] > 0 else None
    return None
