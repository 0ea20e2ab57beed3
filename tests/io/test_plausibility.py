"""The class-level rules behind the robustness files, on headers and recordings made here:
ABF channel roles from all the header's evidence, the plausibility checks every reader runs, and
the text reader's unit inference and time stamps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import patchatlas
from patchatlas.core.recording import ClampMode, Recording, Sweep
from patchatlas.errors import CorruptFileError, ImplausibleDataError
from patchatlas.io._abf_channels import Adc, Dac, check_overrides, decide_roles
from patchatlas.io._common import clean_label, unit_factor
from patchatlas.io._plausibility import check_recording, membrane_like, recording_findings

CC, VC = ClampMode.CURRENT_CLAMP, ClampMode.VOLTAGE_CLAMP


def adc(index: int, name: str, unit: str, *, membrane: bool = True) -> Adc:
    qty = {"mV": "voltage", "V": "voltage", "pA": "current", "nA": "current", "A": "current"}
    q = qty.get(unit)
    return Adc(index, name, unit, q, membrane if q == "voltage" else False, (-80.0, 30.0))


def dac(index: int, unit: str, *, active: bool = False, usable: bool = True) -> Dac:
    q = {"mV": "voltage", "pA": "current", "nA": "current"}.get(unit)
    return Dac(index, f"Cmd {index}", unit, q, usable, active)


# ---------------------------------------------------------------------------- channel roles


def test_current_command_means_current_clamp() -> None:
    r = decide_roles([adc(0, "IN 0", "mV")], [dac(0, "pA", active=True)])
    assert (r.mode, r.v, r.i, r.command, r.problems) == (CC, 0, None, 0, [])


def test_voltage_command_means_voltage_clamp() -> None:
    r = decide_roles([adc(0, "IN 0", "pA")], [dac(0, "mV", active=True)])
    assert (r.mode, r.v, r.i, r.command, r.problems) == (VC, None, 0, 0, [])


def test_the_output_whose_epochs_change_is_the_command() -> None:
    """ADC0 current, ADC1 voltage; DAC0 (mV) flat, DAC1 (nA) steps: current clamp on DAC1."""
    adcs = [adc(0, "Imemb", "nA"), adc(1, "10_Vm", "mV")]
    r = decide_roles(adcs, [dac(0, "mV"), dac(1, "nA", active=True), dac(2, "V")])
    assert (r.mode, r.v, r.i, r.command) == (CC, 1, 0, 1)
    # with DAC0 changing instead, the same inputs are voltage clamp (v: the recorded Vm)
    r = decide_roles(adcs, [dac(0, "mV", active=True), dac(1, "nA")])
    assert (r.mode, r.i, r.command) == (VC, 0, 0)


def test_several_changing_outputs_prefer_the_one_the_inputs_fit() -> None:
    adcs = [adc(0, "Vm", "mV"), adc(1, "Im", "pA")]
    r = decide_roles(adcs, [dac(0, "mV", active=True), dac(1, "pA", active=True)])
    assert (r.mode, r.command) == (CC, 1)
    assert any("several outputs" in n for n in r.notes)


def test_a_monitor_or_out_of_range_voltage_is_not_the_membrane_voltage() -> None:
    stim = adc(0, "stim", "V", membrane=False)
    r = decide_roles([stim, adc(1, "VmRK", "mV")], [dac(0, "nA"), dac(1, "mV")])
    assert (r.mode, r.v, r.problems) == (CC, 1, [])
    assert any("stim" in n for n in r.notes)
    # a monitor name alone excludes it, whatever its values
    r = decide_roles([adc(0, "Temp", "mV"), adc(1, "IN 1", "mV")], [dac(0, "pA")])
    assert r.v == 1
    # only a voltage input outside any membrane range: current clamp without a membrane
    # voltage is a contradiction, and the message says why the input was not taken
    r = decide_roles([adc(0, "IN 0", "V", membrane=False)], [dac(0, "nA")])
    assert r.problems and "no input is a membrane voltage" in r.problems[0]
    assert "holds values no membrane potential takes" in r.problems[0]


@pytest.mark.parametrize(
    ("adcs", "dacs", "words"),
    [
        ([adc(0, "IN 0", "pA")], [dac(0, "pA", active=True)], "no input is a membrane voltage"),
        ([adc(0, "IN 0", "pA")], [dac(0, "pA")], "no input is a membrane voltage"),
        ([adc(0, "IN 0", "mV")], [dac(0, "mV", active=True)], "no input is a current"),
        ([Adc(0, "Temp", "degC", None)], [dac(0, "pA")], "no input is a membrane voltage"),
        ([Adc(0, "Temp", "degC", None)], [], "no input is a membrane voltage or a current"),
    ],
)
def test_contradictions(adcs: list[Adc], dacs: list[Dac], words: str) -> None:
    r = decide_roles(adcs, dacs)
    assert r.problems and words in r.problems[0]


def test_without_command_units_the_inputs_decide() -> None:
    unusable = [dac(0, "", usable=False)]
    assert decide_roles([adc(0, "", "pA")], unusable).mode is VC
    r = decide_roles([adc(0, "", "mV")], unusable)
    assert (r.mode, r.v, r.command) == (CC, 0, None)
    both = [adc(0, "Vm", "mV"), adc(1, "Im", "pA")]
    assert decide_roles(both, unusable).mode is CC  # the first input is the primary output
    assert decide_roles(both[::-1], unusable).mode is VC


def test_overrides() -> None:
    adcs = [adc(0, "IN 0", "pA")]
    dacs = [dac(0, "pA", active=True)]
    chosen = check_overrides({"v": 0}, 1, 1, "inputs ...")
    r = decide_roles(adcs, dacs, channels=chosen)
    assert (r.mode, r.v, r.problems, r.from_user) == (CC, 0, [], True)
    assert any("as asked" in n for n in r.notes)
    r = decide_roles([adc(0, "Vm", "mV")], [dac(0, "mV")], clamp_mode=CC)
    assert (r.mode, r.v, r.problems) == (CC, 0, [])
    for bad, words in (
        ({"x": 0}, "unknown role"),
        ({"v": 3}, "out of range"),
        ({"command": 2}, "DAC outputs"),
        ({"v": 0, "i": 0}, "both"),
        ({"v": "0"}, "channel index"),
    ):
        with pytest.raises(ValueError, match=words):
            check_overrides(bad, 2, 1, "the listing")


def test_nul_padded_labels_and_units() -> None:
    assert clean_label("pA\x00\x00\x00") == "pA"
    assert unit_factor("pA\x00\x00", "current") == 1.0
    assert unit_factor("\x00\x00", "current") is None


# ---------------------------------------------------------------------------- plausibility


def _rec(*sweeps: Sweep) -> Recording:
    return Recording(sweeps=list(sweeps), cell_id="c", source=Path("c.abf"))


def _cc(v: np.ndarray, i: np.ndarray | None = None, number: int = 0) -> Sweep:
    return Sweep(v=v, i=i, sampling_rate=1e4, number=number, clamp_mode=CC)


def _vc(v: np.ndarray, i: np.ndarray, number: int = 0) -> Sweep:
    return Sweep(v=v, i=i, sampling_rate=1e4, number=number, clamp_mode=VC)


rng = np.random.default_rng(0)
REST = -70 + rng.normal(0, 0.5, 5000)
STEP = np.r_[np.zeros(1000), np.full(3000, 100.0), np.zeros(1000)]


def checks(rec: Recording) -> dict[str, str]:
    return {f.check: f.severity for f in recording_findings(rec, Path("c.abf"))}


def test_a_healthy_recording_has_no_findings() -> None:
    assert checks(_rec(_cc(REST, STEP), _vc(np.full(5000, -70.0), REST * 3, 1))) == {}


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        (_cc(REST * 1000, STEP), {"membrane_voltage_range": "error"}),  # V read as ... x1000
        (_cc(REST + 330, STEP), {"membrane_voltage_range": "error"}),  # a +4 V monitor
        (_cc(REST - 70, STEP), {"membrane_voltage_range": "warning"}),  # -140 mV
        (_cc(np.full(5000, np.nan), STEP), {"all_nan": "error"}),
        (_cc(REST, np.full(5000, np.nan)), {"command_unavailable": "warning"}),
        (_cc(REST, STEP * 1e11), {"current_scale": "error"}),  # A read as pA
        (_cc(REST, STEP * 3e3), {"current_scale": "warning"}),  # 300 nA
        (_cc(REST, STEP * 1e-10), {"current_scale": "warning"}),  # A read as pA, too small
        (_vc(np.full(5000, -70.0), REST * 1e12), {"current_scale": "error"}),
        (_vc(np.full(5000, -70.0), np.full(5000, np.nan)), {"all_nan": "error"}),
        (_vc(np.full(5000, np.nan), REST), {"command_unavailable": "warning"}),
        (_vc(np.full(5000, -70e3), REST), {"command_range": "error"}),
        (_vc(np.full(5000, -300.0), REST), {"command_range": "warning"}),
    ],
)
def test_each_check(sweep: Sweep, expected: dict[str, str]) -> None:
    assert checks(_rec(sweep)) == expected


def test_tiny_currents_are_judged_per_file() -> None:
    """A zero-amplitude sweep holds float rounding noise: not a unit error when other sweeps
    of the file carry real currents."""
    noise = np.full(5000, 3e-5)
    assert checks(_rec(_cc(REST, noise), _cc(REST, STEP, 1))) == {}
    assert checks(_rec(_cc(REST, noise), _cc(REST, noise, 1))) == {"current_scale": "warning"}


def test_findings_group_sweeps_and_name_file_channel_and_check() -> None:
    rec = _rec(*[_cc(REST + 330 + k, STEP, k) for k in range(8)])
    (f,) = recording_findings(rec, Path("/data/c.abf"), {"v": "ADC0 'stim' (V)"})
    assert f.sweeps == tuple(range(8)) and f.message.startswith("/data/c.abf: sweeps 0-7 (8)")
    assert "ADC0 'stim' (V)" in f.message
    with pytest.raises(ImplausibleDataError) as err:
        check_recording(rec, Path("/data/c.abf"), hint="pass units=")
    assert err.value.path == Path("/data/c.abf")
    assert "membrane_voltage_range" in str(err.value) and "pass units=" in str(err.value)
    kept = check_recording(rec, Path("/data/c.abf"), plausibility="warn")
    assert [x.severity for x in kept.plausibility] == ["error"]
    assert kept.plausibility[0].to_dict()["sweeps"] == list(range(8))


def test_membrane_like() -> None:
    assert membrane_like(REST)[0]
    assert membrane_like(REST / 1000, 1000.0)[0]  # volts, scaled to mV
    assert not membrane_like(REST * 1000)[0]
    assert not membrane_like(np.full(10, np.nan))[0]
    assert not membrane_like(np.zeros(10))[0]  # a flat zero trace is no membrane potential
    assert membrane_like(REST)[1] == (REST.min(), REST.max())


# ---------------------------------------------------------------------------- text traces


def test_text_current_in_amperes_is_inferred(tmp_path: Path) -> None:
    t = np.arange(4000) / 1e4
    i = np.where((t > 0.1) & (t < 0.3), 1e-10, 0.0)  # 100 pA, written in A
    v = -70 + 10 * (i > 0)
    p = tmp_path / "trace.txt"
    np.savetxt(p, np.column_stack([t, v, i]))
    rec = patchatlas.read(p)
    assert "current in A" in rec.metadata["inferred_units"]
    assert rec[0].i is not None and float(rec[0].i.max()) == pytest.approx(100.0)
    # declared nA: the values are judged, and the tiny current is reported
    rec = patchatlas.read(p, current_unit="nA")
    assert {f.check for f in rec.plausibility} == {"current_scale"}


def test_text_time_stamps(tmp_path: Path) -> None:
    p = tmp_path / "dec.txt"
    p.write_text("0 -70\n0.001 -70\n0.0005 -70\n0.002 -70\n")
    with pytest.raises(CorruptFileError, match="decrease at data row 3"):
        patchatlas.read(p)
    p.write_text("0 -70\n0 -70\n0 -70\n")
    with pytest.raises(CorruptFileError, match="never advances"):
        patchatlas.read(p)
    p.write_text("0 -70\n0.1 -70\n0.1 -69\n0.2 -68\n0.3 -68\n")  # ms, one repeat
    rec = patchatlas.read(p)
    assert rec[0].n_samples == 5 and not rec[0].uniform
    assert rec.metadata["units"]["time"] == "ms"
    assert [f.check for f in rec.plausibility] == ["repeated_time_stamps"]
    p.write_text("0 -70000\n0.1 -70000\n0.2 -70000\n")  # µV labelled nothing: caught
    with pytest.raises(ImplausibleDataError, match="membrane_voltage_range"):
        patchatlas.read(p)
    assert patchatlas.read(p, voltage_unit="uV")[0].v[0] == pytest.approx(-70.0)
