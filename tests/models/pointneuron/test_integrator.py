"""The exponential-Euler integrator: determinism, noise, multirate and step-size agreement."""

from __future__ import annotations

import numpy as np
import pytest

from patchatlas.models import pointneuron as sim
from tests.models.pointneuron.helpers import crossings, window


def _small_command() -> np.ndarray:
    p = sim.protocol(
        "long_square", [-70.0, 150.0, 250.0], start=0.1, duration=0.3, sweep_duration=0.5
    )
    return p.command


def test_deterministic_with_seed() -> None:
    cmd = _small_command()
    a = sim.simulate("rs_pyramidal", cmd, seed=7)
    b = sim.simulate("rs_pyramidal", cmd, seed=7)
    c = sim.simulate("rs_pyramidal", cmd, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_noise_levels() -> None:
    cmd = np.zeros((4, 25000))
    quiet = sim.simulate("rs_pyramidal", cmd, seed=1, current_noise_pa=0, recording_noise_mv=0)
    assert np.ptp(quiet) < 0.01  # stays at rest without noise (tables: 0.02 mV grid)
    white = sim.simulate("rs_pyramidal", cmd, seed=1, current_noise_pa=0)
    assert np.std(white - quiet) == pytest.approx(0.03, rel=0.05)
    ou = sim.simulate("rs_pyramidal", cmd, seed=1, recording_noise_mv=0)
    # 4 pA current noise through ~140 MΩ filtered by τm ≈ 9 ms: a fraction of a mV.
    assert 0.1 < float(np.std(ou)) < 0.6


def test_multirate_matches_fine_steps() -> None:
    cmd = _small_command()
    fine = sim.simulate("rs_pyramidal", cmd, seed=3, multirate=False)
    fast = sim.simulate("rs_pyramidal", cmd, seed=3)
    for a, b in zip(fine, fast, strict=True):
        ta, tb = crossings(a), crossings(b)
        assert ta.size == tb.size
        if ta.size:
            assert np.max(np.abs(ta - tb)) < 0.5e-3
    # Before the step, where the integrator takes long steps, traces agree closely.
    assert np.max(np.abs(window(fine, 0.0, 0.1) - window(fast, 0.0, 0.1))) < 0.2


def test_dt_10us_agrees_with_20us() -> None:
    cmd = _small_command()
    # Without current noise (its realisation depends on dt), so only the step size differs.
    opts = {"seed": 2, "multirate": False, "current_noise_pa": 0.0}
    a = sim.simulate("fs_interneuron", cmd, dt=1e-5, **opts)
    b = sim.simulate("fs_interneuron", cmd, dt=2e-5, **opts)
    for x, y in zip(a, b, strict=True):
        tx, ty = crossings(x), crossings(y)
        assert tx.size == ty.size
        if tx.size:
            assert np.max(np.abs(tx - ty)) < 0.5e-3


def test_one_dimensional_command() -> None:
    v = sim.simulate("fs_interneuron", np.zeros(1000), seed=0)
    assert v.shape == (1000,)
