"""Real files from other labs (../shared/data/ephys/robustness): read correctly or refused clearly.

Each file stands for a class (see that folder's MANIFEST.md). The expected outcome of each file
is written down here from its MANIFEST and from what pyabf shows (clamp mode, channel roles,
which output carries the command); the values themselves (sweep count, sweep lengths, traces,
command waveforms and step amplitudes) are computed from pyabf at test time. The readers know
nothing of these file names: the class-level rules are also tested on synthetic headers and
recordings (tests/io/test_plausibility.py).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import patchatlas
from patchatlas.core.recording import ClampMode
from patchatlas.errors import ImplausibleDataError, ParameterError, ReadError


@pytest.fixture(scope="module")
def robust(ephys_data: Path) -> Path:
    return ephys_data / "robustness"


def _pyabf(path: Path) -> Any:
    import pyabf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyabf's own stimulus-file warning
        return pyabf.ABF(str(path))


def _factor(unit: str, quantity: str) -> float:
    u = unit.replace("\x00", "").strip()
    table = {
        "voltage": {"mV": 1.0, "V": 1e3},
        "current": {"pA": 1.0, "nA": 1e3, "A": 1e12},
    }[quantity]
    return table[u]


# file -> (clamp mode, ADC input of the recorded trace (v in current clamp, i in voltage
# clamp), DAC output of the command or None when the file does not give one, ADC of the
# recorded current kept beside a current-clamp command)
READS: dict[str, tuple[str, int, int | None, int | None]] = {
    # current clamp; the command is on DAC1 (nA) and ADC0 records the membrane current
    "18425108_abf1.abf": ("current_clamp", 1, 1, 0),
    # ADC0 "stim" (V) is a stimulus monitor, ADC1 "VmRK" (mV) the membrane voltage
    "File_axon_3.abf": ("current_clamp", 1, 0, None),
    # ABF1 without a usable DAC / epoch section: the command is unknown
    "130618-1-12.abf": ("voltage_clamp", 0, None, None),
    "invalidDate-abf1.abf": ("voltage_clamp", 0, None, None),
    # NUL-padded unit strings, no usable DAC section either
    "2018-11-25 abf1 de novo.abf": ("voltage_clamp", 0, None, None),
    # variable-length (event-triggered) sweeps; the command is the holding level
    "2020_06_16_0000.abf": ("voltage_clamp", 0, 0, None),
    # the command comes from the ATF stimulus file beside it
    "171116sh_0015.abf": ("voltage_clamp", 0, 0, None),
}
# file -> (words of the refusal, the check / contradiction)
REFUSED = {
    # ADC and DAC both in pA: a current command and no membrane-voltage input
    "18807005.abf": "no input is a membrane voltage",
    "opto_aps_bad_units.abf": "no input is a membrane voltage",
    # a current labelled A holding -5.4 ... -3.0: -5e12 pA
    "2018_12_09_pCLAMP11_0001.abf": "current_scale",
}


def test_every_abf_of_the_folder_has_an_expected_outcome(robust: Path) -> None:
    assert {p.name for p in robust.glob("*.abf")} == set(READS) | set(REFUSED)


def _command(abf: Any, dac: int, sweep: int, n: int) -> np.ndarray:
    """pyabf's command waveform of output ``dac`` (its ``sweepC`` for that channel)."""
    import pyabf.stimulus

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = np.asarray(pyabf.stimulus.Stimulus(abf, dac).stimulusWaveform(sweep), dtype=float)
    return w[:n]


def _from_file(abf: Any, dac: int) -> bool:
    """Whether pyabf's header says output ``dac`` plays an external stimulus file."""
    return abf.abfVersion["major"] == 2 and abf._dacSection.nWaveformSource[dac] == 2


