"""Cell-typing benchmark on the real Patch-seq tables: accuracy with CIs and baselines, and time.

Usage (from the repository root)::

    .venv/bin/python benchmarks/celltyping.py [--repeats 5] [--folds 5] [--n-jobs 2]
        [--sections v1,v1type,m1,mapping,qc,cluster,species]
        [--out benchmarks/RESULTS-celltyping.md]

Sections:

* ``timing`` — the speed target alone, repeated ``--timing-runs`` times (not in the default
  sections; run it on a quiet machine).
* ``v1`` — V1 (Gouwens 2020) subclass prediction from the 28 IPFX features with the plain
  forest beside it: ``repeats`` × ``folds`` stratified CV of TTypeClassifier with majority
  and shuffled-label baselines and the plain class-balanced random forest on identical folds.
* ``v1type`` — the same at the t-type level (types with ≥ 20 cells; 2 repeats).
* ``m1`` — M1 (Scala 2021) family from ephys (all cells), and on the traced cells from ephys,
  morphology and both; t-type level from ephys.
* ``mapping`` — M1 transcriptomic mapping, each fold onto the confident cells of the others.
* ``qc`` — Patch-seq QC scores of the M1 phys-temp cells (full transcriptome), low-quality vs rest.
* ``cluster`` — V1 e-types and M1 me-types: BIC, subsample stability, agreement with t-types.
* ``species`` — train on mouse V1, test on human (Lee 2023), with the human-only baseline.

Nothing is tuned on test folds: C is chosen by inner CV inside each training fold, every other
setting is the library default.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
PS = SHARED / "patchseq"


def _fmt_ci(row: Any) -> str:
    return f"{row['mean']:.3f} ({row['ci_low']:.3f}–{row['ci_high']:.3f})"


def _pred_table(res: Any) -> list[str]:
    s = res.summary
    out = [
        "| model | balanced accuracy (95 % CI) | macro-F1 (95 % CI) | accuracy |",
        "|---|---|---|---|",
    ]
    for m in dict.fromkeys(s["model"]):
        r = {x["metric"]: x for x in s[s["model"] == m].to_dict("records")}
        out.append(
            f"| {m} | {_fmt_ci(r['balanced_accuracy'])} | {_fmt_ci(r['macro_f1'])} | "
            f"{r['accuracy']['mean']:.3f} |"
        )
    d = res.differences
    if len(d):
        for r in d[d["metric"] == "balanced_accuracy"].to_dict("records"):
            out.append(
                f"| classifier − {r['versus']} (paired) | {r['mean']:+.3f} "
                f"({r['ci_low']:+.3f} to {r['ci_high']:+.3f}) | | |"
            )
    return out


def _confusion(res: Any) -> list[str]:
    c = res.confusion
    frac = c.div(c.sum(axis=1), axis=0)
    out = ["| true \\ predicted | " + " | ".join(map(str, c.columns)) + " |"]
    out.append("|---" * (len(c.columns) + 1) + "|")
    for i in c.index:
        out.append(f"| {i} | " + " | ".join(f"{v:.2f}" for v in frac.loc[i]) + " |")
    return out


def _cpu_times() -> dict[int, float]:
    """CPU seconds (user + system) of this process and of its live children (joblib workers)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is optional here
        return {os.getpid(): time.process_time()}
    me = psutil.Process()
    out = {}
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            continue
    return out


class Timer:
    """Wall time, CPU time of this process and its worker processes, and the machine load."""

    def __enter__(self) -> Timer:
        self.w, self.c0, self.l0 = time.perf_counter(), _cpu_times(), os.getloadavg()[0]
        return self

    def __exit__(self, *a: object) -> None:
        self.wall = time.perf_counter() - self.w
        c1 = _cpu_times()
        self.cpu = sum(v - self.c0.get(pid, 0.0) for pid, v in c1.items())
        self.l1 = os.getloadavg()[0]

    def text(self) -> str:
        return (
            f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU (this process and its workers), load "
            f"average {self.l0:.1f} → {self.l1:.1f}"
        )


