"""Connection probability: binomial confidence intervals, class × class matrices, distance bins.

A multipatch experiment tests ordered pairs of cells (pre → post) for a synaptic connection. The
connection probability of a group of tested pairs is ``k / n`` (connected / tested), reported
with a binomial confidence interval:

* ``"clopper-pearson"`` (default): the exact interval from beta quantiles,
  ``[B(α/2; k, n − k + 1), B(1 − α/2; k + 1, n − k)]`` with the lower bound 0 when ``k = 0`` and
  the upper bound 1 when ``k = n`` (Clopper & Pearson 1934). It never undercovers, which matters
  for the small counts of most class pairs.
* ``"wilson"``: the Wilson score interval (Wilson 1927), narrower, closer to nominal coverage
  on average.

The tables take a pair table with one row per tested pair (as stored by the atlas: a boolean
``connected`` column, missing where the pair has no connection call, and class or distance
columns) and return DataFrames; they never read files or databases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from patchatlas.errors import DataError, ParameterError

__all__ = [
    "CI_METHODS",
    "CORRECTION_BOUNDS",
    "CorrectionModel",
    "DistanceProfile",
    "connectivity_by_distance",
    "connectivity_matrix",
    "corrected_connectivity",
    "distance_adjusted_connectivity",
    "fit_correction_model",
    "fit_distance_profile",
    "gaussian_weights",
    "pair_was_probed",
    "proportion_ci",
]

CIMethod = Literal["clopper-pearson", "wilson"]
#: the binomial intervals :func:`proportion_ci` computes
CI_METHODS: tuple[str, ...] = ("clopper-pearson", "wilson")
#: the most distance bins :func:`connectivity_by_distance` makes (guards against a tiny bin)
MAX_BINS = 100_000

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_COLUMNS = ["n_tested", "n_connected", "probability", "ci_low", "ci_high"]


def _check_options(alpha: float, method: str, where: str) -> None:
    if method not in CI_METHODS:
        raise ParameterError(
            f"{where}(method={method!r}): use one of {', '.join(repr(m) for m in CI_METHODS)}"
        )
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise ParameterError(f"{where}(alpha={alpha!r}): give a level between 0 and 1 (0.05)")


def _intervals(
    k: IntArray, n: IntArray, alpha: float, method: str
) -> tuple[FloatArray, FloatArray]:
    """Vectorised bounds for counts already checked (NaN where ``n == 0``)."""
    from scipy import stats

    kf, nf = k.astype(np.float64), n.astype(np.float64)
    lo = np.full(kf.shape, np.nan)
    hi = np.full(kf.shape, np.nan)
    ok = nf > 0
    if method == "clopper-pearson":
        with np.errstate(invalid="ignore", divide="ignore"):
            low = stats.beta.ppf(alpha / 2, kf, nf - kf + 1)
            high = stats.beta.ppf(1 - alpha / 2, kf + 1, nf - kf)
        lo[ok] = np.where(kf[ok] == 0, 0.0, low[ok])
        hi[ok] = np.where(kf[ok] == nf[ok], 1.0, high[ok])
    else:
        z = float(stats.norm.ppf(1 - alpha / 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            ph = kf / nf
            den = 1 + z * z / nf
            centre = (ph + z * z / (2 * nf)) / den
            half = z * np.sqrt(ph * (1 - ph) / nf + z * z / (4 * nf * nf)) / den
        lo[ok] = np.maximum(0.0, centre[ok] - half[ok])
        hi[ok] = np.minimum(1.0, centre[ok] + half[ok])
    return lo, hi


def proportion_ci(
    k: int, n: int, *, alpha: float = 0.05, method: CIMethod = "clopper-pearson"
) -> tuple[float, float]:
    """Confidence interval of a proportion ``k / n`` (e.g. a connection probability).

    Parameters
    ----------
    k
        Successes (connected pairs), ``0 <= k <= n``.
    n
        Trials (tested pairs), ``n >= 0``.
    alpha
        1 − confidence level (0.05: a 95 % interval).
    method
        ``"clopper-pearson"`` (exact, the default) or ``"wilson"`` (score interval).

    Returns
    -------
    low, high : float
        The bounds (fractions in [0, 1]); both NaN when ``n == 0``.

    Raises
    ------
    patchatlas.errors.ParameterError
        Counts that are not integers with ``0 <= k <= n``, an unknown method, or ``alpha``
        outside (0, 1).

    Examples
    --------
    >>> lo, hi = proportion_ci(12, 32)
    >>> round(lo, 4), round(hi, 4)
    (0.211, 0.5631)
    >>> proportion_ci(0, 23)[0]
    0.0
    """
    _check_options(alpha, method, "proportion_ci")
    for name, value in (("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ParameterError(f"proportion_ci({name}={value!r}): give a whole number of pairs")
    if not 0 <= k <= n:
        raise ParameterError(f"proportion_ci(k={k}, n={n}): counts need 0 <= k <= n")
    lo, hi = _intervals(np.array([k], np.int64), np.array([n], np.int64), alpha, method)
    return float(lo[0]), float(hi[0])


def _calls(
    pairs: pd.DataFrame, connected: str, where: str
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which rows have a connection call, and the calls of those rows (booleans)."""
    if not isinstance(pairs, pd.DataFrame):
        raise ParameterError(f"{where}(): pairs must be a pandas DataFrame, one row per pair")
    if connected not in pairs.columns:
        raise DataError(
            f"{where}(): the pair table has no {connected!r} column (the connection call); "
            f"it has {', '.join(map(str, pairs.columns)) or 'no columns'}"
        )
    calls = pairs[connected]
    called = calls.notna().to_numpy(dtype=bool)
    values = calls.to_numpy(dtype=object)[called]
    if not pd.Series(values, dtype=object).isin([True, False]).all():  # also 0/1
        raise DataError(f"{where}(): {connected!r} must hold booleans (missing: no call)")
    return called, values.astype(bool)


