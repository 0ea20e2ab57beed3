"""Cross-species transfer: train a t-type classifier on mouse cells, test it on human cells, with
the human-only baseline (the same classifier cross-validated on the human cells).

Features are matched by name (use :func:`~patchatlas.celltyping.ipfx_canonical` on both
tables first); labels must share a vocabulary (e.g. subclasses ``Pvalb``, ``Sst``, ``Vip``,
``Lamp5``). Two alignments are reported:

* ``none`` — the classifier's own preprocessing, learned on the mouse cells, is applied to the
  human cells as they are;
* ``per_species`` — each species' features are first rank-transformed to a standard normal
  within that species (unsupervised: human labels are never used). It removes species-wide
  shifts of a feature (human cells are larger: lower input resistance ...), but it also
  removes differences in subclass composition, so read it as a sensitivity analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone

from patchatlas._version import __version__
from patchatlas.celltyping.metrics import bootstrap_metrics, confusion_table
from patchatlas.celltyping.supervised import TTypeClassifier, predict_ttypes
from patchatlas.errors import DataError

__all__ = [
    "SHARED_SUBCLASSES",
    "UNCOMPARABLE",
    "CrossSpeciesResult",
    "cross_species",
    "harmonize_subclass",
    "rank_normal",
]

#: Mouse and human interneuron subclasses → one vocabulary. Mouse Lamp5 and Sncg together
#: correspond to Lee et al.'s ``LAMP5/PAX6/Other`` (which the atlas vocabulary splits into
#: ``Lamp5`` and ``Pax6`` by t-type); mouse Serpinf1 and Meis2 have no counterpart there and
#: stay unmatched.
SHARED_SUBCLASSES: dict[str, str] = {
    "pvalb": "PVALB",
    "sst": "SST",
    "vip": "VIP",
    "lamp5": "LAMP5/PAX6",
    "sncg": "LAMP5/PAX6",
    "pax6": "LAMP5/PAX6",
    "lamp5/pax6/other": "LAMP5/PAX6",
}

#: Features whose values differ between the Gouwens 2020 and Lee 2023 tables by definition,
#: not biology: the rheobase-spike upstroke/downstroke ratio (median 0.96 in the mouse table
#: vs 1.87 in the human one; fast-spiking mouse cells are not slower than human ones).
UNCOMPARABLE: tuple[str, ...] = ("upstroke_downstroke_ratio_rheo",)


def harmonize_subclass(labels: ArrayLike) -> NDArray[Any]:
    """Interneuron subclasses of either species in one vocabulary (:data:`SHARED_SUBCLASSES`).

    Parameters
    ----------
    labels
        Subclass labels (``Pvalb``, ``PVALB``, ``Sncg``, ``LAMP5/PAX6/Other`` ...).

    Returns
    -------
    numpy.ndarray
        Harmonised labels, ``None`` where a label has no counterpart.
    """
    out = [
        SHARED_SUBCLASSES.get(str(x).strip().lower()) if x is not None else None
        for x in np.asarray(labels, dtype=object)
    ]
    return np.asarray(out, dtype=object)


def rank_normal(X: pd.DataFrame) -> pd.DataFrame:
    """Each column rank-transformed to a standard normal (NaNs kept).

    Parameters
    ----------
    X
        Cells × features.

    Returns
    -------
    pandas.DataFrame
        Same shape; per column Φ⁻¹((rank − 0.5) / n) over the non-missing values.
    """
    from scipy.special import ndtri

    r = X.rank(axis=0, method="average")
    n = X.notna().sum(axis=0)
    return pd.DataFrame(
        ndtri(((r - 0.5) / n).to_numpy(dtype=np.float64)), index=X.index, columns=X.columns
    )


@dataclass
class CrossSpeciesResult:
    """Train-on-mouse, test-on-human classification, with the human-only baseline.

    Attributes
    ----------
    features
        Features used (present in both tables).
    classes
        Shared classes.
    summary
        Per ``model`` (``mouse→human`` for each alignment, ``human-only CV``, ``majority``):
        balanced accuracy, macro-F1 and accuracy with 95 % bootstrap CIs over the human cells.
    confusion
        Alignment → confusion table of the transfer (rows: human label).
    human_cv
        The :class:`~patchatlas.celltyping.TTypePrediction` of the human-only baseline.
    provenance
        Package version, numbers of cells, parameters.
    """

    features: list[str]
    classes: list[str]
    summary: pd.DataFrame
    confusion: dict[str, pd.DataFrame]
    human_cv: Any
    provenance: dict[str, Any] = field(default_factory=dict)

    def metric(self, model: str, metric: str = "balanced_accuracy") -> float:
        """One number of the summary.

        Parameters
        ----------
        model
            A ``model`` of :attr:`summary`.
        metric
            ``"balanced_accuracy"``, ``"macro_f1"`` or ``"accuracy"``.

        Returns
        -------
        float
            Its mean (NaN when absent).
        """
        s = self.summary
        row = s[(s["model"] == model) & (s["metric"] == metric)]
        return float(row["mean"].iloc[0]) if len(row) else float("nan")


def cross_species(
    train_X: pd.DataFrame,
    train_y: ArrayLike,
    test_X: pd.DataFrame,
    test_y: ArrayLike,
    *,
    estimator: Any = None,
    features: Sequence[str] | None = None,
    min_coverage: float = 0.5,
    n_repeats: int = 5,
    n_folds: int = 5,
    min_cells: int = 10,
    seed: int = 0,
    n_jobs: int = 1,
) -> CrossSpeciesResult:
    """Train on one species (mouse), test on another (human), against a human-only baseline.

    Parameters
    ----------
    train_X, train_y
        Training cells × features and their labels.
    test_X, test_y
        Test cells × features and their labels (same vocabulary).
    estimator
        Classifier (default :class:`~patchatlas.celltyping.TTypeClassifier`).
    features
        Features to use (default: columns of both tables measured in at least
        ``min_coverage`` of the cells of each).
    min_coverage
        See ``features``.
    n_repeats, n_folds
        CV design of the human-only baseline.
    min_cells
        Classes need this many cells in both species.
    seed
        Seed of the CV and the bootstrap.
    n_jobs
        Parallel workers of the human-only CV.

    Returns
    -------
    CrossSpeciesResult
        Transfer and baseline scores with CIs, confusion tables.

    Raises
    ------
    patchatlas.errors.DataError
        Fewer than two shared classes or no shared feature.
    """
    est = estimator if estimator is not None else TTypeClassifier()
    ytr = pd.Series(np.asarray(train_y, dtype=object), index=train_X.index).astype(str)
    yte = pd.Series(np.asarray(test_y, dtype=object), index=test_X.index).astype(str)
    ctr, cte = ytr.value_counts(), yte.value_counts()
    classes = sorted(
        c
        for c in set(ctr.index) & set(cte.index)
        if c != "nan" and ctr[c] >= min_cells and cte[c] >= min_cells
    )
    if len(classes) < 2:
        raise DataError(
            f"cross_species: fewer than 2 classes with ≥ {min_cells} cells in both species "
            f"(train {dict(ctr)}, test {dict(cte)})"
        )
    if features is None:
        cov_tr = train_X.notna().mean()
        cov_te = test_X.notna().mean()
        features = [
            c
            for c in train_X.columns
            if c in test_X.columns and cov_tr[c] >= min_coverage and cov_te[c] >= min_coverage
        ]
    feats = [str(f) for f in features]
    if not feats:
        raise DataError("cross_species: the two tables share no measured feature")
    mtr, mte = ytr.isin(classes).to_numpy(), yte.isin(classes).to_numpy()
    xtr, xte = train_X.loc[mtr, feats].astype(float), test_X.loc[mte, feats].astype(float)
    ya, yb = ytr[mtr].to_numpy(), yte[mte].to_numpy()
    rows, conf = [], {}
    for align, (a, b) in {
        "none": (xtr, xte),
        "per_species": (rank_normal(xtr), rank_normal(xte)),
    }.items():
        pred = clone(est).fit(a, ya).predict(b).astype(str)
        s = bootstrap_metrics(yb, [pred], classes=classes, seed=seed)
        s.insert(0, "model", f"mouse→human ({align})")
        rows.append(s)
        conf[align] = confusion_table(yb, pred, classes=classes)
    major = pd.Series(ya).value_counts().index[0]
    s = bootstrap_metrics(yb, [np.full(len(yb), major, dtype=object)], classes=classes, seed=seed)
    s.insert(0, "model", "majority (mouse)")
    rows.append(s)
    human = predict_ttypes(
        xte,
        yb,
        level="cross-species baseline",
        estimator=clone(est),
        n_repeats=n_repeats,
        n_folds=n_folds,
        min_cells=min_cells,
        shuffled_repeats=0,
        seed=seed,
        n_jobs=n_jobs,
    )
    hs = human.summary[human.summary["model"] == "classifier"].copy()
    hs["model"] = "human-only CV"
    rows.append(hs)
    return CrossSpeciesResult(
        features=feats,
        classes=classes,
        summary=pd.concat(rows, ignore_index=True),
        confusion=conf,
        human_cv=human,
        provenance={
            "package_version": __version__,
            "engine": "patchatlas.celltyping.cross_species",
            "n_train": int(mtr.sum()),
            "n_test": int(mte.sum()),
            "train_counts": {c: int(ctr[c]) for c in classes},
            "test_counts": {c: int(cte[c]) for c in classes},
            "n_repeats": n_repeats,
            "n_folds": n_folds,
            "seed": seed,
            "estimator": type(est).__name__,
        },
    )
