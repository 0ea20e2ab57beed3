"""Synthetic Patch-seq expression for demo cells: genes whose expression follows the cells'
ephys features (plus type markers and noise), so a tiny expression → physiology benchmark can
run on the demo data without any real transcriptome."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from patchatlas.errors import DataError

if TYPE_CHECKING:
    from anndata import AnnData

    from patchatlas.core.expression import PatchseqDataset

__all__ = ["synthetic_expression", "synthetic_patchseq"]


def synthetic_expression(
    features: pd.DataFrame,
    seed: int = 0,
    *,
    types: ArrayLike | None = None,
    n_genes: int = 300,
    n_informative: int = 30,
    n_markers: int = 20,
    effect: float = 1.0,
    library_size: float = 2e5,
) -> AnnData:
    """Counts for the cells of ``features`` (cells × ephys features; NaNs imputed by median).

    Model: log-rate of gene g in cell i = base_g + Σ_f w_gf z_if (informative genes, weights
    ±``effect``, each driven by 1–2 features) + marker effects of the cell's type + N(0, 0.3);
    counts ~ Poisson(library × softmax(log-rate)). Genes beyond the informative and marker ones
    are pure noise.

    Parameters
    ----------
    features
        Cells × ephys features (any units; each feature is z-scored first); the index gives
        the cell names.
    seed
        Seed of the random generator (same seed, same counts).
    types
        Type label of each cell (default: one type); each marker gene is raised (log-rate
        + 2) in one type.
    n_genes
        Total number of genes (``Gene0000``, ``Gene0001`` ...).
    n_informative
        Genes driven by the features (the first ones).
    n_markers
        Type-marker genes (the next ones).
    effect
        Size of a feature's weight on the log-rate of an informative gene, per SD.
    library_size
        Median library size (total counts) per cell; each cell's is log-normal around it.

    Returns
    -------
    anndata.AnnData
        Raw counts; ``var["role"]`` is ``informative``/``marker``/``noise`` and
        ``var["driver"]`` names the feature driving an informative gene; ``obs`` holds
        ``t_type``, ``family`` and ``library_size``.

    Raises
    ------
    patchatlas.errors.DataError
        Fewer than 2 cells or no feature, more informative and marker genes than genes, or
        ``types`` of the wrong length.
    """
    import anndata

    if features.shape[0] < 2 or features.shape[1] < 1:
        raise DataError(
            f"synthetic_expression needs ≥ 2 cells and ≥ 1 feature, got {features.shape}"
        )
    if n_informative + n_markers > n_genes:
        raise DataError("n_informative + n_markers must not exceed n_genes")
    rng = np.random.default_rng(seed)
    f = features.apply(pd.to_numeric, errors="coerce")
    f = f.fillna(f.median()).fillna(0.0)
    sd = f.std(ddof=0).replace(0.0, 1.0)
    z = ((f - f.mean()) / sd).to_numpy(dtype=np.float64)
    n, q = z.shape
    t = np.asarray(types).astype(str) if types is not None else np.array(["type0"] * n)
    if t.shape != (n,):
        raise DataError(f"{t.shape[0]} type labels for {n} cells")
    labels, inv = np.unique(t, return_inverse=True)
    base = rng.normal(0.0, 1.0, size=n_genes)
    w = np.zeros((q, n_genes))
    driver = np.array([""] * n_genes, dtype=object)
    for g in range(n_informative):
        fs = rng.choice(q, size=min(q, 1 + int(rng.random() < 0.5)), replace=False)
        w[fs, g] = rng.choice([-1.0, 1.0], size=fs.size) * effect
        driver[g] = ",".join(str(features.columns[k]) for k in fs)
    markers = np.zeros((len(labels), n_genes))
    for g in range(n_informative, n_informative + n_markers):
        markers[rng.integers(len(labels)), g] = 2.0
    logr = base + z @ w + markers[inv] + rng.normal(0.0, 0.3, size=(n, n_genes))
    p = np.exp(logr - logr.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    lib = rng.lognormal(np.log(library_size), 0.3, size=n)
    counts = rng.poisson(p * lib[:, None]).astype(np.float64)
    role = np.array(["noise"] * n_genes, dtype=object)
    role[:n_informative] = "informative"
    role[n_informative : n_informative + n_markers] = "marker"
    obs = pd.DataFrame(
        {"t_type": t, "family": t, "library_size": counts.sum(axis=1)},
        index=pd.Index([str(i) for i in features.index]),
    )
    var = pd.DataFrame(
        {"role": role, "driver": driver}, index=pd.Index([f"Gene{g:04d}" for g in range(n_genes)])
    )
    adata: AnnData = anndata.AnnData(X=counts, obs=obs, var=var)
    return adata


def synthetic_patchseq(
    features: pd.DataFrame, seed: int = 0, *, types: ArrayLike | None = None, **kwargs: Any
) -> PatchseqDataset:
    """:func:`synthetic_expression` wrapped as a :class:`~patchatlas.core.PatchseqDataset`
    (ephys = ``features`` with NaNs imputed by the median), ready for
    :func:`patchatlas.crossmodal.run_benchmark`.

    Parameters
    ----------
    features
        Cells × ephys features; they become the dataset's ephys table.
    seed
        Seed of the random generator.
    types
        Type label of each cell (default: one type); also used as the family.
    **kwargs
        Passed to :func:`synthetic_expression` (``n_genes``, ``effect`` ...).

    Returns
    -------
    PatchseqDataset
        Named ``"synthetic"``: the counts, ``t_type``/``family``/``library_size`` in ``obs``
        and the imputed features.

    Raises
    ------
    patchatlas.errors.DataError
        As :func:`synthetic_expression`.
    """
    from patchatlas.core.expression import PatchseqDataset

    adata = synthetic_expression(features, seed, types=types, **kwargs)
    f = features.apply(pd.to_numeric, errors="coerce")
    eph = f.fillna(f.median()).fillna(0.0).astype(np.float64)
    eph.index = adata.obs_names
    return PatchseqDataset(
        name="synthetic",
        adata=adata,
        ephys=eph,
        notes=["Synthetic expression generated from the ephys features (demo only)."],
    )
