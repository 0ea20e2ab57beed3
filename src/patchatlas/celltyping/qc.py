"""Patch-seq transcriptome quality control by normalised marker sums (Tripathy et al. 2018,
"Assessing transcriptome quality in patch-seq datasets", Front Mol Neurosci 12:363).

Definitions (restated from the paper; no code of patchSeqQC is used):

* **Marker sum** of a cell for a cell class: the sum of its log2(CPM + 1) over the class's
  marker genes.
* **Normalised marker sum (NMS)**: that sum divided by the median marker sum of the class's
  own reference cells (dissociated cells of that class in the paper). 1 means "as much of
  the class's markers as a typical cell of the class"; an interneuron with an astrocyte NMS
  of 0.5 carries half an astrocyte's worth of astrocyte transcripts.
* **Contamination score**: the sum of a cell's NMS over the off-target classes (classes other
  than its own; e.g. glia and the other neuronal broad class).
* **Quality score**: the Spearman correlation, over all marker genes, between the cell's
  expression and the median expression of the reference cells of its own class.

Marker genes come from the reference (:func:`class_markers`: genes enriched in one class
versus every other class and detected in most of its cells), or are given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from patchatlas._version import __version__
from patchatlas.errors import DataError

__all__ = ["PatchseqQC", "class_markers", "marker_sums", "patchseq_qc"]

Array = NDArray[np.float64]


def _index(genes: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, g in enumerate(genes):
        out.setdefault(str(g).upper(), i)
    return out


def marker_sums(
    x: ArrayLike, genes: Sequence[str], markers: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Sum of each cell's log-expression over each class's marker genes.

    Parameters
    ----------
    x
        Cells × genes, log2(CPM + 1).
    genes
        Gene name of each column (matched case-insensitively).
    markers
        Class → marker genes; genes absent from ``genes`` are ignored.

    Returns
    -------
    pandas.DataFrame
        Cells × classes; ``attrs["n_markers"]`` holds the markers found per class.
    """
    arr = np.asarray(x, dtype=np.float64)
    pos = _index(genes)
    cols, found = {}, {}
    for cls, gs in markers.items():
        idx = [pos[g.upper()] for g in gs if g.upper() in pos]
        found[str(cls)] = len(idx)
        cols[str(cls)] = arr[:, idx].sum(axis=1) if idx else np.full(arr.shape[0], np.nan)
    df = pd.DataFrame(cols)
    df.attrs["n_markers"] = found
    return df


def class_markers(
    x: ArrayLike,
    genes: Sequence[str],
    classes: ArrayLike,
    *,
    n_markers: int = 20,
    min_detection: float = 0.5,
) -> dict[str, list[str]]:
    """ "On" marker genes per class from a labelled reference.

    A gene is a candidate for a class when it is detected (> 0) in at least ``min_detection``
    of the class's cells; candidates are ranked by the class's mean log-expression minus the
    largest mean of any other class (so a marker is high in its class and low in *every*
    other), and the top ``n_markers`` with a positive margin are kept.

    Parameters
    ----------
    x
        Reference cells × genes, log2(CPM + 1).
    genes
        Gene names of the columns.
    classes
        Class of each reference cell.
    n_markers
        Markers per class.
    min_detection
        Minimum fraction of the class's cells expressing the gene.

    Returns
    -------
    dict
        Class → its marker genes (best first).
    """
    arr = np.asarray(x, dtype=np.float64)
    lab = np.asarray(classes).astype(str)
    names = np.asarray([str(g) for g in genes])
    cls = sorted(set(lab.tolist()))
    if len(cls) < 2:
        raise DataError("class_markers: the reference needs at least 2 classes")
    means = np.vstack([arr[lab == c].mean(axis=0) for c in cls])
    det = np.vstack([(arr[lab == c] > 0).mean(axis=0) for c in cls])
    out: dict[str, list[str]] = {}
    for i, c in enumerate(cls):
        others = np.delete(means, i, axis=0).max(axis=0)
        margin = means[i] - others
        ok = (det[i] >= min_detection) & (margin > 0)
        order = np.argsort(-np.where(ok, margin, -np.inf), kind="stable")
        out[c] = [str(names[j]) for j in order[: int(n_markers)] if ok[j]]
    return out


@dataclass
class PatchseqQC:
    """Patch-seq QC of a set of cells.

    Attributes
    ----------
    nms
        Cells × classes normalised marker sums.
    scores
        One row per cell: ``cell_class`` (the class it is scored against), ``on_type_nms``
        (NMS of its own class), ``contamination`` (summed off-target NMS), ``quality``
        (Spearman correlation with its class's reference profile), ``n_markers``.
    markers
        Class → marker genes used.
    reference_medians
        Class → median marker sum of its reference cells (the normalisers).
    provenance
        Package version and parameters.
    """

    nms: pd.DataFrame
    scores: pd.DataFrame
    markers: dict[str, list[str]]
    reference_medians: dict[str, float]
    provenance: dict[str, Any] = field(default_factory=dict)