def _table(keys: pd.DataFrame, k: IntArray, n: IntArray, alpha: float, method: str) -> pd.DataFrame:
    lo, hi = _intervals(k, n, alpha, method)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    out = keys.reset_index(drop=True).copy()
    for name, values in zip(_COLUMNS, (n, k, p, lo, hi), strict=True):
        out[name] = values
    return out


def connectivity_matrix(
    pairs: pd.DataFrame,
    *,
    by: str,
    connected: str = "connected",
    classes: Sequence[str] | None = None,
    unknown: str = "(unknown)",
    alpha: float = 0.05,
    method: CIMethod = "clopper-pearson",
) -> pd.DataFrame:
    """Connection probability for every (pre class, post class) combination.

    Parameters
    ----------
    pairs
        One row per tested pair, with the class of each cell in ``pre_<by>`` and ``post_<by>``
        and the connection call in ``connected`` (bool; missing: no call, the pair is left out).
    by
        The class: the column suffix (``"subclass"`` reads ``pre_subclass`` / ``post_subclass``).
    connected
        Column of the connection call.
    classes
        Classes to report, in this order (default: every class seen, sorted). Pairs of classes
        not listed are left out.
    unknown
        Label of a missing class.
    alpha, method
        Confidence level and interval, as in :func:`proportion_ci`.

    Returns
    -------
    pandas.DataFrame
        One row per ``(pre, post)`` in ``classes × classes`` (pre-major): ``pre``, ``post``,
        ``n_tested``, ``n_connected``, ``probability`` (NaN when nothing was tested),
        ``ci_low``, ``ci_high``.

    Raises
    ------
    patchatlas.errors.DataError
        The table lacks the class or call columns, or the calls are not booleans.
    patchatlas.errors.ParameterError
        An unknown method or ``alpha`` outside (0, 1).

    Examples
    --------
    >>> pairs = pd.DataFrame({"pre_subclass": ["Sst", "Sst", "Pvalb"],
    ...                       "post_subclass": ["Pvalb", "Pvalb", "Sst"],
    ...                       "connected": [True, False, None]})
    >>> connectivity_matrix(pairs, by="subclass")[["pre", "post", "n_tested"]].values.tolist()
    [['Pvalb', 'Pvalb', 0], ['Pvalb', 'Sst', 0], ['Sst', 'Pvalb', 2], ['Sst', 'Sst', 0]]
    """
    _check_options(alpha, method, "connectivity_matrix")
    called, calls = _calls(pairs, connected, "connectivity_matrix")
    cols = [f"pre_{by}", f"post_{by}"]
    missing = [c for c in cols if c not in pairs.columns]
    if missing:
        raise DataError(
            f"connectivity_matrix(by={by!r}): the pair table has no {', '.join(missing)} "
            "column; add the class of each pair's cells"
        )
    tested = pairs.loc[called, cols].astype("string").fillna(unknown)
    pre, post = tested[cols[0]].to_numpy(dtype=object), tested[cols[1]].to_numpy(dtype=object)
    names = list(classes) if classes is not None else sorted(set(pre) | set(post))
    index = {c: i for i, c in enumerate(names)}
    m = len(names)
    pi = np.array([index.get(x, -1) for x in pre], dtype=np.int64)
    qi = np.array([index.get(x, -1) for x in post], dtype=np.int64)
    keep = (pi >= 0) & (qi >= 0)
    flat = pi[keep] * m + qi[keep]
    n = np.bincount(flat, minlength=m * m).astype(np.int64)
    k = np.bincount(flat, weights=calls[keep], minlength=m * m)
    keys = pd.DataFrame({"pre": np.repeat(names, m), "post": np.tile(names, m)})
    return _table(keys, k.astype(np.int64), n, alpha, method)


