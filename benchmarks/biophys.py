"""Biophysical models: simulator speed per backend and fitting throughput vs BluePyOpt + NEURON.

0. **f-I comparison**: the perisomatic model at the long-square amplitudes of its cell's Allen
   sweep table, spike counts beside the recorded ones (a comparison, not a pass/fail).
1. **1 s of the Allen perisomatic model** (specimen 464198958, 86 segments, a 90 pA step) on
   Arbor and on NEURON through :func:`patchatlas.models.biophys.run_batch` (the backends alone,
   no feature extraction), interleaved, best of ``--repeat``; optionally the all-active model.
2. **Evaluations per second in a fit on 2 cores**: the ten somatic conductances of the same model
   (bounds: the Allen values ÷/× 10), two 1-s long squares (70 and 150 pA, onset 0.3 s, 1.4 s
   simulated), targets measured on the Allen model itself. patchatlas: :func:`fit` (NSGA-II) with
   a 2-process :class:`~patchatlas.pipeline.biophys.PoolMap` (Arbor, batched blocks, ephys-engine
   features). Baseline: BluePyOpt ``DEAPOptimisation`` (IBEA) + NEURON with a 2-process pool, the
   same model, protocols and targets (eFEL features), at a fixed 25 µs step (as patchatlas) and
   with CVODE (BluePyOpt's default), run side by side in ``.venv-bluepyopt``
   (``bash benchmarks/setup_biophys_ref.sh``). Both pools are started and warmed before timing.

3. **CPU time per evaluation** (``--cpu-evals N``): N parameter sets (log-uniform within the
   bounds, fixed seed) evaluated one at a time in one process on each side (patchatlas
   ``Evaluator.evaluate``; BluePyOpt ``CellEvaluator.evaluate_with_lists``, fixed 25 µs and
   CVODE), timed with the process CPU clock, which the other jobs of a shared machine inflate
   far less than the wall clock. ``--skip-fit`` leaves out the f-I table and the pool runs.

Usage::

    python benchmarks/biophys.py [--repeat 3] [--generations 3] [--population 24] [--all-active]
    python benchmarks/biophys.py --repeat 1 --cpu-evals 4 --skip-fit
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
PERI_FIT = SHARED / "ephys/allen_metadata/specimen_464198958/biophys_472450023_464198958_fit.json"
PERI_SWC = SHARED / "morphology/allen_swc/Sst-IRES-Cre_Ai14-165865.03.01.01_491119181_m.swc"
AA_FIT = SHARED / "morphology/allen_swc/468193142_all_active_fit.json"
AA_SWC = SHARED / "morphology/allen_swc/Scnn1a-Tg3-Cre_Ai14-177297.06.01.01_491120155_m.swc"
MODFILES = SHARED / "models/allen_modfiles"
PERI_SWEEPS = SHARED / "ephys/allen_metadata/specimen_464198958/464198958_ephys_sweeps.json"
BPO = ROOT / ".venv-bluepyopt" / "bin" / "python"


def one_second(model, backends, repeat: int) -> dict[str, float]:
    from patchatlas.models.biophys import long_square, run_batch

    clamp = [long_square(90.0, delay_s=0.1, duration_s=0.8)]
    best = {b: float("inf") for b in backends}
    for b in backends:  # warm up: mechanisms loaded / compiled, cell built
        run_batch(model, [None], clamp, tstop_s=0.05, backend=b)
    for _ in range(repeat):
        for b in backends:
            t0 = time.perf_counter()
            run_batch(model, [None], clamp, tstop_s=1.0, backend=b)
            best[b] = min(best[b], time.perf_counter() - t0)
    return best


def f_i(peri) -> None:
    """The perisomatic model at its cell's long-square amplitudes vs the Allen sweep table."""
    from patchatlas.ephys import analyze
    from patchatlas.io.allen_models import read_allen_sweep_table

    table = read_allen_sweep_table(PERI_SWEEPS)
    ls = table[table.stimulus_name == "Long Square"]
    amps = sorted({round(float(a), 1) for a in ls.amplitude_pa})
    fi = analyze(peri.simulate_steps(amps, delay_s=1.02, duration_s=1.0, tstop_s=2.2), qc=False)
    print("f-I, perisomatic model (Arbor) vs recorded (Allen sweep table), spikes in the 1 s step:")
    print("  amplitude (pA) | model | recorded (sweeps)")
    for a, sa in zip(amps, fi.sweeps, strict=True):
        rec_n = ls[ls.amplitude_pa.round(1) == a].num_spikes.fillna(0).astype(int).tolist()
        print(f"  {a:14.0f} | {sa.n_spikes:5d} | {', '.join(map(str, rec_n))}")


