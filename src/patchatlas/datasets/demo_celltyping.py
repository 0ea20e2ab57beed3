"""The demo's cell-typing step: t-types predicted from ephys, unsupervised e-types, both stored.

Appended to :data:`patchatlas.datasets.demo.DEMO_STEPS`. The demo has only a few recorded
cells, too few to train or cluster on, so the step builds a synthetic cohort around them the
way the ``crossmodal`` step does: each demo cell's t-type (its annotation in the atlas, the
simulator preset) gets ``PER_TYPE`` synthetic cells whose features are the demo cell's
cell-level ephys features with ±``VARIATION`` within-type variation. On that cohort it runs

* :func:`~patchatlas.celltyping.predict_ttypes` — repeated stratified CV of
  :class:`~patchatlas.celltyping.TTypeClassifier` next to the majority-class and
  shuffled-label baselines (balanced accuracy with bootstrap CIs);
* :func:`~patchatlas.celltyping.find_types` — unsupervised e-types (sparse PCA, Gaussian
  mixture, number of types chosen by BIC) on the cohort together with the demo cells, and
  their agreement with the true t-types (ARI, AMI).

The demo cells themselves are atlas cells: a classifier fitted on the whole synthetic cohort
types them, and they carry their e-type from the clustering; both runs are stored in the demo
atlas (:meth:`patchatlas.atlas.Atlas.store_cell_types`) so the portal's Cell types page and
the search facets show them. The synthetic cells are not in the atlas and are not stored.
The cohort is synthetic by construction (built around the very cells it then types): the step
shows the workflow, not a finding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["PER_TYPE", "RUN_NAMES", "VARIATION", "celltyping_step"]

#: synthetic cells per t-type
PER_TYPE = 30
#: within-type variation (relative SD of every feature)
VARIATION = 0.15
#: names of the two runs stored in the demo atlas: t-types predicted, e-types
RUN_NAMES = ("demo:type:predicted-from-ephys", "demo:e-types:gmm")


def celltyping_step(result: Any, done: Callable[[Any], None], seed: int) -> None:
    """Predict t-types from ephys and find e-types on a synthetic cohort; store the demo cells'.

    Parameters
    ----------
    result
        The :class:`~patchatlas.datasets.demo.DemoResult` so far (its cell features and
        recordings; the atlas URL when the atlas step ran).
    done
        Called with the finished :class:`~patchatlas.datasets.demo.Step`; its payload is a
        dict: ``prediction`` (:class:`~patchatlas.celltyping.TTypePrediction`), ``etypes``
        (:class:`~patchatlas.celltyping.TypingResult`), ``assignments`` (the demo cells'
        types, a DataFrame) and ``stored`` (run name → number of cells stored).
    seed
        Seed of the synthetic cohort, the CV folds and the clustering.
    """
    import numpy as np
    import pandas as pd

    from patchatlas.celltyping import TTypeClassifier, find_types, predict_ttypes
    from patchatlas.datasets.demo import CROSSMODAL_FEATURES, Step

    feats = result.cell_features
    cols = [c for c in CROSSMODAL_FEATURES if feats is not None and c in feats.columns]
    base = feats[cols].astype(float).dropna(axis=1) if cols else pd.DataFrame()
    # the t-type of each demo cell: its annotation in the atlas (the simulator preset)
    ttype = {r.cell_id: str(r.metadata.get("model", r.cell_id)) for r in result.recordings}
    truth = pd.Series([ttype.get(str(c), str(c)) for c in base.index], index=base.index.astype(str))
    if len(base) < 2 or base.shape[1] < 2 or truth.nunique() < 2:
        done(Step("celltyping", "skipped: needs at least 2 cell types with features", None))
        return

    rng = np.random.default_rng(seed)
    values = np.repeat(base.to_numpy(), PER_TYPE, axis=0)
    values = values * (1.0 + VARIATION * rng.standard_normal(values.shape))
    labels = np.repeat(truth.to_numpy(), PER_TYPE)
    cohort = pd.DataFrame(
        values, columns=base.columns, index=[f"syn_{k:03d}" for k in range(len(values))]
    )

    # (a) supervised: t-types from ephys, cross-validated, with baselines
    pred = predict_ttypes(
        cohort,
        labels,
        level="type",
        estimator=TTypeClassifier(random_state=seed),
        n_repeats=2,
        n_folds=5,
        min_cells=10,
        seed=seed,
        n_boot=200,
    )
    ba = pred.summary[pred.summary["metric"] == "balanced_accuracy"].set_index("model")
    ba_table = ba[["mean", "ci_low", "ci_high"]].rename(
        columns={"mean": "balanced accuracy", "ci_low": "95% CI low", "ci_high": "95% CI high"}
    )
    clf = TTypeClassifier(random_state=seed).fit(cohort, labels)
    proba = clf.predict_proba(base)

    # (b) unsupervised: e-types of the cohort and the demo cells together
    both = pd.concat([cohort, base.set_axis(truth.index)])
    etypes = find_types(
        both,
        kind="e",
        max_clusters=8,
        n_resamples=5,
        compare=np.concatenate([labels, truth.to_numpy()]),
        seed=seed,
    )
    ag = etypes.agreement
    stab = etypes.stability.mean_ari if etypes.stability is not None else float("nan")
    e_table = pd.DataFrame(
        {
            "t-types (truth)": [int(truth.nunique())],
            "e-types (BIC)": [etypes.n_types],
            "ARI vs t-types": [ag.ari if ag is not None else float("nan")],
            "AMI vs t-types": [ag.ami if ag is not None else float("nan")],
            "subsample ARI": [stab],
        },
        index=[f"{len(both)} cells"],
    )

    assignments = pd.DataFrame(
        {
            "t-type (annotation)": truth,
            "t-type (predicted)": clf.classes_[proba.argmax(axis=1)],
            "confidence": proba.max(axis=1),
            "e-type": etypes.labels.loc[truth.index].to_numpy(),
            "e-type confidence": etypes.confidence.loc[truth.index].to_numpy(),
        }
    )
    assignments.index.name = "cell"

    # (c) the demo cells are atlas cells: store both runs (the synthetic cohort is not stored)
    stored: dict[str, int] = {}
    if result.atlas_url:
        from patchatlas.atlas import Atlas

        with Atlas(result.atlas_url) as atlas:
            known = set(atlas.cells().index.astype(str))
            cells = [c for c in assignments.index if c in known]
            if cells:
                sub = assignments.loc[cells]
                res_t = atlas.store_cell_types(
                    pd.DataFrame(
                        {
                            "cell": cells,
                            "label": sub["t-type (predicted)"].to_numpy(),
                            "confidence": sub["confidence"].to_numpy(),
                        }
                    ),
                    name=RUN_NAMES[0],
                    kind="t",
                    level="type",
                    method="ttype_classifier (ephys)",
                    model=pred.provenance,
                    scores={
                        m: {k: float(ba.loc[m, k]) for k in ("mean", "ci_low", "ci_high")}
                        for m in ba.index
                    },
                    parameters={
                        "training": f"synthetic cohort: {PER_TYPE} cells per t-type, "
                        f"±{VARIATION:.0%} around the demo cells' features",
                    },
                    source="patchatlas demo (celltyping step)",
                )
                res_e = atlas.store_cell_types(
                    pd.DataFrame(
                        {
                            "cell": cells,
                            "label": sub["e-type"].to_numpy(),
                            "confidence": sub["e-type confidence"].to_numpy(),
                        }
                    ),
                    name=RUN_NAMES[1],
                    kind="e",
                    level="cluster",
                    method="gmm",
                    model=etypes.provenance,
                    scores={
                        "mean_ari": stab,
                        "ami_vs_type": ag.ami if ag is not None else None,
                        "ari_vs_type": ag.ari if ag is not None else None,
                    },
                    parameters={"clustered_with": f"{len(cohort)} synthetic cells (not stored)"},
                    source="patchatlas demo (celltyping step)",
                )
                stored = {RUN_NAMES[0]: res_t["n_stored"], RUN_NAMES[1]: res_e["n_stored"]}

    n_right = int((assignments["t-type (predicted)"] == assignments["t-type (annotation)"]).sum())
    summary = (
        f"t-types from ephys on a synthetic cohort of {len(cohort)} cells "
        f"({truth.nunique()} types, ±{VARIATION:.0%} around the demo cells): balanced accuracy "
        f"{pred.metric():.2f} vs majority {pred.metric('majority'):.2f}, shuffled "
        f"{pred.metric('shuffled'):.2f}; {etypes.n_types} e-types by BIC "
        f"(ARI {ag.ari if ag is not None else float('nan'):.2f} with the t-types); "
        f"{n_right} of {len(assignments)} demo cells typed as annotated"
        + (
            f"; t- and e-types of {max(stored.values())} demo cells stored in the atlas "
            "(the synthetic cells are not)"
            if stored
            else "; nothing stored (no atlas)"
        )
    )
    done(
        Step(
            "celltyping",
            summary,
            {"prediction": pred, "etypes": etypes, "assignments": assignments, "stored": stored},
            tables=[
                ("t-type prediction (5-fold CV × 2, synthetic cohort)", ba_table),
                ("unsupervised e-types vs t-types", e_table),
                ("demo cells' types", assignments),
            ],
        )
    )