def connectivity_by_distance(
    pairs: pd.DataFrame,
    *,
    bin_um: float = 25.0,
    distance: str = "distance_um",
    connected: str = "connected",
    alpha: float = 0.05,
    method: CIMethod = "clopper-pearson",
) -> pd.DataFrame:
    """Connection probability against intersomatic distance, in bins of ``bin_um``.

    Parameters
    ----------
    pairs
        One row per tested pair with its distance (µm) and connection call; pairs without a
        call or a distance are left out.
    bin_um
        Bin width (µm); bin ``j`` holds distances in ``[j * bin_um, (j + 1) * bin_um)``.
    distance, connected
        Columns of the distance (µm) and the connection call (bool, missing: no call).
    alpha, method
        Confidence level and interval, as in :func:`proportion_ci`.

    Returns
    -------
    pandas.DataFrame
        One row per bin that holds a tested pair, by distance: ``from_um``, ``to_um`` (µm),
        ``n_tested``, ``n_connected``, ``probability``, ``ci_low``, ``ci_high``.

    Raises
    ------
    patchatlas.errors.DataError
        Missing columns, calls that are not booleans, or negative distances.
    patchatlas.errors.ParameterError
        A bin width that is not a positive number or so small that it would make more than
        :data:`MAX_BINS` bins; an unknown method or ``alpha`` outside (0, 1).

    Examples
    --------
    >>> pairs = pd.DataFrame({"distance_um": [10.0, 30.0, 40.0], "connected": [True, False, True]})
    >>> connectivity_by_distance(pairs, bin_um=25)[["from_um", "n_tested", "probability"]]
       from_um  n_tested  probability
    0      0.0         1          1.0
    1     25.0         2          0.5
    """
    _check_options(alpha, method, "connectivity_by_distance")
    if isinstance(bin_um, bool) or not (
        isinstance(bin_um, int | float) and math.isfinite(bin_um) and bin_um > 0
    ):
        raise ParameterError(f"connectivity_by_distance(bin_um={bin_um!r}): give a width > 0 µm")
    called, calls = _calls(pairs, connected, "connectivity_by_distance")
    if distance not in pairs.columns:
        raise DataError(
            f"connectivity_by_distance(): the pair table has no {distance!r} column (µm)"
        )
    d = pd.to_numeric(pairs.loc[called, distance], errors="coerce").to_numpy(dtype=float)
    has = np.isfinite(d)
    d, conn = d[has], calls[has]
    if (d < 0).any():
        raise DataError("connectivity_by_distance(): negative distances; distances are ≥ 0 µm")
    empty = pd.DataFrame({"from_um": np.zeros(0), "to_um": np.zeros(0)})
    if d.size == 0:
        return _table(empty, np.zeros(0, np.int64), np.zeros(0, np.int64), alpha, method)
    if d.max() >= MAX_BINS * bin_um:  # (no overflow for a tiny bin)
        raise ParameterError(
            f"connectivity_by_distance(bin_um={bin_um!r}): that makes more than {MAX_BINS} bins "
            f"up to {d.max():g} µm; use a wider bin"
        )
    idx = np.floor(d / bin_um).astype(np.int64)
    n = np.bincount(idx)
    k = np.bincount(idx, weights=conn, minlength=n.size).astype(np.int64)
    used = np.flatnonzero(n)
    keys = pd.DataFrame({"from_um": used * float(bin_um), "to_um": (used + 1) * float(bin_um)})
    return _table(keys, k[used], n[used].astype(np.int64), alpha, method)


# ------------------------------------------------------------------ distance and bias models


def _as_calls(connected: npt.ArrayLike, where: str) -> npt.NDArray[np.bool_]:
    c = np.asarray(connected)
    if c.dtype != bool:
        if not np.isin(c, [0, 1, True, False]).all():
            raise DataError(f"{where}: connection calls must be booleans (or 0/1)")
        c = c.astype(bool)
    return c


