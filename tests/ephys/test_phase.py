"""phase_plane: the window around a spike's threshold and dV/dt in V/s."""

from __future__ import annotations

import numpy as np
import pytest

import patchatlas.ephys as ephys
from patchatlas.ephys import phase_plane
from patchatlas.errors import DataError, ParameterError


def _sine(rate: float = 50_000.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(0, 0.05, 1 / rate)
    return t, -60 + 10 * np.sin(2 * np.pi * 100 * t)


def test_window_and_derivative_of_a_known_trace() -> None:
    t, v = _sine()
    t0 = 0.0213
    vv, dvdt = phase_plane(t, v, t0, before_s=0.001, after_s=0.003)
    inside = (t >= t0 - 0.001) & (t <= t0 + 0.003)
    np.testing.assert_array_equal(vv, v[inside])
    # d/dt of 10 sin(2π 100 t) mV is 2π 1000 cos(...) mV/s, i.e. 2π cos(...) V/s
    exact = 2 * np.pi * 100 * 10 * np.cos(2 * np.pi * 100 * t[inside]) / 1000.0
    np.testing.assert_allclose(dvdt, exact, atol=2e-3 * np.abs(exact).max())
    assert vv.shape == dvdt.shape


def test_edges_use_the_neighbouring_samples() -> None:
    t, v = _sine()
    _, dvdt = phase_plane(t, v, 0.02, before_s=0.001, after_s=0.001)
    full = np.gradient(v, t) / 1000.0
    inside = (t >= 0.019) & (t <= 0.021)
    np.testing.assert_allclose(dvdt, full[inside])


def test_window_clipped_at_the_sweep_ends() -> None:
    t, v = _sine()
    vv, dvdt = phase_plane(t, v, t[1], before_s=0.01, after_s=0.0)
    np.testing.assert_array_equal(vv, v[:2])
    assert np.isfinite(dvdt).all() and len(dvdt) == 2


def test_an_action_potential_has_a_fast_upstroke() -> None:
    t = np.arange(0, 0.02, 2e-5)
    v = -70 + 100 * np.exp(-(((t - 0.01) / 0.0003) ** 2))
    vv, dvdt = phase_plane(t, v, 0.0095)
    assert vv.max() == pytest.approx(30, abs=0.5)
    assert dvdt.max() > 100 and dvdt.min() < -100  # V/s


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (([0.0, 1e-3], [1.0], 0.0), {}, DataError),
        (([0.0], [1.0], 0.0), {}, DataError),
        (([0.0, 0.0, 1e-3], [1.0, 2.0, 3.0], 0.0), {}, DataError),
        (([0.0, 1e-3], [1.0, 2.0], 0.5), {}, ParameterError),
        (([0.0, 1e-3], [1.0, 2.0], float("nan")), {}, ParameterError),
        (([0.0, 1e-3], [1.0, 2.0], 0.0), {"before_s": -1.0}, ParameterError),
        (([0.0, 1e-3], [1.0, 2.0], 0.0), {"after_s": float("inf")}, ParameterError),
    ],
)
def test_bad_input_raises_patchatlas_errors(args, kwargs, error) -> None:
    with pytest.raises(error, match="phase_plane"):
        phase_plane(*args, **kwargs)


def test_exported_lazily() -> None:
    assert "phase_plane" in ephys.__all__ and "phase_plane" in dir(ephys)
    assert ephys.phase_plane is phase_plane
