"""Timing worker for the reference tools (runs inside .venv-ipfx; never imported by patchatlas).

Reads JSON commands from stdin, one per line, answers one JSON line each:
  {"op": "load", "path": NPZ}                      -> {"ok": true}
  {"op": "ipfx_sweep", "set": S, "k": K}           -> {"s": seconds, "cpu": s, "n": spikes}
  {"op": "efel_sweep", "set": S, "k": K}           -> {"s": seconds, "cpu": s, "n": spikes}
  {"op": "ipfx_cell", "set": S}                    -> {"s": seconds, "cpu": s}

"s" is wall-clock (time.perf_counter), "cpu" this process's CPU time (time.process_time).
NPZ holds, per set S: S_t, S_V (sweeps x samples), S_I, S_meta = [start, end, filter_khz].
"""

import json
import sys
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")
import logging  # noqa: E402

logging.disable(logging.CRITICAL)

from ipfx.feature_extractor import SpikeFeatureExtractor, SpikeTrainFeatureExtractor  # noqa: E402

EFEL_FEATURES = [
    "Spikecount",
    "Spikecount_stimint",
    "mean_frequency",
    "time_to_first_spike",
    "AP_begin_voltage",
    "AP_amplitude",
    "AP_height",
    "peak_voltage",
    "AP_duration_half_width",
    "spike_half_width",
    "AP_width",
    "AHP_depth_abs",
    "min_AHP_values",
    "AP_peak_upstroke",
    "AP_peak_downstroke",
    "AP_rise_rate",
    "AP_fall_rate",
    "ISI_CV",
    "all_ISI_values",
    "inv_first_ISI",
    "adaptation_index2",
    "burst_number",
    "doublet_ISI",
    "voltage_base",
    "steady_state_voltage",
    "voltage_deflection",
    "sag_ratio1",
    "sag_amplitude",
    "ohmic_input_resistance_vb_ssse",
    "time_constant",
    "minimum_voltage",
    "maximum_voltage",
    "AP1_amp",
    "APlast_amp",
    "mean_AP_amplitude",
    "depol_block_bool",
]

DATA = {}


def _sweep(s, k):
    t = DATA[s + "_t"]
    return t, DATA[s + "_V"][k], DATA[s + "_I"][k], DATA[s + "_meta"]


def ipfx_sweep(s, k):
    t, v, i, (start, end, filt) = _sweep(s, k)
    t0, c0 = time.perf_counter(), time.process_time()
    sfx = SpikeFeatureExtractor(start=start, end=end, filter=filt)
    df = sfx.process(t, v, i)
    stx = SpikeTrainFeatureExtractor(start=start, end=end)
    stx.process(t, v, i, df, extra_features=["peak_deflect", "v_baseline", "sag"])
    return time.perf_counter() - t0, time.process_time() - c0, len(df)


def efel_sweep(s, k):
    import efel

    t, v, _i, (start, end, _) = _sweep(s, k)
    trace = {"T": t * 1e3, "V": v, "stim_start": [start * 1e3], "stim_end": [end * 1e3]}
    t0, c0 = time.perf_counter(), time.process_time()
    res = efel.get_feature_values([trace], EFEL_FEATURES, raise_warnings=False)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    n = res[0].get("Spikecount_stimint")
    return dt, dc, int(n[0]) if n is not None and len(n) else 0


def ipfx_cell(s):
    from ipfx.stim_features import _step_stim_amp
    from ipfx.stimulus_protocol_analysis import LongSquareAnalysis
    from ipfx.sweep import Sweep, SweepSet

    t = DATA[s + "_t"]
    start, end, filt = DATA[s + "_meta"]
    fs = 1.0 / (t[1] - t[0])
    sweeps = [
        Sweep(t, DATA[s + "_V"][k], DATA[s + "_I"][k], "CurrentClamp", fs, sweep_number=k)
        for k in range(DATA[s + "_V"].shape[0])
    ]
    ss = SweepSet(sweeps)
    t0, c0 = time.perf_counter(), time.process_time()
    spx = SpikeFeatureExtractor(start=start, end=end, filter=filt)
    sptx = SpikeTrainFeatureExtractor(start, end, stim_amp_fn=_step_stim_amp)
    lsa = LongSquareAnalysis(spx, sptx, subthresh_min_amp=-100.0)
    lsa.analyze(ss)
    return time.perf_counter() - t0, time.process_time() - c0


def main():
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "load":
                DATA.clear()
                DATA.update(dict(np.load(cmd["path"])))
                out = {"ok": True}
            elif op == "ipfx_sweep":
                s, c, n = ipfx_sweep(cmd["set"], cmd["k"])
                out = {"s": s, "cpu": c, "n": n}
            elif op == "efel_sweep":
                s, c, n = efel_sweep(cmd["set"], cmd["k"])
                out = {"s": s, "cpu": c, "n": n}
            elif op == "ipfx_cell":
                s, c = ipfx_cell(cmd["set"])
                out = {"s": s, "cpu": c}
            else:
                out = {"error": f"unknown op {op}"}
        except Exception as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
