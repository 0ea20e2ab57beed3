"""The vectorised exponential-Euler integrator of the point neurons.

Internal seam of :mod:`patchatlas.models.pointneuron`: :func:`integrate` runs every row (sweep)
of a command at once, one Python iteration per time step, with long (multirate) steps over quiet
subthreshold stretches; :func:`check_range` refuses voltages off the gate tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from patchatlas.errors import DataError
from patchatlas.models.pointneuron._kinetics import (
    CHANNELS,
    DV,
    V_MAX,
    V_MIN,
    channels_in,
    rest_potentials,
    tables,
)

FloatArray = npt.NDArray[np.float64]

if TYPE_CHECKING:
    from patchatlas.models.pointneuron.neuron import NeuronModel

# Multirate integration: when every sweep is below its model's v_traub + _SLOW_ABOVE_TRAUB mV
# (subthreshold), changes by less than _SLOW_MAX_RATE mV/ms, and the command is constant, one
# step covers _SLOW_BLOCK samples.
_SLOW_BLOCK = 5
_SLOW_ABOVE_TRAUB = 5.0
_SLOW_MAX_RATE = 0.3


def check_range(v: FloatArray, where: str) -> None:
    lo, hi = float(np.min(v)), float(np.max(v))
    if lo < V_MIN + 1.0 or hi > V_MAX - 1.0:
        raise DataError(
            f"simulate: the membrane voltage left [{V_MIN:g}, {V_MAX:g}] mV ({lo:.0f} to "
            f"{hi:.0f} mV) in {where}; reduce the injected current"
        )


def integrate(
    models: Sequence[NeuronModel],
    cmd: FloatArray,
    *,
    groups: Sequence[int],
    rngs: Sequence[np.random.Generator],
    sub: int,
    dt: float,
    current_noise_pa: float,
    current_noise_tau: float,
    recording_noise_mv: float,
    v_init: float | npt.ArrayLike | None,
    multirate: bool = True,
) -> FloatArray:
    """The exponential-Euler loop; noise of row group g comes from ``rngs[g]``."""
    n, n_samples = cmd.shape
    dt_ms = dt * 1e3

    def draw(shape0: int) -> FloatArray:
        return np.concatenate(
            [r.standard_normal((shape0, g)) for r, g in zip(rngs, groups, strict=True)], axis=1
        )

    uniq: list[NeuronModel] = []
    row_model = np.empty(n, dtype=np.intp)
    for r, m in enumerate(models):
        if m not in uniq:
            uniq.append(m)
        row_model[r] = uniq.index(m)
    chans = channels_in(uniq)
    nc = len(chans)
    vgrid = np.arange(V_MIN, V_MAX + DV / 2, DV)
    nv = vgrid.size
    two_nc = 2 * nc

    def stacked(step_ms: float) -> FloatArray:
        # One row per (model, voltage): [decay (2nc) | inf·(1 − decay) (2nc)], so that a gate
        # update is g ← g·decay + inf·(1 − decay): two in-place operations per step.
        parts = []
        for m in uniq:
            inf, dec_ = tables(m, chans, vgrid, step_ms)
            parts.append(np.concatenate([dec_, inf * (1.0 - dec_)], axis=1))
        return np.concatenate(parts, axis=0)

    table = stacked(dt_ms)
    table_slow = stacked(dt_ms * sub * _SLOW_BLOCK)
    # Long (multirate) steps only while every row is below this voltage (mV), see _SLOW_*.
    v_slow = np.array([m.v_traub + _SLOW_ABOVE_TRAUB for m in uniq])[row_model]
    gbar_all = np.array(
        [[m.conductance_ns(getattr(m, CHANNELS[k][4])) for k in chans] for m in uniq]
    )
    erev_all = np.array([[getattr(m, CHANNELS[k][5]) for k in chans] for m in uniq])
    single = len(uniq) == 1
    if single:
        # One model: conductances and reversals fold into one (nc, 2) matrix, leak included.
        powers = np.array([CHANNELS[k][2] for k in chans], dtype=np.float64)
        e_mat = np.stack([gbar_all[0], gbar_all[0] * erev_all[0]], axis=1)
        gbar = ge_rows = leak = np.zeros((n, 0))
        shared_e = True
        first = 0
    else:
        powers = np.array([CHANNELS[k][2] for k in chans[1:]], dtype=np.float64)
        gbar = gbar_all[row_model, 1:]
        erev = erev_all[:, 1:]
        # Leak (column 0) is constant: its g and g·E are added as a (n, 2) array.
        leak = np.stack([gbar_all[:, 0], gbar_all[:, 0] * erev_all[:, 0]], axis=1)[row_model]
        shared_e = bool(np.all(erev == erev[:1]))
        e_mat = np.stack([np.ones(nc - 1), erev[0]], axis=1)  # (nc-1, 2)
        ge_rows = gbar if shared_e else gbar * erev_all[row_model, 1:]
        first = 1
    neg_dt_over_c = -dt_ms / np.array([m.capacitance_pf for m in uniq])[row_model]

    if v_init is None:
        v = rest_potentials(uniq)[row_model]
    else:
        v = np.broadcast_to(np.asarray(v_init, dtype=np.float64), (n,)).copy()
    inv_dv = 1.0 / DV
    check_range(v, "v_init")
    # Table row of voltage v for row r: floor(v/dv + shift_r), shift_r = row offset + rounding.
    shift = (row_model * nv).astype(np.float64) - V_MIN * inv_dv + 0.5
    idx = (v * inv_dv + shift).astype(np.intp)
    gates = np.concatenate([tables(m, chans, vgrid, dt_ms)[0] for m in uniq], axis=0)[idx].copy()
    # Views into the gate state (kept valid by in-place updates); column 0/nc is the leak.
    act = gates[:, first:nc]
    inact = gates[:, nc + first :]

    # Ornstein-Uhlenbeck current noise, exact AR(1) discretisation on the dt grid, generated
    # chunk by chunk with a linear filter along time (no per-step Python work).
    from scipy.signal import lfilter

    ou_a = math.exp(-dt / current_noise_tau) if current_noise_tau > 0 else 0.0
    ou_b = current_noise_pa * math.sqrt(1.0 - ou_a * ou_a)
    x_last = draw(1)[0] * current_noise_pa
    out = np.empty((n_samples, n))
    # Chunks of samples share one block of pre-drawn noise; a whole number of slow blocks.
    chunk = max(_SLOW_BLOCK, (20000 // sub) // _SLOW_BLOCK * _SLOW_BLOCK)
    opn = np.empty((n, nc - first))
    gs = np.empty((n, 2))
    vinf = np.empty(n)
    dec = np.empty(n)
    vf = np.empty(n)
    row = np.empty((n, 2 * two_nc))
    row_dec = row[:, :two_nc]
    row_inf = row[:, two_nc:]

    def step(drive_now: FloatArray, tab: FloatArray, ndc: FloatArray) -> None:
        # Conductances from the gates at the step's start, then the exact solution of the
        # linear membrane equation over the step, then every gate relaxed at the new voltage.
        np.power(act, powers, out=opn)
        opn[...] *= inact
        if single:
            np.matmul(opn, e_mat, out=gs)
        else:
            if shared_e:
                opn[...] *= gbar
                np.matmul(opn, e_mat, out=gs)
            else:
                gs[:, 0] = np.einsum("ij,ij->i", opn, gbar)
                gs[:, 1] = np.einsum("ij,ij->i", opn, ge_rows)
            gs[...] += leak
        np.add(gs[:, 1], drive_now, out=vinf)
        vinf[...] /= gs[:, 0]
        np.multiply(gs[:, 0], ndc, out=dec)
        np.exp(dec, out=dec)
        v[...] -= vinf
        v[...] *= dec
        v[...] += vinf
        np.multiply(v, inv_dv, out=vf)
        vf[...] += shift
        idx[...] = vf
        # mode="clip" only guards the table's ends; voltages are range-checked per chunk.
        np.take(tab, idx, axis=0, out=row, mode="clip")
        gates[...] *= row_dec
        gates[...] += row_inf

    kb = _SLOW_BLOCK
    # Largest change per sample (mV) that still counts as quiet: _SLOW_MAX_RATE mV/ms.
    max_dv = _SLOW_MAX_RATE * dt_ms * sub
    neg_slow_dt_over_c = neg_dt_over_c * (kb * sub)
    frac = (np.arange(kb, dtype=np.float64) / kb)[:, None]
    drive = np.empty((0, n))
    drive_blocks = np.empty((0, n))
    quiet_blocks = np.zeros(0, dtype=bool)
    m_ = 0
    j = 0
    while j < n_samples:
        jj = j % chunk
        if jj == 0:
            if j:
                check_range(out[j - chunk : j], f"the sweeps at {j / (sub * dt):g} s")
            m_ = min(chunk, n_samples - j)
            if current_noise_pa > 0:
                xi = draw(m_ * sub) * ou_b
                xs, _ = lfilter([1.0], [1.0, -ou_a], xi, axis=0, zi=(ou_a * x_last)[None, :])
                x_last = xs[-1].copy()
            else:
                xs = np.zeros((m_ * sub, n))
            c = cmd[:, j : j + m_].T
            drive = xs + np.repeat(c, sub, axis=0)
            nb = m_ // kb
            if multirate and nb:
                drive_blocks = drive[: nb * kb * sub].reshape(nb, kb * sub, n).mean(axis=1)
                cb = c[: nb * kb].reshape(nb, kb, n)
                quiet_blocks = np.all(np.ptp(cb, axis=1) <= 0.5, axis=1)
            else:
                quiet_blocks = np.zeros(nb, dtype=bool)
        if (
            jj % kb == 0
            and jj + kb <= m_
            and quiet_blocks[jj // kb]
            and j > 0
            and np.all(v < v_slow)
            and np.all(np.abs(v - out[j - 1]) < max_dv)
        ):
            # Subthreshold everywhere and a constant command: one step over the whole block,
            # the samples in between interpolated linearly.
            v_old = v.copy()
            step(drive_blocks[jj // kb], table_slow, neg_slow_dt_over_c)
            out[j : j + kb] = v_old + (v - v_old) * frac
            j += kb
            continue
        out[j] = v
        base = jj * sub
        for s_ in range(sub):
            step(drive[base + s_], table, neg_dt_over_c)
        j += 1
    check_range(out[max(0, n_samples - chunk) :], "the sweeps' end")
    res = np.ascontiguousarray(out.T)
    if recording_noise_mv > 0:
        res += draw(n_samples).T * recording_noise_mv
    return res
