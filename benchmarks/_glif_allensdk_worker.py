"""Allen side of benchmarks/glif.py (run with .venv-allensdk/bin/python; made by
benchmarks/setup_glif_refs.sh). allensdk carries a non-commercial licence: run only.

Usage: _glif_allensdk_worker.py CONFIG AMP_pA SECONDS REPEAT → JSON on stdout:
{"best_s": float (min of REPEAT runs of GlifNeuron.run), "n_spikes": int, "dt": float}
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def main() -> None:
    from allensdk.model.glif.glif_neuron import GlifNeuron

    path, amp, seconds, repeat = (
        sys.argv[1],
        float(sys.argv[2]),
        float(sys.argv[3]),
        int(sys.argv[4]),
    )
    with open(path) as fh:
        raw = json.load(fh)
    cfg = next(iter(raw.values())) if len(raw) == 1 else raw
    neuron = GlifNeuron.from_dict(cfg)
    n = round(seconds / neuron.dt)
    stim = np.full(n, amp * 1e-12)
    best, spikes = float("inf"), 0
    for _ in range(repeat):
        t = time.perf_counter()
        out = neuron.run(stim)
        best = min(best, time.perf_counter() - t)
        spikes = len(out["interpolated_spike_times"])
    print(json.dumps({"best_s": best, "n_spikes": spikes, "dt": neuron.dt}))


if __name__ == "__main__":
    main()
