"""Cell-level QC (Allen "Ephys QC Criteria v1.1" cell rules) from voltage-clamp test pulses.

Synthetic sweeps come from an exactly integrated RC circuit (command → access resistance Ra →
membrane Rm ∥ Cm; a seal is Rpipette in series with Rseal), so the resistances the rules read
are known; the real MIES files give the reader path and the pulse detection on real traces.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.signal import lfilter

import patchatlas
from patchatlas.cli.main import cli
from patchatlas.core.recording import ClampMode, Recording, Stimulus, Sweep
from patchatlas.ephys.qc import CELL_RULES, QCRules, cell_qc, qc_sweep_role, voltage_clamp_pulses
from patchatlas.errors import DataError

FS = 200e3


def _command(n_pulses: int = 3, dv: float = 10.0, hold: float = -70.0) -> np.ndarray:
    """MIES-like test-pulse command: 10 ms pulses separated by 50 ms at the holding level."""
    gap, width = round(0.05 * FS), round(0.01 * FS)
    seg = np.r_[np.full(gap, hold), np.full(width, hold + dv)]
    return np.r_[np.tile(seg, n_pulses), np.full(gap, hold)]


def rc_current(
    cmd: np.ndarray,
    *,
    ra: float,
    rm: float,
    cm_pf: float = 0.0,
    offset_pa: float = 0.0,
    noise_pa: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Current (pA) of the RC circuit under a piecewise-constant command (mV), exactly.

    Ra and Rm in MΩ; with ``cm_pf`` = 0 the circuit is two resistors in series. The membrane
    node relaxes towards ``cmd·Rm/(Ra+Rm)`` with τ = Cm·Ra·Rm/(Ra+Rm) (exact for a held command);
    the current is (cmd − Vm)/Ra, so the sample at a step carries the instantaneous ΔV/Ra. The
    holding level is treated as the circuit's zero (only deviations drive the current).
    """
    u = cmd - cmd[0]
    vinf = u * rm / (ra + rm)
    if cm_pf > 0:
        tau = cm_pf * 1e-12 * (ra * rm / (ra + rm)) * 1e6
        a = math.exp(-1.0 / (FS * tau))
        vm = lfilter([0.0, 1.0 - a], [1.0, -a], vinf)
    else:
        vm = vinf
    cur = 1000.0 * (u - vm) / ra  # mV / MΩ = nA → pA
    rng = np.random.default_rng(seed)
    return cur + offset_pa + rng.normal(0.0, noise_pa, cur.size)


def _vc(number: int, code: str, cmd: np.ndarray, cur: np.ndarray) -> Sweep:
    return Sweep(
        cmd,
        cur,
        FS,
        number=number,
        clamp_mode=ClampMode.VOLTAGE_CLAMP,
        stimulus=Stimulus(name=code),
        metadata={"stimulus_code": f"{code}_DA_0"},
    )


def _qc_recording(
    *, rseal_gohm: float = 2.5, ra: float = 12.0, rm: float = 250.0, offset: float = 35.0
) -> Recording:
    cmd = _command()
    bath = _vc(1, "EXTPINBATH141203", cmd, rc_current(cmd, ra=4.0, rm=1e-6, offset_pa=offset))
    seal_early = _vc(2, "EXTPCllATT141203", cmd, rc_current(cmd, ra=4.0, rm=50.0))
    seal = _vc(
        3,
        "EXTPCllATT141203",
        cmd,
        rc_current(cmd, ra=4.0, rm=rseal_gohm * 1e3, cm_pf=3.0, noise_pa=0.5, seed=1),
    )
    brk = _vc(
        4,
        "EXTPBREAKN141203",
        cmd,
        rc_current(cmd, ra=ra, rm=rm, cm_pf=30.0, noise_pa=2.0, seed=2),
    )
    n = round(0.3 * FS)
    blow = Sweep(
        1.5 + np.random.default_rng(3).normal(0, 0.1, n),
        np.zeros(n),
        FS,
        number=5,
        stimulus=Stimulus(name="EXTPBLWOUT141203"),
    )
    return Recording([bath, seal_early, seal, brk, blow], cell_id="rc_cell")


