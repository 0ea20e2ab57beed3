"""GLIF speed: simulation against the Allen SDK, batched simulation, and a batch fit.

Run: ``python benchmarks/glif.py [--cells 200] [--workers 2] [--repeat 7]``
(the Allen side needs ``bash benchmarks/setup_glif_refs.sh``; ``--no-allensdk`` skips it).

1. **Simulation**: 1 s of Allen GLIF5 (566283540) and GLIF1 (486557295) at their 20 kHz
   (``dt`` 50 µs), 300 pA step; patchatlas numba (exact and Euler), the NumPy path, and
   ``allensdk.model.glif.GlifNeuron.run`` in its own NumPy-1 environment, min of N runs each,
   in the same run. Ratio = allensdk / patchatlas per simulated step.
2. **Batched simulation**: :func:`patchatlas.models.glif.simulate_many`, 10,000 GLIF5 parameter
   sets × 1 s (numba threads).
3. **Batch fit**: ``--cells`` synthetic cells (:func:`synthetic_recording`, ground truth GLIF5
   with R, C, Θ∞ and the after-spike currents drawn ±20 % around a reference cell; 28.6 s of
   recording each: 9 long squares, 5 short squares, Noise 1 and Noise 2 twice), each fitted at
   all five levels (:func:`patchatlas.models.glif.fit`), ``--workers`` processes. Reports wall
   time, CPU per cell (the fit alone; the synthetic generation is timed apart), the projection
   to 1,000 cells × 5 levels on 2 cores (mean fit CPU × 1,000 / 2), and the recovery summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
CONFIGS = {
    "GLIF5": SHARED / "ephys/allen_metadata/glif_models/566283540_neuron_config.json",
    "GLIF1": SHARED / "ephys/allen_metadata/glif_models/486557295_neuron_config.json",
}
ALLEN_PY = ROOT / ".venv-allensdk" / "bin" / "python"


def best_of(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def simulation(repeat: int, allensdk: bool) -> list[dict]:
    from patchatlas.io import read_glif_config
    from patchatlas.models.glif import GlifModel
    from patchatlas.models.glif import _backend as B

    rows = []
    dt, amp = 5e-5, 300.0
    stim = np.full(20000, amp)
    for label, path in CONFIGS.items():
        m = GlifModel.from_allen_config(read_glif_config(path))
        m.simulate(stim, dt)  # compile / load the kernel
        row: dict = {"model": label, "steps": stim.size}
        for name, backend, method in (
            ("numba_exact", "numba", "exact"),
            ("numba_euler", "numba", "euler"),
            ("numpy_exact", "numpy", "exact"),
        ):
            with B.use(backend):
                row[name + "_s"] = best_of(lambda: m.simulate(stim, dt, method=method), repeat)  # noqa: B023
                row[name + "_spikes"] = m.simulate(stim, dt, method=method).n_spikes
        if allensdk and ALLEN_PY.exists():
            out = subprocess.run(
                [
                    str(ALLEN_PY),
                    str(ROOT / "benchmarks/_glif_allensdk_worker.py"),
                    str(path),
                    str(amp),
                    "1.0",
                    str(max(3, repeat // 2)),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            ref = json.loads(out.stdout.strip().splitlines()[-1])
            row["allensdk_s"] = ref["best_s"]
            row["allensdk_spikes"] = ref["n_spikes"]
            row["speedup_vs_allensdk"] = ref["best_s"] / row["numba_euler_s"]
        rows.append(row)
    return rows


def batched(n: int = 10_000) -> dict:
    from patchatlas.io import read_glif_config
    from patchatlas.models.glif import GlifModel, simulate_many

    base = GlifModel.from_allen_config(read_glif_config(CONFIGS["GLIF5"])).parameters
    rng = np.random.default_rng(0)
    params = [base.with_(R=base.R * f, coeff_th_inf=g) for f, g in rng.uniform(0.8, 1.2, (n, 2))]
    stim = np.full(20000, 300.0)
    simulate_many(params[:2], stim, 5e-5)
    t = time.perf_counter()
    out = simulate_many(params, stim, 5e-5)
    wall = time.perf_counter() - t
    return {
        "n": n,
        "wall_s": wall,
        "per_sim_us": wall / n * 1e6,
        "mean_spikes": float(np.mean([len(x) for x in out])),
    }


REFERENCE = {
    "level": 5,
    "El": -70.0,
    "R": 150.0,
    "C": 120.0,
    "th_inf": 22.0,
    "spike_cut": 3e-3,
    "reset_fraction": 0.6,
    "reset_add": 4.0,
    "th_spike_amp": 3.0,
    "th_spike_decay": 50.0,
    "asc_amp": (-40.0, -120.0),
    "asc_k": (10.0, 100.0),
    "a_v": 5.0,
    "b_v": 30.0,
}


def _fit_one(seed: int) -> dict:
    warnings.simplefilter("ignore")
    from patchatlas.models.glif import GlifModel, GlifParameters, fit, synthetic_recording

    rng = np.random.default_rng(seed)
    j = rng.uniform(0.8, 1.2, 5)
    truth = GlifParameters(
        **{
            **REFERENCE,
            "R": REFERENCE["R"] * j[0],
            "C": REFERENCE["C"] * j[1],
            "th_inf": REFERENCE["th_inf"] * j[2],
            "asc_amp": (REFERENCE["asc_amp"][0] * j[3], REFERENCE["asc_amp"][1] * j[4]),
        }
    )
    c0 = time.process_time()
    rec = synthetic_recording(GlifModel(truth), seed=seed)
    c1 = time.process_time()
    res = fit(rec)
    c2 = time.process_time()
    out = {"seed": seed, "gen_cpu_s": c1 - c0, "fit_cpu_s": c2 - c1, "levels": sorted(res.models)}
    for lv, m in res.models.items():
        p = m.parameters
        out[f"L{lv}_R_err"] = p.R / truth.R - 1
        out[f"L{lv}_C_err"] = p.C / truth.C - 1
        out[f"L{lv}_th_err"] = p.threshold / truth.threshold - 1
        out[f"L{lv}_ev_ratio"] = res.score(lv, "ev_ratio_10ms")
        out[f"L{lv}_count_rel"] = res.score(lv, "count_relative")
    return out


def batch_fit(cells: int, workers: int) -> dict:
    t = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(_fit_one, range(cells)))
    else:
        rows = [_fit_one(s) for s in range(cells)]
    wall = time.perf_counter() - t
    fit_cpu = np.array([r["fit_cpu_s"] for r in rows])
    gen_cpu = np.array([r["gen_cpu_s"] for r in rows])
    summary = {
        "cells": cells,
        "workers": workers,
        "wall_s": wall,
        "fit_cpu_per_cell_s": float(fit_cpu.mean()),
        "gen_cpu_per_cell_s": float(gen_cpu.mean()),
        "all_five_levels": int(sum(r["levels"] == [1, 2, 3, 4, 5] for r in rows)),
        "projected_1000_cells_2_cores_min": float(fit_cpu.mean() * 1000 / 2 / 60),
        "projected_from_wall_min": float(wall / cells * 1000 * workers / 2 / 60),
    }
    for lv in range(1, 6):
        for k in ("R_err", "C_err", "th_err", "ev_ratio", "count_rel"):
            vals = np.array([r.get(f"L{lv}_{k}", np.nan) for r in rows], dtype=float)
            if k.endswith("_err"):
                summary[f"L{lv}_{k}_median_abs"] = float(np.nanmedian(np.abs(vals)))
            else:
                summary[f"L{lv}_{k}_median"] = float(np.nanmedian(vals))
    return summary


REAL = [
    "abf_pyabf/171116sh_0018.abf",
    "abf_pyabf/17o05027_ic_ramp.abf",
    "abf_pyabf/17o05028_ic_steps.abf",
    "abf_pyabf/18711001.abf",
    "abf_pyabf/190619B_0003.abf",
    "abf_pyabf/2019_07_24_0055_fsi.abf",
    "abf_pyabf/2020_03_02_0000.abf",
    "abf_pyabf/File_axon_5.abf",
    "abf_pyabf/File_axon_6.abf",
    "abf_hippocampus_rat_ca1/97509008.abf",
]


def real_cells() -> list[dict]:
    """Every real step-protocol cell: GLIF1–5 vs a plain LIF on held-out sweeps (the level
    reported as "best" is chosen on the training sweeps' EV(10 ms))."""
    import patchatlas
    from patchatlas.errors import PatchAtlasError
    from patchatlas.models.glif import BASELINE, fit

    rows = []
    for rel in REAL:
        row: dict = {"cell": rel}
        try:
            rec = patchatlas.read(SHARED / "ephys" / rel)
            c = time.process_time()
            res = fit(rec, on_unidentifiable="skip")
            row["fit_cpu_s"] = time.process_time() - c
        except PatchAtlasError as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            continue
        best = max(res.models, key=lambda lv: res.score(lv, "ev_10ms", "train"))
        row.update(
            levels=sorted(res.models),
            skipped=sorted(res.skipped),
            test_sweeps=len(res.test_sweeps),
            best=best,
            spikes=res.score(best, "n_spikes_data"),
            best_count=res.score(best, "count_relative"),
            best_ev10=res.score(best, "ev_10ms"),
            best_gamma=res.score(best, "gamma_4ms"),
            lif_count=res.score(BASELINE, "count_relative"),
            lif_ev10=res.score(BASELINE, "ev_10ms"),
            lif_gamma=res.score(BASELINE, "gamma_4ms"),
            per_level={
                lv: (res.score(lv, "count_relative"), res.score(lv, "ev_10ms"))
                for lv in sorted(res.models)
            },
        )
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-allensdk", action="store_true")
    ap.add_argument("--skip-fit", action="store_true")
    ap.add_argument("--real-only", action="store_true", help="only the real-cell comparison")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    print(f"# {platform.platform()} · {platform.python_version()} · load {os.getloadavg()}")
    if args.real_only:
        rows = real_cells()
        for r in rows:
            if "error" in r:
                print(f"{r['cell']}: not fitted: {r['error']}")
                continue
            levels = " ".join(f"G{lv} {c:.2f}/{e:.2f}" for lv, (c, e) in r["per_level"].items())
            print(
                f"{r['cell']}: {r['test_sweeps']} held-out sweeps, {r['spikes']:.0f} spikes; "
                f"best on training GLIF{r['best']}: count error {r['best_count']:.2f} vs LIF "
                f"{r['lif_count']:.2f}, EV(10 ms) {r['best_ev10']:.2f} vs {r['lif_ev10']:.2f}, "
                f"Γ {r['best_gamma']:.2f} vs {r['lif_gamma']:.2f} ({r['fit_cpu_s']:.1f} s CPU); "
                f"per level count/EV: {levels}"
                + (f"; skipped {r['skipped']}" if r["skipped"] else "")
            )
        print(json.dumps(rows, default=str), file=sys.stderr)
        return
    sim = simulation(args.repeat, not args.no_allensdk)
    for r in sim:
        ns = r["numba_exact_s"] / r["steps"] * 1e9
        line = (
            f"{r['model']}: numba exact {r['numba_exact_s'] * 1e3:.3f} ms ({ns:.1f} ns/step), "
            f"euler {r['numba_euler_s'] * 1e3:.3f} ms, numpy {r['numpy_exact_s'] * 1e3:.2f} ms; "
            f"spikes {r['numba_exact_spikes']}/{r['numba_euler_spikes']}"
        )
        if "allensdk_s" in r:
            line += (
                f"; allensdk {r['allensdk_s'] * 1e3:.1f} ms ({r['allensdk_spikes']} spikes) = "
                f"{r['speedup_vs_allensdk']:.0f}x"
            )
        print(line)
    b = batched()
    print(
        f"simulate_many: {b['n']} × 1 s GLIF5 in {b['wall_s']:.2f} s "
        f"= {b['per_sim_us']:.0f} µs per simulation"
    )
    result = {"simulation": sim, "batched": b}
    if not args.skip_fit:
        f = batch_fit(args.cells, args.workers)
        print(
            f"batch fit: {f['cells']} cells × 5 levels, {f['workers']} workers, "
            f"{f['wall_s']:.0f} s wall; fit CPU {f['fit_cpu_per_cell_s']:.2f} s/cell "
            f"(synthetic generation {f['gen_cpu_per_cell_s']:.2f} s); all five levels fitted in "
            f"{f['all_five_levels']} cells"
        )
        print(
            f"projected 1,000 cells × 5 levels on 2 cores: "
            f"{f['projected_1000_cells_2_cores_min']:.1f} min from CPU time "
            f"({f['projected_from_wall_min']:.1f} min from this run's wall clock)"
        )
        print(
            f"ground truth (GLIF5) recovered by the GLIF5 fit: median |rel. error| R "
            f"{f['L5_R_err_median_abs']:.3f}, C {f['L5_C_err_median_abs']:.3f}, "
            f"Θ∞ {f['L5_th_err_median_abs']:.3f}"
        )
        for lv in range(1, 6):
            print(
                f"  GLIF{lv} on held-out Noise 2: median EV ratio (10 ms) "
                f"{f[f'L{lv}_ev_ratio_median']:.3f}, spike-count error "
                f"{f[f'L{lv}_count_rel_median']:.3f}"
            )
        result["batch_fit"] = f
    print(json.dumps(result, default=float), file=sys.stderr)


if __name__ == "__main__":
    main()
