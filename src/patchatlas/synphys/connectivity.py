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
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from patchatlas.errors import DataError, ParameterError

__all__ = [
    "CI_METHODS",
    "connectivity_by_distance",
    "connectivity_matrix",
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
