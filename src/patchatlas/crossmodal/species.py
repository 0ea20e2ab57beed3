"""Descriptive human–mouse comparison of ephys features (no expression involved).

:func:`compare_groups` gives, per feature (and optionally per subclass): cell counts, medians,
the human/mouse median ratio, Hedges' g with a bootstrap CI, Cliff's δ, a Mann–Whitney U
p-value and Benjamini–Hochberg q-values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import mannwhitneyu

from patchatlas.errors import DataError

__all__ = ["SPECIES_FEATURES", "cliffs_delta", "compare_groups", "hedges_g", "species_markdown"]

SPECIES_FEATURES: dict[str, str] = {
    "ap_width_ms": "AP width (ms)",
    "upstroke_downstroke_ratio": "AP upstroke/downstroke ratio",
    "upstroke_mv_per_ms": "AP upstroke (mV/ms)",
    "input_resistance_mohm": "input resistance (MΩ)",
    "tau_ms": "membrane time constant τ (ms)",
    "v_rest_mv": "resting potential (mV)",
    "rheobase_pa": "rheobase (pA)",
    "ap_threshold_mv": "AP threshold (mV)",
    "sag": "sag ratio",
}


def hedges_g(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Standardised mean difference (a − b) / pooled SD with the small-sample correction.

    Parameters
    ----------
    a, b
        The values of the two groups (one feature, no NaN).

    Returns
    -------
    float
        Hedges' g, ``J · (mean(a) − mean(b)) / s_pooled`` with ``J = 1 − 3 / (4(n_a + n_b) −
        9)``; NaN when a group has fewer than 2 values or the pooled SD is 0.
    """
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return float("nan")
    sp = np.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if sp == 0:
        return float("nan")
    j = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0)
    return float(j * (a.mean() - b.mean()) / sp)