def cpu_per_evaluation(ev, bounds, n: int) -> tuple[list[list[float]], float, float]:
    """N log-uniform parameter sets evaluated one at a time: (sets, CPU s and wall s per set)."""
    import numpy as np

    rng = np.random.default_rng(7)
    lo = np.log([b[0] for b in bounds.values()])
    hi = np.log([b[1] for b in bounds.values()])
    x = np.exp(rng.uniform(lo, hi, size=(n, len(lo))))
    ev.evaluate(x[:1])  # warm: the cell built, the catalogue loaded
    c0, w0 = time.process_time(), time.perf_counter()
    for row in x:
        ev.evaluate(row[None, :])
    return x.tolist(), (time.process_time() - c0) / n, (time.perf_counter() - w0) / n


def run_baseline(cfg: dict) -> dict:
    """Run the BluePyOpt worker in its own environment; its JSON answer."""
    if not BPO.exists():
        sys.exit("BluePyOpt baseline env missing: bash benchmarks/setup_biophys_ref.sh")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(cfg, fh)
    proc = subprocess.run(
        [str(BPO), str(ROOT / "benchmarks" / "_bluepyopt_worker.py"), fh.name],
        capture_output=True,
        text=True,
        check=False,
    )
    Path(fh.name).unlink()
    if proc.returncode != 0:
        sys.exit(f"BluePyOpt baseline failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--population", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--all-active", action="store_true", help="also time the all-active model")
    ap.add_argument("--no-baseline", action="store_true", help="skip BluePyOpt")
    ap.add_argument("--cpu-evals", type=int, default=0, help="CPU time per evaluation, N sets")
    ap.add_argument("--skip-fit", action="store_true", help="no f-I table, no pool runs")
    args = ap.parse_args()

    import patchatlas
    from patchatlas.models.biophys import default_bounds, fit, targets_from_ephys
    from patchatlas.pipeline.biophys import PoolMap

    print(f"load average at start: {os.getloadavg()}")
    peri = patchatlas.load_allen_model(PERI_FIT, PERI_SWC, modfiles=MODFILES)
    t = one_second(peri, ("arbor", "neuron"), args.repeat)
    print(
        f"1 s of the perisomatic model ({peri.geometry.n_segments} segments), "
        f"best of {args.repeat}:"
    )
    for b, s in t.items():
        print(f"  {b:7s} {s * 1e3:8.1f} ms")
    print(f"  NEURON / Arbor: {t['neuron'] / t['arbor']:.2f}x")
    if args.all_active:
        aa = patchatlas.load_allen_model(AA_FIT, AA_SWC, modfiles=MODFILES)
        ta = one_second(aa, ("arbor", "neuron"), 1)
        print(f"1 s of the all-active model ({aa.geometry.n_segments} segments):")
        for b, s in ta.items():
            print(f"  {b:7s} {s * 1e3:8.1f} ms")

    from patchatlas.ephys import analyze

    if not args.skip_fit:
        f_i(peri)

    # targets: the Allen model's own features at 70 and 150 pA

    rec = peri.simulate_steps([70.0, 150.0], delay_s=0.3, duration_s=1.0, tstop_s=1.4)
    targets = targets_from_ephys(analyze(rec, qc=False), amplitudes=[70.0, 150.0])
    bounds = default_bounds(peri)
    cfg = {
        "fit": str(PERI_FIT),
        "swc": str(PERI_SWC),
        "modfiles": str(MODFILES),
        "bounds": {k: list(v) for k, v in bounds.items()},
        "targets": [t.as_dict() for t in targets],
        "delay_s": 0.3,
        "tstop_s": 1.4,
        "population": args.population,
        "generations": args.generations,
        "workers": args.workers,
    }
    if args.cpu_evals:
        from patchatlas.models.biophys import Evaluator, ParameterSpec

        specs = [ParameterSpec(k, lo, hi, log=True) for k, (lo, hi) in bounds.items()]
        ev1 = Evaluator(peri, targets, specs, delay_s=0.3)
        sets, cpu, wall1 = cpu_per_evaluation(ev1, bounds, args.cpu_evals)
        print(
            f"patchatlas Evaluator (Arbor), {args.cpu_evals} evaluations one at a time: "
            f"{cpu:.3f} s CPU ({wall1:.3f} s wall) per evaluation; load {os.getloadavg()[0]:.1f}"
        )
        if not args.no_baseline:
            named = [dict(zip(bounds, row, strict=True)) for row in sets]
            base = run_baseline({**cfg, "cpu_sets": named})
            for r in base["cpu"]:
                mode = "CVODE" if r["cvode"] else "fixed 25 us"
                print(
                    f"BluePyOpt {base['bluepyopt']} + NEURON {base['neuron']} ({mode}), the same "
                    f"sets: {r['cpu_s']:.3f} s CPU ({r['wall_s']:.3f} s wall) per evaluation "
                    f"-> patchatlas {r['cpu_s'] / cpu:.1f}x in CPU time"
                )
            print(f"load average now: {os.getloadavg()}")
    if args.skip_fit:
        return
    pm = PoolMap(args.workers)
    try:
        import numpy as np

        from patchatlas.models.biophys import Evaluator, ParameterSpec

        specs = [ParameterSpec(k, lo, hi, log=True) for k, (lo, hi) in bounds.items()]
        ev = Evaluator(peri, targets, specs, delay_s=0.3)

        mid = np.array([[np.sqrt(lo * hi) for lo, hi in bounds.values()]] * args.workers)
        pm(ev, list(mid[:, None, :]))  # start and warm the pool (same evaluator key as the fit)
        t0 = time.perf_counter()
        res = fit(
            peri,
            targets,
            parameters=specs,
            generations=args.generations,
            population=args.population,
            seed=1,
            delay_s=0.3,
            batch_map=pm,
            n_blocks=args.workers,
        )
        wall = time.perf_counter() - t0
    finally:
        pm.close()
    n = res.provenance["evaluations"]
    ours = n / wall
    print(
        f"patchatlas fit (Arbor, NSGA-II, {args.workers} workers): {n} evaluations in "
        f"{wall:.1f} s = {ours:.2f} evaluations/s (total error {res.total_error:.3g} SD)"
    )
    out = {
        "one_second_s": t,
        "patchatlas": {"evaluations": n, "seconds": wall, "evals_per_s": ours},
    }
    if not args.no_baseline:
        base = run_baseline(cfg)
        out["bluepyopt"] = base
        for r in base["runs"]:
            mode = "CVODE" if r["cvode"] else "fixed 25 us"
            ratio = ours / r["evals_per_s"]
            print(
                f"BluePyOpt {base['bluepyopt']} + NEURON {base['neuron']} ({mode}, IBEA, "
                f"{args.workers} workers): {r['evaluations']} evaluations in {r['seconds']:.1f} s "
                f"= {r['evals_per_s']:.2f} evaluations/s -> patchatlas {ratio:.1f}x"
            )
    print(f"load average at end: {os.getloadavg()}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