def test_test_pulses_recover_rc_resistances() -> None:
    cmd = _command(n_pulses=3)
    # whole cell: Ra 15 MΩ, Rm 200 MΩ, Cm 25 pF → τ = 0.35 ms, settled within a 10 ms pulse
    pulses = voltage_clamp_pulses(_vc(1, "x", cmd, rc_current(cmd, ra=15.0, rm=200.0, cm_pf=25.0)))
    assert len(pulses) == 3
    for p in pulses:
        assert p.dv_mv == pytest.approx(10.0)
        assert p.end - p.start == pytest.approx(0.01, abs=1.5 / FS)
        assert p.peak_resistance_mohm == pytest.approx(15.0, rel=1e-9)  # ΔV/Ra at the step
        assert p.steady_resistance_mohm == pytest.approx(215.0, rel=1e-6)  # Ra + Rm
    # hyperpolarising pulses and recording noise: within 1 % (steady) and 2 % (peak)
    cmd = _command(dv=-5.0)
    noisy = rc_current(cmd, ra=8.0, rm=120.0, cm_pf=20.0, noise_pa=3.0, seed=4)
    for p in voltage_clamp_pulses(_vc(1, "x", cmd, noisy)):
        assert p.dv_mv == pytest.approx(-5.0)
        assert p.steady_resistance_mohm == pytest.approx(128.0, rel=0.01)
        assert p.peak_resistance_mohm == pytest.approx(8.0, rel=0.02)


def test_cell_qc_synthetic_cell_passes_with_known_values() -> None:
    rec = _qc_recording()
    assert [qc_sweep_role(s) for s in rec] == ["bath", "seal", "seal", "breakin", "blowout"]
    res = cell_qc(rec, ri=200.0)
    rows = {r["rule"]: r for r in res.rows}
    assert list(rows) == list(CELL_RULES)
    assert rows["electrode_0_pa"]["value"] == pytest.approx(35.0, abs=1e-9)
    # the LAST seal sweep is used (sweep 3: 2.5 GΩ seal + 4 MΩ pipette), not sweep 2
    assert rows["seal_gohm"]["sweep_number"] == 3
    assert rows["seal_gohm"]["value"] == pytest.approx(2.504, rel=0.01)
    assert rows["initial_access_resistance_mohm"]["value"] == pytest.approx(12.0, rel=0.02)
    assert rows["input_access_resistance_ratio"]["value"] == pytest.approx(12.0 / 200, rel=0.02)
    assert rows["blowout_mv"]["value"] == pytest.approx(1.5, abs=0.01)
    assert all(r["passed"] is True and r["reason"] == "" for r in res.rows)
    assert res.passed is True
    flat = res.as_dict()
    assert flat["cell_passed"] is True and flat["seal_gohm_pass"] is True
    df = res.to_pandas()
    assert list(df["rule"]) == list(CELL_RULES) and df["passed"].all()


def test_cell_qc_failing_values_and_configurable_limits() -> None:
    rec = _qc_recording(rseal_gohm=0.6, ra=30.0, offset=-250.0)
    rows = {r["rule"]: r for r in cell_qc(rec, ri=150.0).rows}
    assert rows["seal_gohm"]["value"] == pytest.approx(0.604, rel=0.01)
    assert rows["seal_gohm"]["passed"] is False
    assert rows["initial_access_resistance_mohm"]["passed"] is False  # 30 MΩ > 20
    assert rows["input_access_resistance_ratio"]["value"] == pytest.approx(0.2, rel=0.02)
    assert rows["input_access_resistance_ratio"]["passed"] is False
    assert rows["electrode_0_pa"]["passed"] is False  # |−250| > 200
    assert rows["blowout_mv"]["passed"] is True
    lenient = QCRules().with_(
        seal_gohm=0.5,
        initial_access_resistance_mohm=(1.0, 40.0),
        input_access_resistance_ratio=0.3,
        electrode_0_pa=300.0,
    )
    res = cell_qc(rec, ri=150.0, rules=lenient)
    assert res.passed is True
    assert {r["rule"]: r["limit"] for r in res.rows}["seal_gohm"] == ">= 0.5"