@pytest.mark.parametrize("name", sorted(READS))
def test_reads_as_pyabf_shows(robust: Path, name: str) -> None:
    mode, rec_ch, dac, irec_ch = READS[name]
    path = robust / name
    abf = _pyabf(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no dependency warning leaks out of the reader
        rec = patchatlas.read(path)
    assert len(rec) == abf.sweepCount
    assert rec.metadata["channel_roles"]["source"] == "header"
    for k, s in enumerate(rec):
        abf.setSweep(k, channel=rec_ch)
        unit = abf.adcUnits[rec_ch]
        assert s.clamp_mode is ClampMode(mode)
        assert s.n_samples == len(abf.sweepY)  # variable-length sweeps keep their length
        recorded = s.v if mode == "current_clamp" else s.i
        assert recorded is not None
        qty = "voltage" if mode == "current_clamp" else "current"
        np.testing.assert_allclose(recorded, abf.sweepY * _factor(unit, qty), rtol=1e-6)
        command = s.i if mode == "current_clamp" else s.v
        assert command is not None
        if dac is None:
            assert np.isnan(command).all()  # unknown, and said so (below)
        elif _from_file(abf, dac):
            # pyabf cannot locate the file the header names (.abf); the .atf beside it is read,
            # scaled as Clampex plays it: file value x fDACFileScale + fDACFileOffset
            import pyabf

            atf = pyabf.ATF(str(robust / "sine sweep magnitude 20.atf"))
            d = abf._dacSection
            want = atf.sweepY[: s.n_samples] * d.fDACFileScale[dac] + d.fDACFileOffset[dac]
            np.testing.assert_allclose(command, want, rtol=1e-6)
            assert rec.metadata["stimulus_file"].endswith(".atf")
        else:
            cq = "current" if mode == "current_clamp" else "voltage"
            want = _command(abf, dac, k, s.n_samples) * _factor(abf.dacUnits[dac], cq)
            np.testing.assert_allclose(command, want, rtol=1e-6)
        if irec_ch is not None:
            abf.setSweep(k, channel=irec_ch)
            want_i = abf.sweepY * _factor(abf.adcUnits[irec_ch], "current")
            np.testing.assert_allclose(s.i_recorded, want_i, rtol=1e-6)
    checks = {f.check for f in rec.plausibility}
    if dac is None:
        assert "command_unavailable" in checks
    assert all(str(path) in f.message for f in rec.plausibility)
    assert all(f.severity == "warning" for f in rec.plausibility)


def test_current_clamp_step_amplitudes(robust: Path) -> None:
    """18425108: the -0.05 nA step of DAC1 is a -50 pA long square (pyabf's epoch level); the
    pulse train of that ABF1 epoch table is not drawn by pyabf, and the reader says so."""
    abf = _pyabf(robust / "18425108_abf1.abf")
    abf.setSweep(0, channel=1)
    levels = {lv for lv in abf.sweepEpochs.levels if lv == lv and lv != 0}
    rec = patchatlas.read(robust / "18425108_abf1.abf")
    st = rec[0].stimulus
    assert st.amplitude == pytest.approx(min(levels) * 1e3)
    assert st.kind.value == "long_square"
    assert "command_incomplete" in {f.check for f in rec.plausibility}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_contradictions_are_refused_naming_file_and_check(robust: Path, name: str) -> None:
    path = robust / name
    with pytest.raises(ImplausibleDataError) as err:
        patchatlas.read(path)
    msg = str(err.value)
    assert err.value.path == path and str(path) in msg
    assert REFUSED[name] in msg
    assert "channels=" in msg or "units=" in msg  # what to do about it


def test_no_voltage_channel_read_with_an_override(robust: Path) -> None:
    """The user says ADC0 holds the membrane voltage (in mV): read, and the values are
    judged: this one is not a membrane potential, so reading it needs plausibility='warn'."""
    path = robust / "18807005.abf"
    with pytest.raises(ImplausibleDataError, match="membrane_voltage_range"):
        patchatlas.read(path, channels={"v": 0}, units={"v": "mV"})
    rec = patchatlas.read(path, channels={"v": 0}, units={"v": "mV"}, plausibility="warn")
    abf = _pyabf(path)
    assert rec.metadata["channel_roles"]["source"] == "user"
    for k, s in enumerate(rec):
        assert s.clamp_mode is ClampMode.CURRENT_CLAMP
        abf.setSweep(k)
        np.testing.assert_allclose(s.v, abf.sweepY)
        np.testing.assert_allclose(s.i, abf.sweepC)  # the pA command (the ramp)
    assert {f.severity for f in rec.plausibility} == {"error"}


def test_wrong_unit_label_read_with_units(robust: Path) -> None:
    """A current labelled A that holds -5.4 ... -3.0: read as pA when the user says so; the
    -70 / -100 mV command steps are those of pyabf."""
    path = robust / "2018_12_09_pCLAMP11_0001.abf"
    rec = patchatlas.read(path, units={"i": "pA"})
    abf = _pyabf(path)
    for k, s in enumerate(rec):
        abf.setSweep(k)
        assert s.clamp_mode is ClampMode.VOLTAGE_CLAMP
        np.testing.assert_allclose(s.i, abf.sweepY)
        np.testing.assert_allclose(s.v, abf.sweepC)
    assert not rec.plausibility


def test_clamp_mode_override_and_bad_overrides(robust: Path) -> None:
    path = robust / "File_axon_3.abf"
    with pytest.raises(ParameterError, match="out of range"):
        patchatlas.read(path, channels={"v": 5})
    with pytest.raises(ParameterError, match="unknown role"):
        patchatlas.read(path, channels={"vm": 1})
    with pytest.raises(ParameterError, match="clamp_mode"):
        patchatlas.read(path, clamp_mode="dynamic_clamp")
    with pytest.raises(ParameterError, match="plausibility"):
        patchatlas.read(path, plausibility="ignore")
    with pytest.raises(ParameterError, match="has no option"):
        patchatlas.read(robust / "mean_frequency_1.txt", channels={"v": 1})
    # the monitor channel as v, at the user's request: its values are not a membrane potential
    with pytest.raises(ImplausibleDataError, match="outside any membrane range"):
        patchatlas.read(path, channels={"v": 0})


def test_missing_stimulus_file_is_a_clear_warning(robust: Path, tmp_path: Path) -> None:
    src = robust / "171116sh_0015.abf"
    alone = tmp_path / src.name
    shutil.copy(src, alone)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pyabf's "Could not locate stimulus file" must not leak
        rec = patchatlas.read(alone)
    found = {f.check: f for f in rec.plausibility}
    assert "stimulus_file_missing" in found and "command_unavailable" in found
    msg = found["stimulus_file_missing"].message
    assert str(alone) in msg and "sine sweep magnitude 20" in msg
    assert all(np.isnan(s.v).all() for s in rec)
    # the recorded current is still read as pyabf shows it
    abf = _pyabf(src)
    abf.setSweep(0)
    np.testing.assert_allclose(rec[0].i, abf.sweepY)


def test_nwb_legacy_pairs_across_electrodes(robust: Path) -> None:
    """The response (acquisition/index_0, electrode 0) and the stimulus
    (stimulus/presentation/index_0, electrode 1) of one sweep-table row are one sweep."""
    import h5py

    path = robust / "2018_03_20_0005.nwb"
    rec = patchatlas.read(path)
    assert len(rec) == 1
    s = rec[0]
    with h5py.File(path, "r") as h5:
        stim = h5["stimulus/presentation/index_0/data"]
        want = stim[()] * stim.attrs["conversion"] * 1e12  # A -> pA
        resp = h5["acquisition/index_0/data"]
        want_v = resp[()] * resp.attrs["conversion"] * 1e3  # V -> mV
    assert s.clamp_mode is ClampMode.CURRENT_CLAMP and s.i is not None
    np.testing.assert_allclose(s.i, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s.v, want_v, rtol=1e-6)
    assert s.stimulus.kind.value == "ramp"
    assert s.stimulus.amplitude == pytest.approx(float(want.max()), abs=0.5)
    assert [f.check for f in rec.plausibility] == ["electrode_mismatch"]


def test_text_with_repeated_time_stamps(robust: Path) -> None:
    path = robust / "mean_frequency_1.txt"
    raw = np.loadtxt(path)
    rec = patchatlas.read(path)
    (s,) = rec.sweeps
    assert s.n_samples == raw.shape[0]  # read as given
    assert rec.metadata["units"]["time"] == "ms"  # inferred from the advancing steps
    assert s.t[-1] == pytest.approx(raw[-1, 0] * 1e-3)
    np.testing.assert_array_equal(s.v, raw[:, 1])
    (f,) = rec.plausibility
    assert f.check == "repeated_time_stamps"
    n_rep = int(np.sum(np.diff(raw[:, 0]) == 0))
    assert str(n_rep) in f.message and str(path) in f.message


def test_variable_length_error_names_the_file(tmp_path: Path) -> None:
    """A data-model error raised while reading is re-raised naming the file."""
    from patchatlas.errors import DataError
    from patchatlas.io._common import wrap_errors

    path = tmp_path / "x.abf"
    with pytest.raises(ReadError, match=r"x\.abf") as err, wrap_errors(path, "ABF"):
        raise DataError("sweep 0: i has shape (5,), v has (3,)")
    assert err.value.path == path and isinstance(err.value.__cause__, DataError)


def test_findings_are_listed_by_ephys_qc_and_kept_by_the_ingest(robust: Path) -> None:
    from patchatlas.ephys.qc import plausibility_table
    from patchatlas.pipeline.engines import compute_ephys

    path = robust / "invalidDate-abf1.abf"
    rec = patchatlas.read(path)
    df = plausibility_table(rec)
    assert list(df["check"]) == [f.check for f in rec.plausibility]
    assert (df["cell_id"] == rec.cell_id).all()
    out = compute_ephys([path], [0], {"features": False})
    stored = out.recordings[0].metadata["plausibility"]
    assert [d["check"] for d in stored] == list(df["check"])


def test_single_igor_waves_are_named_by_their_own_name(ephys_data: Path) -> None:
    """A wave read alone is named by its own file name (without the channel field), both of
    its channels alike; a folder of waves by the folder."""
    folder = ephys_data / "ibw_bluepyefe" / "B6"
    voltage = patchatlas.read(folder / "B6_Ch3_IDRest_181.ibw")
    current = patchatlas.read(folder / "B6_Ch0_IDRest_181.ibw")
    assert voltage.cell_id == current.cell_id == "B6_IDRest_181"
    assert patchatlas.read(folder).cell_id == "B6"
    assert patchatlas.read(folder / "B6_Ch3_IDRest_181.ibw", cell_id="x").cell_id == "x"
