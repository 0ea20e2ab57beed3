"""Run eFEL as a black-box oracle (inside .venv-ipfx; never imported by patchatlas).

Usage: python efel_runner.py IN.npz OUT.json
IN holds t_k (s), v_k (mV) and m_k = [stim_start s, stim_end s, amplitude pA] per trace.
"""

import json
import sys

import efel
import numpy as np

FEATURES = [
    "Spikecount",
    "Spikecount_stimint",
    "peak_time",
    "peak_voltage",
    "time_to_first_spike",
    "mean_frequency",
    "all_ISI_values",
    "ISI_values",
    "ISI_CV",
    "inv_first_ISI",
    "voltage_base",
    "steady_state_voltage",
    "steady_state_voltage_stimend",
    "minimum_voltage",
    "maximum_voltage",
    "sag_amplitude",
    "sag_ratio1",
    "sag_ratio2",
    "ohmic_input_resistance_vb_ssse",
    "AP_height",
    "time_to_second_spike",
    "time_to_last_spike",
    "inv_time_to_first_spike",
    "inv_second_ISI",
    "inv_third_ISI",
    "inv_fourth_ISI",
    "inv_fifth_ISI",
    "inv_last_ISI",
    "doublet_ISI",
    "AP_amplitude_from_voltagebase",
    "maximum_voltage_from_voltagebase",
    "voltage_deflection_vb_ssse",
    "min_voltage_between_spikes",
    "adaptation_index2",
    "voltage_after_stim",
    "ISI_log_slope",
]


def main(src, dst):
    d = np.load(src)
    out = []
    for k in range(len([f for f in d.files if f.startswith("m_")])):
        t, v, m = d[f"t_{k}"], d[f"v_{k}"], d[f"m_{k}"]
        trace = {
            "T": t * 1e3,
            "V": v,
            "stim_start": [m[0] * 1e3],
            "stim_end": [m[1] * 1e3],
            "stimulus_current": [m[2] * 1e-3],
        }
        r = efel.get_feature_values([trace], FEATURES, raise_warnings=False)[0]
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
