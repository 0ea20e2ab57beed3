"""Morphology engine vs NeuroM and the Allen code, side by side on the real SWCs, plus a
≥1,000-cell batch.

Run:  .venv/bin/python benchmarks/morphology_vs_anchors.py [--cells 1000] [--rounds 3]
          [--allen-rounds 2] [--baseline-src DIR] [--out FILE.md]

NeuroM runs in .venv-neurom (benchmarks/setup_morphology_refs.sh) through
benchmarks/neurom_reference.py, on the same files and the same 20 features + Sholl (10 µm).
The Allen code (neuron_morphology, whose feature functions skeleton_keys uses for the Gouwens
set) runs in .venv-allenmorph (benchmarks/setup_allen_refs.sh) through
benchmarks/allen_reference.py on the 3 skeleton_keys example cells; without that environment
the timings recorded in ../shared/notes/morphology.md §11 are quoted instead.

Timings are interleaved: each round runs the reference over all files, then patchatlas over
the same files (best of 3 per file), and each side keeps its best round, so slow phases of a
shared machine hit both sides alike. ``--baseline-src DIR`` adds a column timing another
checkout's ``src`` (e.g. ``git worktree add /tmp/base main``) in the same rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from patchatlas import read
from patchatlas.morphology import (
    features,
    features_table,
    sholl_frequency,
    sholl_matrix,
    tune_allocator,
)

# As `patchatlas morph ...` does for batch work (the library never changes the allocator itself).
tune_allocator()

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
NEUROM_PY = ROOT / ".venv-neurom" / "bin" / "python"
ALLEN_PY = ROOT / ".venv-allenmorph" / "bin" / "python"
# Allen skeleton_keys full Gouwens set, ms per cell (notes §11, same 2-core machine class)
ALLEN_GOUWENS_MS = {
    "740135032": 31_778,
    "606271263": 30_178,
    "694146546": 3_398,
}


def real_swcs() -> list[Path]:
    base = SHARED / "morphology"
    files = [f for f in sorted(base.rglob("*.swc")) if "marker" not in f.name]
    return [f for f in files if "neurom_edge_cases" not in str(f)]


def best_of(fn, n: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def ours_features(path: Path) -> object:
    """Read + the 20 NeuroM-convention features."""
    return features(read(path), convention="neurom")


def ours_with_sholl(path: Path) -> object:
    """Read + 20 features + Sholl frequency (10 µm)."""
    m = read(path)
    return features(m, convention="neurom"), sholl_frequency(m, step=10.0)


def run_json(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    res = json.loads(out.stdout)
    assert isinstance(res, dict)
    return res


def merge_best(best: dict[str, dict[str, object]], new: dict[str, object]) -> None:
    """Keep, per file, the fastest successful round (its values come with it)."""
    for f, r in new.items():
        assert isinstance(r, dict)
        old = best.get(f)
        if old is None or ("seconds" in r and float(r["seconds"]) < float(old.get("seconds", 1e9))):  # type: ignore[arg-type]
            best[f] = r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds vs NeuroM")
    ap.add_argument("--allen-rounds", type=int, default=2, help="interleaved rounds vs Allen")
    ap.add_argument("--baseline-src", type=Path, help="another checkout's src/ to time too")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    files = real_swcs()
    fs = [str(f) for f in files]
    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    say("# Morphology engine vs NeuroM and the Allen code")
    say()
    cmd = f".venv/bin/python benchmarks/morphology_vs_anchors.py --cells {args.cells}"
    if args.baseline_src:
        cmd += f" --baseline-src {args.baseline_src}"
    say(f"Command: `{cmd}`  ")
    say(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}; shared machine (±30 % noise). "
        f"{args.rounds} interleaved rounds (reference over all files, then patchatlas over all "
        "files, best of 3 per file); each side keeps its best round. NeuroM + Sholl: 1 run."
    )
    say(f"Load average (1 min) at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")
    say()
    # ---------------- per cell vs NeuroM, interleaved rounds
    ref = str(ROOT / "benchmarks" / "neurom_reference.py")
    worker = str(ROOT / "benchmarks" / "_morph_timing_worker.py")
    nm: dict[str, dict[str, object]] = {}
    nm_nosholl: dict[str, dict[str, object]] = {}
    ours_t: dict[str, float] = {}
    ours_s: dict[str, float] = {}
    base_t: dict[str, float] = {}
    base_pkg = ""
    have_nm = NEUROM_PY.exists()
    base_env = None
    if args.baseline_src:
        base_env = dict(os.environ, PYTHONPATH=str(args.baseline_src.resolve()))
    for _ in range(args.rounds):
        if have_nm:
            merge_best(nm_nosholl, run_json([str(NEUROM_PY), ref, "--sholl", "0", *fs]))
        if base_env is not None:
            b = run_json([sys.executable, worker, *fs], env=base_env)
            base_pkg = str(b["patchatlas"])
            for f, t in b["seconds"].items():  # type: ignore[attr-defined]
                base_t[f] = min(base_t.get(f, float("inf")), float(t))
        for f in files:
            t = best_of(lambda f=f: ours_features(f))
            ours_t[str(f)] = min(ours_t.get(str(f), float("inf")), t)
    if have_nm:
        nm = run_json([str(NEUROM_PY), ref, "--sholl", "10", *fs])  # type: ignore[assignment]
        for f in files:
            ours_s[str(f)] = best_of(lambda f=f: ours_with_sholl(f))
        ver = subprocess.run(
            [str(NEUROM_PY), "-c", "import neurom; print(neurom.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        say(f"NeuroM {ver} (MorphIO loader) in .venv-neurom.")
    else:
        say("NeuroM environment missing: run benchmarks/setup_morphology_refs.sh")
    if base_env is not None:
        say(f"Baseline: patchatlas imported from `{base_pkg}` (same rounds, same files).")
    say()
    say("## Per cell: same 20 NeuroM features (+ Sholl frequency, 10 µm), file → numbers")
    say()
    bcol = " patchatlas baseline (ms) | baseline speed-up |" if base_env else ""
    say(
        "| cell | nodes | NeuroM 20 feats (ms) | NeuroM 20 feats + Sholl (ms) "
        "| patchatlas read + 20 feats (ms) | patchatlas + Sholl (ms) | speed-up (feats) "
        f"| speed-up (+Sholl) | equal values |{bcol}"
    )
    say("|---|---|---|---|---|---|---|---|---|" + ("---|---|" if base_env else ""))
    ratios, ratios_sholl, ratios_base = [], [], []
    for f in files:
        m = read(f)
        t_feat = ours_t[str(f)]
        t_all = ours_s.get(str(f), float("nan"))
        bc = ""
        if base_env is not None:
            tb = base_t[str(f)]
            bc = f" {tb * 1e3:.1f} | "
        r = nm.get(str(f), {})
        r0 = nm_nosholl.get(str(f), {})
        if "seconds" in r and "seconds" in r0:
            a = float(r0["seconds"])  # type: ignore[arg-type]
            b = float(r["seconds"])  # type: ignore[arg-type]
            ours = features(m, convention="neurom")
            refv = r["features"]
            assert isinstance(refv, dict)
            eq = all(
                np.isclose(ours[k], v, rtol=2e-5, atol=1e-4, equal_nan=True)
                for k, v in refv.items()
            )
            ratios.append(a / t_feat)
            ratios_sholl.append(b / t_all)
            if base_env is not None:
                ratios_base.append(a / base_t[str(f)])
                bc += f"{a / base_t[str(f)]:.0f}× |"
            say(
                f"| {f.name[:40]} | {len(m)} | {a * 1e3:.0f} | {b * 1e3:.0f} | "
                f"{t_feat * 1e3:.1f} | {t_all * 1e3:.1f} | {a / t_feat:.0f}× | {b / t_all:.0f}× "
                f"| {'yes' if eq else 'NO'} |{bc}"
            )
        else:
            why = str(r.get("error", r0.get("error", "not run")))[:60]
            why = why.replace("|", "/").replace("\n", " ")
            say(
                f"| {f.name[:40]} | {len(m)} | refused: {why} | – | {t_feat * 1e3:.1f} | "
                f"{t_all * 1e3:.1f} | – | – | – |{bc + '– |' if bc else ''}"
            )
    if ratios:
        say()
        say(
            f"Speed-up over NeuroM, median (min–max): features {np.median(ratios):.0f}× "
            f"({min(ratios):.0f}–{max(ratios):.0f}×); with Sholl {np.median(ratios_sholl):.0f}× "
            f"({min(ratios_sholl):.0f}–{max(ratios_sholl):.0f}×)."
        )
        if ratios_base:
            say(
                f"Baseline checkout over NeuroM, same rounds: median {np.median(ratios_base):.0f}× "
                f"({min(ratios_base):.0f}–{max(ratios_base):.0f}×)."
            )
    say()
    # ---------------- Gouwens set vs the Allen code
    sk = SHARED / "morphology" / "skeleton_keys_example" / "upright_swcs"
    gfiles = [sk / f"{sid}.swc" for sid in ALLEN_GOUWENS_MS]
    if ALLEN_PY.exists():
        allen: dict[str, dict[str, object]] = {}
        ours_g: dict[str, float] = {}
        aref = str(ROOT / "benchmarks" / "allen_reference.py")
        for _ in range(args.allen_rounds):
            merge_best(allen, run_json([str(ALLEN_PY), aref, *map(str, gfiles)]))
            for f in gfiles:
                t = best_of(lambda f=f: features(read(f), convention="gouwens"))
                ours_g[str(f)] = min(ours_g.get(str(f), float("inf")), t)
        say(
            "## Gouwens (skeleton_keys) feature set per cell: the Allen code run side by side "
            f"({args.allen_rounds} interleaved rounds)"
        )
        say()
        say(
            "Allen: neuron_morphology's feature functions (what skeleton_keys calls) in "
            ".venv-allenmorph via benchmarks/allen_reference.py, file → numbers, every column "
            "of patchatlas' gouwens set that needs no layer-aligned input. patchatlas: "
            '`features(read(path), convention="gouwens")` (76 columns, file → numbers).'
        )
        say()
        say(
            "| cell | nodes | Allen (ms) | recorded in notes §11 (ms) | patchatlas (ms) | ratio "
            "| features compared | equal (rel 1e-6) |"
        )
        say("|---|---|---|---|---|---|---|---|")
        g_ratios = []
        for f in gfiles:
            m = read(f)
            r = allen.get(str(f), {})
            t = ours_g[str(f)]
            if "seconds" not in r:
                say(f"| {f.stem} | {len(m)} | failed: {str(r.get('error'))[:80]} | | | | | |")
                continue
            a = float(r["seconds"])  # type: ignore[arg-type]
            ours = features(m, convention="gouwens")
            refv = r["features"]
            assert isinstance(refv, dict)
            same = [k for k, v in refv.items() if k in ours and np.isclose(ours[k], v, rtol=1e-6)]
            common = [k for k in refv if k in ours]
            g_ratios.append(a / t)
            say(
                f"| {f.stem} | {len(m)} | {a * 1e3:,.0f} | {ALLEN_GOUWENS_MS[f.stem]:,} | "
                f"{t * 1e3:.1f} | {a / t:,.0f}× | {len(common)} | {len(same)} |"
            )
        if g_ratios:
            say()
            say(f"Speed-up over the Allen code: {min(g_ratios):,.0f}–{max(g_ratios):,.0f}×.")
    else:
        say("## Gouwens (skeleton_keys) feature set per cell vs the Allen code's recorded timings")
        say()
        say("(.venv-allenmorph missing: run benchmarks/setup_allen_refs.sh to time it here)")
        say()
        say(
            "| cell | nodes | Allen skeleton_keys (ms, notes §11) "
            "| patchatlas gouwens set (ms) | ratio |"
        )
        say("|---|---|---|---|---|")
        for f in gfiles:
            m = read(f)
            t = best_of(lambda m=m: features(m, convention="gouwens"))
            allen_ms = ALLEN_GOUWENS_MS[f.stem]
            say(
                f"| {f.stem} | {len(m)} | {allen_ms:,} | {t * 1e3:.1f} "
                f"| {allen_ms / (t * 1e3):.0f}× |"
            )
    say()
    # ---------------- batch
    base = [read(f) for f in files]
    reps = -(-args.cells // len(base))
    cells = (base * reps)[: args.cells]
    nodes = sum(len(c) for c in cells)
    radii = np.arange(0.0, 1500.0, 10.0)
    say(
        f"## Batch: {len(cells)} cells ({nodes / 1e6:.1f} M nodes; "
        f"the {len(base)} real cells replicated)"
    )
    say()
    say("| step | wall (s) | wall per cell (ms) | CPU per cell (ms) |")
    say("|---|---|---|---|")
    for label, fn in (
        ("neurom 20 features", lambda: features_table(cells, convention="neurom")),
        ("allen 21 features", lambda: features_table(cells, convention="allen")),
        (
            "gouwens set (no layer-aligned inputs)",
            lambda: features_table(cells, convention="gouwens"),
        ),
        ("Sholl matrix (150 radii)", lambda: sholl_matrix(cells, radii)),
    ):
        c0 = time.process_time()
        t = best_of(fn, n=1)
        cpu = time.process_time() - c0
        say(f"| {label} | {t:.2f} | {t / len(cells) * 1e3:.2f} | {cpu / len(cells) * 1e3:.2f} |")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say()
    say(f"Peak memory of the benchmark process: {rss:.0f} MB.")
    load = os.getloadavg()[0]
    say(f"Load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores.")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