def cliffs_delta(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """P(a > b) − P(a < b), from ranks (no n_a × n_b matrix).

    Parameters
    ----------
    a, b
        The values of the two groups (one feature, no NaN).

    Returns
    -------
    float
        Cliff's δ in [−1, 1] (ties add nothing); NaN when a group is empty.
    """
    if a.size == 0 or b.size == 0:
        return float("nan")
    u = mannwhitneyu(a, b, alternative="two-sided").statistic
    return float(2.0 * u / (a.size * b.size) - 1.0)


def _bh(p: NDArray[np.float64]) -> NDArray[np.float64]:
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return q
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * pv.size / np.arange(1, pv.size + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(pv)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def compare_groups(
    df: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    group: str = "species",
    a: str = "human",
    b: str = "mouse",
    by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Effect sizes of ``a`` vs ``b`` for each feature (and each level of ``by``).

    Parameters
    ----------
    df
        One row per cell, with the ``group`` column and the feature columns.
    features
        Columns to compare (default: the :data:`SPECIES_FEATURES` present in ``df``).
    group
        Column holding the group of each cell.
    a, b
        The two groups compared (``a`` − ``b``).
    by
        Optional column to stratify by (e.g. ``"subclass"``): one row per feature and level.
    n_boot
        Bootstrap resamples (within each group) for the CI of Hedges' g.
    seed
        Seed of the resampling.

    Returns
    -------
    pandas.DataFrame
        feature, [by], n_a, n_b, median_a, median_b, ratio (median_a / median_b), hedges_g,
        g_ci_low, g_ci_high (bootstrap over cells within group), cliffs_delta, p (Mann–Whitney),
        q (Benjamini–Hochberg over all rows). ``attrs["a"]`` and ``attrs["b"]`` name the groups.

    Raises
    ------
    patchatlas.errors.DataError
        ``df`` has no ``group`` column, or no feature column to compare.
    """
    if group not in df.columns:
        raise DataError(f"no column {group!r} in the table")
    feats = list(features) if features is not None else [f for f in SPECIES_FEATURES if f in df]
    if not feats:
        raise DataError("no feature columns to compare")
    levels: list[Any] = [None] if by is None else sorted(df[by].dropna().unique())
    rng = np.random.default_rng(seed)
    rows = []
    for lev in levels:
        sub = df if lev is None else df[df[by] == lev]
        for f in feats:
            x = sub.loc[sub[group] == a, f].dropna().to_numpy(dtype=np.float64)
            y = sub.loc[sub[group] == b, f].dropna().to_numpy(dtype=np.float64)
            g = hedges_g(x, y)
            if x.size >= 2 and y.size >= 2:
                ia = rng.integers(0, x.size, size=(n_boot, x.size))
                ib = rng.integers(0, y.size, size=(n_boot, y.size))
                xa, yb = x[ia], y[ib]
                na, nb = x.size, y.size
                sp = np.sqrt(
                    ((na - 1) * xa.var(axis=1, ddof=1) + (nb - 1) * yb.var(axis=1, ddof=1))
                    / (na + nb - 2)
                )
                j = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    gb = j * (xa.mean(axis=1) - yb.mean(axis=1)) / sp
                lo, hi = np.nanquantile(gb, [0.025, 0.975])
                p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
            else:
                lo = hi = p = float("nan")
            ma = float(np.median(x)) if x.size else float("nan")
            mb = float(np.median(y)) if y.size else float("nan")
            row: dict[str, Any] = {"feature": f}
            if by is not None:
                row[by] = lev
            row.update(
                n_a=int(x.size),
                n_b=int(y.size),
                median_a=ma,
                median_b=mb,
                ratio=ma / mb if mb not in (0.0,) and np.isfinite(mb) else float("nan"),
                hedges_g=g,
                g_ci_low=float(lo),
                g_ci_high=float(hi),
                cliffs_delta=cliffs_delta(x, y),
                p=p,
            )
            rows.append(row)
    out = pd.DataFrame(rows)
    out["q"] = _bh(out["p"].to_numpy(dtype=np.float64))
    out.attrs["a"], out.attrs["b"] = a, b
    return out


def species_markdown(
    tables: dict[str, pd.DataFrame], *, caveats: dict[str, str] | None = None
) -> str:
    """Markdown report of :func:`compare_groups` tables (name → table).

    Parameters
    ----------
    tables
        Section title → table of :func:`compare_groups` (human = ``a``, mouse = ``b``).
    caveats
        Section title → caveat printed under the section title.

    Returns
    -------
    str
        Markdown: an introduction stating what the comparison can and cannot show, then one
        table per section (counts, medians, ratio, g with CI, Cliff's δ, q).
    """
    lines = [
        "# Human vs mouse single-neuron physiology (descriptive)",
        "",
        "No expression data enter this comparison: no human expression matrix is available, so "
        "whether genes explain these differences cannot be tested here. Effect sizes: Hedges' g "
        "(human − mouse, pooled SD; 95% bootstrap CI) and Cliff's δ; p from Mann–Whitney U, "
        "q = Benjamini–Hochberg.",
    ]
    for name, t in tables.items():
        lines += ["", f"## {name}", ""]
        if caveats and name in caveats:
            lines += [f"Caveat: {caveats[name]}", ""]
        by = [
            c
            for c in t.columns
            if c
            not in {
                "feature",
                "n_a",
                "n_b",
                "median_a",
                "median_b",
                "ratio",
                "hedges_g",
                "g_ci_low",
                "g_ci_high",
                "cliffs_delta",
                "p",
                "q",
            }
        ]
        head = "| feature | " + "".join(f"{c} | " for c in by)
        lines.append(
            head + "n human | n mouse | median human | median mouse | ratio | g (95% CI) "
            "| Cliff's δ | q |"
        )
        lines.append("|---" * (9 + len(by)) + "|")
        for _, r in t.iterrows():
            name_ = SPECIES_FEATURES.get(str(r["feature"]), str(r["feature"]))
            extra = "".join(f"{r[c]} | " for c in by)
            lines.append(
                f"| {name_} | {extra}{r['n_a']} | {r['n_b']} | {r['median_a']:.3g} | "
                f"{r['median_b']:.3g} | {r['ratio']:.2f} | {r['hedges_g']:+.2f} "
                f"({r['g_ci_low']:+.2f} to {r['g_ci_high']:+.2f}) | {r['cliffs_delta']:+.2f} | "
                f"{r['q']:.2g} |"
            )
    return "\n".join(lines) + "\n"
