"""Run NEST ``glif_psc`` on GLIF parameter sets (a black-box oracle, in a subprocess).

Usage: ``python nest_runner.py IN.json OUT.json``. IN holds ``dt_ms``, ``t_stop_ms``, ``amps_pA``
(DC amplitudes), ``start_ms``, ``stop_ms`` and ``models`` (a list of NEST parameter dicts); OUT
gets, per model, one list of spike times (ms) per amplitude (``{"error": ...}`` where NEST
refuses the parameters). Run in its own
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
        per_amp: list[list[float]] | dict[str, str] = []
        for amp in job["amps_pA"]:
            trains = _run(nest, job, params, amp)
            if isinstance(trains, dict):
                per_amp = trains
                break
            per_amp.append(trains)
        out.append(per_amp)
    with open(dst, "w") as fh:
        json.dump(out, fh)


def _run(nest, job, params, amp):  # type: ignore[no-untyped-def]
    if True:
        nest.ResetKernel()
        nest.resolution = job["dt_ms"]
        try:
            neuron = nest.Create("glif_psc", params=params)
        except nest.NESTError as exc:  # NEST refuses some Allen parameters (f_v < 0)
            return {"error": str(exc)}
        dc = nest.Create(
            "dc_generator",
            params={"amplitude": amp, "start": job["start_ms"], "stop": job["stop_ms"]},
        )
        rec = nest.Create("spike_recorder")
        nest.Connect(dc, neuron, syn_spec={"delay": job["dt_ms"]})
        nest.Connect(neuron, rec)
        nest.Simulate(job["t_stop_ms"])
        return sorted(float(t) for t in rec.get("events")["times"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
