"""Compile and cache cost of the numba spike-detection kernel (issue 11, item 8).

    PYTHONPATH=src .venv/bin/python benchmarks/numba_compile.py [--out FILE]

Runs fresh Python processes, one after the other, against one numba cache directory
(``NUMBA_CACHE_DIR``, a new temporary folder, so the package's own ``__pycache__`` is untouched):

1. **cold**: empty cache. The first analysis of a sweep (read-only time axis, as
   :class:`~patchatlas.core.recording.Sweep` gives) compiles the kernel; then the same sweep
   given as writable arrays, as float32 arrays, as non-contiguous arrays, with a current trace,
   and with the robust profile: each of these used to compile a new specialisation.
2. **cached**: a second process on the same cache (what every later process pays).
3. **cached, variants first**: a third process that starts with the writable arrays.

Each step's wall time is printed (s), with the number of compiled specialisations of each
kernel function at the end (1 each when the inputs are normalised). Where
:func:`patchatlas.ephys.warm_up` exists, the cached process also times it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time, warnings
T0 = time.perf_counter()
import numpy as np
from patchatlas.core.recording import Stimulus, StimulusKind, Sweep
from patchatlas.ephys.spikes import detect_spikes
from patchatlas.ephys.train import analyze_sweep
out = {"import": time.perf_counter() - T0}
warnings.simplefilter("ignore")

fs = 20e3
rng = np.random.default_rng(0)
t = np.arange(int(1.0 * fs)) / fs
v = -70.0 + rng.normal(0, 0.05, t.size)
for t0 in 0.2 + 0.03 * np.arange(15):
    x = (t - t0) / 0.0004
    v += 90.0 * np.exp(-(x**2)) * (x > -6)
    v -= 10.0 * np.exp(-np.maximum(t - t0 - 0.001, 0) / 0.004) * (t > t0 + 0.001)
i = np.where((t > 0.1) & (t < 0.7), 200.0, 0.0)
v.flags.writeable = False
sweep = Sweep(v, None, fs, number=0, stimulus=Stimulus(StimulusKind.LONG_SQUARE, 200.0, 0.1, 0.7))

def step(name, fn):
    a = time.perf_counter()
    r = fn()
    out[name] = time.perf_counter() - a
    return r

order = sys.argv[1].split(",")
tw, vw = np.array(t), np.array(v)
both = np.stack([np.array(v), np.array(v)], axis=1)
steps = {
    "warm_up": lambda: __import__("patchatlas.ephys", fromlist=["warm_up"]).warm_up(),
    "sweep_readonly": lambda: analyze_sweep(sweep),
    "detect_writable": lambda: detect_spikes(tw, vw, start=0.1, end=0.7),
    "detect_float32": lambda: detect_spikes(tw.astype(np.float32), vw.astype(np.float32),
                                            start=0.1, end=0.7),
    "detect_noncontiguous": lambda: detect_spikes(np.stack([tw, tw], 1)[:, 0], both[:, 0],
                                                  start=0.1, end=0.7),
    "detect_with_current": lambda: detect_spikes(tw, vw, start=0.1, end=0.7, i=i),
    "detect_robust": lambda: detect_spikes(tw, vw, start=0.1, end=0.7, profile="robust"),
    "sweep_again": lambda: analyze_sweep(sweep),
}
for name in order:
    if name == "warm_up":
        import patchatlas.ephys as pe
        if not hasattr(pe, "warm_up"):
            continue
    r = step(name, steps[name])
    if name == "warm_up":
        out["warm_up_backend"] = str(r)
nb = sys.modules.get("patchatlas.ephys._kernel_nb")
if nb is not None:
    out["signatures"] = {f: len(getattr(nb, f).signatures)
                         for f in ("core", "assemble", "sweep_features")}
out["total"] = time.perf_counter() - T0
print(json.dumps(out))
"""

VARIANTS = (
    "detect_writable,detect_float32,detect_noncontiguous,detect_with_current,detect_robust,"
    "sweep_again"
)


def run(cache: str, order: str) -> dict[str, object]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, OMP_NUM_THREADS="1")
    res = subprocess.run(
        [sys.executable, "-c", CHILD, order], env=env, capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    out: dict[str, object] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="patchatlas-numba-") as cache:
        results = {
            "cold": run(cache, "sweep_readonly," + VARIANTS),
            "cached": run(cache, "warm_up,sweep_readonly," + VARIANTS),
            "cached_variants_first": run(cache, VARIANTS + ",sweep_readonly"),
        }
    for name, r in results.items():
        print(f"## {name}")
        for k, x in r.items():
            print(f"  {k:24s} {x:.3f}" if isinstance(x, float) else f"  {k:24s} {x}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