def timing(args: Any, md: list[str]) -> None:
    """The speed target alone: the V1 subclass benchmark (classifier, majority and shuffled
    labels), ``--timing-runs`` times, with wall and CPU time."""
    from patchatlas.celltyping import predict_ttypes
    from patchatlas.datasets.celltyping import load_typing_data

    d = load_typing_data(PS / "v1_gouwens2020_ephys_only")
    y = d.labels("subclass").to_numpy()
    md += [
        "## Timing of the V1 subclass benchmark",
        "",
        f"`predict_ttypes` on {len(d.X)} V1 cells, {args.repeats} × {args.folds}-fold CV of "
        "TTypeClassifier (inner CV over C, temperature) + majority + 1 repeat of shuffled labels "
        f"(= {args.repeats * args.folds + args.folds} classifier fits), n_jobs={args.n_jobs}:",
        "",
    ]
    for i in range(args.timing_runs):
        with Timer() as t:
            res = predict_ttypes(
                d.X,
                y,
                level="subclass",
                n_repeats=args.repeats,
                n_folds=args.folds,
                shuffled_repeats=1,
                n_jobs=args.n_jobs,
            )
        print("timing", i, res.metric(), t.text(), flush=True)
        md.append(f"- run {i + 1}: {t.text()}; balanced accuracy {res.metric():.3f}")
    md.append("")


def v1(args: Any, md: list[str]) -> None:
    from patchatlas.celltyping import TTypeClassifier, predict_ttypes
    from patchatlas.datasets.celltyping import load_typing_data

    d = load_typing_data(PS / "v1_gouwens2020_ephys_only")
    with Timer() as t:
        res = predict_ttypes(
            d.X,
            d.labels("subclass").to_numpy(),
            level="subclass",
            estimator=TTypeClassifier(),
            n_repeats=args.repeats,
            n_folds=args.folds,
            min_cells=20,
            shuffled_repeats=1,
            reference=True,
            n_jobs=args.n_jobs,
        )
    print(res, t.text(), res.timings, flush=True)
    md += [
        "## V1 subclass from ephys (the speed target)",
        "",
        f"Gouwens et al. 2020 V1 Patch-seq: {len(d.X)} cells with IPFX features joined to the "
        f"metadata, {len(res.cells)} in the {len(res.classes)} subclasses with ≥ 20 cells "
        f"({', '.join(res.classes)}; left out: {res.dropped}); {d.X.shape[1]} scalar features "
        f"(NaNs kept: the classifier imputes in-fold). {args.repeats} × {args.folds}-fold "
        "stratified CV, identical folds for every model; shuffled labels: 1 repeat.",
        "",
        *_pred_table(res),
        "",
        f"Time: {t.text()}; n_jobs={args.n_jobs}. Summed fit+predict seconds per model: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in res.timings.items())
        + ".",
        "",
        "Confusion (row fractions, all repeats):",
        "",
        *_confusion(res),
        "",
        "Per class: "
        + "; ".join(
            f"{r['class']} recall {r['recall']:.2f} / precision {r['precision']:.2f}"
            for r in res.per_class.to_dict("records")
        )
        + ".",
        "",
        "Calibration of the classifier's confidence (pooled repeats, quintile bins): "
        + "; ".join(
            f"{r['mean_confidence']:.2f} → {r['accuracy']:.2f}"
            for r in res.calibration.to_dict("records")
        )
        + f" (AUC correct vs wrong {res.calibration.attrs['auc']:.2f}).",
        "",
    ]


def v1type(args: Any, md: list[str]) -> None:
    from patchatlas.celltyping import predict_ttypes
    from patchatlas.datasets.celltyping import load_typing_data

    d = load_typing_data(PS / "v1_gouwens2020_ephys_only")
    with Timer() as t:
        res = predict_ttypes(
            d.X,
            d.labels("type").to_numpy(),
            level="type",
            n_repeats=2,
            n_folds=args.folds,
            min_cells=20,
            shuffled_repeats=0,
            reference=True,
            n_jobs=args.n_jobs,
        )
    print(res, t.text(), flush=True)
    md += [
        "## V1 t-type from ephys",
        "",
        f"{len(res.cells)} cells in the {len(res.classes)} t-types with ≥ 20 cells "
        f"({sum(res.dropped.values())} cells of {len(res.dropped)} smaller types left out); "
        f"2 × {args.folds}-fold CV. Chance (majority) balanced accuracy = 1/{len(res.classes)}.",
        "",
        *_pred_table(res),
        "",
        f"Time: {t.text()}.",
        "",
    ]


