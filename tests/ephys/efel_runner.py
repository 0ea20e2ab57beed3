"""Run eFEL as a black-box oracle (inside .venv-ipfx; never imported by patchatlas).

Usage: python efel_runner.py IN.npz OUT.json
IN holds ``features`` (the eFEL names to compute), and t_k (s), v_k (mV) and
m_k = [stim_start s, stim_end s, amplitude pA] per trace.
"""

import json
import sys

import efel
import numpy as np


def main(src, dst):
    d = np.load(src)
    features = [str(f) for f in d["features"]]
    out = []
    for k in range(sum(f.startswith("m_") for f in d.files)):
        t, v, m = d[f"t_{k}"], d[f"v_{k}"], d[f"m_{k}"]
        trace = {
            "T": t * 1e3,
            "V": v,
            "stim_start": [m[0] * 1e3],
            "stim_end": [m[1] * 1e3],
            "stimulus_current": [m[2] * 1e-3],
        }
        r = efel.get_feature_values([trace], features, raise_warnings=False)[0]
        out.append(
            {
                key: None if val is None else [float(x) for x in np.atleast_1d(val)]
                for key, val in r.items()
            }
        )
    with open(dst, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
