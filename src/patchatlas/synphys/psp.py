"""The PSP/PSC template and its fit by variable projection.

The template (Allen Synaptic Physiology; Seeman, Campagnola et al. 2018) is a rising exponential
to the power ``p`` times a decaying exponential, re-parameterised so that its parameters read
directly off the trace::

    v(t) = yoffset                                           for t < xoffset
    v(t) = yoffset + amp * g(t - xoffset) / g(rise_time)     for t >= xoffset
    g(s) = (1 - exp(-s / tau_r)) ** p * exp(-s / decay_tau)

``rise_time`` is the *time to peak* and ``amp`` the height of the peak above ``yoffset``
(``p = 2``). The rise time constant ``tau_r`` follows from ``rise_time = tau_r * ln(1 + p *
decay_tau / tau_r)`` in closed form with the lower branch of the Lambert W function
(:func:`rise_tau`); it exists for ``rise_time < p * decay_tau`` (beyond that the ratio is clipped
at 0.99999, as the reference does, and the peak moves).

The fit (:func:`fit_psp`) treats the parameters as what they are: ``yoffset`` and ``amp`` (and the
amplitude of an optional exponential baseline) enter linearly and are solved in closed form for
any kinetics, so only ``xoffset``, ``rise_time`` and ``decay_tau`` are searched. The search
evaluates every sample position of ``xoffset`` in the onset window for a log-spaced grid of rise
times and decay constants at once (the weighted sums the linear solution needs are correlations,
computed with FFTs), then refines the best few grid points with a bounded trust-region
least-squares fit of the three kinetic parameters (the linear ones re-solved at every step). This
replaces the reference's 648 nonlinear fits (about 9 minutes per averaged trace) by a few
milliseconds of NumPy and finds a minimum at least as low whenever the reference's lies inside
the same bounds.

Units: time in s; ``y`` in whatever unit it comes in (the library uses mV in current clamp and pA
in voltage clamp), and ``amp``/``yoffset`` come back in that unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from patchatlas.errors import DataError, ParameterError

__all__ = [
    "CLAMP_DEFAULTS",
    "PspFit",
    "deconvolved_psp_params",
    "exp_deconvolve",
    "exp_reconvolve",
    "fit_psp",
    "psp_curve",
    "rise_tau",
    "weighted_nrmse",
]

FloatArray = npt.NDArray[np.float64]
ClampMode = Literal["ic", "vc"]

#: default kinetics bounds (s) and amplitude ceiling per clamp mode, as in the reference
#: (initial rise 5 ms / decay 50 ms in current clamp, 1 ms / 4 ms in voltage clamp, bounds a
#: factor 10 either side); ``amp_max`` in mV (IC) or pA (VC), further limited to 3x the range.
CLAMP_DEFAULTS: dict[str, dict[str, Any]] = {
    "ic": {"rise": (0.5e-3, 50e-3), "decay": (5e-3, 500e-3), "amp_max": 100.0},
    "vc": {"rise": (0.1e-3, 10e-3), "decay": (0.4e-3, 40e-3), "amp_max": 500.0},
}
RISE_POWER = 2.0
_R_MAX = 0.99999  # the Lambert-W ratio clip (rise_time -> p * decay_tau)


def rise_tau(
    rise_time: npt.ArrayLike, decay_tau: npt.ArrayLike, power: float = RISE_POWER
) -> FloatArray:
    """The rise time constant that puts the template's peak at ``rise_time``.

    Solves ``rise_time = tau_r * ln(1 + power * decay_tau / tau_r)`` with the Lambert W
    function: with ``r = rise_time / (power * decay_tau)`` (clipped at 0.99999),
    ``tau_r = -rise_time / (W_{-1}(-r e^{-r}) + r)``.

    Parameters
    ----------
    rise_time
        Time to peak (s), > 0; broadcasts with ``decay_tau``.
    decay_tau
        Decay time constant (s), > 0.
    power
        Rise power ``p`` (2 in the Allen template).

    Returns
    -------
    numpy.ndarray
        ``tau_r`` (s), same broadcast shape.

    Examples
    --------
    >>> round(float(rise_tau(2e-3, 20e-3)) * 1e3, 6)
    0.443075
    """
    from scipy.special import lambertw

    tr = np.asarray(rise_time, dtype=np.float64)
    td = np.asarray(decay_tau, dtype=np.float64)
    r = np.minimum(tr / (power * td), _R_MAX)
    w = lambertw(-r * np.exp(-r), k=-1).real
    out: FloatArray = -tr / (w + r)
    return out


def _shape(s: FloatArray, tau_r: float, decay: float, rise_time: float, power: float) -> FloatArray:
    """Template normalised to 1 at ``rise_time`` (0 for s < 0)."""
    peak = (1.0 - math.exp(-rise_time / tau_r)) ** power * math.exp(-rise_time / decay)
    sp = np.maximum(s, 0.0)
    out: FloatArray = (-np.expm1(-sp / tau_r)) ** power * np.exp(-sp / decay) / peak
    return out


def psp_curve(
    t: npt.ArrayLike,
    *,
    amp: float,
    xoffset: float,
    yoffset: float,
    rise_time: float,
    decay_tau: float,
    rise_power: float = RISE_POWER,
    exp_amp: float = 0.0,
    exp_tau: float | None = None,
) -> FloatArray:
    """Evaluate the PSP template (plus an optional exponential baseline).

    Parameters
    ----------
    t
        Times (s).
    amp
        Peak height above ``yoffset`` (unit of the trace).
    xoffset
        Onset (s).
    yoffset
        Baseline (unit of the trace).
    rise_time
        Time from onset to peak (s).
    decay_tau
        Decay time constant (s).
    rise_power
        Rise power (2).
    exp_amp, exp_tau
        Amplitude at ``xoffset`` and time constant (s) of a decaying exponential baseline
        ``exp_amp * exp(-(t - xoffset) / exp_tau)`` added everywhere (the tail of an earlier
        event); none by default. ``exp_tau`` defaults to ``decay_tau``.

    Returns
    -------
    numpy.ndarray
        The model at ``t``.
    """
    tt = np.asarray(t, dtype=np.float64)
    tr = float(rise_tau(rise_time, decay_tau, rise_power))
    out = yoffset + amp * _shape(tt - xoffset, tr, decay_tau, rise_time, rise_power)
    if exp_amp:
        tau = decay_tau if exp_tau is None else exp_tau
        out = out + exp_amp * np.exp(-(tt - xoffset) / tau)
    return np.asarray(out, dtype=np.float64)


def weighted_nrmse(y: npt.ArrayLike, model: npt.ArrayLike, weights: npt.ArrayLike | None) -> float:
    """Normalised RMS error of a fit, the reference's definition.

    ``sqrt(mean((w * (model - y))**2)) / std_w(y)``, where the residual is multiplied by the
    weights (lmfit's convention) and ``std_w`` is the weighted standard deviation of the data
    (``w = 1``: RMSE / SD of the data).

    Parameters
    ----------
    y
        Data.
    model
        Fitted curve at the same samples.
    weights
        Per-sample weights (None: all 1).

    Returns
    -------
    float
        The NRMSE (NaN for constant data).
    """
    yy = np.asarray(y, dtype=np.float64)
    mm = np.asarray(model, dtype=np.float64)
    w = np.ones_like(yy) if weights is None else np.asarray(weights, dtype=np.float64)
    rmse = math.sqrt(float(np.mean((w * (mm - yy)) ** 2)))
    sw = float(w.sum())
    if sw <= 0:
        return math.nan
    mean = float((w * yy).sum()) / sw
    sd = math.sqrt(float((w * (yy - mean) ** 2).sum()) / sw)
    return rmse / sd if sd > 0 else math.nan


@dataclass(frozen=True)
class PspFit:
    """The fitted PSP/PSC template (:func:`fit_psp`).

    Attributes
    ----------
    amp
        Peak height above the baseline (mV in current clamp, pA in voltage clamp: the unit of
        ``y``).
    xoffset
        Onset time (s, on the ``t`` axis of the fit).
    yoffset
        Baseline (unit of ``y``).
    rise_time
        Time from onset to peak (s).
    decay_tau
        Decay time constant (s).
    rise_power
        Rise power (2).
    latency
        ``xoffset - t_spike`` (s): the synaptic latency when ``t_spike`` is the presynaptic spike.
    nrmse
        Normalised RMS error (:func:`weighted_nrmse`; with weights, the reference's
        definition).
    rmse
        Root mean square of the weighted residual (unit of ``y``).
    exp_amp, exp_tau
        The exponential baseline (0 and NaN without one).
    clamp_mode
        ``"ic"`` or ``"vc"``.
    sign
        The sign constraint used (+1, -1, 0).
    at_bound
        Names of the parameters that ended on a bound of the search.
    bounds
        The bounds searched: ``{"xoffset": (lo, hi), "rise_time": ..., "decay_tau": ...,
        "amp": (lo, hi)}``.
    n_evaluations
        Template evaluations of the refinement (the grid is evaluated in one pass).
    """

    amp: float
    xoffset: float
    yoffset: float
    rise_time: float
    decay_tau: float
    rise_power: float
    latency: float
    nrmse: float
    rmse: float
    exp_amp: float = 0.0
    exp_tau: float = math.nan
    clamp_mode: str = "ic"
    sign: int = 0
    at_bound: tuple[str, ...] = ()
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    n_evaluations: int = 0

    @property
    def params(self) -> dict[str, float]:
        """The template parameters as a dict (``amp, xoffset, yoffset, rise_time, decay_tau,
        rise_power, exp_amp, exp_tau``)."""
        return {
            "amp": self.amp,
            "xoffset": self.xoffset,
            "yoffset": self.yoffset,
            "rise_time": self.rise_time,
            "decay_tau": self.decay_tau,
            "rise_power": self.rise_power,
            "exp_amp": self.exp_amp,
            "exp_tau": self.exp_tau,
        }

    def curve(self, t: npt.ArrayLike) -> FloatArray:
        """The fitted template at ``t``.

        Parameters
        ----------
        t
            Times (s).

        Returns
        -------
        numpy.ndarray
            Model values (unit of ``y``).
        """
        return psp_curve(
            t,
            amp=self.amp,
            xoffset=self.xoffset,
            yoffset=self.yoffset,
            rise_time=self.rise_time,
            decay_tau=self.decay_tau,
            rise_power=self.rise_power,
            exp_amp=self.exp_amp,
            exp_tau=None if math.isnan(self.exp_tau) else self.exp_tau,
        )


# ------------------------------------------------------------------------------- linear part


@dataclass
class _Problem:
    """The data of one fit, prepared once."""

    t: FloatArray
    y: FloatArray
    w2: FloatArray  # squared weights: the least-squares weights
    sign: int
    amp_max: float
    exp_baseline: bool
    s_w: float
    s_y: float
    s_yy: float


def _solve_two(
    s_w: float | FloatArray,
    s_y: float | FloatArray,
    s_yy: float | FloatArray,
    s_h: FloatArray,
    s_hh: FloatArray,
    s_hy: FloatArray,
    sign: int,
    amp_max: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weighted least squares of ``y ~ a + b h`` from the sums, vectorised; ``b`` constrained to
    ``sign`` and ``|b| <= amp_max``. Returns (a, b, sse)."""
    det = s_w * s_hh - s_h * s_h
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.where(det > 0, (s_w * s_hy - s_h * s_y) / np.where(det > 0, det, 1.0), 0.0)
    if sign > 0:
        b = np.clip(b, 0.0, amp_max)
    elif sign < 0:
        b = np.clip(b, -amp_max, 0.0)
    else:
        b = np.clip(b, -amp_max, amp_max)
    a = (s_y - b * s_h) / s_w
    sse = s_yy - 2 * a * s_y - 2 * b * s_hy + a * a * s_w + 2 * a * b * s_h + b * b * s_hh
    return np.asarray(a), np.asarray(b), np.maximum(np.asarray(sse), 0.0)


def _linear_fit(
    prob: _Problem, h: FloatArray, e: FloatArray | None
) -> tuple[float, float, float, float]:
    """Closed-form linear parameters for one template ``h`` (and baseline column ``e``).

    Returns (yoffset, amp, exp_amp, sse)."""
    w2, y = prob.w2, prob.y
    wh = w2 * h
    s_h = float(wh.sum())
    s_hh = float(wh @ h)
    s_hy = float(wh @ y)
    if e is None:
        a, b, sse = _solve_two(
            prob.s_w, prob.s_y, prob.s_yy, np.array(s_h), np.array(s_hh), np.array(s_hy),
            prob.sign, prob.amp_max,
        )  # fmt: skip
        return float(a), float(b), 0.0, float(sse)
    we = w2 * e
    s_e, s_ee, s_ey, s_he = float(we.sum()), float(we @ e), float(we @ y), float(we @ h)
    mat = np.array([[prob.s_w, s_h, s_e], [s_h, s_hh, s_he], [s_e, s_he, s_ee]])
    rhs = np.array([prob.s_y, s_hy, s_ey])
    lim = (0.0, prob.amp_max) if prob.sign > 0 else (-prob.amp_max, 0.0)
    if prob.sign == 0:
        lim = (-prob.amp_max, prob.amp_max)
    try:
        beta = np.linalg.solve(mat, rhs)
    except np.linalg.LinAlgError:
        beta = np.linalg.lstsq(mat, rhs, rcond=None)[0]
    if not lim[0] <= beta[1] <= lim[1]:
        amp = min(max(float(beta[1]), lim[0]), lim[1])
        sub = mat[np.ix_([0, 2], [0, 2])]
        r2 = rhs[[0, 2]] - amp * mat[[0, 2], 1]
        try:
            cd = np.linalg.solve(sub, r2)
        except np.linalg.LinAlgError:
            cd = np.linalg.lstsq(sub, r2, rcond=None)[0]
        beta = np.array([cd[0], amp, cd[1]])
    sse3 = float(prob.s_yy - 2 * float(beta @ rhs) + float(beta @ mat @ beta))
    return float(beta[0]), float(beta[1]), float(beta[2]), max(sse3, 0.0)


# ------------------------------------------------------------------------------ the search


def _xcorr(a: FloatArray, b: FloatArray, nfft: int) -> FloatArray:
    """``c[j] = sum_i a[i] * b[i - j]`` for j = 0..n-1 (b zero for negative index), by FFT."""
    n = a.size
    fa = np.fft.rfft(a, nfft)
    fb = np.fft.rfft(b, nfft)
    out: FloatArray = np.fft.irfft(fa * np.conj(fb), nfft)[:n]
    return out


def _grid_search(
    prob: _Problem,
    dt: float,
    j_range: tuple[int, int],
    rises: FloatArray,
    decays: FloatArray,
    power: float,
) -> list[tuple[float, int, float, float]]:
    """SSE at every onset sample in ``j_range`` for every valid (rise, decay) of the grid.

    Returns the best (sse, j, rise, decay) per (rise, decay) cell, sorted by sse."""
    n = prob.y.size
    lo, hi = j_range
    nfft = 1 << math.ceil(math.log2(n + hi))  # no wrap-around for lags below hi
    w2, y = prob.w2, prob.y
    k = np.arange(n) * dt
    fw = np.fft.rfft(w2, nfft)
    fwy = np.fft.rfft(w2 * y, nfft)
    rr, dd = np.meshgrid(rises, decays, indexing="ij")
    ok = rr < power * dd * _R_MAX
    rr, dd = rr[ok], dd[ok]
    if rr.size == 0:
        return []
    taus = rise_tau(rr, dd, power)
    out: list[tuple[float, int, float, float]] = []
    for start in range(0, rr.size, 32):  # templates in blocks (memory)
        sl = slice(start, start + 32)
        tr, de, ri = taus[sl, None], dd[sl, None], rr[sl, None]
        peak = (-np.expm1(-ri / tr)) ** power * np.exp(-ri / de)
        h = (-np.expm1(-k / tr)) ** power * np.exp(-k / de) / peak
        fh = np.conj(np.fft.rfft(h, nfft, axis=1))
        fhh = np.conj(np.fft.rfft(h * h, nfft, axis=1))
        s_h = np.fft.irfft(fw * fh, nfft, axis=1)[:, lo:hi]
        s_hh = np.fft.irfft(fw * fhh, nfft, axis=1)[:, lo:hi]
        s_hy = np.fft.irfft(fwy * fh, nfft, axis=1)[:, lo:hi]
        _, _, sse = _solve_two(
            prob.s_w, prob.s_y, prob.s_yy, s_h, s_hh, s_hy, prob.sign, prob.amp_max
        )
        j = np.argmin(sse, axis=1)
        best = sse[np.arange(sse.shape[0]), j]
        for b, jj, r_, d_ in zip(best, j, ri[:, 0], de[:, 0], strict=True):
            out.append((float(b), lo + int(jj), float(r_), float(d_)))
    out.sort(key=lambda r: r[0])
    return out


def _check_inputs(
    t: npt.ArrayLike, y: npt.ArrayLike, weights: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    tt = np.asarray(t, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    if tt.ndim != 1 or yy.shape != tt.shape:
        raise DataError(
            f"fit_psp: t and y must be 1-D arrays of equal length, got {tt.shape} and {yy.shape}"
        )
    if tt.size < 8:
        raise DataError(f"fit_psp: {tt.size} samples are too few to fit a PSP (need >= 8)")
    if not (np.isfinite(tt).all() and np.isfinite(yy).all()):
        raise DataError("fit_psp: t and y must be finite (no NaN); crop or interpolate gaps")
    d = np.diff(tt)
    dt = float(np.median(d))
    if dt <= 0 or np.max(np.abs(d - dt)) > 1e-3 * dt:
        raise DataError(
            "fit_psp: t must be uniformly sampled and increasing; resample the trace first"
        )
    if weights is None:
        w = np.ones_like(yy)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != yy.shape or not np.isfinite(w).all() or (w < 0).any():
            raise DataError("fit_psp: weights must be finite, >= 0, one per sample")
        if not (w > 0).any():
            raise DataError("fit_psp: every weight is 0; nothing to fit")
    return tt, yy, w, dt


def _bounds(
    name: str, given: Sequence[float] | None, default: tuple[float, float]
) -> tuple[float, float]:
    lo, hi = default if given is None else (float(given[0]), float(given[1]))
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise ParameterError(
            f"fit_psp({name}_bounds={given!r}): give (low, high) with 0 < low < high"
        )
    return lo, hi


def fit_psp(
    t: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    sign: int = 0,
    clamp_mode: ClampMode = "ic",
    onset_window: tuple[float, float] | None = None,
    weights: npt.ArrayLike | None = None,
    rise_bounds: Sequence[float] | None = None,
    decay_bounds: Sequence[float] | None = None,
    amp_max: float | None = None,
    exp_baseline: bool = False,
    t_spike: float = 0.0,
    n_rise: int = 12,
    n_decay: int = 14,
    refine: bool = True,
) -> PspFit:
    """Fit the Allen PSP/PSC template to a trace (variable projection).

    Parameters
    ----------
    t
        Sample times (s), uniformly spaced.
    y
        The trace (mV in current clamp, pA in voltage clamp; any unit works, the amplitudes
        come back in it).
    sign
        +1: the deflection is positive (EPSP, IPSC at -55 mV ...), -1: negative, 0: either.
    clamp_mode
        ``"ic"`` or ``"vc"``: picks the default kinetics bounds (:data:`CLAMP_DEFAULTS`).
    onset_window
        ``(earliest, latest)`` onset (s, on the ``t`` axis) to search. Default: from the first
        sample to the middle of the trace.
    weights
        Per-sample weights (the residual is multiplied by them, as lmfit does; 0 masks a
        sample, e.g. a stimulus artefact). Default: all 1.
    rise_bounds, decay_bounds
        ``(low, high)`` of the time to peak and of the decay constant (s). Default: per
        ``clamp_mode``, those of the reference (IC 0.5-50 ms and 5-500 ms).
    amp_max
        Largest ``|amp|``. Default: ``min(100 mV | 500 pA, 3 * range(y))``.
    exp_baseline
        Add an exponential baseline ``exp_amp * exp(-(t - xoffset) / decay_tau)`` (the tail of a
        previous event in a train). Its time constant is tied to the PSP's decay, so it adds one
        *linear* parameter and no free time constant (a free one trades off against
        ``yoffset`` and ``decay_tau``).
    t_spike
        Time of the presynaptic spike on the ``t`` axis; ``latency = xoffset - t_spike``.
    n_rise, n_decay
        Log-spaced grid sizes of the search over rise time and decay constant.
    refine
        Refine the best grid points with a bounded least-squares fit of the kinetics (default);
        False returns the best grid point (onset to the nearest sample).

    Returns
    -------
    PspFit
        Amplitude, onset, baseline, rise time, decay constant, latency, NRMSE and the bounds hit.

    Raises
    ------
    patchatlas.errors.DataError
        Arrays of different length, NaN, non-uniform sampling, too few samples, or an onset
        window outside the trace.
    patchatlas.errors.ParameterError
        An unknown ``clamp_mode`` or ``sign`` or invalid bounds.

    Examples
    --------
    >>> t = np.arange(0, 0.06, 5e-5)
    >>> y = -70 + psp_curve(t, amp=0.5, xoffset=0.012, yoffset=0, rise_time=2e-3, decay_tau=20e-3)
    >>> fit = fit_psp(t, y, sign=1, onset_window=(0.005, 0.02))
    >>> round(fit.amp, 3), round(fit.rise_time * 1e3, 2), round(fit.decay_tau * 1e3, 1)
    (0.5, 2.0, 20.0)
    """
    if clamp_mode not in CLAMP_DEFAULTS:
        raise ParameterError(f"fit_psp(clamp_mode={clamp_mode!r}): use 'ic' or 'vc'")
    if sign not in (-1, 0, 1) or isinstance(sign, bool):
        raise ParameterError(f"fit_psp(sign={sign!r}): use +1, -1 or 0")
    tt, yy, w, dt = _check_inputs(t, y, weights)
    cfg = CLAMP_DEFAULTS[clamp_mode]
    rb = _bounds("rise", rise_bounds, cfg["rise"])
    db = _bounds("decay", decay_bounds, cfg["decay"])
    ptp = float(np.ptp(yy))
    a_max = float(amp_max) if amp_max is not None else min(float(cfg["amp_max"]), 3.0 * ptp)
    if not a_max > 0:
        a_max = float(cfg["amp_max"])
    if onset_window is None:
        onset_window = (float(tt[0]), float(tt[0] + 0.5 * (tt[-1] - tt[0])))
    x_lo, x_hi = float(onset_window[0]), float(onset_window[1])
    if not (x_lo < x_hi and x_hi > tt[0] and x_lo < tt[-1]):
        raise DataError(
            f"fit_psp: onset window ({x_lo:g}, {x_hi:g}) s is empty or outside the trace "
            f"({tt[0]:g}-{tt[-1]:g} s)"
        )
    x_lo, x_hi = max(x_lo, float(tt[0])), min(x_hi, float(tt[-1]))
    w2 = w * w
    prob = _Problem(
        t=tt,
        y=yy,
        w2=w2,
        sign=int(sign),
        amp_max=a_max,
        exp_baseline=exp_baseline,
        s_w=float(w2.sum()),
        s_y=float(w2 @ yy),
        s_yy=float(w2 @ (yy * yy)),
    )
    rises = np.geomspace(rb[0], rb[1], max(int(n_rise), 2))
    decays = np.geomspace(db[0], db[1], max(int(n_decay), 2))
    j_lo = math.ceil((x_lo - tt[0]) / dt - 1e-9)
    j_hi = math.floor((x_hi - tt[0]) / dt + 1e-9) + 1
    j_lo, j_hi = max(j_lo, 0), min(max(j_hi, j_lo + 1), tt.size)
    if exp_baseline:
        cands = _grid_search_exp(prob, dt, (j_lo, j_hi), rises, decays, RISE_POWER)
    else:
        cands = _grid_search(prob, dt, (j_lo, j_hi), rises, decays, RISE_POWER)
    if not cands:
        raise ParameterError(
            f"fit_psp: no rise time in {rb} is below {RISE_POWER:g} x a decay constant in {db}"
        )
    best = _evaluate(prob, tt[cands[0][1]], cands[0][2], cands[0][3])
    n_eval = 0
    if refine:
        starts = _distinct(cands, rises, decays, k=3)
        for _, j, rise, decay in starts:
            cand, nfev = _refine(prob, (float(tt[j]), rise, decay), (x_lo, x_hi), rb, db)
            n_eval += nfev
            if cand[-1] < best[-1]:
                best = cand
    x0, rise, decay, yoff, amp, e_amp, _sse = best
    model = _model(prob, x0, rise, decay, yoff, amp, e_amp)
    at = []
    rel = 1e-3
    x_tol = max(dt, rel * (x_hi - x_lo))
    if abs(x0 - x_lo) <= x_tol or abs(x0 - x_hi) <= x_tol:
        at.append("xoffset")
    if rise <= rb[0] * (1 + rel) or rise >= rb[1] * (1 - rel):
        at.append("rise_time")
    if decay <= db[0] * (1 + rel) or decay >= db[1] * (1 - rel):
        at.append("decay_tau")
    if abs(amp) >= a_max * (1 - rel):
        at.append("amp")
    amp_lim = (0.0, a_max) if sign > 0 else ((-a_max, 0.0) if sign < 0 else (-a_max, a_max))
    return PspFit(
        amp=amp,
        xoffset=x0,
        yoffset=yoff,
        rise_time=rise,
        decay_tau=decay,
        rise_power=RISE_POWER,
        latency=x0 - float(t_spike),
        nrmse=weighted_nrmse(yy, model, w),
        rmse=math.sqrt(float(np.mean((w * (model - yy)) ** 2))),
        exp_amp=e_amp,
        exp_tau=decay if exp_baseline else math.nan,
        clamp_mode=clamp_mode,
        sign=int(sign),
        at_bound=tuple(at),
        bounds={"xoffset": (x_lo, x_hi), "rise_time": rb, "decay_tau": db, "amp": amp_lim},
        n_evaluations=n_eval,
    )


def _grid_search_exp(
    prob: _Problem,
    dt: float,
    j_range: tuple[int, int],
    rises: FloatArray,
    decays: FloatArray,
    power: float,
) -> list[tuple[float, int, float, float]]:
    """The grid search with an exponential baseline tied to the decay (3 linear parameters)."""
    n = prob.y.size
    k = np.arange(n) * dt
    lo, hi = j_range
    nfft = 1 << math.ceil(math.log2(n + hi))
    w2, y = prob.w2, prob.y
    fw = np.fft.rfft(w2, nfft)
    fwy = np.fft.rfft(w2 * y, nfft)
    out: list[tuple[float, int, float, float]] = []
    for decay in decays:
        ri = rises[rises < power * decay * _R_MAX]
        if ri.size == 0:
            continue
        # baseline column anchored at the window start: exp(-(t - t_j)/decay) is a multiple of
        # it for every onset j, and the multiple is absorbed by the linear amplitude
        big_e = np.exp(-(k - k[lo]) / decay)
        fwe = np.fft.rfft(w2 * big_e, nfft)
        s_e = float(w2 @ big_e)
        s_ee = float(w2 @ (big_e * big_e))
        s_ey = float(w2 @ (big_e * y))
        tr = rise_tau(ri, decay, power)[:, None]
        rr = ri[:, None]
        peak = (-np.expm1(-rr / tr)) ** power * np.exp(-rr / decay)
        h = (-np.expm1(-k / tr)) ** power * np.exp(-k / decay) / peak
        fh = np.conj(np.fft.rfft(h, nfft, axis=1))
        fhh = np.conj(np.fft.rfft(h * h, nfft, axis=1))
        s_h = np.fft.irfft(fw * fh, nfft, axis=1)[:, lo:hi]
        s_hh = np.fft.irfft(fw * fhh, nfft, axis=1)[:, lo:hi]
        s_hy = np.fft.irfft(fwy * fh, nfft, axis=1)[:, lo:hi]
        s_he = np.fft.irfft(fwe * fh, nfft, axis=1)[:, lo:hi]
        # 3x3 normal equations of [1, h, E], solved by Cramer's rule for every (rise, onset)
        a11, a12, a13 = prob.s_w, s_h, s_e
        a22, a23, a33 = s_hh, s_he, s_ee
        b1, b2, b3 = prob.s_y, s_hy, s_ey
        det = (
            a11 * (a22 * a33 - a23 * a23)
            - a12 * (a12 * a33 - a23 * a13)
            + a13 * (a12 * a23 - a22 * a13)
        )
        with np.errstate(all="ignore"):
            x1 = (b1 * (a22 * a33 - a23 * a23) - a12 * (b2 * a33 - a23 * b3)
                  + a13 * (b2 * a23 - a22 * b3)) / det  # fmt: skip
            x2 = (a11 * (b2 * a33 - a23 * b3) - b1 * (a12 * a33 - a23 * a13)
                  + a13 * (a12 * b3 - b2 * a13)) / det  # fmt: skip
            x3 = (a11 * (a22 * b3 - b2 * a23) - a12 * (a12 * b3 - b2 * a13)
                  + b1 * (a12 * a23 - a22 * a13)) / det  # fmt: skip
            fit = x1 * b1 + x2 * b2 + x3 * b3
            sse = prob.s_yy - fit  # at the unconstrained optimum: sse = yy - beta.b
        bad = ~np.isfinite(sse) | (prob.sign * x2 < 0) | (np.abs(x2) > prob.amp_max)
        if bad.any():
            # amp on its bound (0 or the ceiling): 2 parameters [1, E] with h fixed
            amp = np.clip(np.nan_to_num(x2), *(
                (0.0, prob.amp_max) if prob.sign > 0
                else (-prob.amp_max, 0.0) if prob.sign < 0
                else (-prob.amp_max, prob.amp_max)
            ))  # fmt: skip
            c1 = b1 - amp * a12
            c3 = b3 - amp * a23
            d2 = a11 * a33 - a13 * a13
            with np.errstate(all="ignore"):
                u = (c1 * a33 - a13 * c3) / d2
                v = (a11 * c3 - a13 * c1) / d2
                sse2 = (prob.s_yy - 2 * (u * b1 + amp * b2 + v * b3)
                        + u * u * a11 + amp * amp * a22 + v * v * a33
                        + 2 * (u * amp * a12 + u * v * a13 + amp * v * a23))  # fmt: skip
            sse = np.where(bad, sse2, sse)
        sse = np.where(np.isfinite(sse), sse, np.inf)
        j = np.argmin(sse, axis=1)
        best = sse[np.arange(sse.shape[0]), j]
        for b_, jj, r_ in zip(best, j, ri, strict=True):
            if math.isfinite(float(b_)):
                out.append((float(b_), lo + int(jj), float(r_), float(decay)))
    out.sort(key=lambda r: r[0])
    return out


def _distinct(
    cands: list[tuple[float, int, float, float]], rises: FloatArray, decays: FloatArray, k: int
) -> list[tuple[float, int, float, float]]:
    """Up to ``k`` best grid points that are not neighbours of a better one."""
    ri = {float(r): i for i, r in enumerate(rises)}
    di = {float(d): i for i, d in enumerate(decays)}
    chosen: list[tuple[float, int, float, float]] = []
    for c in cands:
        a, b = ri[c[2]], di[c[3]]
        if all(abs(a - ri[o[2]]) > 1 or abs(b - di[o[3]]) > 1 for o in chosen):
            chosen.append(c)
        if len(chosen) == k:
            break
    return chosen


def _model(
    prob: _Problem, x0: float, rise: float, decay: float, yoff: float, amp: float, e_amp: float
) -> FloatArray:
    h = _shape(prob.t - x0, float(rise_tau(rise, decay)), decay, rise, RISE_POWER)
    out = yoff + amp * h
    if prob.exp_baseline:
        out = out + e_amp * np.exp(-(prob.t - x0) / decay)
    return np.asarray(out, dtype=np.float64)


def _evaluate(
    prob: _Problem, x0: float, rise: float, decay: float
) -> tuple[float, float, float, float, float, float, float]:
    """(x0, rise, decay, yoffset, amp, exp_amp, sse) with the linear parameters solved."""
    h = _shape(prob.t - x0, float(rise_tau(rise, decay)), decay, rise, RISE_POWER)
    e = np.exp(-(prob.t - x0) / decay) if prob.exp_baseline else None
    yoff, amp, e_amp, sse = _linear_fit(prob, h, e)
    return float(x0), float(rise), float(decay), yoff, amp, e_amp, sse


def _refine(
    prob: _Problem,
    start: tuple[float, float, float],
    xb: tuple[float, float],
    rb: tuple[float, float],
    db: tuple[float, float],
    max_iter: int = 60,
) -> tuple[tuple[float, float, float, float, float, float, float], int]:
    """Bounded Levenberg-Marquardt over (xoffset, log rise, log decay) with the linear
    parameters projected out (variable projection; Kaufman's Jacobian, whose gradient is
    exact at the linear optimum). Returns the best point and the template evaluations used."""
    sw = np.sqrt(prob.w2)
    t, y = prob.t, prob.y
    scale = 1e-3  # xoffset in ms inside the optimiser (parameters of similar size)
    lo = np.array([xb[0] / scale, math.log(rb[0]), math.log(db[0])])
    hi = np.array([xb[1] / scale, math.log(rb[1]), math.log(db[1])])
    n_eval = 0

    def columns(p: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        nonlocal n_eval
        n_eval += 1
        x0, rise, decay = float(p[0]) * scale, math.exp(float(p[1])), math.exp(float(p[2]))
        h = _shape(t - x0, float(rise_tau(rise, decay)), decay, rise, RISE_POWER)
        e = np.exp(-(t - x0) / decay) if prob.exp_baseline else None
        return h, e

    def state(p: FloatArray) -> tuple[FloatArray, FloatArray | None, float, float, float, float]:
        h, e = columns(p)
        yoff, amp, e_amp, sse = _linear_fit(prob, h, e)
        return h, e, yoff, amp, e_amp, sse

    p = np.array([start[0] / scale, math.log(start[1]), math.log(start[2])])
    p = np.clip(p, lo, hi)
    st = state(p)
    lam = 1e-3
    for _ in range(max_iter):
        h, e, yoff, amp, e_amp, sse = st
        model = yoff + amp * h + (e_amp * e if e is not None else 0.0)
        r = sw * (model - y)
        base = amp * h + (e_amp * e if e is not None else 0.0)
        jac = np.empty((t.size, 3))
        for k in range(3):
            step = 1e-6 * max(1.0, abs(float(p[k])))
            q = p.copy()
            q[k] = q[k] + step if q[k] + step <= hi[k] else q[k] - step
            hk, ek = columns(q)
            moved = amp * hk + (e_amp * ek if ek is not None else 0.0)
            jac[:, k] = sw * (moved - base) / (q[k] - p[k])
        cols = [np.ones_like(h)]
        free_amp = amp != 0.0 and abs(amp) < prob.amp_max * (1 - 1e-12)
        if free_amp:
            cols.append(h)
        if e is not None:
            cols.append(e)
        qmat, _ = np.linalg.qr(sw[:, None] * np.stack(cols, axis=1))
        jac -= qmat @ (qmat.T @ jac)
        g = jac.T @ r
        active = ((p <= lo) & (g > 0)) | ((p >= hi) & (g < 0))
        jac[:, active] = 0.0
        g[active] = 0.0
        a_mat = jac.T @ jac
        improved = False
        for _try in range(12):
            damp = a_mat + lam * np.diag(np.diag(a_mat) + 1e-12)
            try:
                delta = np.linalg.solve(damp, -g)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            delta[active] = 0.0
            p_new = np.clip(p + delta, lo, hi)
            st_new = state(p_new)
            if st_new[-1] < sse:
                improved = True
                gain = sse - st_new[-1]
                step_size = float(np.max(np.abs(p_new - p)))
                p, st = p_new, st_new
                lam = max(lam * 0.3, 1e-9)
                break
            lam *= 5.0
        if not improved or gain <= 1e-13 * max(sse, 1e-300) or step_size < 1e-11:
            break
    x0, rise, decay = float(p[0]) * scale, math.exp(float(p[1])), math.exp(float(p[2]))
    h, e, yoff, amp, e_amp, sse = st
    return (x0, rise, decay, yoff, amp, e_amp, sse), n_eval


# ------------------------------------------------------------------- exponential deconvolution


def exp_deconvolve(y: npt.ArrayLike, dt: float, tau: float) -> FloatArray:
    """Exponential deconvolution ``x = y + tau * dy/dt`` (Richardson & Silberberg 2008).

    The derivative is the backward difference, so :func:`exp_reconvolve` inverts it exactly.

    Parameters
    ----------
    y
        A trace (any unit), uniformly sampled; along the last axis for 2-D input.
    dt
        Sampling interval (s).
    tau
        Time constant to remove (s), e.g. the membrane or synaptic decay constant.

    Returns
    -------
    numpy.ndarray
        The deconvolved trace, same shape (unit of ``y``).
    """
    yy = np.asarray(y, dtype=np.float64)
    out = yy.copy()
    out[..., 1:] = yy[..., 1:] + (tau / dt) * np.diff(yy, axis=-1)
    return out


def exp_reconvolve(x: npt.ArrayLike, dt: float, tau: float) -> FloatArray:
    """Invert :func:`exp_deconvolve`: solve ``y + tau * dy/dt = x`` (backward differences).

    Parameters
    ----------
    x
        A deconvolved trace; along the last axis for 2-D input.
    dt
        Sampling interval (s).
    tau
        The time constant that was removed (s).

    Returns
    -------
    numpy.ndarray
        The reconvolved trace (same shape).
    """
    from scipy.signal import lfilter

    xx = np.asarray(x, dtype=np.float64)
    k = tau / dt
    y0 = xx[..., :1]
    # y[n] (1 + k) - k y[n-1] = x[n], starting from y[0] = x[0]
    rest = xx[..., 1:] / (1 + k)
    zi = (k / (1 + k)) * y0
    out_rest, _ = lfilter([1.0], [1.0, -k / (1 + k)], rest, axis=-1, zi=zi)
    out: FloatArray = np.concatenate([y0, out_rest], axis=-1)
    return out


def deconvolved_psp_params(
    amp: float, rise_time: float, decay_tau: float, *, tau: float | None = None
) -> dict[str, float]:
    """The template that :func:`exp_deconvolve` with ``tau = decay_tau`` turns a PSP into.

    Removing the decay from ``(1 - e^{-s/tau_r})^2 e^{-s/tau_d}`` leaves
    ``(2 tau_d / tau_r) (1 - e^{-s/tau_r}) e^{-s (1/tau_r + 1/tau_d)}``: a template of rise power
    1 with the same ``tau_r`` and a decay constant ``1 / (1/tau_r + 1/tau_d)``.

    Parameters
    ----------
    amp
        Peak of the PSP (unit of the trace).
    rise_time
        Its time to peak (s).
    decay_tau
        Its decay constant (s), also the deconvolution constant.
    tau
        Only ``None`` (= ``decay_tau``) is supported; any other value raises.

    Returns
    -------
    dict
        ``amp`` (peak of the deconvolved event), ``rise_time`` (its time to peak, s),
        ``rise_power`` (1), ``decay_tau`` (s), ``rise_tau`` (s).

    Examples
    --------
    >>> p = deconvolved_psp_params(1.0, 2e-3, 20e-3)
    >>> round(p["amp"], 3), round(p["rise_time"] * 1e3, 5), round(p["decay_tau"] * 1e3, 5)
    (25.113, 0.30229, 0.43347)
    """
    if tau is not None and tau != decay_tau:
        raise ParameterError(
            "deconvolved_psp_params(tau=...): only deconvolution with the PSP's own decay "
            "constant has a closed form; leave tau=None"
        )
    tr = float(rise_tau(rise_time, decay_tau))
    new_decay = 1.0 / (1.0 / tr + 1.0 / decay_tau)
    new_rise = tr * math.log(1.0 + new_decay / tr)
    g_peak = (1 - math.exp(-rise_time / tr)) ** 2 * math.exp(-rise_time / decay_tau)
    scale = amp / g_peak * 2 * decay_tau / tr
    peak = scale * (1 - math.exp(-new_rise / tr)) * math.exp(-new_rise / new_decay)
    return {
        "amp": peak,
        "rise_time": new_rise,
        "rise_power": 1.0,
        "decay_tau": new_decay,
        "rise_tau": tr,
    }
