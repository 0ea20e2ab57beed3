"""Run IPFX 2.1.2 LongSquareAnalysis as a black-box oracle (inside .venv-ipfx).

Usage: python ipfx_lsa_runner.py IN.npz OUT.json
IN: per cell c: c_t (s), c_V, c_I (sweeps x samples), c_meta = [start, end, filter_khz].
"""

import json
import logging
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)

from ipfx.feature_extractor import SpikeFeatureExtractor, SpikeTrainFeatureExtractor  # noqa: E402
from ipfx.stim_features import _step_stim_amp  # noqa: E402
from ipfx.stimulus_protocol_analysis import LongSquareAnalysis  # noqa: E402
from ipfx.sweep import Sweep, SweepSet  # noqa: E402


def main(src, dst):
    d = np.load(src)
    cells = sorted({k.rsplit("_", 1)[0] for k in d.files})
    out = {}
    for c in cells:
        t, vs, cur = d[c + "_t"], d[c + "_V"], d[c + "_I"]
        start, end, filt = (float(x) for x in d[c + "_meta"])
        fs = 1.0 / (t[1] - t[0])
        ss = SweepSet(
            [
                Sweep(t, vs[k], cur[k], "CurrentClamp", fs, sweep_number=k)
                for k in range(vs.shape[0])
            ]
        )
        spx = SpikeFeatureExtractor(start=start, end=end, filter=filt)
        sptx = SpikeTrainFeatureExtractor(start, end, stim_amp_fn=_step_stim_amp)
        lsa = LongSquareAnalysis(spx, sptx, subthresh_min_amp=-100.0)
        try:
            f = lsa.analyze(ss)
        except Exception as exc:
            out[c] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        out[c] = {
            "v_baseline": float(f["v_baseline"]),
            "rheobase_i": float(f["rheobase_i"]),
            "fi_fit_slope": float(f["fi_fit_slope"]),
            "sag": float(f["sag"]),
            "vm_for_sag": float(f["vm_for_sag"]),
            "input_resistance": float(f["input_resistance"]),
            "tau": float(f["tau"]),
            "hero_amp": float(f["hero_sweep"]["stim_amp"])
            if f.get("hero_sweep") is not None
            else None,
        }
    with open(dst, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
