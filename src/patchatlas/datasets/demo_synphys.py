"""A simulated multipatch experiment with known synapses, and the demo's synaptic-physiology step.

:func:`simulate_multipatch` builds a :class:`~patchatlas.core.MultipatchExperiment` the way a
multipatch rig records one: cells in current clamp, one presynaptic cell stimulated per sweep with
the Allen probe protocol (8 pulses at the induction frequency, a recovery delay, 4 more), every
pulse evoking a spike (a few fail), and each postsynaptic cell summing PSPs from its connected
partners: Allen template kinetics, amplitudes following Tsodyks–Markram dynamics (plus
trial-to-trial variability and the driving force at the holding potential: excitatory tests at
−70 mV, inhibitory ones at −55 mV), white and slow noise. The ground truth comes back as a
table, so the analysis can be checked against it.

The demo step (:func:`synphys_step`) writes the experiment as a multipatch HDF5 file, ingests it
into the demo atlas through the pipeline's ``synphys`` engine (so the portal shows its pairs) and
reports what the analysis recovered next to the truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from patchatlas.core.multipatch import MultipatchCell, MultipatchExperiment, PulseTrain, SyncSweep
from patchatlas.core.recording import ClampMode, Sweep

__all__ = [
    "SimulatedSynapse",
    "default_synapses",
    "recovered_from_atlas",
    "recovered_from_result",
    "recovery_table",
    "simulate_multipatch",
    "synphys_step",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SimulatedSynapse:
    """A synapse of the simulated experiment (ground truth).

    Attributes
    ----------
    pre, post
        Electrodes.
    synapse_type
        ``"ex"`` or ``"in"``.
    amp
        PSP amplitude of a rested synapse at its test potential (mV; −70 mV for excitatory,
        −55 mV for inhibitory synapses; negative for inhibitory).
    latency
        Onset after the presynaptic spike's maximal dV/dt (s).
    rise_time, decay_tau
        Template time to peak and decay constant (s).
    U, tau_rec, tau_facil
        Tsodyks–Markram parameters (s).
    cv
        Trial-to-trial coefficient of variation of the amplitude.
    """

    pre: str
    post: str
    synapse_type: str
    amp: float
    latency: float
    rise_time: float
    decay_tau: float
    U: float
    tau_rec: float
    tau_facil: float
    cv: float = 0.2


def default_synapses() -> list[SimulatedSynapse]:
    """Three synapses among four cells: depressing E→I, facilitating E→E, depressing I→E.

    Returns
    -------
    list of SimulatedSynapse
    """
    return [
        SimulatedSynapse("1", "2", "ex", 0.8, 1.2e-3, 1.5e-3, 12e-3, 0.5, 0.4, 0.02, cv=0.2),
        SimulatedSynapse("3", "1", "ex", 0.5, 1.8e-3, 3.0e-3, 20e-3, 0.15, 0.1, 0.3, cv=0.25),
        SimulatedSynapse("2", "3", "in", -0.6, 1.0e-3, 2.5e-3, 25e-3, 0.4, 0.6, 0.01, cv=0.2),
    ]


_REVERSAL = {"ex": 0.0, "in": -75.0}
_TEST_POTENTIAL = {"ex": -70.0, "in": -55.0}


def _action_potential(t: FloatArray) -> FloatArray:
    """A spike waveform starting at t = 0 (mV above rest): fast rise, decay, small AHP."""
    s = np.maximum(t, 0.0)
    up = 105.0 * (1 - np.exp(-s / 0.12e-3)) ** 3 * np.exp(-s / 0.45e-3) * 3.2
    ahp = -6.0 * (1 - np.exp(-s / 1e-3)) * np.exp(-s / 8e-3)
    return np.where(t >= 0, up + ahp, 0.0)


def simulate_multipatch(
    *,
    synapses: Sequence[SimulatedSynapse] | None = None,
    n_cells: int = 4,
    sweeps_per_cell: int = 10,
    name: str = "sim_multipatch",
    seed: int = 0,
    dt: float = 5e-5,
    noise_mv: float = 0.08,
    failure_rate: float = 0.02,
    sweep_interval: float = 3.0,
) -> tuple[MultipatchExperiment, pd.DataFrame]:
    """Simulate a multipatch experiment with known synapses.

    Parameters
    ----------
    synapses
        The synapses (default: :func:`default_synapses`); electrodes are ``"1"`` to
        ``str(n_cells)``.
    n_cells
        Cells patched.
    sweeps_per_cell
        Sweeps in which each cell is the stimulated one (alternating holding at −70 and −55 mV;
        protocols cycle through 50 Hz with 250/125/500 ms recovery and 20 Hz with 250 ms).
    name
        Experiment name.
    seed
        Random seed (positions, noise, variability, spike failures).
    dt
        Sampling interval (s).
    noise_mv
        SD of the white noise (mV); a slow component of half that SD is added.
    failure_rate
        Fraction of pulses that evoke no spike.
    sweep_interval
        Time between sweep starts (s).

    Returns
    -------
    experiment : MultipatchExperiment
        Cells (positions in µm, class ``"pyr"`` or ``"pv"``), synchronous sweeps with the pulse
        trains (onsets and durations; spikes left to detection).
    truth : pandas.DataFrame
        One row per ordered pair: ``pre, post, distance_um, connected, synapse_type, amp,
        latency, rise_time, decay_tau, U, tau_rec, tau_facil``.
    """
    from patchatlas.synphys.dynamics import tsodyks_markram
    from patchatlas.synphys.psp import psp_curve

    syns = list(default_synapses() if synapses is None else synapses)
    rng = np.random.default_rng(seed)
    els = [str(k + 1) for k in range(n_cells)]
    cls = {e: ("pv" if k % 2 else "pyr") for k, e in enumerate(els)}
    for s in syns:
        if s.pre not in els or s.post not in els:
            raise ValueError(f"synapse {s.pre}->{s.post} names a cell outside 1..{n_cells}")
        cls[s.pre] = "pyr" if s.synapse_type == "ex" else "pv"
    pos = rng.uniform([0, 0, 30], [120, 120, 80], size=(n_cells, 3))
    cells = [
        MultipatchCell(
            e,
            position_um=(float(pos[k, 0]), float(pos[k, 1]), float(pos[k, 2])),
            pia_direction=(0.0, 1.0, 0.0),
            layer="2/3",
            cell_class=cls[e],
            depth_um=float(pos[k, 2]),
        )
        for k, e in enumerate(els)
    ]
    protocols = [(50.0, 0.25), (50.0, 0.125), (50.0, 0.5), (20.0, 0.25)]
    lead, tail, pulse_dur, pulse_amp = 0.15, 0.25, 2e-3, 1500.0
    sweeps: list[SyncSweep] = []
    order = [e for _ in range(sweeps_per_cell) for e in els]
    tt_ap = np.arange(0, 12e-3, dt)
    ap = _action_potential(tt_ap - 0.8e-3)
    ap_peak_slope = float(tt_ap[np.argmax(np.gradient(ap, dt))])  # spike time after onset
    for k, pre in enumerate(order):
        rep = k // n_cells
        freq, delay = protocols[rep % len(protocols)]
        hold = -70.0 if rep % 2 == 0 else -55.0
        isi = 1.0 / freq
        onsets = lead + np.concatenate([np.arange(8) * isi, 7 * isi + delay + np.arange(4) * isi])
        dur = onsets[-1] + tail
        n = round(dur / dt)
        t = np.arange(n) * dt
        spikes = onsets + ap_peak_slope
        fired = rng.random(onsets.size) >= failure_rate
        traces: dict[str, Sweep] = {}
        for e in els:
            base = -70.0 if e == pre else hold
            v = np.full(n, base)
            white = rng.normal(0.0, noise_mv, n)
            slow = np.cumsum(rng.normal(0.0, 1.0, n))
            slow = slow - np.convolve(slow, np.ones(400) / 400, mode="same")
            sd = float(np.std(slow)) or 1.0
            v += white + (0.5 * noise_mv / sd) * slow
            i = np.zeros(n)
            if e == pre:
                for on, ok in zip(onsets, fired, strict=True):
                    j0, j1 = round(on / dt), round((on + pulse_dur) / dt)
                    i[j0:j1] = pulse_amp
                    # passive charging during the pulse, then the spike (if it fires)
                    s = np.clip(t - on, 0.0, None)
                    charge = 1 - np.exp(-np.minimum(s, pulse_dur) / 1e-3)
                    leak = np.exp(-np.maximum(s - pulse_dur, 0.0) / 5e-3)
                    v += np.where(t >= on, 8.0 * charge * leak, 0.0)
                    if ok:
                        j = round(on / dt)
                        m = min(ap.size, n - j)
                        v[j : j + m] += ap[:m]
            else:
                for s in syns:
                    if s.pre != pre or s.post != e:
                        continue
                    eff = tsodyks_markram(spikes[fired], s.U, s.tau_rec, s.tau_facil)
                    drive = (hold - _REVERSAL[s.synapse_type]) / (
                        _TEST_POTENTIAL[s.synapse_type] - _REVERSAL[s.synapse_type]
                    )
                    var = np.clip(1.0 + s.cv * rng.standard_normal(eff.size), 0.05, None)
                    for ts, a in zip(spikes[fired], s.amp / s.U * eff * var * drive, strict=True):
                        v += psp_curve(
                            t, amp=float(a), xoffset=float(ts + s.latency), yoffset=0.0,
                            rise_time=s.rise_time, decay_tau=s.decay_tau,
                        )  # fmt: skip
                if hold != -70.0:
                    i[:] = 60.0  # holding current keeping the cell near -55 mV
            traces[e] = Sweep(
                v=v, i=i, sampling_rate=1.0 / dt, number=k, clamp_mode=ClampMode.CURRENT_CLAMP
            )
        train = PulseTrain(
            pre, onsets, np.full(onsets.size, pulse_dur), np.full(onsets.size, pulse_amp)
        )
        sweeps.append(SyncSweep(k, traces, {pre: train}, start_time=k * sweep_interval))
    exp = MultipatchExperiment(
        name, cells, sweeps, species="mouse",
        metadata={"simulated": True, "seed": seed, "noise_mv": noise_mv},
    )  # fmt: skip
    rows = []
    by = {(sy.pre, sy.post): sy for sy in syns}
    for cp in exp.pairs():
        syn: SimulatedSynapse | None = by.get((cp.pre, cp.post))
        rows.append(
            {
                "pre": cp.pre,
                "post": cp.post,
                "distance_um": cp.distance_um,
                "connected": syn is not None,
                "synapse_type": syn.synapse_type if syn else None,
                "amp": syn.amp if syn else math.nan,
                "latency": syn.latency if syn else math.nan,
                "rise_time": syn.rise_time if syn else math.nan,
                "decay_tau": syn.decay_tau if syn else math.nan,
                "U": syn.U if syn else math.nan,
                "tau_rec": syn.tau_rec if syn else math.nan,
                "tau_facil": syn.tau_facil if syn else math.nan,
            }
        )
    return exp, pd.DataFrame(rows)


_RECOVERED = ("connected", "synapse_type", "psp_amplitude", "latency", "psp_rise_time",
              "psp_decay_tau", "tm_U", "tm_tau_rec", "tm_tau_facil")  # fmt: skip


def recovered_from_result(result: Any) -> pd.DataFrame:
    """What :func:`patchatlas.synphys.analyze` recovered, one row per (pre, post).

    Parameters
    ----------
    result
        A :class:`~patchatlas.synphys.SynphysResult`.

    Returns
    -------
    pandas.DataFrame
        Index ``(pre, post)``; the call, ``psp_amplitude`` (mV), ``latency``,
        ``psp_rise_time``, ``psp_decay_tau`` (s) and the Tsodyks-Markram ``tm_*``.
    """
    base = result.pairs.set_index(["pre", "post"])
    meas = result.measurements()
    wide = meas.pivot_table(index=["pre", "post"], columns="name", values="value")
    out = base.join(wide[[c for c in ("tm_U", "tm_tau_rec", "tm_tau_facil") if c in wide]])
    return pd.DataFrame(out.reindex(columns=list(_RECOVERED)))


def recovered_from_atlas(url: str, experiment: str) -> pd.DataFrame:
    """The same table read back from an atlas the experiment was ingested into.

    Parameters
    ----------
    url
        Atlas URL.
    experiment
        Experiment name.

    Returns
    -------
    pandas.DataFrame
        As :func:`recovered_from_result` (electrodes from the cell names).
    """
    from patchatlas.atlas import Atlas
    from patchatlas.atlas.synphys import pair_detail, synphys_pairs

    with Atlas(url, mode="r") as atlas:
        pairs = synphys_pairs(atlas, experiment=experiment)
        rows = []
        for r in pairs.to_dict("records"):
            row = {"pre": r["pre_cell"].rsplit("/", 1)[-1],
                   "post": r["post_cell"].rsplit("/", 1)[-1],
                   "connected": r["connected"], "synapse_type": r["synapse_type"]}  # fmt: skip
            meas = pair_detail(atlas, int(r["pair_id"]))["measurements"]
            row.update(dict(zip(meas["name"], meas["value"], strict=True)))
            rows.append(row)
    return pd.DataFrame(rows).set_index(["pre", "post"]).reindex(columns=list(_RECOVERED))


def recovery_table(recovered: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Truth next to what the analysis recovered, per true synapse.

    Parameters
    ----------
    recovered
        :func:`recovered_from_result` or :func:`recovered_from_atlas`.
    truth
        The truth table of :func:`simulate_multipatch`.

    Returns
    -------
    pandas.DataFrame
        Index ``pre→post``; for ``amp`` (mV), ``latency_ms``, ``rise_ms``, ``decay_ms``, ``U``,
        ``tau_rec_s``, ``tau_facil_s``: the true value and the recovered one (``*_fit``).
    """

    def get(key: tuple[str, str], col: str, scale: float = 1.0) -> float:
        v: Any = recovered.at[key, col] if key in recovered.index else None
        return math.nan if v is None or pd.isna(v) else scale * float(v)

    rows = {}
    r: Any
    for r in truth[truth["connected"]].itertuples():
        key = (str(r.pre), str(r.post))
        called: Any = recovered.at[key, "synapse_type"] if key in recovered.index else None
        rows[f"{r.pre}→{r.post}"] = {
            "type": f"{r.synapse_type}/{called!s}",
            "amp": r.amp,
            "amp_fit": get(key, "psp_amplitude"),
            "latency_ms": 1e3 * r.latency,
            "latency_fit": get(key, "latency", 1e3),
            "rise_ms": 1e3 * r.rise_time,
            "rise_fit": get(key, "psp_rise_time", 1e3),
            "decay_ms": 1e3 * r.decay_tau,
            "decay_fit": get(key, "psp_decay_tau", 1e3),
            "U": r.U,
            "U_fit": get(key, "tm_U"),
            "tau_rec_s": r.tau_rec,
            "tau_rec_fit": get(key, "tm_tau_rec"),
            "tau_facil_s": r.tau_facil,
            "tau_facil_fit": get(key, "tm_tau_facil"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def synphys_step(result: Any, done: Callable[[Any], None], seed: int) -> None:
    """The demo step: simulate, write, ingest into the demo atlas, compare with the truth.

    Parameters
    ----------
    result
        The :class:`~patchatlas.datasets.demo.DemoResult` (its ``out_dir`` and ``atlas_url``).
    done
        The demo's report callback (takes a :class:`~patchatlas.datasets.demo.Step`).
    seed
        Seed of the simulation.
    """
    from patchatlas.datasets.demo import Step
    from patchatlas.io.multipatch import write_multipatch

    exp, truth = simulate_multipatch(seed=seed)
    folder = result.out_dir / "synphys"
    folder.mkdir(parents=True, exist_ok=True)
    path = write_multipatch(exp, folder / f"{exp.name}.mpx")
    if result.atlas_url:
        from patchatlas.pipeline import ingest

        summary = ingest(folder, result.atlas_url, engines=["synphys"], recompute=True)
        if summary.failed:
            reasons = "; ".join(f"{f.name}: {f.reason}" for f in summary.failures[:3])
            done(Step("synphys", f"failed: {reasons}", None, ok=False, error=reasons))
            return
        recovered = recovered_from_atlas(result.atlas_url, exp.name)
        where = f"ingested into {result.atlas_url}"
    else:
        from patchatlas.synphys import analyze

        recovered = recovered_from_result(analyze(exp))
        where = "analysed in memory (no atlas)"
    table = recovery_table(recovered, truth)
    truth_i = truth.set_index(["pre", "post"])
    called = recovered["connected"].reindex(truth_i.index).fillna(False).astype(bool)
    true = truth_i["connected"].astype(bool)
    hits, false = int((called & true).sum()), int((called & ~true).sum())
    ok = hits == int(true.sum()) and false == 0
    done(
        Step(
            "synphys",
            f"simulated multipatch experiment {path.name}: {len(truth)} pairs, {int(true.sum())} "
            f"synapses; called {hits} of them with {false} false calls; {where}",
            table,
            ok=ok,
            error="" if ok else f"calls differ from the truth ({hits} hits, {false} false)",
            tables=[("synapses: truth vs recovered", table.round(3).T)],
        )
    )
