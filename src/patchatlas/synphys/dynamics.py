"""Short-term plasticity: per-response amplitudes, Allen STP metrics, adjusted CV, Tsodyks-Markram.

**Per-response amplitudes** (:func:`response_amplitudes`). With the synapse's kinetics known, each
response (and its matched baseline) is exponentially deconvolved with the PSP's decay constant
(which removes the tails of earlier PSPs in a train), low-passed (2 kHz current clamp, 6 kHz
voltage clamp), referred to its median over the 5 ms before the pulse, and fitted (scale and
offset, least squares) with the same operation applied to a unit PSP placed at spike + latency,
over ``[onset - 1 ms, onset + rise_time + 1 ms]``. The scale is the PSP amplitude (Allen:
``dec_fit_reconv_amp``); on the baseline it gives the noise distribution of that measure.

**STP metrics** (:func:`stp_metrics`), as aisynphys normalises them: ``A90`` is the 90th
percentile of all amplitudes (the 10th for inhibitory synapses, so it is negative); with ``A_k``
the amplitude of pulse ``k`` in a sweep of a 12-pulse probe (8 at the induction frequency, a
recovery delay, 4 more), per (clamp mode, induction frequency, recovery delay):

* ``stp_initial = (A2 - A1) / A90``; ``stp_induction = (median(A6, A7, A8) - A1) / A90``;
* ``stp_recovery = median_k(A_{k+8} - A_k) / A90`` for k = 1..4 (needs all 12 pulses);
* ``stp_recovery_single = (A9 - A1) / A90``; ``paired_pulse_ratio = A2 / A1``;

each the median over sweeps (with SD and count). Per-pulse aggregates are computed pulse by
pulse (each pulse its own list: the reference's identical per-pulse slots are a known bug).
**Adjusted CV** = ``ln(sqrt(SD(x)^2 - SD_noise^2) / |median(x)|)`` with ``SD_noise`` from the
matched baselines; NaN when ``SD(x) <= SD_noise`` or fewer than 3 values.

**Tsodyks-Markram** (:func:`fit_tsodyks_markram`): ``PSP_n = A u_n R_n`` with ``u_1 = U``,
``R_1 = 1``, and between spikes ``R <- 1 - (1 - R (1 - u)) e^{-dt/tau_rec}``,
``u <- U + u (1 - U) e^{-dt/tau_facil}``. ``A`` is linear (solved in closed form); ``U``,
``tau_rec``, ``tau_facil`` are searched on a vectorised log grid and refined by bounded least
squares, on the mean amplitude of every pulse of every protocol at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from patchatlas.errors import DataError, ParameterError
from patchatlas.synphys.psp import RISE_POWER, exp_deconvolve, rise_tau
from patchatlas.synphys.responses import PairResponses

__all__ = [
    "TMFit",
    "adjusted_cv",
    "fit_tsodyks_markram",
    "response_amplitudes",
    "stp_metrics",
    "tsodyks_markram",
]

FloatArray = npt.NDArray[np.float64]
LOWPASS = {"ic": 2000.0, "vc": 6000.0}


def _lowpass(x: FloatArray, dt: float, cutoff: float) -> FloatArray:
    from scipy.signal import bessel, filtfilt

    nyq = 0.5 / dt
    if cutoff >= 0.99 * nyq or x.shape[-1] < 16:
        return x
    b, a = bessel(4, cutoff / nyq, btype="low", norm="phase")
    out: FloatArray = filtfilt(b, a, x, axis=-1, padlen=min(15, x.shape[-1] - 1))
    return out


def response_amplitudes(
    responses: PairResponses,
    *,
    latency: float,
    rise_time: float,
    decay_tau: float,
) -> pd.DataFrame:
    """Amplitude of every response and of its baseline with the synapse's kinetics fixed.

    Parameters
    ----------
    responses
        The pair's responses.
    latency
        Synaptic latency after the presynaptic spike (s).
    rise_time, decay_tau
        The synapse's time to peak and decay constant (s).

    Returns
    -------
    pandas.DataFrame
        The response table plus ``amp`` and ``bg_amp`` (mV in current clamp, pA in voltage
        clamp; NaN where the response has no spike or no baseline).
    """
    tab = responses.table.reset_index(drop=True)
    n = len(tab)
    amp = np.full(n, np.nan)
    bg = np.full(n, np.nan)
    if n == 0 or not (rise_time > 0 and decay_tau > 0 and math.isfinite(latency)):
        return tab.assign(amp=amp, bg_amp=bg)
    t, dt = responses.t, responses.dt
    delay = tab["spike_delay"].to_numpy(dtype=float)
    onset = delay + latency
    tr = float(rise_tau(rise_time, decay_tau))
    peak = (1 - math.exp(-rise_time / tr)) ** RISE_POWER * math.exp(-rise_time / decay_tau)
    s = np.maximum(t[None, :] - np.where(np.isfinite(onset), onset, 0.0)[:, None], 0.0)
    unit = (-np.expm1(-s / tr)) ** RISE_POWER * np.exp(-s / decay_tau) / peak
    pre = (t >= -5e-3) & (t < 0)
    win = (t[None, :] >= (onset - 1e-3)[:, None]) & (
        t[None, :] <= (onset + rise_time + 1e-3)[:, None]
    )
    modes = tab["clamp_mode"].astype(str).to_numpy()
    for mode in np.unique(modes):
        rows = modes == mode
        cut = LOWPASS.get(str(mode), 2000.0)
        tmpl = _lowpass(exp_deconvolve(unit[rows], dt, decay_tau), dt, cut)
        for src, out in ((responses.data, amp), (responses.baseline, bg)):
            y = src[rows]
            ok_rows = np.isfinite(y[:, pre]).any(axis=1) if pre.any() else np.ones(len(y), bool)
            y = np.where(np.isfinite(y), y, np.nan)
            filled = _ffill(y)
            d = _lowpass(exp_deconvolve(filled, dt, decay_tau), dt, cut)
            if pre.any():
                d = d - np.median(d[:, pre], axis=1)[:, None]
            w = win[rows] & np.isfinite(y)
            out[rows] = np.where(ok_rows, _scale_fit(d, tmpl, w), np.nan)
    amp[~np.isfinite(onset)] = np.nan
    bg[~tab["baseline_found"].to_numpy(dtype=bool)] = np.nan
    return tab.assign(amp=amp, bg_amp=bg)


def _ffill(y: FloatArray) -> FloatArray:
    out = y.copy()
    bad = np.isnan(out)
    if not bad.any():
        return out
    idx = np.where(~bad, np.arange(out.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out = np.take_along_axis(out, idx, axis=1)
    return np.nan_to_num(out, nan=0.0)


def _scale_fit(d: FloatArray, tmpl: FloatArray, w: npt.NDArray[np.bool_]) -> FloatArray:
    """Per row least squares ``d ~ c + a * tmpl`` on the samples ``w``; returns a."""
    wf = w.astype(np.float64)
    n = wf.sum(axis=1)
    sx = (wf * tmpl).sum(axis=1)
    sy = (wf * d).sum(axis=1)
    sxx = (wf * tmpl * tmpl).sum(axis=1)
    sxy = (wf * tmpl * d).sum(axis=1)
    den = n * sxx - sx * sx
    with np.errstate(all="ignore"):
        a = np.where((n >= 3) & (den > 0), (n * sxy - sx * sy) / den, np.nan)
    return np.asarray(a, dtype=np.float64)


def adjusted_cv(x: npt.ArrayLike, noise: npt.ArrayLike) -> float:
    """Noise-corrected coefficient of variation (log scale).

    Parameters
    ----------
    x
        Amplitudes (NaN ignored).
    noise
        The same measure on matched baselines (NaN ignored).

    Returns
    -------
    float
        ``ln(sqrt(SD(x)^2 - SD(noise)^2) / |median(x)|)``; NaN with fewer than 3 values of
        either, when ``SD(x) <= SD(noise)`` or when the median is 0.
    """
    xx = np.asarray(x, dtype=np.float64)
    nn = np.asarray(noise, dtype=np.float64)
    xx, nn = xx[np.isfinite(xx)], nn[np.isfinite(nn)]
    if xx.size < 3 or nn.size < 3:
        return math.nan
    var = float(np.var(xx, ddof=1)) - float(np.var(nn, ddof=1))
    med = abs(float(np.median(xx)))
    if var <= 0 or med == 0:
        return math.nan
    return math.log(math.sqrt(var) / med)


def _rowmedian(a: FloatArray) -> FloatArray:
    """Median of each row over its finite values (NaN for a row without any, no warning)."""
    out = np.full(a.shape[0], np.nan)
    ok = np.isfinite(a).any(axis=1)
    if ok.any():
        out[ok] = np.nanmedian(a[ok], axis=1)
    return out


def _matrix(g: pd.DataFrame, value: str) -> FloatArray:
    """sweeps × 12 pulses of ``value`` (NaN where missing)."""
    sweeps = sorted(g["sweep"].unique())
    pos = {s: i for i, s in enumerate(sweeps)}
    m = np.full((len(sweeps), 12), np.nan)
    p = g["pulse"].to_numpy(dtype=int)
    keep = (p >= 1) & (p <= 12)
    rows = np.array([pos[s] for s in g["sweep"]], dtype=int)
    m[rows[keep], p[keep] - 1] = g[value].to_numpy(dtype=float)[keep]
    return m


def _stats(v: FloatArray) -> tuple[float, float, int]:
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(np.median(v)), float(np.std(v, ddof=1)) if v.size > 1 else math.nan, int(v.size)


def _pearson(a: FloatArray, b: FloatArray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() <= 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return math.nan
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def stp_metrics(
    amplitudes: pd.DataFrame,
    *,
    sign: int,
    clamp_mode: str = "ic",
    resting_interval: float = 8.0,
) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame]:
    """Allen short-term plasticity metrics of one synapse.

    Parameters
    ----------
    amplitudes
        :func:`response_amplitudes` restricted to the responses that passed the synapse type's
        QC (columns ``sweep, pulse, induction_frequency, recovery_delay, clamp_mode,
        previous_pulse_dt, amp, bg_amp``).
    sign
        +1 excitatory (A90 is the 90th percentile), -1 inhibitory (the 10th).
    clamp_mode
        Which responses count (``"ic"``).
    resting_interval
        Responses whose previous presynaptic pulse was at least this long before (s) are
        resting-state responses.

    Returns
    -------
    summary : dict
        ``a90``; ``stp_initial_50hz``, ``stp_induction_50hz``, ``stp_recovery_250ms``,
        ``stp_recovery_single_250ms``, ``paired_pulse_ratio_50hz`` (medians; NaN without such
        sweeps); ``cv_resting``, ``cv_pulse2_50hz``, ``cv_pulses5_8_50hz`` (adjusted CVs);
        ``r_pulse1_2_50hz``, ``r_pulses12_34_50hz``, ``r_pulses1_4_5_8_50hz`` (paired-event
        correlations, > 3 sweeps); ``n_responses``.
    protocols : pandas.DataFrame
        One row per (induction_frequency, recovery_delay): each metric's median, SD and n.
    pulses : pandas.DataFrame
        One row per (induction_frequency, recovery_delay, pulse): ``mean``, ``median``, ``std``
        and ``n`` of that pulse's amplitudes, and ``n_sweeps``.
    """
    if sign not in (-1, 1):
        raise ParameterError(f"stp_metrics(sign={sign!r}): give +1 (excitatory) or -1")
    need = {"sweep", "pulse", "induction_frequency", "recovery_delay", "amp"}
    missing = need - set(amplitudes.columns)
    if missing:
        raise DataError(f"stp_metrics: the amplitude table lacks {sorted(missing)}")
    df = amplitudes
    if "clamp_mode" in df.columns:
        df = df[df["clamp_mode"] == clamp_mode]
    df = df[np.isfinite(df["amp"].to_numpy(dtype=float))]
    summary: dict[str, float] = {"n_responses": float(len(df))}
    keys = ("stp_initial", "stp_induction", "stp_recovery", "stp_recovery_single",
            "paired_pulse_ratio")  # fmt: skip
    if len(df) == 0:
        summary["a90"] = math.nan
        for k in ("stp_initial_50hz", "stp_induction_50hz", "stp_recovery_250ms",
                  "stp_recovery_single_250ms", "paired_pulse_ratio_50hz", "cv_resting",
                  "cv_pulse2_50hz", "cv_pulses5_8_50hz", "r_pulse1_2_50hz",
                  "r_pulses12_34_50hz", "r_pulses1_4_5_8_50hz"):  # fmt: skip
            summary[k] = math.nan
        return summary, pd.DataFrame(), pd.DataFrame()
    a90 = float(np.percentile(df["amp"], 90 if sign > 0 else 10))
    summary["a90"] = a90
    prot_rows, pulse_rows = [], []
    per_protocol: dict[tuple[float, float], FloatArray] = {}
    freq = df["induction_frequency"].fillna(-1.0)
    delay = df["recovery_delay"].fillna(-1.0)
    for (f, d), g in df.groupby([freq, delay], sort=True):
        m = _matrix(g, "amp")
        per_protocol[(f, d)] = m
        with np.errstate(all="ignore"):
            per_sweep = {
                "stp_initial": (m[:, 1] - m[:, 0]) / a90,
                "stp_induction": (_rowmedian(m[:, 5:8]) - m[:, 0]) / a90
                if m.shape[1] >= 8
                else np.full(len(m), np.nan),
                "stp_recovery": np.median(m[:, 8:12] - m[:, 0:4], axis=1) / a90,
                "stp_recovery_single": (m[:, 8] - m[:, 0]) / a90,
                "paired_pulse_ratio": m[:, 1] / m[:, 0],
            }
        row: dict[str, float] = {
            "induction_frequency": math.nan if f < 0 else float(f),
            "recovery_delay": math.nan if d < 0 else float(d),
            "n_sweeps": float(len(m)),
        }
        for key in keys:
            med, sd, cnt = _stats(per_sweep[key])
            row[key], row[f"{key}_std"], row[f"{key}_n"] = med, sd, float(cnt)
        prot_rows.append(row)
        for pulse_i in range(12):
            col = m[:, pulse_i]
            col = col[np.isfinite(col)]
            if col.size == 0:
                continue
            pulse_rows.append(
                {
                    "induction_frequency": row["induction_frequency"],
                    "recovery_delay": row["recovery_delay"],
                    "pulse": pulse_i + 1,
                    "mean": float(col.mean()),
                    "median": float(np.median(col)),
                    "std": float(col.std(ddof=1)) if col.size > 1 else math.nan,
                    "n": float(col.size),
                    "n_sweeps": float(len(m)),
                }
            )
    protocols = pd.DataFrame(prot_rows)
    pulses = pd.DataFrame(pulse_rows)
    f50 = protocols[protocols["induction_frequency"] == 50]

    def pick(frame: pd.DataFrame, key: str) -> float:
        vals = frame[key].to_numpy(dtype=float)
        ns = frame[f"{key}_n"].to_numpy(dtype=float)
        if vals.size == 0 or not np.isfinite(vals).any():
            return math.nan
        return float(vals[np.nanargmax(np.where(np.isfinite(vals), ns, -1))])

    # 50 Hz induction metrics pool every recovery delay: recompute on all 50 Hz sweeps
    m50 = [per_protocol[k] for k in per_protocol if k[0] == 50]
    if m50:
        mm = np.concatenate(m50, axis=0)
        with np.errstate(all="ignore"):
            summary["stp_initial_50hz"] = _stats((mm[:, 1] - mm[:, 0]) / a90)[0]
            summary["stp_induction_50hz"] = _stats((_rowmedian(mm[:, 5:8]) - mm[:, 0]) / a90)[0]
            summary["paired_pulse_ratio_50hz"] = _stats(mm[:, 1] / mm[:, 0])[0]
        summary["cv_pulse2_50hz"] = adjusted_cv(mm[:, 1], _noise(df, 50, [2]))
        summary["cv_pulses5_8_50hz"] = adjusted_cv(mm[:, 4:8].ravel(), _noise(df, 50, [5, 6, 7, 8]))
        with np.errstate(all="ignore"):
            summary["r_pulse1_2_50hz"] = _pearson(mm[:, 0], mm[:, 1])
            summary["r_pulses12_34_50hz"] = _pearson(_rowmedian(mm[:, 0:2]), _rowmedian(mm[:, 2:4]))
            summary["r_pulses1_4_5_8_50hz"] = _pearson(
                _rowmedian(mm[:, 0:4]), _rowmedian(mm[:, 4:8])
            )
    else:
        for k in ("stp_initial_50hz", "stp_induction_50hz", "paired_pulse_ratio_50hz",
                  "cv_pulse2_50hz", "cv_pulses5_8_50hz", "r_pulse1_2_50hz",
                  "r_pulses12_34_50hz", "r_pulses1_4_5_8_50hz"):  # fmt: skip
            summary[k] = math.nan
    d250 = protocols[protocols["recovery_delay"] == 0.25]
    summary["stp_recovery_250ms"] = pick(d250, "stp_recovery") if len(d250) else math.nan
    summary["stp_recovery_single_250ms"] = (
        pick(d250, "stp_recovery_single") if len(d250) else math.nan
    )
    if not len(f50):
        summary["stp_initial_50hz"] = summary.get("stp_initial_50hz", math.nan)
    rest = df[df["previous_pulse_dt"].to_numpy(dtype=float) >= resting_interval]
    summary["cv_resting"] = adjusted_cv(
        rest["amp"], rest["bg_amp"] if "bg_amp" in rest else np.zeros(0)
    )
    return summary, protocols, pulses


def _noise(df: pd.DataFrame, freq: float, pulses: Sequence[int]) -> FloatArray:
    if "bg_amp" not in df.columns:
        return np.zeros(0)
    sel = (df["induction_frequency"] == freq) & df["pulse"].isin(list(pulses))
    return df.loc[sel, "bg_amp"].to_numpy(dtype=float)


# ------------------------------------------------------------------------ Tsodyks-Markram


def tsodyks_markram(
    spike_times: npt.ArrayLike,
    U: npt.ArrayLike,
    tau_rec: npt.ArrayLike,
    tau_facil: npt.ArrayLike,
) -> FloatArray:
    """Relative efficacy ``u_n R_n`` of each spike of a train (Tsodyks-Markram model).

    Parameters
    ----------
    spike_times
        Spike times of one train (s), increasing; the synapse is rested before the first.
    U
        Baseline release fraction (0 < U <= 1); parameters broadcast together (a grid).
    tau_rec
        Recovery time constant of the resources (s).
    tau_facil
        Facilitation time constant (s); 0 means no facilitation.

    Returns
    -------
    numpy.ndarray
        Shape ``broadcast(U, tau_rec, tau_facil).shape + (n_spikes,)``: the PSP of spike ``n``
        is ``A * out[..., n]``.
    """
    t = np.asarray(spike_times, dtype=np.float64)
    u0, tr, tf = np.broadcast_arrays(
        np.asarray(U, dtype=np.float64),
        np.asarray(tau_rec, dtype=np.float64),
        np.asarray(tau_facil, dtype=np.float64),
    )
    out = np.empty((*u0.shape, t.size))
    if t.size == 0:
        return out
    u = u0.copy()
    r = np.ones_like(u0)
    out[..., 0] = u * r
    with np.errstate(divide="ignore", over="ignore"):
        for n in range(1, t.size):
            gap = t[n] - t[n - 1]
            r = 1.0 - (1.0 - r * (1.0 - u)) * np.exp(-gap / tr)
            fac = np.where(tf > 0, np.exp(-gap / np.where(tf > 0, tf, 1.0)), 0.0)
            u = u0 + u * (1.0 - u0) * fac
            out[..., n] = u * r
    return out


@dataclass(frozen=True)
class TMFit:
    """A Tsodyks-Markram fit (:func:`fit_tsodyks_markram`).

    Attributes
    ----------
    amp
        Absolute efficacy ``A`` (unit of the amplitudes): the first PSP of a rested synapse is
        ``A * U``.
    U
        Baseline release fraction.
    tau_rec, tau_facil
        Recovery and facilitation time constants (s).
    rmse
        RMS error of the fitted mean amplitudes (unit of the amplitudes).
    r2
        Fraction of the amplitudes' variance explained.
    n_points
        Mean amplitudes fitted.
    predictions
        One array per train: the model's amplitude of each pulse.
    at_bound
        Parameters that ended on a bound.
    """

    amp: float
    U: float
    tau_rec: float
    tau_facil: float
    rmse: float
    r2: float
    n_points: int
    predictions: list[FloatArray] = field(default_factory=list)
    at_bound: tuple[str, ...] = ()


#: search bounds of :func:`fit_tsodyks_markram` (U, tau_rec s, tau_facil s)
TM_BOUNDS = {"U": (0.01, 0.99), "tau_rec": (5e-3, 5.0), "tau_facil": (1e-3, 5.0)}


def fit_tsodyks_markram(
    trains: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]],
    *,
    weights: Sequence[npt.ArrayLike] | None = None,
    n_grid: int = 14,
) -> TMFit:
    """Fit the Tsodyks-Markram model to mean amplitudes of one or more pulse trains.

    Parameters
    ----------
    trains
        ``(spike_times, amplitudes)`` per protocol: the pulse times (s) and the mean amplitude
        of each pulse (NaN: left out). All protocols share the parameters.
    weights
        Per-point weights, e.g. the number of sweeps averaged (default 1).
    n_grid
        Grid points per parameter of the initial search.

    Returns
    -------
    TMFit
        ``A``, ``U``, ``tau_rec``, ``tau_facil``, errors and the predicted amplitudes.

    Raises
    ------
    patchatlas.errors.DataError
        Fewer than 3 finite amplitudes, or amplitudes of mixed sign.
    """
    from scipy.optimize import least_squares

    ts = [np.asarray(t, dtype=np.float64) for t, _ in trains]
    ys = [np.asarray(a, dtype=np.float64) for _, a in trains]
    if any(t.shape != y.shape for t, y in zip(ts, ys, strict=True)):
        raise DataError("fit_tsodyks_markram: each train needs one amplitude per spike time")
    ws = (
        [np.ones_like(y) for y in ys]
        if weights is None
        else [np.asarray(w, dtype=np.float64) for w in weights]
    )
    yall = np.concatenate(ys) if ys else np.zeros(0)
    wall = np.concatenate(ws) if ws else np.zeros(0)
    ok = np.isfinite(yall) & np.isfinite(wall) & (wall > 0)
    if ok.sum() < 3:
        raise DataError("fit_tsodyks_markram: need at least 3 finite mean amplitudes")
    sgn = np.sign(np.nanmedian(yall[ok]))
    if sgn == 0:
        raise DataError("fit_tsodyks_markram: the amplitudes are all zero")
    b = TM_BOUNDS
    grid_u = np.geomspace(*b["U"], n_grid)
    grid_r = np.geomspace(*b["tau_rec"], n_grid)
    grid_f = np.geomspace(*b["tau_facil"], n_grid)
    gu, gr, gf = np.meshgrid(grid_u, grid_r, grid_f, indexing="ij")
    eff = np.concatenate([tsodyks_markram(t, gu, gr, gf) for t in ts], axis=-1)
    yv, wv = np.where(ok, yall, 0.0), np.where(ok, wall, 0.0)
    sxy = (eff * (wv * yv)).sum(axis=-1)
    sxx = (eff * eff * wv).sum(axis=-1)
    a = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), 0.0)
    a = np.where(a * sgn > 0, a, 0.0)
    sse = (wv * yv * yv).sum() - 2 * a * sxy + a * a * sxx
    i = np.unravel_index(int(np.argmin(sse)), sse.shape)
    p0 = np.log([gu[i], gr[i], gf[i]])
    lo = np.log([b["U"][0], b["tau_rec"][0], b["tau_facil"][0]])
    hi = np.log([b["U"][1], b["tau_rec"][1], b["tau_facil"][1]])
    sw = np.sqrt(wv)

    def model(p: FloatArray) -> tuple[FloatArray, float]:
        e = np.concatenate([tsodyks_markram(t, *np.exp(p)) for t in ts])
        den = float((e * e * wv).sum())
        amp = float((e * wv * yv).sum()) / den if den > 0 else 0.0
        return e, amp

    def resid(p: FloatArray) -> FloatArray:
        e, amp = model(p)
        out: FloatArray = sw * (amp * e - yv)
        return out

    res = least_squares(resid, np.clip(p0, lo + 1e-9, hi - 1e-9), bounds=(lo, hi), x_scale=0.5)
    e, amp = model(res.x)
    u, trec, tfac = (float(v) for v in np.exp(res.x))
    pred = amp * e
    err = pred[ok] - yall[ok]
    wmean = float((wv[ok] * yall[ok]).sum() / wv[ok].sum())
    ss_tot = float((wv[ok] * (yall[ok] - wmean) ** 2).sum())
    ss_res = float((wv[ok] * err * err).sum())
    splits = np.cumsum([t.size for t in ts])[:-1]
    at = tuple(
        name
        for name, v, (blo, bhi) in zip(
            ("U", "tau_rec", "tau_facil"), (u, trec, tfac), (b["U"], b["tau_rec"], b["tau_facil"]),
            strict=True,
        )
        if v <= blo * 1.001 or v >= bhi * 0.999
    )  # fmt: skip
    return TMFit(
        amp=amp,
        U=u,
        tau_rec=trec,
        tau_facil=tfac,
        rmse=math.sqrt(float(np.mean(err * err))),
        r2=1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan,
        n_points=int(ok.sum()),
        predictions=list(np.split(pred, splits)),
        at_bound=at,
    )
