"""Whole recording sessions (simulate_cell, simulate_cells) and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from patchatlas.core.recording import Recording, StimulusKind
from patchatlas.errors import DataError, PatchAtlasError
from patchatlas.models import pointneuron as sim
from tests.models.pointneuron.helpers import FS, SMALL, assert_inferred_matches, crossings


def test_simulate_cell_recording() -> None:
    rec = sim.simulate_cell("fs_interneuron", seed=3, amplitudes=SMALL)
    assert isinstance(rec, Recording)
    assert rec.sweep_numbers == list(range(1, 7))
    kinds = [s.stimulus.kind for s in rec]
    assert kinds == [StimulusKind.LONG_SQUARE] * 3 + [StimulusKind.SHORT_SQUARE] * 2 + [
        StimulusKind.RAMP
    ]
    assert all(s.stimulus.source == "simulated" for s in rec)
    assert all(s.sampling_rate == FS and s.i is not None for s in rec)
    assert rec[0].duration == pytest.approx(3.0) and rec[3].duration == pytest.approx(1.5)
    md = rec.metadata
    assert md["species"] == "synthetic" and md["seed"] == 3
    assert md["model"] == "fs_interneuron"
    assert md["model_parameters"]["g_kd"] == sim.PRESETS["fs_interneuron"].g_kd
    assert md["model_truth"]["input_resistance_mohm"] == pytest.approx(114.3, abs=1.0)
    assert rec.cell_id == "sim_fs_interneuron_s3"
    # The +250 pA step fires, the -90 pA one does not; the 900 pA short square fires.
    assert crossings(rec[2].v).size > 50 and crossings(rec[0].v).size == 0
    assert crossings(rec[4].v).size >= 1
    assert_inferred_matches(rec)
    table = rec.sweep_table()
    assert list(table["amplitude_pa"]) == [-90.0, 50.0, 250.0, 300.0, 900.0, 60.0]


def test_default_ramp_crosses_rheobase() -> None:
    rec = sim.simulate_cell("rs_pyramidal", seed=0, protocols=("ramp",))
    (sweep,) = rec.sweeps
    t = crossings(sweep.v)
    assert t.size >= 3
    # Current at the first spike: between the long-square rheobase region and the ramp's end.
    i_first = float(sweep.i[round(t[0] * FS)])
    assert 80.0 < i_first <= sweep.stimulus.amplitude
    assert sweep.stimulus.amplitude == sim.ramp_amplitude("rs_pyramidal")


def test_simulate_cells_one_batch() -> None:
    cells = sim.simulate_cells(["fs_interneuron", "rs_pyramidal"], seeds=[4, 9], amplitudes=SMALL)
    assert [c.cell_id for c in cells] == ["sim_fs_interneuron_s4", "sim_rs_pyramidal_s9"]
    assert [c.metadata["seed"] for c in cells] == [4, 9]
    one = sim.simulate_cell("fs_interneuron", seed=4, amplitudes=SMALL)
    # Same sessions as one cell at a time: sweeps, commands and stimulus descriptions.
    assert cells[0].sweep_numbers == one.sweep_numbers
    for a, b in zip(cells[0], one, strict=True):
        assert a.stimulus == b.stimulus
        np.testing.assert_array_equal(a.i, b.i)
    # The FS cell fires more at +250 pA than the RS cell.
    assert crossings(cells[0][2].v).size > crossings(cells[1][2].v).size


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: sim.protocol("noise_2", [1.0]),
        lambda: sim.protocol("long_square", []),
        lambda: sim.protocol("ramp", [-10.0]),
        lambda: sim.protocol("noise", [10.0], noise_band=(1.0, 1e6)),
        lambda: sim.protocol("long_square", [10.0], start=2.9),
        lambda: sim.simulate("rs_pyramidal", np.zeros((2, 3, 4))),
        lambda: sim.simulate("rs_pyramidal", np.full((1, 10), np.nan)),
        lambda: sim.simulate("rs_pyramidal", np.zeros((1, 10)), dt=3e-5),
        lambda: sim.simulate(["rs_pyramidal"], np.zeros((2, 10))),
        lambda: sim.simulate("pyramidal", np.zeros((1, 10))),
        lambda: sim.simulate("fs_interneuron", np.full((1, 30000), -5000.0)),  # V off the table
        lambda: sim.simulate_cell("rs_pyramidal", protocols=("chirp",)),
        lambda: sim.NeuronModel(g_leak=-1.0),
        lambda: sim.simulate_cells(["rs_pyramidal"], seeds=[0, 1]),
        lambda: sim.simulate_cells([], seeds=[]),
        lambda: sim.Protocol("x", StimulusKind.LONG_SQUARE, np.zeros((2, 5)), (), 50e3),
    ],
)
def test_bad_input_raises_typed_errors(call: object) -> None:
    with pytest.raises(PatchAtlasError) as info:
        call()  # type: ignore[operator]
    assert isinstance(info.value, DataError)
    assert str(info.value)
