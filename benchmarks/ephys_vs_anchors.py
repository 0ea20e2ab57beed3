"""patchatlas vs IPFX 2.1.2 vs eFEL: per-sweep spike + train features and long-square cells.

    bash benchmarks/setup_reference_envs.sh          # once: .venv-ipfx with ipfx + efel
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ephys_vs_anchors.py [--reps 5] [--out FILE]

All three run on the same sweeps in one run: patchatlas in this process, IPFX and eFEL in a
worker process of .venv-ipfx (benchmarks/_anchor_worker.py) that times its own calls. Methods
are interleaved per sweep and repetition; each sweep's time is the minimum over the repetitions
and the table reports the mean over sweeps of those minima (ms per sweep), as in the notes
(../shared/notes/ephys.md §10). Data: the synthetic 50 kHz cell (benchmarks/ephys_synth.py,
19 sweeps x 100 k samples) and two real 20 kHz pyABF cells cropped to their first 0.5 s step
(1.1 s, 22 k samples per sweep). IPFX is given the same filter cutoff as patchatlas.

patchatlas runs its default path: the compiled kernel when numba is installed (the `ephys`
extra). `PATCHATLAS_NUMBA=0` measures the numpy fallback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
IPFX_PY = ROOT / ".venv-ipfx" / "bin" / "python"
CACHE = Path(tempfile.gettempdir()) / "patchatlas_ephys_synth.npz"


def load_sets() -> dict[str, dict[str, np.ndarray]]:
    import patchatlas

    sets: dict[str, dict[str, np.ndarray]] = {}
    if CACHE.exists():
        z = np.load(CACHE)
        t, v, i = z["t"], z["V"], z["I"]
    else:
        from ephys_synth import simulate

        t, v, i = simulate()
        np.savez(CACHE, t=t, V=v, I=i)
    sets["synthetic_50k"] = {"t": t, "V": v, "I": i, "meta": np.array([0.5, 1.5, 10.0])}
    for name, fname in (
        ("fsi_20k", "2019_07_24_0055_fsi.abf"),
        ("pyr_20k", "17o05028_ic_steps.abf"),
    ):
        rec = patchatlas.read(SHARED / "ephys" / "abf_pyabf" / fname)
        n = round(1.1 * rec[0].sampling_rate)
        s0 = rec[0].stimulus
        sets[name] = {
            "t": rec[0].t[:n].copy(),
            "V": np.stack([np.asarray(sw.v[:n], dtype=np.float64) for sw in rec]),
            "I": np.stack([np.asarray(sw.i[:n], dtype=np.float64) for sw in rec]),
            "meta": np.array([s0.start, s0.end, 5.0]),
        }
    return sets


def to_recording(name: str, d: dict[str, np.ndarray]):
    from patchatlas.core.recording import Recording, Stimulus, StimulusKind, Sweep

    start, end, _ = d["meta"]
    fs = 1.0 / (d["t"][1] - d["t"][0])
    sweeps = []
    for k in range(d["V"].shape[0]):
        amp = float(d["I"][k][int((start + end) / 2 * fs)])
        stim = Stimulus(StimulusKind.LONG_SQUARE, amp, float(start), float(end))
        sweeps.append(Sweep(d["V"][k], d["I"][k], fs, number=k, stimulus=stim))
    return Recording(sweeps, cell_id=name)


class Worker:
    def __init__(self) -> None:
        self.p = subprocess.Popen(
            [str(IPFX_PY), str(ROOT / "benchmarks" / "_anchor_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )

    def ask(self, **cmd: object) -> dict:
        assert self.p.stdin and self.p.stdout
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        out = json.loads(self.p.stdout.readline())
        if "error" in out:
            raise RuntimeError(f"{cmd}: {out['error']}")
        return out

    def close(self) -> None:
        if self.p.stdin:
            self.p.stdin.close()
        self.p.wait(timeout=30)


def import_time(reps: int = 7) -> float:
    code = (
        "import time; t=time.perf_counter(); import patchatlas.ephys; print(time.perf_counter()-t)"
    )
    vals = []
    for _ in range(reps):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        vals.append(float(r.stdout))
    return min(vals)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cell-reps", type=int, default=3)
    ap.add_argument("--no-efel", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from patchatlas.ephys import cell_features
    from patchatlas.ephys.train import analyze_sweep, analyze_sweeps

    sets = load_sets()
    recs = {name: to_recording(name, d) for name, d in sets.items()}
    worker = Worker()
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "sets.npz"
        np.savez(npz, **{f"{s}_{k}": v for s, d in sets.items() for k, v in d.items()})
        worker.ask(op="load", path=str(npz))
        # warm-up (imports, caches) for every method
        for name, rec in recs.items():
            analyze_sweep(rec[-1])
            worker.ask(op="ipfx_sweep", set=name, k=len(rec) - 1)
            if not args.no_efel:
                worker.ask(op="efel_sweep", set=name, k=len(rec) - 1)
        rows = []
        for name, rec in recs.items():
            n = len(rec)
            best = {m: [float("inf")] * n for m in ("patchatlas", "ipfx", "efel")}
            cpu = {m: [float("inf")] * n for m in best}
            counts = {m: [0] * n for m in best}
            for _ in range(args.reps):
                for k in range(n):
                    t0, c0 = time.perf_counter(), time.process_time()
                    sp, _f = analyze_sweep(rec[k])
                    best["patchatlas"][k] = min(best["patchatlas"][k], time.perf_counter() - t0)
                    cpu["patchatlas"][k] = min(cpu["patchatlas"][k], time.process_time() - c0)
                    counts["patchatlas"][k] = sp.n_rows
                    r = worker.ask(op="ipfx_sweep", set=name, k=k)
                    best["ipfx"][k] = min(best["ipfx"][k], r["s"])
                    cpu["ipfx"][k] = min(cpu["ipfx"][k], r["cpu"])
                    counts["ipfx"][k] = r["n"]
                    if not args.no_efel:
                        r = worker.ask(op="efel_sweep", set=name, k=k)
                        best["efel"][k] = min(best["efel"][k], r["s"])
                        cpu["efel"][k] = min(cpu["efel"][k], r["cpu"])
                        counts["efel"][k] = r["n"]
            # batched: every sweep of the recording in one analyze_sweeps call (spike detection
            # in one pass); per-sweep time = recording time / number of sweeps
            sweeps = list(rec)
            bat_best = bat_cpu = float("inf")
            bat_spikes = 0
            for _ in range(args.reps):
                t0, c0 = time.perf_counter(), time.process_time()
                res = analyze_sweeps(sweeps)
                bat_best = min(bat_best, time.perf_counter() - t0)
                bat_cpu = min(bat_cpu, time.process_time() - c0)
                bat_spikes = sum(x[0].n_rows for x in res if not isinstance(x, Exception))
            cell_best = {"patchatlas": float("inf"), "ipfx": float("inf")}
            cell_cpu = dict(cell_best)
            for _ in range(args.cell_reps):
                t0, c0 = time.perf_counter(), time.process_time()
                cell_features(rec)
                cell_best["patchatlas"] = min(cell_best["patchatlas"], time.perf_counter() - t0)
                cell_cpu["patchatlas"] = min(cell_cpu["patchatlas"], time.process_time() - c0)
                r = worker.ask(op="ipfx_cell", set=name)
                cell_best["ipfx"] = min(cell_best["ipfx"], r["s"])
                cell_cpu["ipfx"] = min(cell_cpu["ipfx"], r["cpu"])
            row = {
                "set": name,
                "sweeps": n,
                "samples": int(sets[name]["t"].size),
                "spikes_patchatlas": int(sum(counts["patchatlas"])),
                "spikes_ipfx": int(sum(counts["ipfx"])),
                "spikes_efel": int(sum(counts["efel"])),
                "ms_patchatlas": 1e3 * statistics.fmean(best["patchatlas"]),
                "ms_ipfx": 1e3 * statistics.fmean(best["ipfx"]),
                "ms_efel": 1e3 * statistics.fmean(best["efel"])
                if not args.no_efel
                else float("nan"),
                "spikes_batched": int(bat_spikes),
                "ms_batched": 1e3 * bat_best / n,
                "cpu_ms_batched": 1e3 * bat_cpu / n,
                "cell_ms_patchatlas": 1e3 * cell_best["patchatlas"],
                "cell_ms_ipfx": 1e3 * cell_best["ipfx"],
                "cpu_ms_patchatlas": 1e3 * statistics.fmean(cpu["patchatlas"]),
                "cpu_ms_ipfx": 1e3 * statistics.fmean(cpu["ipfx"]),
                "cpu_ms_efel": 1e3 * statistics.fmean(cpu["efel"])
                if not args.no_efel
                else float("nan"),
                "cell_cpu_ms_patchatlas": 1e3 * cell_cpu["patchatlas"],
                "cell_cpu_ms_ipfx": 1e3 * cell_cpu["ipfx"],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    worker.close()
    imp = import_time()
    head = (
        "| set | sweeps x samples | spikes pa / ipfx / efel | patchatlas ms/sweep "
        "| IPFX ms/sweep | eFEL ms/sweep | IPFX / pa | eFEL / pa | cell pa ms | cell IPFX ms "
        "| cell IPFX / pa |"
    )
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; reps={args.reps} "
        f"(min per sweep, mean over sweeps), cell reps={args.cell_reps} (min)",
        "",
        head,
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        spk = f"{r['spikes_patchatlas']} / {r['spikes_ipfx']} / {r['spikes_efel']}"
        pa, ip, ef = r["ms_patchatlas"], r["ms_ipfx"], r["ms_efel"]
        cpa, cip = r["cell_ms_patchatlas"], r["cell_ms_ipfx"]
        lines.append(
            f"| {r['set']} | {r['sweeps']} x {r['samples']} | {spk} | {pa:.2f} | {ip:.2f} "
            f"| {ef:.2f} | {ip / pa:.1f}x | {ef / pa:.1f}x | {cpa:.1f} | {cip:.1f} "
            f"| {cip / cpa:.1f}x |"
        )
    lines += [
        "",
        "CPU time (time.process_time of each process; min per sweep, mean over sweeps):",
        "",
        "| set | patchatlas cpu ms/sweep | IPFX cpu ms/sweep | eFEL cpu ms/sweep | IPFX / pa "
        "| eFEL / pa | cell pa cpu ms | cell IPFX cpu ms | cell IPFX / pa |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pa, ip, ef = r["cpu_ms_patchatlas"], r["cpu_ms_ipfx"], r["cpu_ms_efel"]
        cpa, cip = r["cell_cpu_ms_patchatlas"], r["cell_cpu_ms_ipfx"]
        lines.append(
            f"| {r['set']} | {pa:.2f} | {ip:.2f} | {ef:.2f} | {ip / pa:.1f}x | {ef / pa:.1f}x "
            f"| {cpa:.1f} | {cip:.1f} | {cip / cpa:.1f}x |"
        )
    lines += [
        "",
        "Batched (`analyze_sweeps` over all sweeps of the set in one call, spike detection in "
        "one pass; ms/sweep = min over reps of the call's time / number of sweeps):",
        "",
        "| set | spikes | batched ms/sweep (wall) | batched cpu ms/sweep | IPFX / batched (wall) "
        "| IPFX / batched (cpu) | eFEL / batched (wall) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, bc = r["ms_batched"], r["cpu_ms_batched"]
        lines.append(
            f"| {r['set']} | {r['spikes_batched']} | {b:.2f} | {bc:.2f} | {r['ms_ipfx'] / b:.1f}x "
            f"| {r['cpu_ms_ipfx'] / bc:.1f}x | {r['ms_efel'] / b:.1f}x |"
        )
    lines += ["", f"`import patchatlas.ephys`: {imp * 1e3:.0f} ms (min of 7 fresh interpreters)"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