def test_cell_qc_missing_values_fail_with_reasons() -> None:
    full = _qc_recording()
    rec = Recording([s for s in full if s.number in (1, 5)], cell_id="no_vc")
    res = cell_qc(rec, ri=200.0)
    rows = {r["rule"]: r for r in res.rows}
    assert res.passed is False
    assert math.isnan(rows["seal_gohm"]["value"]) and rows["seal_gohm"]["passed"] is False
    assert "no voltage-clamp seal sweep in this recording" in rows["seal_gohm"]["reason"]
    assert "break-in" in rows["initial_access_resistance_mohm"]["reason"]
    assert "initial_access_resistance" in rows["input_access_resistance_ratio"]["reason"]
    assert rows["electrode_0_pa"]["passed"] is True and rows["blowout_mv"]["passed"] is True
    # missing values may be reported without failing the cell
    res = cell_qc(rec, ri=200.0, rules=QCRules().with_(missing_fails=False))
    assert res.passed is True
    assert {r["rule"]: r["passed"] for r in res.rows}["seal_gohm"] is None
    # no input resistance: the ratio is missing, the access resistance is still reported
    rows = {r["rule"]: r for r in cell_qc(full, ri=math.nan).rows}
    assert rows["initial_access_resistance_mohm"]["passed"] is True
    assert "no input resistance" in rows["input_access_resistance_ratio"]["reason"]
    # a blowout sweep recorded in voltage clamp has no voltage to read
    vc_blow = _vc(9, "EXTPBLWOUT141203", _command(), np.zeros(_command().size))
    rows = {r["rule"]: r for r in cell_qc(Recording([vc_blow]), ri=200.0).rows}
    assert "voltage clamp" in rows["blowout_mv"]["reason"]
    # explicit sweep numbers override the stimulus codes; unknown roles/sweeps raise
    renamed = Recording([_vc(7, "MYSEAL", full[2].v, full[2].i)], cell_id="x")  # type: ignore[arg-type]
    rows = {r["rule"]: r for r in cell_qc(renamed, ri=200.0, sweeps={"seal": 7}).rows}
    assert rows["seal_gohm"]["value"] == pytest.approx(2.504, rel=0.01)
    custom = QCRules().with_(seal_codes=("MYSEAL",))
    assert qc_sweep_role(renamed[0], custom) == "seal"
    with pytest.raises(DataError, match="unknown QC sweep role"):
        cell_qc(renamed, sweeps={"gigaseal": 7})
    with pytest.raises(DataError, match="no sweep number 8"):
        cell_qc(renamed, sweeps={"seal": 8})
    with pytest.raises(DataError, match="voltage-clamp"):
        voltage_clamp_pulses(full[4])
    # a seal sweep whose current is NaN around the last pulse: missing, with the reason
    cur = np.array(full[2].i, dtype=float)
    cur[-round(0.07 * FS) :] = np.nan
    bad = Recording([_vc(3, "EXTPCllATT141203", full[2].v, cur)], cell_id="nan")
    row = {r["rule"]: r for r in cell_qc(bad, ri=200.0).rows}["seal_gohm"]
    assert row["passed"] is False and "non-finite" in row["reason"]


def test_sweep_qc_skips_cell_qc_sweeps() -> None:
    from patchatlas.ephys.qc import recording_qc

    rec = _qc_recording()
    assert rec[4].clamp_mode == ClampMode.CURRENT_CLAMP  # the blowout sweep
    assert recording_qc(rec, flags=False) == []


