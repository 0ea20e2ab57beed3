"""Run IPFX 2.1.2's short-square detection-parameter estimate and detection (inside .venv-ipfx).

Usage: python ipfx_ssq_runner.py IN.npz OUT.json
IN: per cell c: c_t (s), c_V, c_I (sweeps x samples), c_meta = [start, end, filter_khz].
OUT: per cell: the estimate (``estimate_adjusted_detection_parameters`` over
[start, start + 1 ms], then ``max(0.1, thresh_frac)`` as the short-square pipeline does) and
the spikes IPFX's ``SpikeFeatureExtractor`` finds in [start, end] with those parameters; with
``c_meta[3]`` = 1 also the spikes found with the default parameters.
"""

import json
import logging
import math
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)

from ipfx.feature_extractor import SpikeFeatureExtractor  # noqa: E402
from ipfx.spike_features import estimate_adjusted_detection_parameters  # noqa: E402

COLS = ("threshold_index", "peak_index", "trough_index", "upstroke", "threshold_v", "width")


def _num(x):
    x = float(x)
    return None if math.isnan(x) else x


def main(src, dst):
    d = np.load(src)
    cells = sorted({k.rsplit("_", 1)[0] for k in d.files})
    out = {}
    for c in cells:
        t, vs, cur = d[c + "_t"], d[c + "_V"], d[c + "_I"]
        start, end, filt = (float(x) for x in d[c + "_meta"][:3])
        dv, tf = estimate_adjusted_detection_parameters(
            list(vs), [t] * vs.shape[0], start, start + 0.001, filter=filt
        )
        frac = max(0.1, tf)  # python max: NaN estimate -> the floor
        spx = SpikeFeatureExtractor(
            start=start, end=end, filter=filt, dv_cutoff=float(dv), thresh_frac=float(frac)
        )
        sweeps = []
        for k in range(vs.shape[0]):
            df = spx.process(t, vs[k], cur[k])
            sweeps.append({col: [_num(x) for x in df[col]] if len(df) else [] for col in COLS})
        res = {"dv_cutoff": float(dv), "thresh_frac_estimate": _num(tf), "thresh_frac": frac}
        res["sweeps"] = sweeps
        if d[c + "_meta"].size > 3 and d[c + "_meta"][3] == 1:
            dflt = SpikeFeatureExtractor(start=start, end=end, filter=filt)
            res["default_sweeps"] = [
                {col: [_num(x) for x in df[col]] if len(df) else [] for col in COLS}
                for df in (dflt.process(t, vs[k], cur[k]) for k in range(vs.shape[0]))
            ]
        out[c] = res
    with open(dst, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