def _as_distances(distances: npt.ArrayLike, n: int, where: str) -> FloatArray:
    d = np.asarray(distances, dtype=np.float64)
    if d.shape != (n,):
        raise DataError(f"{where}: one distance per pair is needed, got {d.shape} for {n} pairs")
    if not np.isfinite(d).all() or (d < 0).any():
        raise DataError(f"{where}: distances must be finite and >= 0 µm; drop pairs without one")
    return d


def gaussian_weights(distances: npt.ArrayLike, sigma: float) -> FloatArray:
    """The Gaussian distance profile ``exp(-x^2 / (2 sigma^2))`` at each distance.

    Parameters
    ----------
    distances
        Distances (µm).
    sigma
        Width of the profile (µm).

    Returns
    -------
    numpy.ndarray
        Weights in (0, 1].
    """
    if not (isinstance(sigma, int | float) and math.isfinite(sigma) and sigma > 0):
        raise ParameterError(f"gaussian_weights(sigma={sigma!r}): give a width > 0 µm")
    d = np.asarray(distances, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        out: FloatArray = np.exp(-(d * d) / (2.0 * sigma * sigma))
    return np.where(np.isnan(out), 1.0, out)  # d = 0 with a vanishing sigma: weight 1


def distance_adjusted_connectivity(
    distances: npt.ArrayLike,
    connected: npt.ArrayLike,
    *,
    sigma: float = 100.0,
    alpha: float = 0.05,
) -> dict[str, float]:
    """Connection probability at zero distance under a Gaussian profile of fixed width.

    With ``m`` the mean Gaussian weight of the tested pairs' distances, the raw probability
    ``k / n`` estimates ``p_max * m``, so ``p_max = (k / n) / m`` and its interval is the
    Clopper-Pearson interval divided by ``m`` (the closed-form approximation of the fixed-width
    maximum-likelihood fit used by the Allen Synaptic Physiology analyses).

    Parameters
    ----------
    distances
        Distance of each tested pair (µm), usually the lateral one.
    connected
        Connection call of each pair (bool).
    sigma
        Width of the Gaussian profile (µm; 100 in the Allen analyses).
    alpha
        1 − confidence level of the interval (0.05: 95 %).

    Returns
    -------
    dict
        ``n_tested``, ``n_connected``, ``probability`` (raw), ``ci_low``, ``ci_high`` (raw,
        Clopper-Pearson), ``mean_weight``, ``adjusted_probability``, ``adjusted_ci_low``,
        ``adjusted_ci_high`` (fractions; NaN when nothing was tested).

    Examples
    --------
    >>> d = np.full(32, 100 * np.sqrt(-2 * np.log(0.7634)))
    >>> r = distance_adjusted_connectivity(d, np.arange(32) < 12)
    >>> round(r["adjusted_probability"], 4), round(r["adjusted_ci_low"], 4)
    (0.4912, 0.2764)
    """
    _check_options(alpha, "clopper-pearson", "distance_adjusted_connectivity")
    c = _as_calls(connected, "distance_adjusted_connectivity")
    d = _as_distances(distances, c.size, "distance_adjusted_connectivity")
    n, k = int(c.size), int(c.sum())
    w = gaussian_weights(d, sigma)
    m = float(w.mean()) if n else math.nan
    lo, hi = _intervals(np.array([k]), np.array([n]), alpha, "clopper-pearson")
    p = k / n if n else math.nan
    return {
        "n_tested": float(n),
        "n_connected": float(k),
        "probability": p,
        "ci_low": float(lo[0]),
        "ci_high": float(hi[0]),
        "mean_weight": m,
        "adjusted_probability": p / m if n else math.nan,
        "adjusted_ci_low": float(lo[0]) / m if n else math.nan,
        "adjusted_ci_high": float(hi[0]) / m if n else math.nan,
    }


def pair_was_probed(
    n_ex_test_spikes: npt.ArrayLike,
    n_in_test_spikes: npt.ArrayLike,
    pre_sign: Sequence[str | None] | None = None,
    *,
    threshold: int = 10,
    inclusive: bool = False,
) -> npt.NDArray[np.bool_]:
    """Whether each pair was tested enough to count in a connection probability.

    A pair is *probed* when the presynaptic cell fired more than ``threshold`` spikes whose
    responses passed the QC of its output sign (``"ex"``: excitatory tests, ``"in"``:
    inhibitory); with an unknown sign either count may qualify. The Allen library uses
    ``> 10``, its tutorial ``>= 10``: ``inclusive`` chooses, and the choice is recorded
    by whoever calls this.

    Parameters
    ----------
    n_ex_test_spikes, n_in_test_spikes
        Presynaptic spikes whose responses passed the excitatory / inhibitory QC, per pair.
    pre_sign
        ``"ex"``, ``"in"`` or None per pair (default: unknown for every pair).
    threshold
        The count a pair must exceed (or reach, with ``inclusive``).
    inclusive
        Count ``>= threshold`` as probed instead of ``> threshold``.

    Returns
    -------
    numpy.ndarray of bool
        One flag per pair.
    """
    ex = np.asarray(n_ex_test_spikes, dtype=np.float64)
    inh = np.asarray(n_in_test_spikes, dtype=np.float64)
    if ex.shape != inh.shape:
        raise DataError("pair_was_probed: the two counts need one value per pair each")
    sign = np.array([None] * ex.size if pre_sign is None else list(pre_sign), dtype=object)
    if sign.shape != ex.shape:
        raise DataError("pair_was_probed: one presynaptic sign per pair (or None)")

    def enough(x: FloatArray) -> npt.NDArray[np.bool_]:
        return np.asarray(x >= threshold if inclusive else x > threshold)

    e, i = enough(np.nan_to_num(ex)), enough(np.nan_to_num(inh))
    is_ex = sign == "ex"
    is_in = sign == "in"
    out: npt.NDArray[np.bool_] = np.where(is_ex, e, np.where(is_in, i, e | i))
    return out


def _loglik(p: FloatArray, y: npt.NDArray[np.bool_]) -> float:
    pc = np.clip(p, 1e-12, 1 - 1e-12)
    return float(np.sum(np.where(y, np.log(pc), np.log1p(-pc))))


def _pmax_mle(w: FloatArray, y: npt.NDArray[np.bool_]) -> float:
    """Maximum-likelihood p_max of p = p_max * w on [0, 1/max(w)] (1-D, concave)."""
    from scipy.optimize import minimize_scalar

    k = int(y.sum())
    if k == 0:
        return 0.0
    top = 1.0 / float(w.max()) if w.size and w.max() > 0 else 1.0
    top = min(top, 1e6)
    if k == y.size:
        return top
    res = minimize_scalar(
        lambda q: -_loglik(q * w, y), bounds=(1e-12, top * (1 - 1e-12)), method="bounded",
        options={"xatol": 1e-10},
    )  # fmt: skip
    best: float = float(res.x)
    return best


def _profile_interval(nll: Any, p_hat: float, top: float, level: float) -> tuple[float, float]:
    """Profile-likelihood interval of a 1-D parameter in [0, top]: where
    ``2 (nll(p) - nll(p_hat)) <= chi2_1(level)``."""
    from scipy import stats
    from scipy.optimize import brentq

    crit = float(stats.chi2.ppf(level, 1))
    base = float(nll(p_hat))

    def f(q: float) -> float:
        return 2.0 * (float(nll(q)) - base) - crit

    lo = 0.0
    if p_hat > 0 and f(1e-12) > 0:
        lo = brentq(f, 1e-12, p_hat, xtol=1e-10)
    hi = top
    edge = top * (1 - 1e-12)
    if p_hat < edge and f(edge) > 0:
        hi = brentq(f, max(p_hat, 1e-12), edge, xtol=1e-10)
    return float(lo), float(hi)


@dataclass(frozen=True)
class DistanceProfile:
    """A Gaussian fit of connection probability against distance (:func:`fit_distance_profile`).

    Attributes
    ----------
    p_max
        Probability at zero distance.
    sigma
        Width of the profile (µm).
    ci_low, ci_high
        Profile-likelihood interval of ``p_max`` (``sigma`` re-optimised at each value when it
        was fitted).
    sigma_fixed
        Whether ``sigma`` was given rather than fitted.
    n_tested, n_connected
        Counts.
    log_likelihood
        Bernoulli log-likelihood at the fit.
    """

    p_max: float
    sigma: float
    ci_low: float
    ci_high: float
    sigma_fixed: bool
    n_tested: int
    n_connected: int
    log_likelihood: float

    def probability(self, distance: npt.ArrayLike) -> FloatArray:
        """The fitted probability at ``distance`` (µm).

        Parameters
        ----------
        distance
            Distances (µm).

        Returns
        -------
        numpy.ndarray
            ``p_max * exp(-x^2 / (2 sigma^2))``.
        """
        return self.p_max * gaussian_weights(distance, self.sigma)


def fit_distance_profile(
    distances: npt.ArrayLike,
    connected: npt.ArrayLike,
    *,
    sigma: float | None = None,
    sigma_bounds: tuple[float, float] = (10.0, 1000.0),
    alpha: float = 0.05,
) -> DistanceProfile:
    """Maximum-likelihood Gaussian profile ``p(x) = p_max exp(-x^2 / 2 sigma^2)``.

    Each tested pair is a Bernoulli trial at its distance. With ``sigma`` given only ``p_max``
    is fitted (a concave 1-D problem); otherwise ``sigma`` is profiled over ``sigma_bounds``.
    The interval of ``p_max`` is the profile-likelihood interval (likelihood-ratio, χ²₁), which
    also handles pairs with no connection at all (``p_max = 0``, a finite upper bound).

    Parameters
    ----------
    distances
        Distance of each tested pair (µm).
    connected
        Connection call of each pair (bool).
    sigma
        Fixed width (µm), or None to fit it.
    sigma_bounds
        Range searched for ``sigma`` (µm).
    alpha
        1 − confidence level.

    Returns
    -------
    DistanceProfile
        ``p_max``, ``sigma``, the interval and the log-likelihood.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 300, 3000)
    >>> y = rng.random(3000) < 0.3 * np.exp(-x**2 / (2 * 100.0**2))
    >>> fit = fit_distance_profile(x, y)
    >>> bool(abs(fit.p_max - 0.3) < 0.05 and abs(fit.sigma - 100) < 15)
    True
    """
    from scipy.optimize import minimize_scalar

    _check_options(alpha, "clopper-pearson", "fit_distance_profile")
    y = _as_calls(connected, "fit_distance_profile")
    d = _as_distances(distances, y.size, "fit_distance_profile")
    n, k = int(y.size), int(y.sum())
    if n == 0:
        raise DataError("fit_distance_profile: no tested pairs")
    lo_s, hi_s = float(sigma_bounds[0]), float(sigma_bounds[1])
    if not 0 < lo_s < hi_s:
        raise ParameterError(f"fit_distance_profile(sigma_bounds={sigma_bounds!r}): 0 < lo < hi")

    def best_for_sigma(s: float) -> tuple[float, float]:
        w = gaussian_weights(d, s)
        q = _pmax_mle(w, y)
        return q, -_loglik(q * w, y)

    if sigma is not None:
        if not float(gaussian_weights(d, float(sigma)).max()) > 0:
            raise ParameterError(
                f"fit_distance_profile(sigma={sigma!r}): every tested pair's Gaussian weight is "
                "0 at that width; give sigma in µm of the order of the distances"
            )
        s_hat = float(sigma)
        p_hat, nll_hat = best_for_sigma(s_hat)
        w = gaussian_weights(d, s_hat)

        def nll(q: float) -> float:
            return -_loglik(q * w, y)

        top = min(1.0 / float(w.max()), 1.0)
    else:
        grid = np.geomspace(lo_s, hi_s, 25)
        vals = [best_for_sigma(float(s))[1] for s in grid]
        j = int(np.argmin(vals))
        a, b = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
        if k == 0:
            s_hat = float(grid[j])
        else:
            res = minimize_scalar(
                lambda ls: best_for_sigma(math.exp(ls))[1],
                bounds=(math.log(a), math.log(b)),
                method="bounded",
            )
            s_hat = math.exp(float(res.x))
        p_hat, nll_hat = best_for_sigma(s_hat)

        def nll(q: float) -> float:
            # profile over sigma at fixed p_max (bounded 1-D search in log sigma)
            r = minimize_scalar(
                lambda ls: -_loglik(q * gaussian_weights(d, math.exp(ls)), y),
                bounds=(math.log(lo_s), math.log(hi_s)),
                method="bounded",
            )
            return float(min(r.fun, -_loglik(q * gaussian_weights(d, s_hat), y)))

        top = 1.0
    p_hat = min(p_hat, top)
    lo, hi = _profile_interval(nll, p_hat, top, 1 - alpha)
    return DistanceProfile(
        p_max=p_hat,
        sigma=s_hat,
        ci_low=lo,
        ci_high=hi,
        sigma_fixed=sigma is not None,
        n_tested=n,
        n_connected=k,
        log_likelihood=-nll_hat,
    )


def _erf_step(x: FloatArray, mu: float, s: float) -> FloatArray:
    from scipy.special import erf

    out: FloatArray = 0.5 * (1.0 + erf((x - mu) / (math.sqrt(2.0) * s)))
    return out


#: bounds of the correction model's shape parameters (Allen Synaptic Physiology, Science 2022)
CORRECTION_BOUNDS: dict[str, tuple[float, float]] = {
    "axon_adjustment": (0.1, 0.9),
    "depth_mu": (-100.0, 100.0),
    "depth_s": (10.0, 200.0),
    "power_mu": (2.0, 5.0),
    "power_s": (0.1, 5.0),
}
#: ``power_mu + 0.6745 * power_s`` stays below this (the detection-power quartile saturates)
POWER_QUARTILE_LIMIT = 4.6613


@dataclass(frozen=True)
class CorrectionModel:
    """Connection probability corrected for what hides connections.

    ``p(pair) = p_max * f_dist * f_axon * f_depth * f_power`` (clipped to [0, 1]); a factor whose
    metric is missing for a pair (NaN) is 1 for that pair:

    * ``f_dist = exp(-x^2 / 2 sigma^2)`` of the lateral distance ``x`` (µm; ``sigma`` fixed);
    * ``f_axon = 1`` when the presynaptic axon runs at least ``axon_threshold`` µm before it is
      cut at the slice surface, ``axon_adjustment`` otherwise;
    * ``f_depth = Erf step`` of the pair's depth below the slice surface (``depth_mu``,
      ``depth_s``, µm);
    * ``f_power = Erf step`` of the detection power ``log10(sqrt(min(n_spikes, 800)) / noise)``
      (``power_mu``, ``power_s``).

    Attributes
    ----------
    p_max
        Probability of an ideal pair (all factors 1).
    sigma, axon_threshold, axon_adjustment, depth_mu, depth_s, power_mu, power_s
        Shape parameters (µm where a distance).
    log_likelihood
        At the fit.
    """

    p_max: float
    sigma: float = 100.0
    axon_threshold: float = 200.0
    axon_adjustment: float = 1.0
    depth_mu: float = -math.inf
    depth_s: float = 1.0
    power_mu: float = -math.inf
    power_s: float = 1.0
    log_likelihood: float = math.nan

    def factors(self, metrics: dict[str, FloatArray]) -> FloatArray:
        """Product of the correction factors per pair.

        Parameters
        ----------
        metrics
            ``distance`` (µm), ``axon_length`` (µm), ``depth`` (µm), ``power`` arrays of equal
            length (any may be missing: factor 1).

        Returns
        -------
        numpy.ndarray
            One factor in [0, 1] per pair.
        """
        n = len(next(iter(metrics.values()))) if metrics else 0
        f = np.ones(n)
        if "distance" in metrics:
            x = metrics["distance"]
            f *= np.where(np.isfinite(x), gaussian_weights(np.nan_to_num(x), self.sigma), 1.0)
        if "axon_length" in metrics:
            a = metrics["axon_length"]
            f *= np.where(np.isfinite(a) & (a < self.axon_threshold), self.axon_adjustment, 1.0)
        if "depth" in metrics and math.isfinite(self.depth_mu):
            z = metrics["depth"]
            f *= np.where(
                np.isfinite(z), _erf_step(np.nan_to_num(z), self.depth_mu, self.depth_s), 1.0
            )
        if "power" in metrics and math.isfinite(self.power_mu):
            q = metrics["power"]
            f *= np.where(
                np.isfinite(q), _erf_step(np.nan_to_num(q), self.power_mu, self.power_s), 1.0
            )
        return f


_METRIC_COLUMNS = {
    "distance": "lateral_distance_um",
    "axon_length": "pre_axon_length_um",
    "depth": "pair_depth_um",
    "power": "detection_power",
}


def _metrics(pairs: pd.DataFrame, columns: dict[str, str]) -> dict[str, FloatArray]:
    out = {}
    for key, col in columns.items():
        if col in pairs.columns:
            out[key] = pd.to_numeric(pairs[col], errors="coerce").to_numpy(dtype=float)
    return out


def fit_correction_model(
    pairs: pd.DataFrame,
    *,
    connected: str = "connected",
    columns: dict[str, str] | None = None,
    sigma: float = 100.0,
) -> CorrectionModel:
    """Fit the correction model's shapes and ``p_max`` by maximum likelihood.

    Fit it on a large pooled group (e.g. all excitatory → excitatory pairs), then apply it per
    class pair with :func:`corrected_connectivity` (which refits ``p_max`` only).

    Parameters
    ----------
    pairs
        One row per tested pair: the call and the metric columns present (any subset of
        ``columns``; a metric that is absent or all-NaN is not modelled).
    connected
        Column of the call (bool).
    columns
        ``{"distance": ..., "axon_length": ..., "depth": ..., "power": ...}`` column names
        (defaults: ``lateral_distance_um``, ``pre_axon_length_um``, ``pair_depth_um``,
        ``detection_power``).
    sigma
        Width of the distance profile (µm, fixed: the Allen analyses use 100 µm).

    Returns
    -------
    CorrectionModel
        The fitted model.
    """
    from scipy.optimize import minimize

    called, y = _calls(pairs, connected, "fit_correction_model")
    data = pairs.loc[called]
    m = _metrics(data, columns or _METRIC_COLUMNS)
    has = {k for k, v in m.items() if np.isfinite(v).any()}
    names = ["p_max"]
    lo, hi = [1e-6], [1.0]
    if "axon_length" in has:
        names.append("axon_adjustment")
        lo.append(CORRECTION_BOUNDS["axon_adjustment"][0])
        hi.append(CORRECTION_BOUNDS["axon_adjustment"][1])
    for key, mu, s in (("depth", "depth_mu", "depth_s"), ("power", "power_mu", "power_s")):
        if key in has:
            names += [mu, s]
            lo += [CORRECTION_BOUNDS[mu][0], CORRECTION_BOUNDS[s][0]]
            hi += [CORRECTION_BOUNDS[mu][1], CORRECTION_BOUNDS[s][1]]

    def model_for(theta: FloatArray) -> CorrectionModel:
        kw = dict(zip(names[1:], (float(v) for v in theta[1:]), strict=True))
        return CorrectionModel(p_max=float(theta[0]), sigma=sigma, **kw)

    def nll(theta: FloatArray) -> float:
        mod = model_for(theta)
        p = np.clip(mod.p_max * mod.factors(m), 0.0, 1.0)
        pen = 0.0
        if "power_mu" in names:
            excess = mod.power_mu + 0.6745 * mod.power_s - POWER_QUARTILE_LIMIT
            pen = 1e3 * max(excess, 0.0) ** 2
        return -_loglik(p, y) + pen

    rng = np.random.default_rng(0)
    lo_a, hi_a = np.array(lo), np.array(hi)
    best = None
    for _ in range(5 if len(names) > 1 else 1):
        x0 = lo_a + rng.random(lo_a.size) * (hi_a - lo_a)
        x0[0] = max(float(y.mean()), 1e-3)
        res = minimize(nll, x0, method="L-BFGS-B", bounds=list(zip(lo, hi, strict=True)))
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    fitted = model_for(best.x)
    return CorrectionModel(**{**fitted.__dict__, "log_likelihood": -float(best.fun)})


def corrected_connectivity(
    pairs: pd.DataFrame,
    model: CorrectionModel,
    *,
    connected: str = "connected",
    columns: dict[str, str] | None = None,
    alpha: float = 0.05,
) -> dict[str, float]:
    """``p_max`` of a group of pairs under a fitted correction model, with its interval.

    The shape parameters stay those of ``model``; ``p_max`` is refitted by maximum likelihood
    and its interval is the profile-likelihood (likelihood-ratio) interval, which stays finite
    and quick when no pair is connected.

    Parameters
    ----------
    pairs
        The group's tested pairs (call and metric columns).
    model
        A :class:`CorrectionModel` (e.g. from :func:`fit_correction_model`).
    connected
        Column of the call.
    columns
        Metric column names (as in :func:`fit_correction_model`).
    alpha
        1 − confidence level.

    Returns
    -------
    dict
        ``n_tested``, ``n_connected``, ``probability`` (raw), ``mean_factor``,
        ``corrected_probability``, ``ci_low``, ``ci_high``.
    """
    _check_options(alpha, "clopper-pearson", "corrected_connectivity")
    called, y = _calls(pairs, connected, "corrected_connectivity")
    f = model.factors(_metrics(pairs.loc[called], columns or _METRIC_COLUMNS))
    n, k = int(y.size), int(y.sum())
    if n == 0:
        nan = math.nan
        return {"n_tested": 0.0, "n_connected": 0.0, "probability": nan, "mean_factor": nan,
                "corrected_probability": nan, "ci_low": nan, "ci_high": nan}  # fmt: skip
    top = min(1.0 / float(f.max()), 1.0) if f.max() > 0 else 1.0
    p_hat = min(_pmax_mle(f, y), top)
    lo, hi = _profile_interval(lambda q: -_loglik(q * f, y), p_hat, top, 1 - alpha)
    return {
        "n_tested": float(n),
        "n_connected": float(k),
        "probability": k / n,
        "mean_factor": float(f.mean()),
        "corrected_probability": p_hat,
        "ci_low": lo,
        "ci_high": hi,
    }
