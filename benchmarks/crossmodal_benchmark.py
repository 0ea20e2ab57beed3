"""Full expression → physiology benchmark on the Scala 2021 M1 set: timing and anchor values.

Usage (from the repository root)::

    .venv/bin/python benchmarks/crossmodal_benchmark.py [--repeats 5] [--folds 10] [--n-jobs 2]

Runs 5 × 10-fold stratified CV of every regime with ridge, single-cell and type-average sparse
RRR, and the baselines, on identical folds; prints wall/CPU time and the summary table, and
writes the Markdown summary to benchmarks/crossmodal_summary.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--models", default="ridge,srrr")
    args = ap.parse_args()

    from patchatlas.crossmodal import benchmark_markdown, run_benchmark
    from patchatlas.io.expression import read_scala2021_m1

    t0 = time.perf_counter()
    ds = read_scala2021_m1(SHARED / "patchseq" / "m1_scala2021")
    t_load = time.perf_counter() - t0
    c0, t1 = time.process_time(), time.perf_counter()
    rep = run_benchmark(
        ds,
        models=args.models.split(","),
        n_repeats=args.repeats,
        n_folds=args.folds,
        n_jobs=args.n_jobs,
        held_out_type=False,
    )
    wall = time.perf_counter() - t1
    cpu_main = time.process_time() - c0
    n_fits = args.repeats * args.folds * len(rep.result.specs)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"load average at end: {os.getloadavg()}")
    print(
        f"load: {t_load:.1f} s; benchmark: {wall:.1f} s wall ({cpu_main:.1f} s CPU in the main "
        f"process), {args.repeats} x {args.folds}-fold, {len(rep.result.specs)} specs, "
        f"{n_fits} fits, n_jobs={args.n_jobs}"
    )
    print(rep.summary.round(3).to_string(index=False))
    if rep.paired is not None:
        p = rep.paired
        print(f"SC - TA: {p['mean']:+.3f} [{p['ci_low']:+.3f}, {p['ci_high']:+.3f}]")
    if rep.within_type is not None:
        w = rep.within_type
        print(
            f"within-type ({w['spec']}): {w['mean']:+.3f} [{w['ci_low']:+.3f}, {w['ci_high']:+.3f}]"
        )
    (ROOT / "benchmarks" / "crossmodal_summary.md").write_text(benchmark_markdown(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
