"""The PSP template and fit_psp: closed forms, recovery, bounds, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from patchatlas.errors import DataError, ParameterError
from patchatlas.synphys import (
    PspFit,
    deconvolved_psp_params,
    exp_deconvolve,
    exp_reconvolve,
    fit_psp,
    psp_curve,
    rise_tau,
    weighted_nrmse,
)

T = np.arange(0, 0.06, 5e-5)


def test_rise_tau_closed_form_target() -> None:
    # the pinned value of the notes: tau_r(rise 2 ms, decay 20 ms, p = 2) = 0.443075 ms
    assert float(rise_tau(2e-3, 20e-3)) * 1e3 == pytest.approx(0.443075, abs=5e-7)
    # it solves rise = tau_r ln(1 + p decay / tau_r) on a grid
    rr, dd = np.meshgrid(np.geomspace(0.5e-3, 30e-3, 7), np.geomspace(5e-3, 300e-3, 7))
    ok = rr < 1.9 * dd
    tr = rise_tau(rr[ok], dd[ok])
    np.testing.assert_allclose(tr * np.log1p(2 * dd[ok] / tr), rr[ok], rtol=1e-9)


def test_peak_is_amp_at_rise_time() -> None:
    y = psp_curve(T, amp=0.7, xoffset=0.01, yoffset=-65.0, rise_time=3e-3, decay_tau=25e-3)
    k = int(np.argmax(y))
    assert T[k] == pytest.approx(0.013, abs=5e-5)
    assert y[k] - (-65.0) == pytest.approx(0.7, rel=1e-4)
    assert np.all(y[T < 0.01] == -65.0)


def test_deconvolved_template_targets_and_roundtrip() -> None:
    p = deconvolved_psp_params(1.0, 2e-3, 20e-3)
    assert p["amp"] == pytest.approx(25.113, abs=5e-4)
    assert p["rise_time"] * 1e3 == pytest.approx(0.30229, abs=5e-6)
    assert p["decay_tau"] * 1e3 == pytest.approx(0.43347, abs=5e-6)
    assert p["rise_power"] == 1.0
    # deconvolution of a finely sampled PSP approaches the closed form
    t = np.arange(0, 0.03, 1e-6)
    y = psp_curve(t, amp=1.0, xoffset=0.005, yoffset=0, rise_time=2e-3, decay_tau=20e-3)
    d = exp_deconvolve(y, 1e-6, 20e-3)
    assert d.max() == pytest.approx(p["amp"], rel=2e-3)
    assert t[np.argmax(d)] - 0.005 == pytest.approx(p["rise_time"], abs=2e-6)
    # deconvolution then reconvolution returns the original (also for 2-D input)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 500)).cumsum(axis=1)
    np.testing.assert_allclose(exp_reconvolve(exp_deconvolve(x, 5e-5, 15e-3), 5e-5, 15e-3), x,
                               atol=1e-9)  # fmt: skip
    with pytest.raises(ParameterError):
        deconvolved_psp_params(1.0, 2e-3, 20e-3, tau=10e-3)


@pytest.mark.parametrize(
    ("amp", "x0", "rise", "decay", "sign"),
    [(0.5, 12e-3, 2e-3, 20e-3, 1), (-0.3, 9e-3, 4e-3, 60e-3, -1), (1.2, 15e-3, 1e-3, 8e-3, 0)],
)
def test_noise_free_recovery(amp: float, x0: float, rise: float, decay: float, sign: int) -> None:
    y = -70 + psp_curve(T, amp=amp, xoffset=x0, yoffset=0, rise_time=rise, decay_tau=decay)
    fit = fit_psp(T, y, sign=sign, onset_window=(5e-3, 20e-3))
    assert isinstance(fit, PspFit)
    assert fit.amp == pytest.approx(amp, rel=1e-4)
    assert fit.xoffset == pytest.approx(x0, abs=2e-6)
    assert fit.rise_time == pytest.approx(rise, rel=1e-3)
    assert fit.decay_tau == pytest.approx(decay, rel=1e-3)
    assert fit.yoffset == pytest.approx(-70, abs=1e-6)
    assert fit.nrmse < 1e-3 and fit.at_bound == ()
    np.testing.assert_allclose(fit.curve(T), y, atol=1e-5)


def test_noisy_recovery_and_latency() -> None:
    rng = np.random.default_rng(1)
    y = psp_curve(T, amp=0.4, xoffset=11.5e-3, yoffset=-60, rise_time=2.5e-3, decay_tau=18e-3)
    y = y + rng.normal(0, 0.02, T.size)
    fit = fit_psp(T, y, sign=1, onset_window=(8e-3, 16e-3), t_spike=10e-3)
    assert fit.latency == pytest.approx(1.5e-3, abs=1e-4)
    assert fit.amp == pytest.approx(0.4, rel=0.05)
    assert fit.rise_time == pytest.approx(2.5e-3, rel=0.1)
    assert fit.decay_tau == pytest.approx(18e-3, rel=0.1)


def test_sign_constraint_and_bounds() -> None:
    y = psp_curve(T, amp=0.5, xoffset=0.01, yoffset=0, rise_time=2e-3, decay_tau=20e-3)
    neg = fit_psp(T, y, sign=-1, onset_window=(5e-3, 20e-3))
    assert neg.amp <= 0
    slow = psp_curve(T, amp=0.5, xoffset=0.01, yoffset=0, rise_time=2e-3, decay_tau=900e-3)
    fit = fit_psp(T, slow, sign=1, onset_window=(5e-3, 20e-3))
    assert "decay_tau" in fit.at_bound and fit.decay_tau == pytest.approx(0.5)
    vc = fit_psp(T, -20 * y, sign=-1, clamp_mode="vc", onset_window=(5e-3, 20e-3))
    assert vc.bounds["decay_tau"] == (0.4e-3, 40e-3)


def test_exponential_baseline_tied_to_decay() -> None:
    # a PSP riding on the tail of an earlier one: the tied baseline recovers the decay exactly
    # (a free baseline time constant trades off against the decay: aisynphys bug §6.7)
    t = np.arange(-0.008, 0.025, 5e-5)
    y = psp_curve(t, amp=0.5, xoffset=1.5e-3, yoffset=0.1, rise_time=2e-3, decay_tau=15e-3)
    y = y + 0.3 * np.exp(-(t - 1.5e-3) / 15e-3)
    fit = fit_psp(t, y, sign=1, onset_window=(0.5e-3, 10e-3), exp_baseline=True)
    assert fit.decay_tau == pytest.approx(15e-3, rel=1e-3)
    assert fit.amp == pytest.approx(0.5, rel=1e-3)
    assert fit.exp_amp == pytest.approx(0.3, rel=1e-3)
    plain = fit_psp(t, y, sign=1, onset_window=(0.5e-3, 10e-3))
    assert plain.nrmse > 10 * fit.nrmse


def test_nrmse_is_the_reference_definition() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=200)
    m = y + rng.normal(0, 0.1, 200)
    w = rng.integers(0, 3, 200).astype(float) * 10
    mean = (w * y).sum() / w.sum()
    wstd = math.sqrt((w * (y - mean) ** 2).sum() / w.sum())
    assert weighted_nrmse(y, m, w) == pytest.approx(math.sqrt(np.mean((w * (m - y)) ** 2)) / wstd)
    assert weighted_nrmse(y, m, None) == pytest.approx(math.sqrt(np.mean((m - y) ** 2)) / y.std())


@pytest.mark.parametrize(
    ("t", "y", "kw", "err"),
    [
        (T, T[:-1], {}, DataError),
        (T, np.full(T.size, np.nan), {}, DataError),
        (np.r_[T[:10], T[11:]], np.zeros(T.size - 1), {}, DataError),
        (T[:5], np.zeros(5), {}, DataError),
        (T, np.zeros(T.size), {"sign": 2}, ParameterError),
        (T, np.zeros(T.size), {"clamp_mode": "cc"}, ParameterError),
        (T, np.zeros(T.size), {"onset_window": (1.0, 2.0)}, DataError),
        (T, np.zeros(T.size), {"rise_bounds": (2e-3, 1e-3)}, ParameterError),
        (T, np.zeros(T.size), {"weights": np.zeros(T.size)}, DataError),
    ],
)
def test_bad_input(t: np.ndarray, y: np.ndarray, kw: dict, err: type) -> None:
    with pytest.raises(err, match="fit_psp"):
        fit_psp(t, y, **kw)
