"""Run IPFX 2.1.2 as a black-box oracle (executed inside .venv-ipfx, never imported by patchatlas).

Usage: python ipfx_runner.py IN.npz OUT.json

IN.npz holds, for sweep k, arrays ``t_k``, ``v_k``, ``i_k`` and a float array ``meta_k`` =
[start, end, filter_khz]. OUT.json: a list with, per sweep, the per-spike columns and the sweep
features IPFX returns (NaN as null), or an ``error`` string.
"""

import json
import math
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")

from ipfx.feature_extractor import SpikeFeatureExtractor, SpikeTrainFeatureExtractor  # noqa: E402


def _clean(x):
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_clean(y) for y in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, str):
        return x
    if x is None:
        return None
    return str(x)


def main(src, dst):
    data = np.load(src)
    n = len([k for k in data.files if k.startswith("meta_")])
    out = []
    for k in range(n):
        t, v, i = data[f"t_{k}"], data[f"v_{k}"], data[f"i_{k}"]
        start, end, filt = (float(x) for x in data[f"meta_{k}"])
        filt = None if math.isnan(filt) else filt
        rec = {}
        try:
            sfx = SpikeFeatureExtractor(start=start, end=end, filter=filt)
            df = sfx.process(t, v, i)
            rec["spikes"] = {c: _clean(df[c].values) for c in df.columns}
            stx = SpikeTrainFeatureExtractor(start=start, end=end)
            feats = stx.process(t, v, i, df, extra_features=["peak_deflect", "v_baseline", "sag"])
            sw = {}
            for key, val in feats.items():
                if key == "peak_deflect":
                    sw["peak_deflect_v"] = _clean(val[0])
                    sw["peak_deflect_index"] = _clean(val[1])
                else:
                    sw[key] = _clean(val)
            rec["sweep"] = sw
        except Exception as exc:  # an oracle failure is data for the comparison
            rec["error"] = f"{type(exc).__name__}: {exc}"
        out.append(rec)
    with open(dst, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
