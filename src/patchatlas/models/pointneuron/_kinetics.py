"""Channel kinetics of the point neurons: the published rate functions, tabulated.

Internal seam of :mod:`patchatlas.models.pointneuron`: steady states and time constants of every
gate (Pospischil et al. 2008; Ih: Kole et al. 2006), the channel table (gates, powers,
conductance and reversal attributes of :class:`~patchatlas.models.pointneuron.NeuronModel`), the
gate tables the integrator looks voltages up in, and the steady-state I-V used for the resting
potential, input resistance and rheobase estimates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.special import exprel

from patchatlas.errors import DataError

FloatArray = npt.NDArray[np.float64]

if TYPE_CHECKING:
    from patchatlas.models.pointneuron.neuron import NeuronModel

# Voltage grid of the rate tables (mV).
V_MIN = -200.0
V_MAX = 120.0
DV = 0.02


# --------------------------------------------------------------------------------------------
# Rate functions (ms⁻¹ and ms, V in mV) as published
# --------------------------------------------------------------------------------------------


def _ab(x_over_y: FloatArray, k: float, y: float) -> FloatArray:
    """k·x / (exp(x/y) − 1) written as k·y / exprel(x/y) (no 0/0 at x = 0)."""
    return np.asarray(k * y / exprel(x_over_y), dtype=np.float64)


def _gates(model: NeuronModel, v: FloatArray) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Steady state and time constant (ms) of every gate on the voltage grid ``v``."""
    v2 = v - model.v_traub
    out: dict[str, tuple[FloatArray, FloatArray]] = {}

    def ab(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
        s = a + b
        return a / s, 1.0 / s

    # Traub-Miles Na (m^3 h) and K delayed rectifier (n^4), Pospischil et al. 2008 eqs. 3-6.
    out["m"] = ab(_ab((13.0 - v2) / 4.0, 0.32, 4.0), _ab((v2 - 40.0) / 5.0, 0.28, 5.0))
    out["h"] = ab(0.128 * np.exp((17.0 - v2) / 18.0), 4.0 / (1.0 + np.exp((40.0 - v2) / 5.0)))
    out["n"] = ab(_ab((15.0 - v2) / 5.0, 0.032, 5.0), 0.5 * np.exp((10.0 - v2) / 40.0))
    # M-current (p), eqs. 7-8.
    vm = v + 35.0
    out["p"] = (
        1.0 / (1.0 + np.exp(-vm / 10.0)),
        model.tau_max_m / (3.3 * np.exp(vm / 20.0) + np.exp(-vm / 20.0)),
    )
    # T-type Ca (s_inf^2 u), Vx = 2 mV, eqs. 11-13; s is instantaneous.
    vx = v + 2.0
    out["s"] = (1.0 / (1.0 + np.exp(-(vx + 57.0) / 6.2)), np.zeros_like(v))
    out["u"] = (
        1.0 / (1.0 + np.exp((vx + 81.0) / 4.0)),
        (30.8 + (211.4 + np.exp((vx + 113.2) / 5.0)) / (1.0 + np.exp((vx + 84.0) / 3.2))) / 3.7,
    )
    # L-type Ca (q^2 r), eqs. 9-10.
    out["q"] = ab(_ab((-27.0 - v) / 3.8, 0.055, 3.8), 0.94 * np.exp((-75.0 - v) / 17.0))
    out["r"] = ab(
        0.000457 * np.exp((-13.0 - v) / 50.0), 0.0065 / (np.exp((-15.0 - v) / 28.0) + 1.0)
    )
    # HCN (Kole, Hallermann & Stuart 2006).
    out["hcn"] = ab(_ab((v + 154.9) / 11.9, 0.00643, 11.9), 0.193 * np.exp(v / 33.1))
    return out


# Channel: (name, activation gate, its power, inactivation gate or None, conductance attribute,
# reversal attribute). "leak" has no gate.
CHANNELS: tuple[tuple[str, str | None, int, str | None, str, str], ...] = (
    ("leak", None, 1, None, "g_leak", "e_leak"),
    ("na", "m", 3, "h", "g_na", "e_na"),
    ("kd", "n", 4, None, "g_kd", "e_k"),
    ("m", "p", 1, None, "g_m", "e_k"),
    ("t", "s", 2, "u", "g_t", "e_ca"),
    ("l", "q", 2, "r", "g_l", "e_ca"),
    ("h", "hcn", 1, None, "g_h", "e_h"),
)


def channels_in(models: Sequence[NeuronModel]) -> list[int]:
    return [
        k for k, ch in enumerate(CHANNELS) if k == 0 or any(getattr(m, ch[4]) > 0 for m in models)
    ]


def tables(
    model: NeuronModel, chans: Sequence[int], v: FloatArray, dt_ms: float
) -> tuple[FloatArray, FloatArray]:
    """Steady states (nV, 2·nc) and decay factors exp(−dt/τ) (nV, 2·nc) of the gates.

    Columns: activation gates of the channels, then their inactivation gates (constant 1 for
    channels without inactivation and for the leak).
    """
    g = _gates(model, v)
    nc = len(chans)
    inf = np.ones((v.size, 2 * nc))
    dec = np.ones((v.size, 2 * nc))
    for c, k in enumerate(chans):
        _, act, _, inact, _, _ = CHANNELS[k]
        for col, gate in ((c, act), (nc + c, inact)):
            if gate is None:
                continue
            x, tau = g[gate]
            inf[:, col] = x
            with np.errstate(divide="ignore", over="ignore"):
                dec[:, col] = np.where(tau > 0, np.exp(-dt_ms / np.maximum(tau, 1e-300)), 0.0)
    return inf, dec


def ss_current(model: NeuronModel, v: FloatArray) -> FloatArray:
    """Steady-state membrane current (pA, outward positive) on the grid ``v``."""
    chans = channels_in([model])
    inf, _ = tables(model, chans, v, 0.01)
    nc = len(chans)
    total = np.zeros_like(v)
    for c, k in enumerate(chans):
        _, _, power, _, gattr, eattr = CHANNELS[k]
        open_ = inf[:, c] ** power * inf[:, nc + c]
        total += model.conductance_ns(getattr(model, gattr)) * open_ * (v - getattr(model, eattr))
    return total


def ss_conductance(model: NeuronModel, v: FloatArray) -> FloatArray:
    """Total steady-state chord conductance (nS) on the grid ``v``."""
    chans = channels_in([model])
    inf, _ = tables(model, chans, v, 0.01)
    nc = len(chans)
    total = np.zeros_like(v)
    for c, k in enumerate(chans):
        _, _, power, _, gattr, _ = CHANNELS[k]
        total += model.conductance_ns(getattr(model, gattr)) * inf[:, c] ** power * inf[:, nc + c]
    return total


def rest_potentials(models: Sequence[NeuronModel]) -> FloatArray:
    """Most hyperpolarised stable zero of the steady-state current for each model (mV)."""
    v = np.arange(V_MIN, V_MAX, 0.01)
    out = np.empty(len(models))
    for k, m in enumerate(models):
        i = ss_current(m, v)
        up = np.flatnonzero((i[:-1] < 0) & (i[1:] >= 0))
        if up.size == 0:
            raise DataError(
                f"NeuronModel {m.name!r} has no stable resting potential in "
                f"[{V_MIN}, {V_MAX}] mV; check its reversal potentials and conductances"
            )
        j = int(up[0])
        out[k] = v[j] - i[j] * (v[j + 1] - v[j]) / (i[j + 1] - i[j])
    return out
