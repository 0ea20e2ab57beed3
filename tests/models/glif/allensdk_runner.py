"""Run the Allen SDK's GLIF simulator on neuron_config files (a black-box oracle).

Usage (with ``.venv-allensdk/bin/python``): ``allensdk_runner.py IN.npz OUT.json``. IN holds
``configs`` (file paths, a JSON string) and ``stim_<k>`` (A per sample at each config's dt);
OUT gets, per config and stimulus, the interpolated spike times (s) and the voltage and threshold
(V relative to E_L, NaN as null). allensdk carries a non-commercial licence: it is only run here.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np


def main(src: str, dst: str) -> None:
    from allensdk.model.glif.glif_neuron import GlifNeuron

    data = np.load(src)
    configs = json.loads(str(data["configs"]))
    stims = [
        data[k]
        for k in sorted((k for k in data.files if k.startswith("stim_")), key=lambda k: int(k[5:]))
    ]
    out = []
    for path in configs:
        with open(path) as fh:
            raw = json.load(fh)
        cfg = next(iter(raw.values())) if len(raw) == 1 else raw
        runs = []
        for stim in stims:
            res = GlifNeuron.from_dict(cfg).run(stim)
            clean = lambda a: [None if not math.isfinite(x) else float(x) for x in a]  # noqa: E731
            runs.append(
                {
                    "spike_times": [float(t) for t in res["interpolated_spike_times"]],
                    "voltage": clean(res["voltage"]),
                    "threshold": clean(res["threshold"]),
                }
            )
        out.append(runs)
    with open(dst, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
