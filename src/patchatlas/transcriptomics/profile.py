"""One cell's expression against its type: what a cell page shows of a Patch-seq transcriptome."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from patchatlas.errors import DataError
from patchatlas.transcriptomics.preprocess import cpm

__all__ = ["cell_profile"]


def cell_profile(
    counts: pd.DataFrame,
    cell: str,
    reference: Sequence[str],
    *,
    library_size: pd.Series | None = None,
    markers: Sequence[str] = (),
    n_top: int = 20,
) -> pd.DataFrame:
    """A cell's expression (CPM) next to the mean of a reference group (its t-type).

    Parameters
    ----------
    counts
        Raw counts, cells × genes (rows named by sample id).
    cell
        The cell's sample id (a row of ``counts``).
    reference
        Sample ids of the group to compare with (the cell itself may be among them; ids that
        are not rows of ``counts`` are ignored).
    library_size
        Per-sample denominators of the CPM (total exon reads), indexed by sample id; default:
        row sums of ``counts``. Samples without a positive size use their row sum.
    markers
        Genes always reported (matched case-insensitively; absent genes are left out).
    n_top
        How many of the cell's most expressed genes to report besides the markers.

    Returns
    -------
    pandas.DataFrame
        One row per reported gene: ``gene``, ``cpm`` (the cell), ``type_mean_cpm`` and
        ``type_fraction`` (share of the reference cells expressing it, count > 0), ``marker``
        (bool), ``rank`` (the gene's rank in the cell, 1 = most expressed); markers first in
        the order given, then the top genes by CPM.

    Raises
    ------
    patchatlas.errors.DataError
        ``cell`` is not a row of ``counts``.
    """
    if cell not in counts.index:
        raise DataError(f"cell_profile: sample {cell!r} is not in the count table")
    ref = [s for s in dict.fromkeys(reference) if s in counts.index]
    rows = [cell, *[s for s in ref if s != cell]]
    x = counts.loc[rows].to_numpy(dtype=np.float64)
    sums = x.sum(axis=1)
    lib = sums.copy()
    if library_size is not None:
        given = pd.to_numeric(library_size.reindex(rows), errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(given) & (given > 0)
        lib[ok] = given[ok]
    lib[~(lib > 0)] = 1.0
    norm = cpm(x, library_size=lib)
    own = norm[0]
    in_ref = np.array([s in set(ref) for s in rows])
    group = norm[in_ref] if in_ref.any() else norm[:0]
    mean = group.mean(axis=0) if len(group) else np.full(own.shape, np.nan)
    frac = (x[in_ref] > 0).mean(axis=0) if len(group) else np.full(own.shape, np.nan)
    genes = counts.columns.astype(str)
    order = np.argsort(-own, kind="stable")
    rank = np.empty(len(own), dtype=int)
    rank[order] = np.arange(1, len(own) + 1)
    lower = {g.lower(): k for k, g in enumerate(genes)}
    picked = [lower[m.lower()] for m in markers if m.lower() in lower]
    top = [int(k) for k in order[: max(0, int(n_top))] if own[k] > 0 and int(k) not in picked]
    idx = picked + top
    return pd.DataFrame(
        {
            "gene": genes[idx],
            "cpm": own[idx],
            "type_mean_cpm": mean[idx],
            "type_fraction": frac[idx],
            "marker": [k in set(picked) for k in idx],
            "rank": rank[idx],
        }
    )
