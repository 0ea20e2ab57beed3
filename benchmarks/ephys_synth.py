"""Synthetic regular-spiking cell for the ephys benchmarks (numpy only).

Single compartment, Pospischil et al. 2008 regular-spiking model (Traub-Miles Na/Kdr, slow
M-current for adaptation), exponential Euler at 10 µs, recorded at 50 kHz with 0.03 mV white
noise. 2 s sweeps (100 k samples) with a 1 s step at 0.5-1.5 s; amplitudes -110 ... +250 pA in
20 pA steps (19 sweeps). All sweeps are integrated together (vectorised over sweeps).
"""

from __future__ import annotations

import numpy as np


def simulate(
    amps_pa: np.ndarray | None = None,
    *,
    duration: float = 2.0,
    start: float = 0.5,
    end: float = 1.5,
    fs: float = 50e3,
    dt_ms: float = 0.01,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (t [s], V [sweeps x samples, mV], I [sweeps x samples, pA])."""
    amps = np.arange(-110.0, 251.0, 20.0) if amps_pa is None else np.asarray(amps_pa, float)
    d = 61.4e-4  # cm
    area = np.pi * d * d  # cm^2 (cylinder with L = d)
    g_l, e_l, g_na, e_na, g_k, e_k, g_m, tau_max = (
        0.0205,
        -70.3,
        56.0,
        50.0,
        6.0,
        -90.0,
        0.075,
        608.0,
    )
    vt = -56.2
    n_steps = round(duration * 1e3 / dt_ms)
    every = round(1e3 / fs / dt_ms)
    ns = amps.size
    v = np.full(ns, -70.3)
    m = np.zeros(ns)
    h = np.ones(ns)
    n = np.zeros(ns)
    p = np.zeros(ns)
    out = np.empty((ns, n_steps // every))
    i_dens = amps * 1e-6 / area  # µA/cm^2
    on0, on1 = int(start * 1e3 / dt_ms), int(end * 1e3 / dt_ms)

    def rate(x: np.ndarray, a: float, b: float) -> np.ndarray:
        # a*x/(1-exp(-x/b)) with the x -> 0 limit
        small = np.abs(x) < 1e-6
        xs = np.where(small, 1e-6, x)
        return np.where(small, a * b, a * xs / (1.0 - np.exp(-xs / b)))

    for k in range(n_steps):
        u = v - vt
        am = rate(u - 13.0, 0.32, 4.0)
        bm = rate(-(u - 40.0), 0.28, 5.0)
        ah = 0.128 * np.exp(-(u - 17.0) / 18.0)
        bh = 4.0 / (1.0 + np.exp(-(u - 40.0) / 5.0))
        an = rate(u - 15.0, 0.032, 5.0)
        bn = 0.5 * np.exp(-(u - 10.0) / 40.0)
        p_inf = 1.0 / (1.0 + np.exp(-(v + 35.0) / 10.0))
        tau_p = tau_max / (3.3 * np.exp((v + 35.0) / 20.0) + np.exp(-(v + 35.0) / 20.0))
        for x, a_, b_ in ((m, am, bm), (h, ah, bh), (n, an, bn)):
            tot = a_ + b_
            x_inf = a_ / tot
            x += (x_inf - x) * (1.0 - np.exp(-dt_ms * tot))
        p += (p_inf - p) * (1.0 - np.exp(-dt_ms / tau_p))
        g = g_l + g_na * m**3 * h + g_k * n**4 + g_m * p
        e = g_l * e_l + g_na * m**3 * h * e_na + (g_k * n**4 + g_m * p) * e_k
        inj = i_dens if on0 <= k < on1 else 0.0
        v_inf = (e + inj) / g
        v = v_inf + (v - v_inf) * np.exp(-dt_ms * g)  # C = 1 µF/cm^2
        if k % every == 0:
            out[:, k // every] = v
    rng = np.random.default_rng(seed)
    out += rng.normal(0.0, 0.03, out.shape)
    t = np.arange(out.shape[1]) / fs
    i = np.zeros_like(out)
    i[:, int(start * fs) : int(end * fs)] = amps[:, None]
    return t, out, i
