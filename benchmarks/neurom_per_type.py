"""NeuroM features per neurite type: patchatlas vs NeuroM 4.0.6, side by side, per cell.

Run:  .venv/bin/python benchmarks/neurom_per_type.py [--rounds 3] [--out FILE.md]

Workload, per cell, file read included on both sides: the 7 features NeuroM users ask for first
(number_of_sections, number_of_bifurcations, total_length, total_area, max section branch
order, max section path distance, max_radial_distance) for each of the 4 neurite types (all,
axon, basal_dendrite, apical_dendrite) + the soma surface area. NeuroM runs it as a NeuroM user
writes it (``nm.load_morphology`` then ``nm.get(feature, m, neurite_type=...)``, 29 calls) in
.venv-neurom (benchmarks/setup_morphology_refs.sh) through benchmarks/neurom_reference.py
``--workload per-type``; patchatlas reads the file and computes
``features_by_type(morph)``: all 20 ``neurom`` features for the 4 types in one pass (a superset
of the workload). The 29 values are compared as well (rel 2e-5: MorphIO stores float32).

Timings are interleaved: each round runs NeuroM over all files (best of 3 per file), then
patchatlas over the same files (best of 3 per file); each side keeps its best round, so slow
phases of a shared machine hit both sides alike. Files: the real SWCs of ../shared/data/morphology
that NeuroM loads (the synthetic edge cases and the robustness files aside, except NeuroM's own
``Neuron.swc``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from patchatlas import read
from patchatlas.morphology import features_by_type

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
NEUROM_PY = ROOT / ".venv-neurom" / "bin" / "python"
TYPES = ("all", "axon", "basal_dendrite", "apical_dendrite")
# workload feature (NeuroM name) -> patchatlas neurom feature
WORKLOAD = {
    "number_of_sections": "number_of_sections",
    "number_of_bifurcations": "number_of_bifurcations",
    "total_length": "total_length",
    "total_area": "total_area",
    "section_branch_orders": "max_branch_order",
    "section_path_distances": "max_path_distance",
    "max_radial_distance": "max_radial_distance",
}


def files() -> list[Path]:
    base = SHARED / "morphology"
    out = [f for f in sorted(base.rglob("*.swc")) if "marker" not in f.name]
    out = [f for f in out if "robustness" not in f.parts]
    return [f for f in out if "neurom_edge_cases" not in f.parts or f.name == "Neuron.swc"]


def ours(path: Path) -> object:
    return features_by_type(read(path))


def best_of(path: Path, n: int = 3) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        ours(path)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    fs = files()
    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    say("# NeuroM features per neurite type: patchatlas vs NeuroM")
    say()
    say(f"Command: `.venv/bin/python benchmarks/neurom_per_type.py --rounds {args.rounds}`  ")
    say(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}; shared machine. Load average "
        f"(1 min) at the start: {os.getloadavg()[0]:.1f}. {args.rounds} interleaved rounds "
        "(NeuroM over all files, then patchatlas over all files, best of 3 per file); each side "
        "keeps its best round."
    )
    say()
    say(
        "Workload per cell, file read included: 7 features (number_of_sections, "
        "number_of_bifurcations, total_length, total_area, max section branch order, max "
        "section path distance, max_radial_distance) × 4 neurite types (all, axon, "
        "basal_dendrite, apical_dendrite) + soma surface area. NeuroM: `load_morphology` + 29 "
        "`nm.get` calls; patchatlas: `read` + `features_by_type` (all 20 features × 4 types "
        "in one pass)."
    )
    say()
    if not NEUROM_PY.exists():
        say(
            f"NeuroM environment missing ({NEUROM_PY}): "
            "run bash benchmarks/setup_morphology_refs.sh"
        )
        return
    nm_best: dict[str, float] = {}
    nm_vals: dict[str, dict[str, float]] = {}
    ours_best: dict[str, float] = {}
    refused: dict[str, str] = {}
    for _ in range(args.rounds):
        cmd = [str(NEUROM_PY), str(ROOT / "benchmarks" / "neurom_reference.py")]
        cmd += ["--workload", "per-type", "--repeat", "3", *map(str, fs)]
        res = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        for f, r in res.items():
            if "error" in r:
                refused[f] = str(r["error"]).splitlines()[0][:60]
                continue
            if float(r["seconds"]) < nm_best.get(f, float("inf")):
                nm_best[f] = float(r["seconds"])
                nm_vals[f] = r["values"]
        for f in fs:
            if str(f) in refused:
                continue
            ours_best[str(f)] = min(ours_best.get(str(f), float("inf")), best_of(f))
    say(f"Load average (1 min) at the end: {os.getloadavg()[0]:.1f}.")
    say()
    say(
        "| cell | nodes | NeuroM (ms) | patchatlas (ms) | speed-up "
        "| max rel. difference (29 values) |"
    )
    say("|---|---|---|---|---|---|")
    ratios = []
    for f in fs:
        key = str(f)
        if key in refused:
            continue
        m = read(f)
        table = features_by_type(m)
        worst = 0.0
        for name, v in nm_vals[key].items():
            if name == "soma_surface_area":
                o = float(table.loc["soma_surface_area", "all"])
            else:
                t, feat = name.split(".", 1)
                o = float(table.loc[WORKLOAD[feat], t])
            worst = max(worst, abs(o - v) / max(abs(v), 1e-9) if abs(o - v) > 1e-4 else 0.0)
        r = nm_best[key] / ours_best[key]
        ratios.append(r)
        say(
            f"| {f.name[:48]} | {len(m)} | {1e3 * nm_best[key]:.1f} | {1e3 * ours_best[key]:.1f} | "
            f"{r:.1f}× | {worst:.1e} |"
        )
    say()
    a = np.asarray(ratios)
    say(
        f"**{len(a)} cells: median {np.median(a):.1f}× NeuroM per cell (min {a.min():.1f}×, max "
        f"{a.max():.1f}×; geometric mean {np.exp(np.log(a).mean()):.1f}×).** Target ≥ 10×."
    )
    if refused:
        say()
        say(
            "NeuroM/MorphIO refuses (patchatlas reads them): "
            + "; ".join(f"{Path(f).name} ({e})" for f, e in refused.items())
        )
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
