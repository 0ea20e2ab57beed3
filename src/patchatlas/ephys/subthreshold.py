"""Subthreshold features: baseline, peak deflection, sag, membrane time constant, input resistance.

Definitions (Allen/IPFX, restated; windows use the nearest-sample rule of
:func:`patchatlas.ephys.spikes.time_index` and are half-open ``[a, b)``):

* ``v_baseline``: mean V over ``[start - 0.1 s, start)``.
* ``peak_deflect``: the most negative (hyperpolarising stimulus) or most positive (depolarising)
  V over ``[start, end)``, and its index.
* ``sag``: ``(v_peak_avg - v_ss) / (v_peak_avg - v_baseline30)``, where ``v_peak_avg`` is the mean
  V in a 5 ms window centred on the minimum, ``v_ss`` the mean over the last 30 ms of the step
  and ``v_baseline30`` the mean over the 30 ms before it. Only defined for hyperpolarising
  steps (NaN otherwise; IPFX returns a number there, see ``docs/ephys_parity.md``).
* ``tau``: single exponential ``y0 + a exp(-x / tau)`` fitted (least squares, Gauss-Newton:
  :func:`fit_exponential`) from the first
  sample at 10 % of the deflection to the peak deflection; NaN when the deflection is below 20
  times the baseline noise (SNR) or the fit RMSE exceeds 1 mV. Fit quality (RMSE, R², SNR,
  window) is returned with it.
* ``input_resistance``: least-squares slope of peak deflection vs injected current over
  subthreshold hyperpolarising sweeps (MΩ); with one sweep, the baseline at 0 pA is the
  second point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.ephys.spikes import time_index

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "TauFit",
    "average_voltage",
    "baseline_voltage",
    "input_resistance",
    "sag",
    "time_constant",
    "voltage_deflection",
]


def average_voltage(t: FloatArray, v: FloatArray, start: float, end: float) -> float:
    """Mean V over ``[nearest(start), nearest(end))``; NaN for an empty window.

    Parameters
    ----------
    t, v
        Time (s) and membrane voltage (mV), 1-D, equal length, ``t`` not decreasing.
    start, end
        Window bounds (s), each mapped to its nearest sample; the end sample is excluded.

    Returns
    -------
    float
        The mean voltage (mV), NaN when the window holds no sample.
    """
    a, b = int(time_index(t, start)), int(time_index(t, end))
    if b <= a:
        return math.nan
    return float(np.mean(v[a:b]))


def baseline_voltage(t: FloatArray, v: FloatArray, start: float, interval: float = 0.1) -> float:
    """Mean V over the ``interval`` (s) before ``start`` (NaN when it does not fit the sweep).

    Parameters
    ----------
    t, v
        Time (s) and membrane voltage (mV), 1-D, equal length, ``t`` not decreasing.
    start
        End of the baseline window, usually the stimulus onset (s).
    interval
        Length of the baseline window (s).

    Returns
    -------
    float
        The mean voltage over ``[start - interval, start)`` (mV); NaN when the sweep has fewer
        than two samples, ``start`` is not finite, or the window starts before the first sample
        or ends after the last one (by more than half a sample interval).
    """
    if t.size < 2 or not math.isfinite(start):
        return math.nan
    half = 0.5 * float(t[1] - t[0])
    if start - interval < float(t[0]) - half or start > float(t[-1]) + half:
        return math.nan
    return average_voltage(t, v, start - interval, start)


def voltage_deflection(
    t: FloatArray, v: FloatArray, start: float, end: float, direction: str
) -> tuple[float, int]:
    """Extreme V over ``[start, end)``: ``direction`` ``"min"`` or ``"max"``; (value, index).

    Parameters
    ----------
    t, v
        Time (s) and membrane voltage (mV), 1-D, equal length, ``t`` not decreasing.
    start, end
        Window bounds (s), each mapped to its nearest sample; the end sample is excluded.
    direction
        ``"min"`` for the most negative V (hyperpolarising step); any other value takes the
        most positive V.

    Returns
    -------
    tuple of (float, int)
        The extreme voltage (mV) and its sample index into ``v``; ``(nan, -1)`` for an empty
        window.
    """
    a, b = int(time_index(t, start)), int(time_index(t, end))
    if b <= a:
        return math.nan, -1
    seg = v[a:b]
    k = int(np.argmin(seg) if direction == "min" else np.argmax(seg)) + a
    return float(v[k]), k


def sag(
    t: FloatArray,
    v: FloatArray,
    start: float,
    end: float,
    *,
    peak_width: float = 0.005,
    baseline_interval: float = 0.03,
) -> tuple[float, float]:
    """Sag ratio of a hyperpolarising step and the minimum V it is measured at (mV).

    The ratio is ``(v_peak_avg - v_ss) / (v_peak_avg - v_base)`` (see the module docs).

    Parameters
    ----------
    t, v
        Time (s) and membrane voltage (mV), 1-D, equal length, ``t`` not decreasing.
    start, end
        Stimulus step onset and offset (s).
    peak_width
        Width of the window centred on the minimum that ``v_peak_avg`` averages over (s).
    baseline_interval
        Length of the windows before ``start`` (``v_base``) and before ``end`` (``v_ss``) that
        are averaged (s).

    Returns
    -------
    tuple of (float, float)
        The sag ratio (dimensionless) and the minimum V over ``[start, end)`` (mV). Both are
        NaN for an empty step window; the ratio alone is NaN when the peak does not differ
        from the baseline (zero or non-finite denominator).
    """
    v_peak, k = voltage_deflection(t, v, start, end, "min")
    if k < 0:
        return math.nan, math.nan
    tp = float(t[k])
    v_peak_avg = average_voltage(t, v, tp - peak_width / 2.0, tp + peak_width / 2.0)
    v_base = average_voltage(t, v, start - baseline_interval, start)
    v_ss = average_voltage(t, v, end - baseline_interval, end)
    den = v_peak_avg - v_base
    if den == 0 or not math.isfinite(den):
        return math.nan, v_peak
    return (v_peak_avg - v_ss) / den, v_peak


@dataclass(frozen=True, slots=True)
class TauFit:
    """A membrane time-constant fit with its quality.

    Attributes
    ----------
    tau
        Time constant in s (NaN when rejected).
    amplitude, offset
        ``a`` and ``y0`` of ``y0 + a exp(-x / tau)`` (mV).
    fit_start, fit_end
        Fitted window in s.
    rmse
        Root-mean-square residual (mV).
    r2
        Coefficient of determination.
    snr
        |deflection| / baseline noise SD.
    reason
        Why tau is NaN ("" when accepted).
    """

    tau: float
    amplitude: float = math.nan
    offset: float = math.nan
    fit_start: float = math.nan
    fit_end: float = math.nan
    rmse: float = math.nan
    r2: float = math.nan
    snr: float = math.nan
    reason: str = ""


def _exp_curve(x: FloatArray, a: float, inv_tau: float, y0: float) -> Any:
    return y0 + a * np.exp(-inv_tau * x)


def _dot(a: FloatArray, b: FloatArray) -> float:
    """Dot product without BLAS (threaded BLAS crawls on a contended machine)."""
    return float(np.einsum("i,i->", a, b))


def _vp_gauss_newton(
    x: FloatArray, y: FloatArray, k: float, iters: int, tol: float
) -> tuple[float, float, float] | None:
    """Variable-projection fit of ``y0 + a exp(-k x)``: a 1-D root search in ``k``.

    For each ``k`` the linear parameters (a, y0) are solved exactly (2x2 normal equations), so
    the least-squares optimum is the root of ``F(k) = g . r`` (``g`` the model derivative, ``r``
    the residual). The first step is Kaufman's Gauss-Newton step (``F'`` approximated by the
    squared norm of ``g`` projected out of span{exp(-k x), 1}); later steps are secant steps on
    ``F`` (superlinear, where the Gauss-Newton step alone converges linearly). Returns
    (a, k, y0) of the last evaluated ``k`` once the next step is at most ``tol`` relative, None
    otherwise. Each iteration is one ``exp`` and six reductions (no BLAS-threaded calls).
    """
    n = float(x.size)
    sy = float(y.sum())
    k_prev = f_prev = math.nan
    for _ in range(iters):
        e = np.exp(x * -k)
        se = float(e.sum())
        see = _dot(e, e)
        sye = _dot(y, e)
        det = n * see - se * se
        if not det > 0:
            return None
        a = (n * sye - se * sy) / det
        y0 = (sy - a * se) / n
        g = x * e
        g *= a
        r = y - y0
        r -= a * e
        gr = _dot(g, r)
        slope = (gr - f_prev) / (k - k_prev) if k != k_prev else math.nan
        if not (math.isfinite(slope) and slope > 0):
            gg = _dot(g, g)
            ge = _dot(g, e)
            g1 = float(g.sum())
            ca = (n * ge - se * g1) / det
            c0 = (g1 - ca * se) / n
            slope = gg - (ca * ge + c0 * g1)
            if not slope > 0:
                return None
        k_new = k - gr / slope
        if not math.isfinite(k_new):
            return None
        if k_new <= 0 < k:
            k_new = 0.5 * k
        if abs(k_new - k) <= tol * abs(k_new):
            return float(a), float(k), float(y0)
        k_prev, f_prev, k = k, gr, k_new
    return None


def fit_exponential(
    x: FloatArray, y: FloatArray, *, max_iter: int = 50
) -> tuple[float, float, float] | None:
    """Least-squares ``y0 + a exp(-k x)``: returns (a, k, y0) or None when it does not converge.

    Initial ``k`` from a linear-prediction fit on a decimated copy (at most ~2000 samples), then
    variable-projection Gauss-Newton (:func:`_vp_gauss_newton`), first on the decimated data
    (to a relative change of 1e-6), then on all samples until the relative change in ``k`` is
    at most 1e-10. The result is the least-squares optimum that
    ``scipy.optimize.curve_fit`` converges to, at a fraction of the cost.
    """
    n = x.size
    if n < 4:
        return None
    dec = max(1, n // 2000)
    xd, yd = x[::dec], y[::dec]
    dx = float(xd[1] - xd[0]) if xd.size > 1 else 0.0
    if dx <= 0 or xd.size < 4:
        return None
    yc = yd - yd.mean()
    q = float(_dot(yc[1:], yc[:-1])) / max(float(_dot(yc[:-1], yc[:-1])), 1e-300)
    k = -math.log(q) / dx if 0 < q < 1 else 1.0 / max(float(x[-1] - x[0]), 1e-12)
    coarse = _vp_gauss_newton(xd, yd, k, max_iter, 1e-6) if dec > 1 else (math.nan, k, math.nan)
    if coarse is None:
        return None
    return _vp_gauss_newton(x, y, coarse[1], max_iter if dec == 1 else 8, 1e-10)


def time_constant(
    t: FloatArray,
    v: FloatArray,
    start: float,
    end: float,
    *,
    frac: float = 0.1,
    baseline_interval: float = 0.1,
    min_snr: float = 20.0,
    rmse_max: float = 1.0,
    peak_time: float | None = None,
) -> TauFit:
    """Fit the membrane time constant of a hyperpolarising step (see module docs).

    ``peak_time`` (s), when given, replaces the time of the minimum as the end of the fit.

    Parameters
    ----------
    t, v
        Time (s) and membrane voltage (mV), 1-D, equal length, ``t`` not decreasing.
    start, end
        Stimulus step onset and offset (s); the peak deflection is searched in ``[start, end)``.
    frac
        The fit starts at the first sample after ``start`` at or below
        ``v_base + frac * (v_peak - v_base)`` (fraction of the deflection, 0-1).
    baseline_interval
        Length of the window before ``start`` giving the baseline V and its noise SD (s).
    min_snr
        Smallest accepted ratio of |deflection| to baseline noise SD.
    rmse_max
        Largest accepted root-mean-square residual of the fit (mV).
    peak_time
        End of the fit window (s); None uses the time of the minimum V.

    Returns
    -------
    TauFit
        The time constant (s) with its fit amplitude and offset (mV), window (s), RMSE (mV),
        R² and SNR; ``tau`` is NaN and ``reason`` says why when the fit is rejected.
    """
    v_peak, k_peak = voltage_deflection(t, v, start, end, "min")
    v_base = baseline_voltage(t, v, start, baseline_interval)
    if k_peak < 0 or not math.isfinite(v_base):
        return TauFit(math.nan, reason="no deflection or no baseline")
    a0, a1 = int(time_index(t, start - baseline_interval)), int(time_index(t, start))
    noise = float(np.std(v[a0:a1])) if a1 > a0 else math.nan
    signal = abs(v_base - v_peak)
    snr = math.inf if noise == 0 else signal / noise
    if not snr >= min_snr:
        return TauFit(math.nan, snr=snr, reason=f"SNR {snr:.3g} < {min_snr:g}")
    si = a1
    level = frac * (v_peak - v_base) + v_base
    hits = np.flatnonzero(v[si:] <= level)
    if hits.size == 0:
        return TauFit(math.nan, snr=snr, reason="deflection never reaches the 10 % level")
    fit_start = float(t[hits[0] + si])
    fit_end = float(t[k_peak]) if peak_time is None else float(peak_time)
    i0, i1 = int(time_index(t, fit_start)), int(time_index(t, fit_end))
    if i1 - i0 < 4:
        return TauFit(math.nan, snr=snr, reason="fit window shorter than 4 samples")
    x = t[i0:i1] - t[i0]
    y = v[i0:i1]
    fit = fit_exponential(x, y)
    if fit is None:
        guess = (float(v[i0] - v[i1]), 50.0, float(v[i1]))
        from scipy.optimize import curve_fit

        try:
            popt, _ = curve_fit(_exp_curve, x, y, p0=guess)
        except (RuntimeError, ValueError) as exc:
            return TauFit(math.nan, snr=snr, reason=f"fit failed: {exc}")
    else:
        popt = np.array(fit)
    pred = _exp_curve(x, *popt)
    res = pred - y
    rmse = float(np.sqrt(np.mean(res * res)))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(res * res)) / ss_tot if ss_tot > 0 else math.nan
    a, inv_tau, y0 = (float(z) for z in popt)
    tau = 1.0 / inv_tau if inv_tau != 0 else math.nan
    reason = f"RMSE {rmse:.3g} mV > {rmse_max:g}" if rmse > rmse_max else ""
    return TauFit(
        math.nan if reason else tau,
        amplitude=a,
        offset=y0,
        fit_start=fit_start,
        fit_end=fit_end,
        rmse=rmse,
        r2=r2,
        snr=snr,
        reason=reason,
    )


def input_resistance(
    currents: npt.ArrayLike,
    deflections: npt.ArrayLike,
    *,
    baselines: npt.ArrayLike | None = None,
) -> float:
    """Slope (MΩ) of peak deflection (mV) vs current (pA) over subthreshold sweeps.

    With a single sweep, its baseline V at 0 pA is the second point (``baselines[0]``).

    Parameters
    ----------
    currents
        Injected step current of each sweep (pA).
    deflections
        Peak voltage of each sweep (mV), same length as ``currents``. Pairs with a non-finite
        current or voltage are dropped.
    baselines
        Baseline voltage of each sweep (mV); used only when a single sweep remains.

    Returns
    -------
    float
        The least-squares slope of voltage on current (MΩ); NaN with fewer than two points or
        a single distinct current.
    """
    i = np.asarray(currents, dtype=np.float64)
    dv = np.asarray(deflections, dtype=np.float64)
    ok = np.isfinite(i) & np.isfinite(dv)
    i, dv = i[ok], dv[ok]
    if i.size == 1 and baselines is not None:
        b = np.asarray(baselines, dtype=np.float64)[ok]
        if b.size and math.isfinite(float(b[0])):
            i = np.append(i, 0.0)
            dv = np.append(dv, b[0])
    if i.size < 2 or float(np.ptp(i)) == 0.0:
        return math.nan
    a = np.vstack([i, np.ones_like(i)]).T
    m = np.linalg.lstsq(a, dv, rcond=None)[0][0]
    return float(m) * 1e3
