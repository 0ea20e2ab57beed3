"""Spike-train metrics: Teeter's explained variance exactly as defined, Γ, count errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from patchatlas.models.glif import (
    coincidence_factor,
    ev_curve,
    explained_variance,
    explained_variance_ratio,
    smoothed_train,
    spike_count_error,
)

DT = 1e-4


def _reference_smooth(spikes, dt, duration, sigma):
    """The definition written out: a binary train convolved ('same') with a normalised
    Gaussian spanning 10σ."""
    n = round(duration / dt)
    train = np.zeros(n)
    for s in spikes:
        train[math.floor(s / dt)] += 1
    half = round(5 * sigma / dt)
    t = np.arange(-half, half + 1) * dt
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return np.convolve(train, k / k.sum(), mode="same")


@pytest.mark.parametrize("sigma", [0.001, 0.004, 0.01, 0.02])
def test_smoothed_train_is_the_gaussian_convolution(sigma):
    spikes = [0.0001, 0.05, 0.0502, 0.31, 0.499]
    np.testing.assert_allclose(
        smoothed_train(spikes, DT, 0.5, sigma),
        _reference_smooth(spikes, DT, 0.5, sigma),
        atol=1e-14,
    )


def test_explained_variance_formula():
    rng = np.random.default_rng(0)
    x, y = rng.random(500), rng.random(500)
    expected = (x.var() + y.var() - (x - y).var()) / (x.var() + y.var())
    assert explained_variance(x, y) == pytest.approx(expected)
    assert explained_variance(x, x) == pytest.approx(1.0)
    assert math.isnan(explained_variance(np.zeros(5), np.zeros(5)))


def test_teeter_ratio_uses_the_psth_including_each_trial():
    rng = np.random.default_rng(1)
    base = np.sort(rng.uniform(0.05, 0.95, 20))
    trials = [base + rng.normal(0, 0.003, base.size) for _ in range(3)]
    model = base + 0.002
    r = explained_variance_ratio(trials, model, DT, 1.0)
    sm = [_reference_smooth(t, DT, 1.0, 0.01) for t in trials]
    psth = np.mean(sm, axis=0)
    data_ev = np.mean([explained_variance(psth, s) for s in sm])
    model_ev = np.mean([explained_variance(s, _reference_smooth(model, DT, 1.0, 0.01)) for s in sm])
    assert r["data_ev"] == pytest.approx(data_ev, rel=1e-9)
    assert r["model_ev"] == pytest.approx(model_ev, rel=1e-9)
    assert r["ratio"] == pytest.approx(model_ev / data_ev, rel=1e-9)
    # one trial: no data EV, no ratio, the model EV still defined
    single = explained_variance_ratio(trials[:1], model, DT, 1.0)
    assert math.isnan(single["ratio"]) and single["model_ev"] > 0.5
    curve = ev_curve(trials, model, DT, 1.0)
    assert list(curve) == [0.001, 0.004, 0.01, 0.02]
    # coarser smoothing forgives more jitter
    assert curve[0.02]["model_ev"] > curve[0.001]["model_ev"]


def test_coincidence_factor():
    data = np.arange(0.05, 1.0, 0.05)
    assert coincidence_factor(data, data, 1.0) == pytest.approx(1.0, abs=0.2)
    # identical trains: N_coinc = N; Γ = (N − 2νΔN) / (N (1 − 2νΔ)) = 1
    assert coincidence_factor(data, data, 1.0) == pytest.approx(1.0)
    # shifted by more than the window: no coincidence, Γ < 0
    assert coincidence_factor(data, data + 0.01, 1.0) < 0
    # shifted within the window: still all coincident
    assert coincidence_factor(data, data + 0.003, 1.0) == pytest.approx(1.0)
    # each model spike matches at most one data spike
    assert coincidence_factor([0.5, 0.501], [0.5005], 1.0) < 1.0
    assert math.isnan(coincidence_factor([], [], 1.0))


def test_spike_count_error():
    e = spike_count_error([10, 0, 5], [12, 1, 5])
    assert e == {
        "mae": pytest.approx(1.0),
        "relative": pytest.approx(3 / 15),
        "bias": pytest.approx(1.0),
    }
    assert math.isnan(spike_count_error([0, 0], [1, 0])["relative"])