def test_cell_qc_input_resistance_from_long_squares() -> None:
    """ri comes from the long-square analysis when not given (simulated current-clamp cell)."""
    from patchatlas.ephys import cell_features
    from patchatlas.models.pointneuron import simulate_cell

    cc = simulate_cell(
        "rs_pyramidal",
        protocols=("long_square",),
        amplitudes={"long_square": [-90.0, -70.0, -50.0, -30.0]},
        seed=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ri = float(cell_features(cc)["ri"])
    assert 50 < ri < 500
    rec = Recording(list(_qc_recording()) + list(cc), cell_id="sim")
    rows = {r["rule"]: r for r in cell_qc(rec).rows}
    assert rows["input_access_resistance_ratio"]["value"] == pytest.approx(
        rows["initial_access_resistance_mohm"]["value"] / ri, rel=1e-9
    )


@pytest.mark.parametrize(
    "name", ["H18.03.315.11.11.01.05.nwb", "Sst-IRES-CreAi14-395722.01.01.01.nwb"]
)
def test_mies_nwb1_smoke_test_pulses(ephys_data: Path, name: str) -> None:
    """Real MIES NWB 1 voltage-clamp sweeps (stimulus EXTPSMOKET: a smoke test, no QC role).

    The lab notebook says the test pulse is 10 mV ("TP Amplitude VC") for 10 ms ("TP Pulse
    Duration") and the stimulus wave note lists three 10 ms, 10 mV square pulses after it.
    The steady current barely moves (≈ open circuit), so steady resistances are ≥ 0.2 GΩ or
    undefined; the cell rules are all missing (no bath/seal/break-in/blowout sweep) and fail.
    """
    rec = patchatlas.read(ephys_data / "nwb_mies" / name)
    sw = rec[0]
    assert sw.clamp_mode == ClampMode.VOLTAGE_CLAMP
    lab = sw.metadata["labnotebook"]
    pulses = voltage_clamp_pulses(sw)
    assert len(pulses) == 4  # the inserted test pulse + 3 stimulus pulses
    for p in pulses:
        assert p.dv_mv == pytest.approx(lab["TP Amplitude VC"])
        assert p.end - p.start == pytest.approx(lab["TP Pulse Duration"] / 1e3, abs=2 / FS)
        assert math.isfinite(p.baseline_pa) and abs(p.baseline_pa) < 100
        assert abs(p.steady_pa) < 50  # pA for 10 mV: no conductive path
        assert math.isnan(p.steady_resistance_mohm) or p.steady_resistance_mohm > 200
    assert qc_sweep_role(sw) is None
    res = cell_qc(rec, ri=math.nan)
    assert res.passed is False
    assert all(r["passed"] is False and r["reason"] for r in res.rows)


def test_mies_nwb2_model_cell_is_ohmic(ephys_data: Path) -> None:
    """Real MIES NWB 2 sweep: a 10 mV test pulse then 1 mV, 20 ms pulses (stimulus wave
    note). The response is a resistor's (flat during the pulse): the resistance from the 10 mV
    test pulse and from each settled 1 mV pulse agree within 1 %, and peak ≈ steady."""
    rec = patchatlas.read(ephys_data / "nwb_mies" / "valid_v2_MIES-NWBv2-0655f7e4.nwb")
    pulses = voltage_clamp_pulses(rec[0])
    # the tenth 1 mV pulse runs into the end of the sweep: not a complete pulse
    assert [round(p.dv_mv, 6) for p in pulses] == [10.0] + [1.0] * 9
    assert all(p.end - p.start == pytest.approx(0.02, abs=2 / FS) for p in pulses[1:])
    r_tp = pulses[0].steady_resistance_mohm
    assert 1 < r_tp < 1000
    # the first 1 mV pulse starts 5 ms after the test pulse, whose tail still lifts its
    # baseline by ~3 pA (3 % of a 100 pA response): compare the later, settled pulses
    for p in pulses[2:]:
        assert p.steady_resistance_mohm == pytest.approx(r_tp, rel=0.01)
    assert pulses[0].peak_resistance_mohm == pytest.approx(r_tp, rel=0.01)


def test_cli_qc_prints_cell_section(tmp_path: Path, ephys_data: Path) -> None:
    runner = CliRunner()
    f = ephys_data / "nwb_mies" / "valid_v2_MIES-NWBv2-0655f7e4.nwb"
    res = runner.invoke(cli, ["ephys", "qc", str(f)])
    assert res.exit_code == 0, res.output
    assert "cell QC" in res.output and "seal_gohm" in res.output
    assert "no voltage-clamp seal sweep" in res.output
    assert "no current-clamp stimulus sweeps" in res.output  # VC-only file
    out = tmp_path / "cell.csv"
    res = runner.invoke(cli, ["ephys", "qc", str(f), "--cell-out", str(out)])
    assert res.exit_code == 0, res.output
    import pandas as pd

    df = pd.read_csv(out)
    assert list(df["rule"]) == list(CELL_RULES) and not df["passed"].any()
