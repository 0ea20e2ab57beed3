"""Build a small NWB 1 file in the Allen Cell Types Database download layout from real traces.

No Allen ``*_ephys.nwb`` file can be downloaded here, so tests (and the read-speed benchmark)
write one with h5py, following the layout documented in ``../shared/notes/ephys.md``:
``acquisition/timeseries/Sweep_N`` (response), ``stimulus/presentation/Sweep_N`` (stimulus with
``aibs_stimulus_name``, ``aibs_stimulus_amplitude_pa``, ``gain``, ``initial_access_resistance``,
``seal``), ``epochs/Sweep_N`` and ``epochs/Experiment_N`` (index ranges with links to the series),
``analysis/spike_times/Sweep_N`` and ``general/generated_by`` (alternating key/value strings with
the pipeline ``version``).

The traces are real: current-clamp steps and a ramp from pyABF's sample ABF files, a short
square from ``File_axon_6.abf`` and a voltage-clamp test pulse from a MIES NWB file. The sweep
numbers, stimulus names, codes and amplitudes come from the Allen sweep table of specimen
464198958 (``allen_metadata/specimen_464198958/464198958_ephys_sweeps.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

import patchatlas


@dataclass
class AllenSweep:
    """What the fixture writes for one sweep (library units), to compare with the reader."""

    number: int
    name: str
    amplitude_pa: float  # Allen's aibs_stimulus_amplitude_pa (from the sweep table)
    v: np.ndarray  # mV (current clamp: response; voltage clamp: command)
    i: np.ndarray  # pA (current clamp: command; voltage clamp: response)
    rate: float
    voltage_clamp: bool
    valid_end: int | None  # epochs/Experiment_N end index, when it cuts the sweep
    spike_times: np.ndarray
    source: str  # where the trace came from, e.g. "17o05028_ic_steps.abf sweep 3"


def _spike_times(v: np.ndarray, rate: float) -> np.ndarray:
    up = np.flatnonzero((v[:-1] < 0.0) & (v[1:] >= 0.0)) + 1
    return up / rate


def allen_sweeps(ephys: Path) -> list[AllenSweep]:
    """Real traces paired with real Allen sweep-table rows."""
    table = json.loads(
        (ephys / "allen_metadata/specimen_464198958/464198958_ephys_sweeps.json").read_text()
    )
    rows = sorted(table, key=lambda r: r["sweep_number"])
    long_sq = [r for r in rows if r["stimulus_name"] == "Long Square"][:6]
    ramp = next(r for r in rows if r["stimulus_name"] == "Ramp")
    short = next(r for r in rows if r["stimulus_name"] == "Short Square")
    test = next(r for r in rows if r["stimulus_name"] == "Test" and r["stimulus_units"] == "Volts")

    out: list[AllenSweep] = []
    steps = patchatlas.read(ephys / "abf_pyabf/17o05028_ic_steps.abf")
    for k, row in enumerate(long_sq):
        s = steps.sweeps[k]
        v = np.asarray(s.v, dtype=np.float32)
        out.append(
            AllenSweep(
                row["sweep_number"],
                "Long Square",
                row["stimulus_absolute_amplitude"],
                v,
                np.asarray(s.i),
                s.sampling_rate,
                False,
                None,
                _spike_times(v, s.sampling_rate),
                f"17o05028_ic_steps.abf sweep {k}",
            )
        )
    r = patchatlas.read(ephys / "abf_pyabf/17o05027_ic_ramp.abf").sweeps[1]
    v = np.asarray(r.v, dtype=np.float32)
    # The ramp stops at 0.6 s, like an Allen ramp ended after the cell fired enough.
    cut = int(0.6 * r.sampling_rate)
    out.append(
        AllenSweep(
            ramp["sweep_number"],
            "Ramp",
            ramp["stimulus_absolute_amplitude"],
            v,
            np.asarray(r.i),
            r.sampling_rate,
            False,
            cut,
            _spike_times(v[:cut], r.sampling_rate),
            "17o05027_ic_ramp.abf sweep 1",
        )
    )
    sq = patchatlas.read(ephys / "abf_pyabf/File_axon_6.abf").sweeps[0]
    v = np.asarray(sq.v, dtype=np.float32)
    out.append(
        AllenSweep(
            short["sweep_number"],
            "Short Square",
            short["stimulus_absolute_amplitude"],
            v,
            np.asarray(sq.i),
            sq.sampling_rate,
            False,
            None,
            _spike_times(v, sq.sampling_rate),
            "File_axon_6.abf sweep 0",
        )
    )
    vc = patchatlas.read(ephys / "nwb_mies/Sst-IRES-CreAi14-395722.01.01.01.nwb").sweeps[0]
    out.append(
        AllenSweep(
            test["sweep_number"],
            "Test",
            test["stimulus_absolute_amplitude"],
            np.asarray(vc.v),
            np.asarray(vc.i),
            vc.sampling_rate,
            True,
            None,
            np.empty(0),
            "Sst-IRES-CreAi14-395722.01.01.01.nwb sweep 0",
        )
    )
    return sorted(out, key=lambda s: s.number)


def write_allen_nwb1(path: Path, sweeps: list[AllenSweep], *, version: str = "1.1") -> Path:
    """Write ``sweeps`` in the Allen NWB 1 layout.

    ``version >= 1.1``: data are stored in mV / pA with ``conversion`` 1e-3 / 1e-12 (so
    ``data x conversion`` is SI). Older versions: data are stored in SI (V, A) while the
    ``conversion`` attributes still say 1e-3 / 1e-12 (the old pipeline's wrong attributes).
    """
    major, minor = (int(x) for x in version.split(".")[:2])
    new = (major, minor) >= (1, 1)
    with h5py.File(path, "w") as f:
        f.create_dataset("nwb_version", data=np.bytes_("NWB-1.0.5"))
        f.create_dataset("identifier", data=np.bytes_("Sst-IRES-Cre;Ai14-165865.03.01.01"))
        f.create_dataset("session_start_time", data=np.bytes_("2015-01-22T10:00:00"))
        f.create_dataset("session_description", data=np.bytes_("patchatlas test fixture"))
        gen = f.create_group("general")
        gen.create_dataset(
            "generated_by",
            data=np.array([b"software", b"AIBS ephys pipeline", b"version", version.encode()]),
        )
        gen.create_dataset("institution", data=np.bytes_("Allen Institute for Brain Science"))
        subj = gen.create_group("subject")
        subj.create_dataset("species", data=np.bytes_("Mus musculus"))
        acq = f.create_group("acquisition/timeseries")
        stim = f.create_group("stimulus/presentation")
        epochs = f.create_group("epochs")
        spikes = f.create_group("analysis/spike_times")
        for s in sweeps:
            key = f"Sweep_{s.number}"
            if s.voltage_clamp:
                resp_vals, resp_conv, resp_unit = s.i, 1e-12, "Amps"
                stim_vals, stim_conv, stim_unit = s.v, 1e-3, "Volts"
            else:
                resp_vals, resp_conv, resp_unit = s.v, 1e-3, "Volts"
                stim_vals, stim_conv, stim_unit = s.i, 1e-12, "Amps"
            n = resp_vals.shape[0]
            for grp, vals, conv, unit in (
                (acq.create_group(key), resp_vals, resp_conv, resp_unit),
                (stim.create_group(key), stim_vals, stim_conv, stim_unit),
            ):
                stored = vals if new else (vals * conv).astype(vals.dtype)
                d = grp.create_dataset("data", data=stored)
                d.attrs["conversion"] = conv
                d.attrs["unit"] = unit
                st = grp.create_dataset("starting_time", data=0.0)
                st.attrs["rate"] = s.rate
                st.attrs["unit"] = "Seconds"
                grp.create_dataset("num_samples", data=n)
                grp.attrs["neurodata_type"] = "TimeSeries"
            sg = stim[key]
            sg.create_dataset("aibs_stimulus_name", data=np.bytes_(s.name))
            sg.create_dataset("aibs_stimulus_amplitude_pa", data=s.amplitude_pa)
            sg.create_dataset("gain", data=1.0)
            sg.create_dataset("initial_access_resistance", data=12.5)
            sg.create_dataset("seal", data=2.1)
            ep = epochs.create_group(key)
            for sub, target in (
                ("stimulus", f"/stimulus/presentation/{key}"),
                ("response", f"/acquisition/timeseries/{key}"),
            ):
                g = ep.create_group(sub)
                g.create_dataset("idx_start", data=0)
                g.create_dataset("count", data=n)
                g["timeseries"] = h5py.SoftLink(target)
            # Experiment epoch: starts after the first 5 % (test pulse), ends where data are valid
            exp = epochs.create_group(f"Experiment_{s.number}")
            e0 = n // 20
            e1 = s.valid_end if s.valid_end is not None else n
            for sub, target in (
                ("stimulus", f"/stimulus/presentation/{key}"),
                ("response", f"/acquisition/timeseries/{key}"),
            ):
                g = exp.create_group(sub)
                g.create_dataset("idx_start", data=e0)
                g.create_dataset("count", data=e1 - e0)
                g["timeseries"] = h5py.SoftLink(target)
            if not s.voltage_clamp:
                spikes.create_dataset(key, data=s.spike_times)
    return path