def patchseq_qc(
    x: ArrayLike,
    genes: Sequence[str],
    cell_class: ArrayLike,
    reference_x: ArrayLike,
    reference_genes: Sequence[str],
    reference_classes: ArrayLike,
    *,
    markers: Mapping[str, Sequence[str]] | None = None,
    off_target: Mapping[str, Sequence[str]] | None = None,
    n_markers: int = 20,
    cells: Sequence[str] | None = None,
) -> PatchseqQC:
    """Normalised marker sums, contamination and quality scores of Patch-seq cells.

    Parameters
    ----------
    x
        Patch-seq cells × genes, log2(CPM + 1).
    genes
        Gene names of ``x``'s columns.
    cell_class
        The class each cell is expected to be (e.g. its mapped family or broad class); it
        must be one of the reference classes.
    reference_x, reference_genes, reference_classes
        Labelled reference cells (log2(CPM + 1)), their genes and classes: the normalisers
        (median marker sums) and class profiles come from them.
    markers
        Class → marker genes (default: :func:`class_markers` of the reference).
    off_target
        Own class → classes counted as contamination (default: every other class).
    n_markers
        Markers per class when they are derived from the reference.
    cells
        Cell names (default ``0 … n−1``).

    Returns
    -------
    PatchseqQC
        NMS table, per-cell scores, markers and normalisers.

    Raises
    ------
    patchatlas.errors.DataError
        A cell class that the reference lacks, or a class without markers.
    """
    from scipy.stats import rankdata

    xa = np.asarray(x, dtype=np.float64)
    ra = np.asarray(reference_x, dtype=np.float64)
    rcls = np.asarray(reference_classes).astype(str)
    own = np.asarray(cell_class).astype(str)
    if own.shape[0] != xa.shape[0]:
        raise DataError(f"{own.shape[0]} cell classes for {xa.shape[0]} cells")
    derived = markers is None
    if markers is None:
        markers = class_markers(ra, reference_genes, rcls, n_markers=n_markers)
    mk = {str(k): list(v) for k, v in markers.items()}
    unknown = sorted(set(own.tolist()) - set(mk))
    if unknown:
        raise DataError(
            f"patchseq_qc: cell classes {unknown} have no markers/reference cells; classes: "
            f"{sorted(mk)}"
        )
    ref_sums = marker_sums(ra, reference_genes, mk)
    medians: dict[str, float] = {}
    for c in mk:
        vals = ref_sums.loc[rcls == c, c].to_numpy()
        med = float(np.nanmedian(vals)) if len(vals) else float("nan")
        if not np.isfinite(med) or med <= 0:
            raise DataError(
                f"patchseq_qc: class {c!r} has no reference cells expressing its markers; "
                "give markers found in the data or drop the class"
            )
        medians[c] = med
    sums = marker_sums(xa, genes, mk)
    nms = sums / pd.Series(medians)
    names = [str(c) for c in cells] if cells is not None else [str(i) for i in range(len(xa))]
    nms.index = pd.Index(names, name="cell")
    off = (
        {c: [o for o in mk if o != c] for c in mk}
        if off_target is None
        else {str(k): [str(v) for v in vs] for k, vs in off_target.items()}
    )
    contamination = np.array(
        [float(nms.iloc[i][off.get(c, [])].sum()) for i, c in enumerate(own)], dtype=np.float64
    )
    on_type = np.array([float(nms.iloc[i][c]) for i, c in enumerate(own)])
    # quality: Spearman correlation over all marker genes with the class's reference median
    qpos, rpos = _index(genes), _index(reference_genes)
    all_markers = sorted({g.upper() for gs in mk.values() for g in gs} & set(qpos) & set(rpos))
    qi = [qpos[g] for g in all_markers]
    ri = [rpos[g] for g in all_markers]
    profiles = {c: np.median(ra[rcls == c][:, ri], axis=0) for c in mk}
    quality = np.full(len(xa), np.nan)
    if len(all_markers) >= 3:
        xr = np.apply_along_axis(rankdata, 1, xa[:, qi])
        xr = xr - xr.mean(axis=1, keepdims=True)
        for c in set(own.tolist()):
            pr = rankdata(profiles[c])
            pr = pr - pr.mean()
            sel = own == c
            num = xr[sel] @ pr
            den = np.sqrt((xr[sel] ** 2).sum(axis=1) * (pr**2).sum())
            quality[sel] = np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)
    scores = pd.DataFrame(
        {
            "cell_class": own,
            "on_type_nms": on_type,
            "contamination": contamination,
            "quality": quality,
            "n_markers": len(all_markers),
        },
        index=pd.Index(names, name="cell"),
    )
    return PatchseqQC(
        nms=nms,
        scores=scores,
        markers=mk,
        reference_medians=medians,
        provenance={
            "package_version": __version__,
            "engine": "patchatlas.celltyping.patchseq_qc",
            "definitions": "Tripathy et al. 2018 (normalised marker sums)",
            "n_markers": n_markers,
            "markers_from_reference": derived,
            "n_reference": int(ra.shape[0]),
        },
    )
