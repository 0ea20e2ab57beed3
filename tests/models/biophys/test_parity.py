"""Arbor vs NEURON on the same Allen models (the NEURON mechanisms compiled from the Allen .mod
files into the user cache on first use).

Tolerances, and why:

* **Passive membrane: 1e-3 mV.** Both simulators solve the same discretised cable (the same
  sections, segment boundaries, frustum areas and axial resistances; backward Euler at the same
  step), so a passive response agrees to round-off (measured: 4e-6 mV over 0.5 s).
* **Spiking: equal spike counts; spike times converge as O(dt).** The two simulators stagger the
  gate and voltage updates of a step differently (first-order methods with different error
  constants), so spike times drift apart by a fixed fraction of dt per spike. On the
  perisomatic model (25 spikes in 0.5 s at 90 pA) the largest difference is 5.9 ms at the Allen
  step of 25 µs and 1.2 ms at 5 µs (measured): the test asserts equal counts at both steps, a
  difference below 2 ms at 5 µs and a shrink by at least 3× from 25 to 5 µs — what a shared
  limit requires and a modelling difference (a wrong conductance, Nernst calcium, axon) would
  break.
* **All-active model: 18 spikes on both, spike times within 0.2 ms** (measured 0.05 ms at 25 µs:
  its NaV kinetic scheme and dendritic channels leave less drift than the perisomatic somatic
  channels).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from patchatlas.models.biophys import long_square, run_batch


def _spike_times(v: np.ndarray, dt: float) -> np.ndarray:
    """Upward crossings of -20 mV, linearly interpolated (s)."""
    i = np.flatnonzero((v[1:] > -20) & (v[:-1] <= -20))
    return (i + (-20 - v[i]) / (v[i + 1] - v[i])) * dt


@pytest.fixture(scope="module")
def both(arbor_ok: None, neuron_ok: None) -> None:
    """Both simulators are installed."""


def test_passive_responses_agree_to_roundoff(peri_model, both) -> None:
    m = replace(peri_model, mechanisms=tuple(x for x in peri_model.mechanisms if x.name == "pas"))
    c = [long_square(-100.0, delay_s=0.1, duration_s=0.3)]
    va = run_batch(m, [None], c, tstop_s=0.5, backend="arbor")[0, 0]
    vn = run_batch(m, [None], c, tstop_s=0.5, backend="neuron")[0, 0]
    assert va[-1] < va[0] + 5  # it does respond (input resistance through the dendrites)
    assert np.abs(va - vn).max() < 1e-3


def test_perisomatic_spikes_agree_and_converge_with_dt(peri_model, both) -> None:
    c = [long_square(90.0, delay_s=0.2, duration_s=0.5)]
    diffs = {}
    for dt in (25e-6, 5e-6):
        va = run_batch(peri_model, [None], c, tstop_s=0.75, backend="arbor", dt_s=dt)[0, 0]
        vn = run_batch(peri_model, [None], c, tstop_s=0.75, backend="neuron", dt_s=dt)[0, 0]
        # identical before the step (the same resting state)
        k = int(0.19 / dt)
        assert np.abs(va[:k] - vn[:k]).max() < 1e-3
        sa, sn = _spike_times(va, dt), _spike_times(vn, dt)
        assert len(sa) == len(sn) > 10
        diffs[dt] = np.abs(sa - sn).max()
    assert diffs[5e-6] < 2e-3
    assert diffs[5e-6] < diffs[25e-6] / 3


def test_all_active_18_spikes_on_neuron_too(aa_model, both) -> None:
    """The Allen runner's own check, on NEURON, and against Arbor."""
    c = [long_square(330.0, delay_s=1.0, duration_s=1.0)]
    # to 2.05 s: the spikes are in the step (the full 3 s run on Arbor: test_simulation.py);
    # NEURON needs ~10 s per simulated second of this model (its NaV kinetic scheme)
    vn = run_batch(aa_model, [None], c, tstop_s=2.05, backend="neuron")[0, 0]
    va = run_batch(aa_model, [None], c, tstop_s=2.05, backend="arbor")[0, 0]
    sn, sa = _spike_times(vn, 25e-6), _spike_times(va, 25e-6)
    assert len(sn) == len(sa) == 18
    assert np.abs(sn - sa).max() < 2e-4


def test_neuron_names_the_missing_mechanism_and_the_file(peri_model, modfiles, both) -> None:
    from patchatlas.errors import MechanismError
    from patchatlas.models.biophys import Mechanism

    extra = Mechanism("Kfoo", "soma", {"gbar": 0.1}, "fit.json genome[15]")
    bad = replace(peri_model, mechanisms=(*peri_model.mechanisms, extra), source="fit.json")
    with pytest.raises(MechanismError, match=r"fit\.json genome\[15\] needs mechanism 'Kfoo'"):
        bad.simulate_step(10.0, tstop_s=0.05, backend="neuron")
    nomods = replace(bad, modfiles=None)
    with pytest.raises(MechanismError, match=r"'Kfoo'.*give the folder of the model's \.mod"):
        nomods.simulate_step(10.0, tstop_s=0.05, backend="neuron")
