"""Connection detection: foreground against matched background, a calibrated call.

Every response of a pair is measured the same way as its matched baseline (the *background*):

* raw peaks: the largest and smallest value in ``[spike + 1 ms, spike + 5 ms]`` relative to the
  median of the 5 ms before the pulse;
* deconvolved peaks and their latencies: the snippet is exponentially deconvolved
  (``y + tau dy/dt``, tau 15 ms in current clamp and 5 ms in voltage clamp; Richardson &
  Silberberg 2008), low-passed (4-pole Bessel, 1 kHz, zero phase), referred to its median over
  the 5 ms before the pulse, and its peaks taken in the same window;
* crosstalk: the median of the 200 µs after the pulse onset minus that of the 200 µs before.

A baseline is measured at the spike delay of its response. :func:`pair_statistics` compares
foreground and background per clamp mode (means, Welch t and two-sample KS tests, each p-value
also as ``norm_pvalue(p) = min(7, ln(1 - ln p))``).

**The call** (:func:`call_connection`). Foreground and background amplitudes are exchangeable
when there is no synapse (the background is the same recording, cut where nothing was
stimulated, through the same QC), so a one-sided rank test of foreground against background
deconvolved peaks gives an exact-in-distribution p-value per sign and clamp mode. The pair's
p-value is the smallest of them times the number of tests (Bonferroni), and a pair is called
connected when it is below ``alpha``. That is the operating point: **at most ``alpha`` of
unconnected pairs are called connected** (default ``alpha = 1e-3``; the Allen data have about 6 %
connected pairs, so false calls are then about 1 in 60 calls). The sign with the smallest
p-value gives the type: a depolarising current-clamp or inward voltage-clamp response is
excitatory. ``confidence = 1 - p``. Manual calls, when present, win (the analysis applies them).

:class:`~patchatlas.synphys.classifier.ConnectionClassifier` learns a call from labelled pairs
(e.g. expert calls) on the same features: standardised features, logistic regression
(probabilities calibrated by maximum likelihood), and an operating point ``threshold_``
chosen on out-of-fold probabilities so that the false-positive rate among the unconnected
training pairs is at most ``target_fpr``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from patchatlas.errors import ParameterError
from patchatlas.synphys.psp import exp_deconvolve
from patchatlas.synphys.responses import PairResponses

__all__ = [
    "FEATURE_COLUMNS",
    "ConnectionCallResult",
    "call_connection",
    "norm_pvalue",
    "pair_statistics",
    "response_features",
]

FloatArray = npt.NDArray[np.float64]

#: deconvolution time constants (s) per clamp mode
DECONV_TAU = {"ic": 15e-3, "vc": 5e-3}
#: the per-pair features :class:`ConnectionClassifier` uses by default (:func:`pair_statistics`)
FEATURE_COLUMNS: tuple[str, ...] = (
    "ic_pos_dec_amp_mean",
    "ic_neg_dec_amp_mean",
    "ic_pos_dec_amp_ks2samp",
    "ic_neg_dec_amp_ks2samp",
    "ic_pos_dec_latency_stdev",
    "ic_neg_dec_latency_stdev",
    "ic_pos_amp_ttest",
    "ic_neg_amp_ttest",
)
_MEASURES = ("pos_amp", "neg_amp", "pos_dec_amp", "neg_dec_amp", "pos_dec_latency",
             "neg_dec_latency")  # fmt: skip


def norm_pvalue(p: npt.ArrayLike) -> FloatArray:
    """Map p-values to a bounded evidence scale: ``min(7, ln(1 - ln p))``.

    Parameters
    ----------
    p
        p-values in (0, 1] (0 maps to 7, NaN stays NaN).

    Returns
    -------
    numpy.ndarray
        0 for p = 1, growing slowly as p falls, at most 7.
    """
    pp = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.minimum(7.0, np.log(1.0 - np.log(pp)))
    return np.where(np.isnan(pp), np.nan, np.where(pp <= 0, 7.0, out))


def _lowpass(x: FloatArray, dt: float, cutoff: float) -> FloatArray:
    from scipy.signal import bessel, filtfilt

    nyq = 0.5 / dt
    if cutoff >= nyq * 0.99 or x.shape[-1] < 16:
        return x
    b, a = bessel(4, cutoff / nyq, btype="low", norm="phase")
    out: FloatArray = filtfilt(
        b, a, x, axis=-1, padlen=min(3 * max(len(a), len(b)), x.shape[-1] - 1)
    )
    return out


def _fill_nan(x: FloatArray) -> FloatArray:
    """Forward-fill NaN along rows (truncated tails), then back-fill; all-NaN rows become 0."""
    out = x.copy()
    bad = np.isnan(out)
    if not bad.any():
        return out
    n = out.shape[1]
    idx = np.where(~bad, np.arange(n)[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out = np.take_along_axis(out, idx, axis=1)
    bad = np.isnan(out)
    if bad.any():
        first = np.argmax(~bad, axis=1)
        fillv = out[np.arange(out.shape[0]), first]
        out = np.where(bad, fillv[:, None], out)
    return np.nan_to_num(out, nan=0.0)


def _measure(
    snips: FloatArray, t: FloatArray, dt: float, delay: FloatArray, mode: FloatArray | list[str],
    lowpass: float, window: tuple[float, float],
) -> dict[str, FloatArray]:  # fmt: skip
    """Peaks, deconvolved peaks, latencies and crosstalk of snippets (rows), vectorised."""
    m = snips.shape[0]
    out = {k: np.full(m, np.nan) for k in (*_MEASURES, "crosstalk")}
    if m == 0:
        return out
    pre = (t >= -5e-3) & (t < 0)
    with np.errstate(all="ignore"):
        base = np.nanmedian(snips[:, pre], axis=1)
        after = (t >= 0) & (t < 2e-4)
        before = (t >= -2e-4) & (t < 0)
        out["crosstalk"] = np.nanmedian(snips[:, after], axis=1) - np.nanmedian(
            snips[:, before], axis=1
        )
    rel = t[None, :] - delay[:, None]
    inwin = (rel >= window[0]) & (rel <= window[1])
    valid = inwin & np.isfinite(snips)
    has = valid.any(axis=1) & np.isfinite(delay)
    y = snips - base[:, None]
    big = np.where(valid, y, -np.inf)
    small = np.where(valid, y, np.inf)
    out["pos_amp"] = np.where(has, big.max(axis=1), np.nan)
    out["neg_amp"] = np.where(has, small.min(axis=1), np.nan)
    modes = np.asarray(mode)
    filled = _fill_nan(snips)
    dec = np.empty_like(filled)
    for md in np.unique(modes):
        rows = modes == md
        dec[rows] = exp_deconvolve(filled[rows], dt, DECONV_TAU.get(str(md), 15e-3))
    dec = _lowpass(dec, dt, lowpass)
    with np.errstate(all="ignore"):
        dec = dec - np.median(dec[:, pre], axis=1)[:, None] if pre.any() else dec
    big = np.where(valid, dec, -np.inf)
    small = np.where(valid, dec, np.inf)
    jp, jn = big.argmax(axis=1), small.argmin(axis=1)
    r = np.arange(m)
    out["pos_dec_amp"] = np.where(has, big[r, jp], np.nan)
    out["neg_dec_amp"] = np.where(has, small[r, jn], np.nan)
    out["pos_dec_latency"] = np.where(has, rel[r, jp], np.nan)
    out["neg_dec_latency"] = np.where(has, rel[r, jn], np.nan)
    return out


def response_features(
    responses: PairResponses,
    *,
    lowpass: float = 1000.0,
    window: tuple[float, float] = (1e-3, 5e-3),
) -> pd.DataFrame:
    """Foreground and background measures of every response of a pair.

    Parameters
    ----------
    responses
        The pair's responses (:func:`patchatlas.synphys.pair_responses`).
    lowpass
        Cut-off of the Bessel filter applied after deconvolution (Hz).
    window
        Where peaks are searched, after the presynaptic spike (s).

    Returns
    -------
    pandas.DataFrame
        The response table plus ``fg_<m>`` and ``bg_<m>`` for ``m`` in ``pos_amp, neg_amp,
        pos_dec_amp, neg_dec_amp`` (mV or pA), ``pos_dec_latency, neg_dec_latency`` (s, after
        the spike) and ``crosstalk`` (mV or pA).
    """
    tab = responses.table.reset_index(drop=True)
    if len(tab) == 0:
        cols: dict[str, list[float]] = {
            f"{s}_{m}": [] for s in ("fg", "bg") for m in (*_MEASURES, "crosstalk")
        }
        return tab.assign(**cols)
    delay = tab["spike_delay"].to_numpy(dtype=float)
    fallback = float(np.nanmedian(delay)) if np.isfinite(delay).any() else 1.5e-3
    bg_delay = np.where(np.isfinite(delay), delay, fallback)
    modes = tab["clamp_mode"].astype(str).to_list()
    fg = _measure(responses.data, responses.t, responses.dt, delay, modes, lowpass, window)
    bg = _measure(responses.baseline, responses.t, responses.dt, bg_delay, modes, lowpass, window)
    extra = {f"fg_{k}": v for k, v in fg.items()} | {f"bg_{k}": v for k, v in bg.items()}
    return pd.concat([tab, pd.DataFrame(extra)], axis=1)


def _ks_t(fg: FloatArray, bg: FloatArray) -> tuple[float, float]:
    from scipy import stats

    fg, bg = fg[np.isfinite(fg)], bg[np.isfinite(bg)]
    if fg.size < 2 or bg.size < 2:
        return math.nan, math.nan
    ks = float(stats.ks_2samp(fg, bg).pvalue)
    spread = max(float(np.ptp(fg)), float(np.ptp(bg)))
    if spread <= 1e-12 * max(1.0, float(np.abs(np.r_[fg, bg]).max())):
        return ks, math.nan  # (near-)constant samples: no t statistic
    with np.errstate(all="ignore"):
        tt = float(stats.ttest_ind(fg, bg, equal_var=False).pvalue)
    return ks, tt


def pair_statistics(features: pd.DataFrame, *, qc: str = "any") -> dict[str, float]:
    """Foreground against background, per clamp mode (the classifier's features).

    Parameters
    ----------
    features
        :func:`response_features` of one pair.
    qc
        Which responses count: ``"ex"``, ``"in"`` or ``"any"`` (either QC flag).

    Returns
    -------
    dict
        For ``mode`` in ``ic, vc``: ``{mode}_n`` (responses with a baseline), and for each
        measure ``m``: ``{mode}_{m}_mean``, ``{mode}_{m}_stdev``, ``{mode}_{m}_bg_mean``,
        ``{mode}_{m}_ks2samp``, ``{mode}_{m}_ttest`` (the last two as :func:`norm_pvalue`), plus
        ``{mode}_crosstalk`` (median |crosstalk|), ``{mode}_crosstalk_excess`` (|median
        foreground crosstalk − median background crosstalk|, mV or pA) and
        ``{mode}_crosstalk_p`` (two-sample KS p-value of the two); NaN where fewer than 2
        responses.
    """
    if qc not in ("ex", "in", "any"):
        raise ParameterError(f"pair_statistics(qc={qc!r}): use 'ex', 'in' or 'any'")
    out: dict[str, float] = {}
    for mode in ("ic", "vc"):
        if len(features) == 0:
            sel = np.zeros(0, dtype=bool)
        else:
            ok = (
                features["ex_qc"] | features["in_qc"] if qc == "any" else features[f"{qc}_qc"]
            ).to_numpy(dtype=bool)
            sel = ok & features["baseline_found"].to_numpy(dtype=bool)
            sel &= (features["clamp_mode"] == mode).to_numpy()
        out[f"{mode}_n"] = float(sel.sum())
        for m in _MEASURES:
            fg = features[f"fg_{m}"].to_numpy(dtype=float)[sel] if len(features) else np.zeros(0)
            bg = features[f"bg_{m}"].to_numpy(dtype=float)[sel] if len(features) else np.zeros(0)
            ks, tt = _ks_t(fg, bg)
            with np.errstate(all="ignore"):
                out[f"{mode}_{m}_mean"] = float(np.nanmean(fg)) if fg.size else math.nan
                out[f"{mode}_{m}_stdev"] = float(np.nanstd(fg)) if fg.size > 1 else math.nan
                out[f"{mode}_{m}_bg_mean"] = float(np.nanmean(bg)) if bg.size else math.nan
            out[f"{mode}_{m}_ks2samp"] = float(norm_pvalue(ks))
            out[f"{mode}_{m}_ttest"] = float(norm_pvalue(tt))
        out[f"{mode}_crosstalk"] = out[f"{mode}_crosstalk_excess"] = math.nan
        out[f"{mode}_crosstalk_p"] = math.nan
        if len(features) and sel.any():
            xt = features["fg_crosstalk"].to_numpy(dtype=float)[sel]
            xb = features["bg_crosstalk"].to_numpy(dtype=float)[sel]
            with np.errstate(all="ignore"):
                out[f"{mode}_crosstalk"] = float(np.nanmedian(np.abs(xt)))
                if np.isfinite(xt).any() and np.isfinite(xb).any():
                    excess = float(np.nanmedian(xt)) - float(np.nanmedian(xb))
                    out[f"{mode}_crosstalk_excess"] = abs(excess)
            out[f"{mode}_crosstalk_p"] = _ks_t(xt, xb)[0]
    return out


@dataclass(frozen=True)
class ConnectionCallResult:
    """The automated call of one pair (:func:`call_connection`).

    Attributes
    ----------
    connected
        The call (None when there were too few responses to test).
    synapse_type
        ``"ex"``, ``"in"`` or None.
    p_value
        Bonferroni-corrected p-value of the best (sign, clamp mode) test.
    confidence
        ``1 - p_value``.
    n_responses
        Responses with a matched baseline that entered the tests.
    tests
        ``(mode, sign) → uncorrected p-value``.
    """

    connected: bool | None
    synapse_type: str | None
    p_value: float
    confidence: float
    n_responses: int
    tests: Mapping[str, float]


def call_connection(
    features: pd.DataFrame, *, alpha: float = 1e-3, min_responses: int = 10
) -> ConnectionCallResult:
    """Call a connection from foreground against background deconvolved peaks.

    Parameters
    ----------
    features
        :func:`response_features` of one pair.
    alpha
        The operating point: the largest corrected p-value called connected (at most this
        fraction of unconnected pairs is called connected).
    min_responses
        Fewest responses (with a baseline) a clamp mode needs to be tested.

    Returns
    -------
    ConnectionCallResult
        The call, its type, p-value and confidence; ``connected=None`` when no clamp mode had
        enough responses.
    """
    from scipy import stats

    if not 0 < alpha < 1:
        raise ParameterError(f"call_connection(alpha={alpha!r}): give a level in (0, 1)")
    tests: dict[str, float] = {}
    n_used = 0
    for mode in ("ic", "vc"):
        if len(features) == 0:
            break
        sel = (features["ex_qc"] | features["in_qc"]).to_numpy(dtype=bool)
        sel &= features["baseline_found"].to_numpy(dtype=bool)
        sel &= (features["clamp_mode"] == mode).to_numpy()
        if sel.sum() < min_responses:
            continue
        n_used += int(sel.sum())
        for sign, col, alt in (("pos", "pos_dec_amp", "greater"), ("neg", "neg_dec_amp", "less")):
            fg = features[f"fg_{col}"].to_numpy(dtype=float)[sel]
            bg = features[f"bg_{col}"].to_numpy(dtype=float)[sel]
            fg, bg = fg[np.isfinite(fg)], bg[np.isfinite(bg)]
            if fg.size < min_responses or bg.size < min_responses:
                continue
            tests[f"{mode}_{sign}"] = float(stats.mannwhitneyu(fg, bg, alternative=alt).pvalue)
    if not tests:
        return ConnectionCallResult(None, None, math.nan, math.nan, n_used, tests)
    key = min(tests, key=lambda k: tests[k])
    p = min(1.0, tests[key] * len(tests))
    mode, sign = key.split("_")
    excitatory = (mode == "ic") == (sign == "pos")
    connected = p < alpha
    return ConnectionCallResult(
        connected,
        ("ex" if excitatory else "in") if connected else None,
        p,
        1.0 - p,
        n_used,
        tests,
    )
