"""Cross-modal agreement of typings: contingency tables, adjusted mutual information and Rand
index, and which features separate which types (per-feature effect sizes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from patchatlas.errors import DataError

__all__ = ["Agreement", "agreement", "contingency", "effect_sizes", "feature_separation"]


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    sa = pd.Series(np.asarray(a, dtype=object))
    sb = pd.Series(np.asarray(b, dtype=object))
    if len(sa) != len(sb):
        raise DataError(f"two typings of different lengths ({len(sa)} and {len(sb)})")
    ok = (
        sa.notna().to_numpy()
        & sb.notna().to_numpy()
        & (sa.astype(str) != "nan").to_numpy()
        & (sb.astype(str) != "nan").to_numpy()
    )
    return sa[ok].astype(str).to_numpy(), sb[ok].astype(str).to_numpy()


def contingency(a: ArrayLike, b: ArrayLike, *, normalize: str | None = None) -> pd.DataFrame:
    """Cells per pair of labels (rows: ``a``, columns: ``b``); cells missing either are left out.

    Parameters
    ----------
    a, b
        Two labellings of the same cells (e.g. e-types and t-types).
    normalize
        ``None`` (counts), ``"rows"`` (each row sums to 1: where do the cells of an ``a``
        type go) or ``"columns"``.

    Returns
    -------
    pandas.DataFrame
        Index = labels of ``a`` (sorted), columns = labels of ``b`` (sorted).
    """
    x, y = _pair(a, b)
    df = pd.crosstab(pd.Series(x, name="a"), pd.Series(y, name="b"))
    if normalize == "rows":
        return df.div(df.sum(axis=1), axis=0)
    if normalize == "columns":
        return df.div(df.sum(axis=0), axis=1)
    if normalize is not None:
        raise DataError(f"normalize={normalize!r}; use None, 'rows' or 'columns'")
    return df


@dataclass
class Agreement:
    """How well two typings of the same cells agree.

    Attributes
    ----------
    contingency
        Counts (rows: first typing, columns: second).
    ami
        Adjusted mutual information (0: chance, 1: identical partitions).
    ari
        Adjusted Rand index.
    n
        Cells labelled in both.
    purity
        Fraction of cells in the most common second-typing label of their first-typing label.
    """

    contingency: pd.DataFrame
    ami: float
    ari: float
    n: int
    purity: float


def agreement(a: ArrayLike, b: ArrayLike) -> Agreement:
    """Contingency, AMI, ARI and purity of two typings (cells missing either are left out).

    Parameters
    ----------
    a, b
        Two labellings of the same cells.

    Returns
    -------
    Agreement
        The contingency table and the scores.
    """
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    x, y = _pair(a, b)
    if not len(x):
        raise DataError("agreement: no cell is labelled in both typings")
    tab = contingency(x, y)
    return Agreement(
        contingency=tab,
        ami=float(adjusted_mutual_info_score(x, y)),
        ari=float(adjusted_rand_score(x, y)),
        n=len(x),
        purity=float(tab.max(axis=1).sum() / tab.to_numpy().sum()),
    )


def effect_sizes(X: pd.DataFrame, labels: ArrayLike, *, min_cells: int = 5) -> pd.DataFrame:
    """Per feature and type: how the type differs from all other cells (one-vs-rest).

    Parameters
    ----------
    X
        Cells × features (NaN = missing; each comparison uses the cells that have the feature).
    labels
        Type of each row (missing labels are left out).
    min_cells
        Types (or rest groups) with fewer measured cells get NaN effect sizes.

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``type``, ``n_type``, ``n_rest``, ``median_type``, ``median_rest``,
        ``cohens_d`` (difference of means over the pooled SD) and ``auc`` (probability that a
        cell of the type has a larger value than another cell; 0.5 = no separation), sorted
        by ``|auc − 0.5|`` within each type.
    """
    from scipy.stats import rankdata

    lab = pd.Series(np.asarray(labels, dtype=object), index=X.index)
    keep = lab.notna() & (lab.astype(str) != "nan")
    x = X.loc[keep.to_numpy()].apply(pd.to_numeric, errors="coerce")
    lab = lab[keep].astype(str)
    rows = []
    for f in x.columns:
        col = x[f].to_numpy(dtype=np.float64)
        ok = np.isfinite(col)
        if ok.sum() < 2 * min_cells:
            continue
        v, lv = col[ok], lab.to_numpy()[ok]
        ranks = rankdata(v)
        for t in sorted(set(lv.tolist())):
            a = lv == t
            n1, n0 = int(a.sum()), int((~a).sum())
            if n1 < min_cells or n0 < min_cells:
                d = auc = np.nan
            else:
                m1, m0 = v[a].mean(), v[~a].mean()
                s = np.sqrt(
                    ((n1 - 1) * v[a].var(ddof=1) + (n0 - 1) * v[~a].var(ddof=1)) / (n1 + n0 - 2)
                )
                d = (m1 - m0) / s if s > 0 else np.nan
                auc = (ranks[a].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
            rows.append(
                {
                    "feature": str(f),
                    "type": t,
                    "n_type": n1,
                    "n_rest": n0,
                    "median_type": float(np.median(v[a])) if n1 else np.nan,
                    "median_rest": float(np.median(v[~a])) if n0 else np.nan,
                    "cohens_d": float(d),
                    "auc": float(auc),
                }
            )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["_k"] = (df["auc"] - 0.5).abs()
    df = df.sort_values(["type", "_k"], ascending=[True, False]).drop(columns="_k")
    return df.reset_index(drop=True)


def feature_separation(X: pd.DataFrame, labels: ArrayLike) -> pd.DataFrame:
    """How strongly each feature differs between all types at once (Kruskal–Wallis).

    Parameters
    ----------
    X
        Cells × features.
    labels
        Type of each row.

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``n``, ``h`` (Kruskal–Wallis H), ``p_value`` and ``epsilon2`` (rank
        effect size H / (n − 1), 0 to 1), sorted by ``epsilon2``.
    """
    from scipy.stats import kruskal

    lab = pd.Series(np.asarray(labels, dtype=object), index=X.index).astype(str)
    rows = []
    for f in X.columns:
        col = pd.to_numeric(X[f], errors="coerce")
        ok = col.notna() & (lab != "nan")
        groups = [g.to_numpy() for _, g in col[ok].groupby(lab[ok]) if len(g) >= 2]
        if len(groups) < 2:
            continue
        n = int(sum(len(g) for g in groups))
        try:
            h, p = kruskal(*groups)
        except ValueError:  # all values identical
            continue
        rows.append(
            {"feature": str(f), "n": n, "h": float(h), "p_value": float(p), "epsilon2": h / (n - 1)}
        )
    df = pd.DataFrame(rows)
    return df.sort_values("epsilon2", ascending=False).reset_index(drop=True) if len(df) else df
