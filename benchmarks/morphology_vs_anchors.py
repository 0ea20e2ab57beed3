"""Morphology engine vs NeuroM, side by side on the real SWCs, plus a ≥1,000-cell batch.

Run:  .venv/bin/python benchmarks/morphology_vs_anchors.py [--cells 1000] [--out FILE.md]
NeuroM runs in .venv-neurom (benchmarks/setup_morphology_refs.sh) through
benchmarks/neurom_reference.py, on the same files and the same 20 features + Sholl (10 µm).
The Allen neuron_morphology / skeleton_keys code is not run here (non-commercial licence, not
installed); their per-cell timings from ../shared/notes/morphology.md §11 are quoted instead.
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

from patchatlas.morphology import (
    features,
    features_table,
    read,
    sholl_frequency,
    sholl_matrix,
    tune_allocator,
)

# As `patchatlas morph ...` does for batch work (the library never changes the allocator itself).
tune_allocator()

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
NEUROM_PY = ROOT / ".venv-neurom" / "bin" / "python"
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    files = real_swcs()
    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    say("# Morphology engine vs NeuroM (and the Allen code's recorded timings)")
    say()
    say(f"Command: `.venv/bin/python benchmarks/morphology_vs_anchors.py --cells {args.cells}`  ")
    say(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}; shared machine (±30 % noise); "
        "best of 3 per cell for patchatlas, 1 run for NeuroM (its Sholl takes seconds)."
    )
    say(f"Load average (1 min) at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")
    say()
    # ---------------- NeuroM side
    nm: dict[str, dict[str, object]] = {}
    nm_nosholl: dict[str, dict[str, object]] = {}
    if NEUROM_PY.exists():
        ref = ROOT / "benchmarks" / "neurom_reference.py"
        fs = [str(f) for f in files]
        out = subprocess.run(
            [str(NEUROM_PY), str(ref), "--sholl", "10", *fs],
            capture_output=True,
            text=True,
            check=True,
        )
        nm = json.loads(out.stdout)
        out = subprocess.run(
            [str(NEUROM_PY), str(ref), "--sholl", "0", "--repeat", "3", *fs],
            capture_output=True,
            text=True,
            check=True,
        )
        nm_nosholl = json.loads(out.stdout)
        ver = subprocess.run(
            [str(NEUROM_PY), "-c", "import neurom; print(neurom.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        say(f"NeuroM {ver} (MorphIO loader) in .venv-neurom.")
    else:
        say("NeuroM environment missing: run benchmarks/setup_morphology_refs.sh")
    say()
    say("## Per cell: same 20 NeuroM features (+ Sholl frequency, 10 µm), file → numbers")
    say()
    say(
        "| cell | nodes | NeuroM 20 feats (ms) | NeuroM 20 feats + Sholl (ms) "
        "| patchatlas read + 20 feats (ms) | patchatlas + Sholl (ms) | speed-up (feats) "
        "| speed-up (+Sholl) | equal values |"
    )
    say("|---|---|---|---|---|---|---|---|---|")
    ratios, ratios_sholl = [], []
    for f in files:
        m = read(f)
        t_feat = best_of(lambda f=f: ours_features(f))
        t_all = best_of(lambda f=f: ours_with_sholl(f))
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
            say(
                f"| {f.name[:40]} | {len(m)} | {a * 1e3:.0f} | {b * 1e3:.0f} | "
                f"{t_feat * 1e3:.1f} | {t_all * 1e3:.1f} | {a / t_feat:.0f}× | {b / t_all:.0f}× "
                f"| {'yes' if eq else 'NO'} |"
            )
        else:
            why = str(r.get("error", "not run"))[:60].replace("|", "/").replace("\n", " ")
            say(
                f"| {f.name[:40]} | {len(m)} | refused: {why} | – | {t_feat * 1e3:.1f} | "
                f"{t_all * 1e3:.1f} | – | – | – |"
            )
    if ratios:
        say()
        say(
            f"Speed-up over NeuroM, median (min–max): features {np.median(ratios):.0f}× "
            f"({min(ratios):.0f}–{max(ratios):.0f}×); with Sholl {np.median(ratios_sholl):.0f}× "
            f"({min(ratios_sholl):.0f}–{max(ratios_sholl):.0f}×)."
        )
    say()
    # ---------------- Gouwens set vs Allen recorded timings
    say("## Gouwens (skeleton_keys) feature set per cell vs the Allen code's recorded timings")
    say()
    say(
        "| cell | nodes | Allen skeleton_keys (ms, notes §11) "
        "| patchatlas gouwens set (ms) | ratio |"
    )
    say("|---|---|---|---|---|")
    for sid, allen_ms in ALLEN_GOUWENS_MS.items():
        f = SHARED / "morphology" / "skeleton_keys_example" / "upright_swcs" / f"{sid}.swc"
        m = read(f)
        t = best_of(lambda m=m: features(m, convention="gouwens"))
        say(f"| {sid} | {len(m)} | {allen_ms:,} | {t * 1e3:.1f} | {allen_ms / (t * 1e3):.0f}× |")
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
