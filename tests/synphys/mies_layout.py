"""Write a small multipatch experiment in the MIES NWB 2 layout (one series per headstage per
sweep), from real Allen averaged-PSP traces, for the reader tests.

The layout is the one MIES writes and the Allen Synaptic Physiology raw files use:
``/acquisition/data_<sweep:05d>_AD<k>`` (``CurrentClampSeries``: ``data`` with ``conversion`` and
``unit``, ``starting_time`` with ``rate``, an ``electrode`` link, a ``sweep_number``
attribute) and ``/stimulus/presentation/data_<sweep:05d>_DA<k>`` (the command). The presynaptic
headstage gets a square current pulse and a spike; the postsynaptic headstages get the real
averaged PSP (V, baseline 0) placed 1 ms after the spike, on a -70 mV baseline with its own
noise level (the trace's pre-PSP samples, tiled).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

RATE = 20_000.0


def _series(group: h5py.Group, name: str, kind: str, data: np.ndarray, unit: str, conv: float,
            start: float, sweep: int, hs: int) -> None:  # fmt: skip
    g = group.create_group(name)
    g.attrs["neurodata_type"] = kind
    g.attrs["namespace"] = "core"
    g.attrs["sweep_number"] = np.uint32(sweep)
    g.attrs["stimulus_description"] = "PulseTrain_DA_0"
    ds = g.create_dataset("data", data=(data / conv).astype(np.float32))
    ds.attrs["conversion"] = np.float32(conv)
    ds.attrs["unit"] = unit
    ds.attrs["resolution"] = -1.0
    st = g.create_dataset("starting_time", data=start)
    st.attrs["rate"] = RATE
    st.attrs["unit"] = "seconds"
    g["electrode"] = h5py.SoftLink(f"/general/intracellular_ephys/electrode_{hs}")


def write_mies_experiment(path: Path, psp_files: list[Path], *, n_sweeps: int = 14,
                          orphan: bool = True) -> Path:  # fmt: skip
    """Write the file; headstage 0 stimulated, 1..len(psp_files) postsynaptic, plus a headstage
    without a cell (listed in the sidecar ``<stem>.cells.json``) when ``orphan``."""
    rng = np.random.default_rng(0)
    psps = []
    for f in psp_files:
        doc = json.loads(f.read_text())
        y = np.asarray(doc["input"]["data"], dtype=np.float64)
        dt = float(doc["input"]["dt"])
        if dt != 1.0 / RATE:  # resample to 20 kHz
            t = np.arange(y.size) * dt
            y = np.interp(np.arange(0, t[-1], 1.0 / RATE), t, y)
        psps.append(y)
    n = int(0.4 * RATE)
    pulse_at = 0.2
    heads = 1 + len(psps) + (1 if orphan else 0)
    with h5py.File(path, "w") as h5:
        h5.attrs["nwb_version"] = "2.2.4"
        h5.create_dataset("session_description", data="patchatlas test: MIES multipatch layout")
        ie = h5.create_group("general/intracellular_ephys")
        for hs in range(heads):
            e = ie.create_group(f"electrode_{hs}")
            e.attrs["neurodata_type"] = "IntracellularElectrode"
            e.create_dataset("description", data=f"Headstage {hs}")
        acq = h5.create_group("acquisition")
        pres = h5.create_group("stimulus/presentation")
        for sweep in range(n_sweeps):
            start = 10.0 * sweep
            # presynaptic: a 2 ms 1.5 nA pulse and a spike 0.8 ms into it
            cmd = np.zeros(n)
            j = int(pulse_at * RATE)
            cmd[j : j + 40] = 1500.0
            v = -70.0 + rng.normal(0, 0.05, n)
            s = np.maximum(np.arange(n) / RATE - (pulse_at + 0.8e-3), 0.0)
            v += 220 * (1 - np.exp(-s / 1e-4)) ** 3 * np.exp(-s / 5e-4)
            _series(acq, f"data_{sweep:05d}_AD0", "CurrentClampSeries", v * 1e-3, "volts", 1e-3,
                    start, sweep, 0)  # fmt: skip
            _series(pres, f"data_{sweep:05d}_DA0", "CurrentClampStimulusSeries", cmd * 1e-12,
                    "amperes", 1e-12, start, sweep, 0)  # fmt: skip
            for k, y in enumerate(psps, start=1):
                base = y[: int(0.008 * RATE)]
                noise = np.resize(base - base.mean(), n)
                post = -70e-3 + noise + rng.normal(0, 2e-5, n)
                # the averaged PSP's onset sits ~11 ms into its trace; place it 1 ms after the
                # spike
                j0 = int((pulse_at + 0.8e-3 + 1e-3 - 0.0114) * RATE)
                seg = y[: max(0, min(y.size, n - j0))]
                post[j0 : j0 + seg.size] += seg - base.mean()
                _series(acq, f"data_{sweep:05d}_AD{k}", "CurrentClampSeries", post, "volts",
                        1e-3, start, sweep, k)  # fmt: skip
                _series(pres, f"data_{sweep:05d}_DA{k}", "CurrentClampStimulusSeries",
                        np.zeros(n), "amperes", 1e-12, start, sweep, k)  # fmt: skip
            if orphan:
                hs = heads - 1
                _series(
                    acq,
                    f"data_{sweep:05d}_AD{hs}",
                    "CurrentClampSeries",
                    -70e-3 + rng.normal(0, 5e-5, n),
                    "volts",
                    1e-3,
                    start,
                    sweep,
                    hs,
                )
    cells = {str(k): {"cell_class": "pyr" if k == 0 else "pv", "position_um": [30.0 * k, 0, 40]}
             for k in range(1 + len(psps))}  # fmt: skip
    sidecar = {"name": path.stem, "species": "mouse", "cells": cells,
               "calls": [{"pre": "0", "post": "1", "connected": True, "synapse_type": "ex",
                          "source": "manual"}]}  # fmt: skip
    path.with_suffix(".cells.json").write_text(json.dumps(sidecar))
    return path