def m1(args: Any, md: list[str]) -> None:
    from patchatlas.celltyping import predict_ttypes
    from patchatlas.datasets.celltyping import load_typing_data

    md += ["## M1 (Scala 2021): family and t-type from ephys and morphology", ""]
    e = load_typing_data(PS / "m1_scala2021", features="ephys")
    rows = []
    with Timer() as t:
        res = predict_ttypes(
            e.X,
            e.labels("family").to_numpy(),
            level="family",
            n_repeats=args.repeats,
            n_folds=args.folds,
            min_cells=20,
            reference=True,
            n_jobs=args.n_jobs,
        )
    print("m1 ephys", res, t.text(), flush=True)
    rows.append(("family, ephys, all cells", res))
    both = load_typing_data(PS / "m1_scala2021", features="ephys+morph")
    blocks = both.X.attrs["blocks"]
    fam = both.labels("family").to_numpy()
    for name, cols in (
        ("ephys", blocks["ephys"]),
        ("morphology", blocks["morphology"]),
        ("ephys + morphology", blocks["ephys"] + blocks["morphology"]),
    ):
        r = predict_ttypes(
            both.X[cols],
            fam,
            level="family",
            n_repeats=args.repeats,
            n_folds=args.folds,
            min_cells=20,
            reference=True,
            n_jobs=args.n_jobs,
        )
        print("m1 traced", name, r, flush=True)
        rows.append((f"family, {name}, traced cells", r))
    rt = predict_ttypes(
        e.X,
        e.labels("type").to_numpy(),
        level="type",
        n_repeats=2,
        n_folds=args.folds,
        min_cells=20,
        shuffled_repeats=0,
        reference=True,
        n_jobs=args.n_jobs,
    )
    rows.append(("t-type (≥ 20 cells), ephys, all cells", rt))
    md += [
        f"Ephys: {e.X.shape[1]} features of {len(e.X)} cells; traced cells with ephys and "
        f"morphology: {len(both.X)} ({len(blocks['morphology'])} morphology features; the "
        "published erratum cell 20171207_sample_1 is left out). Families with ≥ 20 cells "
        f"(left out on the traced cells: {rows[1][1].dropped}).",
        "",
        "| task | cells | classes | classifier bal. acc. (95 % CI) | macro-F1 | majority | "
        "shuffled | plain forest | classifier − forest (paired) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        s = r.summary.set_index(["model", "metric"])
        d = r.differences.set_index(["versus", "metric"])
        diff = d.loc[("reference_forest", "balanced_accuracy")]
        sh = r.metric("shuffled")
        md.append(
            f"| {name} | {len(r.cells)} | {len(r.classes)} | "
            f"{_fmt_ci(s.loc[('classifier', 'balanced_accuracy')])} | "
            f"{r.metric(metric='macro_f1'):.3f} | {r.metric('majority'):.3f} | "
            f"{'–' if np.isnan(sh) else f'{sh:.3f}'} | {r.metric('reference_forest'):.3f} | "
            f"{diff['mean']:+.3f} ({diff['ci_low']:+.3f} to {diff['ci_high']:+.3f}) |"
        )
    md += ["", f"Family from ephys, all cells: {t.text()}.", ""]


def mapping(args: Any, md: list[str]) -> None:
    from patchatlas.celltyping import cross_validate_mapping
    from patchatlas.io.expression import read_scala2021_m1

    ds = read_scala2021_m1(PS / "m1_scala2021")
    with Timer() as t:
        v = cross_validate_mapping(ds.adata, confidence_key="RNA type confidence", n_folds=5)
    print(v.agreement, t.text(), flush=True)
    md += [
        "## M1 transcriptomic mapping (nearest centroid, bootstrap confidence)",
        "",
        f"{len(v.cells)} M1 cells (1000 genes, log2 CPM with the exon reads), 5 folds: each fold "
        "mapped onto the cells of the other folds whose published `RNA type confidence` ≥ 0.7 "
        f"(reference sizes {v.provenance['reference_sizes']}); 30 markers per type, 100 "
        "bootstrap repeats on 80 % of the markers. Agreement with the published labels:",
        "",
        "| level | cells | agreement (95 % CI) | balanced accuracy (95 % CI) | classes |",
        "|---|---|---|---|---|",
    ]
    for r in v.agreement.to_dict("records"):
        md.append(
            f"| {r['level']} ({r['subset']}) | {r['n']} | {r['accuracy']:.3f} "
            f"({r['ci_low']:.3f}–{r['ci_high']:.3f}) | {r['balanced_accuracy']:.3f} "
            f"({r['balanced_ci_low']:.3f}–{r['balanced_ci_high']:.3f}) | {r['n_classes']} |"
        )
    md += ["", "Calibration (agreement per bin of mapping confidence):", ""]
    md += ["| level | confidence | cells | agreement (95 % CI) |", "|---|---|---|---|"]
    for r in v.calibration.to_dict("records"):
        md.append(
            f"| {r['level']} | {r['bin_low']:.2f}–{min(r['bin_high'], 1.0):.2f} | {r['n']} | "
            f"{r['accuracy']:.3f} ({r['ci_low']:.3f}–{r['ci_high']:.3f}) |"
        )
    cal = v.calibration.groupby("level")[["spearman", "auc"]].first()
    md += [
        "",
        "Rank correlation of bin confidence and agreement: "
        + ", ".join(f"{lv} {r['spearman']:.2f}" for lv, r in cal.iterrows())
        + "; probability that a correct call is more confident than a wrong one: "
        + ", ".join(f"{lv} {r['auc']:.2f}" for lv, r in cal.iterrows())
        + f". Time: {t.text()}.",
        "",
    ]


def qc(args: Any, md: list[str]) -> None:
    from patchatlas.celltyping import log_cpm, map_ttypes, patchseq_qc
    from patchatlas.io.expression import read_scala2021_phys_temp

    ds = read_scala2021_phys_temp(PS / "m1_scala2021_phys_temp", drop_low_quality=False)
    ad = ds.adata
    low = (ad.obs["family"] == "low quality").to_numpy()
    good = ad[~low].copy()
    m = map_ttypes(ad, good, n_bootstrap=50)  # the family each cell is scored against
    x = log_cpm(ad.X)
    q = patchseq_qc(
        x,
        list(ad.var_names),
        m.table["family"].to_numpy(),
        x[~low],
        list(ad.var_names),
        good.obs["family"].to_numpy(),
        cells=list(ad.obs_names),
    )
    sc = q.scores
    from scipy.stats import mannwhitneyu

    def auc_of(col: str, low_higher: bool) -> float:
        a, b = sc[col][low].dropna().to_numpy(), sc[col][~low].dropna().to_numpy()
        if not low_higher:
            a, b = b, a
        return float(mannwhitneyu(a, b).statistic / (len(a) * len(b)))

    md += [
        "## Patch-seq QC (normalised marker sums)",
        "",
        f"M1 phys-temp set (full transcriptome, {ad.n_obs} cells with ephys, {int(low.sum())} "
        "labelled `low quality` by the authors). Markers: 20 per family from the good cells; "
        "each cell scored against its mapped family. The low-quality cells are part of the "
        "reference for nothing (markers, medians and profiles come from the others).",
        "",
        "| cells | n | median quality | median on-type NMS | median contamination |",
        "|---|---|---|---|---|",
    ]
    for name, sel in (("low quality", low), ("the rest", ~low)):
        md.append(
            f"| {name} | {int(sel.sum())} | {sc['quality'][sel].median():.3f} | "
            f"{sc['on_type_nms'][sel].median():.3f} | {sc['contamination'][sel].median():.3f} |"
        )
    md += [
        "",
        f"AUC (rest > low quality) of the quality score {auc_of('quality', False):.2f}, "
        f"of the on-type NMS {auc_of('on_type_nms', False):.2f}; "
        f"contamination (low quality > rest) {auc_of('contamination', True):.2f}. "
        "Families of the good cells: "
        + ", ".join(f"{k} {int(v)}" for k, v in good.obs["family"].value_counts().items())
        + f"; cells without a quality score (no marker expressed): "
        f"{int(sc['quality'].isna().sum())}.",
        "",
    ]
    print(sc.groupby(low)[["quality", "on_type_nms", "contamination"]].median(), flush=True)


def cluster(args: Any, md: list[str]) -> None:
    from patchatlas.celltyping import agreement, feature_separation, find_types
    from patchatlas.datasets.celltyping import load_typing_data

    md += ["## Unsupervised types: model selection and stability", ""]
    md += [
        "| types | cells | features | types chosen (BIC, 1–20) | subsample ARI (mean, range) | "
        "clusters with Jaccard ≥ 0.75 | AMI with subclass/family | AMI with t-type | "
        "top separating features |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, src, kind, feats in (
        ("V1 e-types", "v1_gouwens2020_ephys_only", "e", "ephys"),
        ("M1 e-types", "m1_scala2021", "e", "ephys"),
        ("M1 m-types", "m1_scala2021", "m", "morph"),
        ("M1 me-types", "m1_scala2021", "me", "ephys+morph"),
    ):
        d = load_typing_data(PS / src, features=feats)
        with Timer() as t:
            r = find_types(
                d.X, kind=kind, n_resamples=args.resamples, compare=d.labels("type").to_numpy()
            )
        st = r.stability
        assert st is not None and r.agreement is not None
        sub = agreement(r.labels.to_numpy(), d.labels("subclass").to_numpy())
        sep = feature_separation(d.X.set_axis(r.labels.index), r.labels.to_numpy()).head(3)
        stable = int((st.per_cluster["jaccard_mean"] >= 0.75).sum())
        md.append(
            f"| {name} | {len(r.labels)} | {d.X.shape[1]} → {r.embedding.shape[1]} sPCA | "
            f"{r.n_types} | {st.mean_ari:.2f} ({st.ari.min():.2f}–{st.ari.max():.2f}) | "
            f"{stable} of {r.n_types} | {sub.ami:.2f} | {r.agreement.ami:.2f} | "
            + ", ".join(f"{x['feature']} ({x['epsilon2']:.2f})" for x in sep.to_dict("records"))
            + " |"
        )
        print(name, r, t.text(), flush=True)
    md += [
        "",
        f"{args.resamples} subsamples of 80 % of the cells; each refits the Gaussian mixture "
        "(full covariance) with the chosen number of types on the fixed sparse-PCA embedding. "
        "ARI: adjusted Rand index between the subsample's clustering and the full one on the "
        "same cells; Jaccard: best match per full-data type (Hennig 2007; ≥ 0.75 stable). "
        "Separating features: Kruskal–Wallis ε² across the types.",
        "",
    ]


def species(args: Any, md: list[str]) -> None:
    from patchatlas.celltyping import (
        UNCOMPARABLE,
        cross_species,
        harmonize_subclass,
        ipfx_canonical,
    )
    from patchatlas.datasets.celltyping import load_typing_data

    tr = load_typing_data(PS / "v1_gouwens2020_ephys_only")
    te = load_typing_data(PS / "human_lee2023_gaba_ephys_only")
    xtr, xte = ipfx_canonical(tr.X), ipfx_canonical(te.X)
    shared = [c for c in xtr.columns if c in xte.columns and c not in UNCOMPARABLE]
    with Timer() as t:
        r = cross_species(
            xtr[shared],
            harmonize_subclass(tr.labels("subclass").to_numpy()),
            xte[shared],
            harmonize_subclass(te.labels("subclass").to_numpy()),
            n_repeats=args.repeats,
            n_folds=args.folds,
            n_jobs=args.n_jobs,
        )
    print(r.summary, t.text(), flush=True)
    s = r.summary
    md += [
        "## Cross-species: train on mouse V1, test on human (Lee 2023)",
        "",
        f"{r.provenance['n_train']} mouse and {r.provenance['n_test']} human cells (acute and "
        f"culture) in {', '.join(r.classes)} (mouse Lamp5 + Sncg ↔ human LAMP5/PAX6/Other; "
        f"human counts {r.provenance['test_counts']}); {len(r.features)} shared features: "
        f"{', '.join(r.features)} (left out: {', '.join(UNCOMPARABLE)}, which differs by "
        "definition between the two tables).",
        "",
        "| model | balanced accuracy (95 % CI) | macro-F1 (95 % CI) |",
        "|---|---|---|",
    ]
    for m in dict.fromkeys(s["model"]):
        rr = {x["metric"]: x for x in s[s["model"] == m].to_dict("records")}
        md.append(f"| {m} | {_fmt_ci(rr['balanced_accuracy'])} | {_fmt_ci(rr['macro_f1'])} |")
    md += [
        "",
        f"Human-only: {args.repeats} × {args.folds}-fold CV on the human cells. Time: {t.text()}.",
        "",
    ]


SECTIONS = {
    "timing": timing,
    "v1": v1,
    "v1type": v1type,
    "m1": m1,
    "mapping": mapping,
    "qc": qc,
    "cluster": cluster,
    "species": species,
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--resamples", type=int, default=20)
    ap.add_argument("--timing-runs", type=int, default=1)
    ap.add_argument("--sections", default=",".join(k for k in SECTIONS if k != "timing"))
    ap.add_argument("--out", default=None, help="Markdown file for the results (default: print).")
    args = ap.parse_args()
    import patchatlas

    md = [
        f"<!-- benchmarks/celltyping.py --repeats {args.repeats} --folds {args.folds} "
        f"--n-jobs {args.n_jobs} --resamples {args.resamples} --sections {args.sections} -->",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{sys.version.split()[0]}, patchatlas {patchatlas.__version__}; load average at start "
        f"{os.getloadavg()[0]:.1f}.",
        "",
    ]
    for name in args.sections.split(","):
        SECTIONS[name.strip()](args, md)
        if args.out:
            Path(args.out).write_text("\n".join(md) + "\n", encoding="utf-8")
    if not args.out:
        print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
