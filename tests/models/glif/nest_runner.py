"""Run NEST ``glif_psc`` on GLIF parameter sets (a black-box oracle, in a subprocess).

Usage: ``python nest_runner.py IN.json OUT.json``. IN holds ``dt_ms``, ``t_stop_ms``, ``amp_pA``,
``start_ms``, ``stop_ms`` and ``models`` (a list of NEST parameter dicts); OUT gets one list of
spike times (ms) per model (``{"error": ...}`` where NEST refuses the parameters). Run in its own
process: NEST keeps a global kernel and prints a banner on import.
"""

from __future__ import annotations

import json
import sys


def main(src: str, dst: str) -> None:
    import nest

    with open(src) as fh:
        job = json.load(fh)
    nest.set_verbosity("M_ERROR")
    out = []
    for params in job["models"]:
        nest.ResetKernel()
        nest.resolution = job["dt_ms"]
        try:
            neuron = nest.Create("glif_psc", params=params)
        except nest.NESTError as exc:  # NEST refuses some Allen parameters (f_v < 0)
            out.append({"error": str(exc)})
            continue
        dc = nest.Create(
            "dc_generator",
            params={"amplitude": job["amp_pA"], "start": job["start_ms"], "stop": job["stop_ms"]},
        )
        rec = nest.Create("spike_recorder")
        nest.Connect(dc, neuron, syn_spec={"delay": job["dt_ms"]})
        nest.Connect(neuron, rec)
        nest.Simulate(job["t_stop_ms"])
        out.append(sorted(float(t) for t in rec.get("events")["times"]))
    with open(dst, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
