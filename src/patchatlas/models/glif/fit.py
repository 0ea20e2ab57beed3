"""Fit GLIF1–5 to a cell's sweeps: :func:`fit` → :class:`GlifFit`.

The procedure follows Teeter et al. (2018) where the stimuli allow it:

1. **From the data** (regressions, :mod:`._steps`): R, C, E_L from the subthreshold sweeps; the
   spike cut and the reset rule (f_v, δV) by regressing the voltage after aligned spikes on the
   voltage at threshold; Θ∞ from the smallest spiking short square, else the rheobase sweep;
   two after-spike currents by a linear fit between spikes for every pair of fixed decay rates
   (R refitted jointly); the spike-induced threshold (δΘ_s, b_s) and, for GLIF5, the
   voltage-dependent threshold (a_v, b_v) from the recorded spike thresholds.
2. **Optimised**: Allen's coefficients of Θ∞ (all levels) and of the after-spike-current
   amplitudes (GLIF3–5, one shared coefficient) by Nelder–Mead on the forced-spike likelihood
   (the model is reset at the recorded spikes; in 5 ms bins before each spike and in bins
   between spikes the closest approach d = Θ − V gives P(spike) from a Laplace distribution
   whose scale is the subthreshold noise), on a coarse-to-fine time-step schedule.
3. **Evaluated** on held-out sweeps by free-running simulation: spike counts, the coincidence
   factor Γ (±4 ms) and the explained variance at σ ∈ {1, 4, 10, 20} ms (Teeter's ratio to
   the data's own explained variance where a stimulus was repeated).

With step protocols only (no noise, no multi-pulse blips) a part of the sweeps (alternate
amplitudes by default) trains and the rest is held out. What the training sweeps can and cannot
identify is stated per level in :attr:`GlifFit.identifiability`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize

from patchatlas._version import __version__
from patchatlas.core.recording import ClampMode, Recording, Sweep
from patchatlas.errors import DataError, IdentifiabilityError, ParameterError
from patchatlas.models.glif import _backend
from patchatlas.models.glif import _params as P
from patchatlas.models.glif._params import LEVELS, GlifParameters, Method, step_vector
from patchatlas.models.glif._steps import (
    Trace,
    after_spike_currents,
    passive,
    reset_rule,
    threshold_adaptation,
    threshold_inf,
)
from patchatlas.models.glif.metrics import (
    EV_SIGMAS,
    coincidence_factor,
    explained_variance,
    smoothed_train,
    spike_count_error,
)
from patchatlas.models.glif.model import GlifModel

FloatArray = npt.NDArray[np.float64]

__all__ = ["BASELINE", "GlifFit", "fit", "prepare_sweeps"]

#: label of the plain-LIF reference model in the score tables
BASELINE = "LIF baseline"
#: coarse-to-fine time-step multipliers of the forced-spike optimisation
DT_SCHEDULE: tuple[int, ...] = (10, 3)


# ------------------------------------------------------------------------------- preparation


def _decimate(x: FloatArray, q: int) -> FloatArray:
    if q == 1:
        return x.astype(np.float64, copy=True)
    m = x.shape[0] // q
    return np.asarray(x[: m * q].reshape(m, q).mean(axis=1))


def prepare_sweeps(sweeps: Sequence[Sweep], *, dt: float = 5e-5) -> list[Trace]:
    """Current-clamp sweeps on the fitting grid, with their recorded spikes.

    Spikes are detected at the recording's rate (:func:`patchatlas.ephys.detect_spikes`, the
    Allen definitions, over the whole sweep); traces are averaged in blocks down to ``dt``
    (recordings sampled slower keep their own rate).

    Parameters
    ----------
    sweeps
        The cell's sweeps; voltage-clamp sweeps and sweeps without a current trace are skipped.
    dt
        Fitting time step (s); Teeter used 50 µs.

    Returns
    -------
    list of Trace
        One per usable sweep.
    """
    from patchatlas.ephys import detect_spikes

    out: list[Trace] = []
    for sw in sweeps:
        if sw.clamp_mode != ClampMode.CURRENT_CLAMP or sw.i is None or not sw.uniform:
            continue
        v, i = np.asarray(sw.v, float), np.asarray(sw.i, float)
        finite = np.isfinite(v) & np.isfinite(i)
        if not finite.all():
            stop = int(np.argmin(finite))
            v, i = v[:stop], i[:stop]
        if v.shape[0] < 100:
            continue
        q = max(1, round(sw.sampling_rate * dt))
        dt_fit = q / sw.sampling_rate
        t = sw.t0 + np.arange(v.shape[0]) / sw.sampling_rate
        try:
            # the dV/dt filter the sampling rate carries (10 kHz, lowered below Nyquist)
            table = detect_spikes(t, v, filter_khz=min(10.0, sw.sampling_rate / 4e3))
            thr = np.asarray(table["threshold_index"], dtype=np.int64)
            vth = np.asarray(table["threshold_v"], dtype=float)
        except DataError:
            thr, vth = np.zeros(0, dtype=np.int64), np.zeros(0)
        st = sw.stimulus
        start = int(st.start / dt_fit) if math.isfinite(st.start) else 0
        end = int(st.end / dt_fit) if math.isfinite(st.end) else v.shape[0] // q
        pre = v[: max(1, int(st.start * sw.sampling_rate))] if math.isfinite(st.start) else v[:1]
        vd, idd = _decimate(v, q), _decimate(i, q)
        sp = thr // q
        keep = sp < vd.shape[0] - 1
        out.append(
            Trace(
                number=int(sw.number),
                kind=str(st.kind),
                name=str(st.name or ""),
                amplitude=float(st.amplitude),
                v=vd,
                i=idd,
                dt=dt_fit,
                spikes=np.unique(sp[keep]),
                vth=vth[keep][np.unique(sp[keep], return_index=True)[1]],
                stim_start=start,
                stim_end=end,
                baseline=float(np.median(pre)),
            )
        )
    return out


def _default_split(traces: list[Trace]) -> tuple[list[int], list[int]]:
    """Teeter's Noise 1 / Noise 2 where named; else alternate spiking amplitudes held out."""
    noise1 = [t.number for t in traces if "noise 1" in t.name.lower()]
    noise2 = [t.number for t in traces if "noise 2" in t.name.lower()]
    if noise1 and noise2:
        test = set(noise2)
        return [t.number for t in traces if t.number not in test], sorted(test)
    spiking = sorted(
        (t for t in traces if t.spikes.size),
        key=lambda t: (t.amplitude if math.isfinite(t.amplitude) else 0.0, t.number),
    )
    test = {t.number for k, t in enumerate(spiking) if k % 2 == 1}
    return [t.number for t in traces if t.number not in test], sorted(test)


# ---------------------------------------------------------------------------- optimisation


@dataclass
class _Objective:
    """Forced-spike negative log-likelihood on the training sweeps at one time step (the sweeps
    laid end to end, the model restarted at each sweep's first voltage)."""

    stim: FloatArray
    bounds: npt.NDArray[np.int64]
    v0: FloatArray
    forced: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    is_spike: npt.NDArray[np.bool_]
    base: FloatArray
    sv: float
    dt: float
    kind: str = "teeter"

    def __call__(self, th_inf: float, asc: tuple[float, float]) -> float:
        vec = self.base.copy()
        vec[P.P_THINF] = th_inf
        vec[P.P_A1], vec[P.P_A2] = asc
        n = self.stim.shape[0]
        v, th = np.empty(n), np.empty(n)
        _backend.kernel().run_segments(self.stim, vec, self.bounds, self.v0, v, th, self.forced)
        if self.kind == "escape":
            # escape-rate point process: hazard exp((V − Θ)/sv) per ms
            u = (v - th) / self.sv
            ok = np.isfinite(u)
            integral = float(np.sum(np.exp(np.minimum(u[ok], 50.0)))) * self.dt / 1e-3
            at = self.forced - 1
            at = at[np.isfinite(u[at])]
            return -(float(np.sum(u[at])) - at.size * math.log(1e-3) - integral)
        d = np.fmin.reduceat(th - v, self.starts)
        ok = np.isfinite(d)
        d, spk = d[ok], self.is_spike[ok]
        # Laplace CDF of the closest approach (Teeter's "expsymm")
        tail = 0.5 * np.exp(-np.abs(d) / self.sv)
        p_sp = np.clip(np.where(d >= 0, tail, 1.0 - tail), 1e-12, 1 - 1e-12)
        return -float(np.sum(np.log(np.where(spk, p_sp, 1.0 - p_sp))))


def _objective(
    traces: list[Trace],
    params: GlifParameters,
    el: float,
    mult: int,
    method: Method,
    sv: float,
    kind: str,
    *,
    spike_bin: float = 5e-3,
    quiet_bin: float = 10e-3,
) -> _Objective:
    dt = traces[0].dt * mult
    stims, forced, starts, isps, v0s, bounds = [], [], [], [], [], [0]
    for t in traces:
        stim = _decimate(t.i, mult)
        n = stim.shape[0]
        off = bounds[-1]
        sp = np.unique(t.spikes // mult)
        sp = sp[(sp > 0) & (sp < n)]
        nsb = max(1, round(spike_bin / dt))
        nqb = max(1, round(quiet_bin / dt))
        edges = {0}
        for s in sp:
            edges.update((max(0, int(s) - nsb), int(s)))
        cuts = np.array(sorted(edges | set(range(0, n, nqb))), dtype=np.int64)
        spk = np.zeros(cuts.shape[0], dtype=bool)
        for s in sp:
            spk[(cuts >= max(0, int(s) - nsb)) & (cuts < s)] = True
        stims.append(stim)
        forced.append(sp.astype(np.int64) + off)
        starts.append(cuts + off)
        isps.append(spk)
        v0s.append(float(t.v[0] - el))
        bounds.append(off + n)
    base = step_vector(params, dt, method)
    return _Objective(
        stim=np.ascontiguousarray(np.concatenate(stims)),
        bounds=np.array(bounds, dtype=np.int64),
        v0=np.array(v0s),
        forced=np.concatenate(forced),
        starts=np.concatenate(starts),
        is_spike=np.concatenate(isps),
        base=base,
        sv=sv,
        dt=dt,
        kind=kind,
    )


def _optimise(
    traces: list[Trace],
    params: GlifParameters,
    el: float,
    method: Method,
    sv: float,
    schedule: Sequence[int],
    max_evals: int,
    kind: str,
) -> tuple[GlifParameters, dict[str, Any]]:
    has_asc = params.mechanisms[1]
    x = np.array([1.0, 1.0] if has_asc else [1.0])
    th0 = params.th_inf
    amps = params.asc_amp
    history = []
    for mult in schedule:
        obj = _objective(traces, params, el, mult, method, sv, kind)

        def f(z: FloatArray, obj: _Objective = obj) -> float:
            if not (0.2 < z[0] < 5.0) or (has_asc and not (-3.0 < z[1] < 5.0)):
                return 1e12
            asc = (amps[0] * z[1], amps[1] * z[1]) if has_asc else (0.0, 0.0)
            return obj(th0 * z[0], asc)

        res = minimize(
            f,
            x,
            method="Nelder-Mead",
            options={"xatol": 1e-3, "fatol": 1e-3, "maxfev": max_evals},
        )
        x = np.asarray(res.x, dtype=float)
        history.append({"dt_multiplier": mult, "nll": float(res.fun), "evaluations": int(res.nfev)})
    coeff_asc = (float(x[1]), float(x[1])) if has_asc else (1.0, 1.0)
    return params.with_(coeff_th_inf=float(x[0]), coeff_asc=coeff_asc), {"schedule": history}


# ------------------------------------------------------------------------------ evaluation


def _group_repeats(traces: list[Trace]) -> list[list[Trace]]:
    groups: dict[tuple[Any, ...], list[Trace]] = {}
    for t in traces:
        key = (t.kind, t.name, round(t.amplitude, 1) if math.isfinite(t.amplitude) else None, t.n)
        groups.setdefault(key, []).append(t)
    return list(groups.values())


def _free_run(model: GlifModel, t: Trace, method: Method) -> FloatArray:
    return model.simulate(t.i, t.dt, method=method, v_init=float(t.v[0])).spike_times


def evaluate(
    model: GlifModel,
    traces: list[Trace],
    *,
    method: Method = "exact",
    cache: dict[Any, Any] | None = None,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Free-run a model on sweeps and score its spikes against the recorded ones.

    Parameters
    ----------
    model
        The model.
    traces
        Prepared sweeps (:func:`prepare_sweeps`).
    method
        Integration method.
    cache
        Reused smoothed data trains (by sweep group and σ) across calls on the same traces
        (default: none kept).

    Returns
    -------
    summary : dict
        ``n_sweeps``, ``n_spikes_data``, ``n_spikes_model``, ``count_mae``, ``count_relative``,
        ``count_bias``, ``gamma_4ms`` (mean over sweeps with spikes), ``ev_<σ>ms`` (model EV per
        stimulus, its repeats pooled, averaged over stimuli weighted by their recorded spikes)
        and ``ev_ratio_<σ>ms`` (Teeter's ratio, same weighting, over the stimuli that were
        repeated; NaN without repeats) for σ in 1, 4, 10, 20 ms.
    per_sweep : list of dict
        ``sweep_number``, ``amplitude_pa``, ``n_data``, ``n_model``, ``gamma_4ms``.
    """
    model_spikes = {t.number: _free_run(model, t, method) for t in traces}
    rows = []
    for t in traces:
        data = t.spikes * t.dt
        ms = model_spikes[t.number]
        rows.append(
            {
                "sweep_number": t.number,
                "amplitude_pa": t.amplitude,
                "n_data": int(data.size),
                "n_model": int(ms.size),
                "gamma_4ms": coincidence_factor(data, ms, t.duration) if data.size else math.nan,
            }
        )
    counts = spike_count_error([r["n_data"] for r in rows], [r["n_model"] for r in rows])
    gam = [r["gamma_4ms"] for r in rows if math.isfinite(r["gamma_4ms"])]
    out: dict[str, float] = {
        "n_sweeps": float(len(rows)),
        "n_spikes_data": float(sum(r["n_data"] for r in rows)),
        "n_spikes_model": float(sum(r["n_model"] for r in rows)),
        "count_mae": counts["mae"],
        "count_relative": counts["relative"],
        "count_bias": counts["bias"],
        "gamma_4ms": float(np.mean(gam)) if gam else math.nan,
    }
    groups = [g for g in _group_repeats(traces) if any(t.spikes.size for t in g)]
    cache = {} if cache is None else cache
    for sigma in EV_SIGMAS:
        evs, ratios, weights, rweights = [], [], [], []
        for g in groups:
            # the data side (smoothed repeats, the data EV) is the same for every model
            key = (tuple(id(t) for t in g), sigma)
            if key not in cache:
                sm = [smoothed_train(t.spikes * t.dt, t.dt, t.duration, sigma) for t in g]
                data_ev = math.nan
                if len(sm) >= 2:
                    psth = np.mean(sm, axis=0)
                    data_ev = float(np.nanmean([explained_variance(psth, x) for x in sm]))
                cache[key] = (sm, data_ev)
            sm, data_ev = cache[key]
            g0 = g[0]
            model_train = smoothed_train(model_spikes[g0.number], g0.dt, g0.duration, sigma)
            model_ev = float(np.nanmean([explained_variance(x, model_train) for x in sm]))
            w = float(sum(t.spikes.size for t in g))
            if math.isfinite(model_ev):
                evs.append(model_ev)
                weights.append(w)
            if math.isfinite(data_ev) and data_ev > 0 and math.isfinite(model_ev):
                ratios.append(model_ev / data_ev)
                rweights.append(w)
        key_s = f"{sigma * 1e3:g}ms"
        out[f"ev_{key_s}"] = float(np.average(evs, weights=weights)) if evs else math.nan
        out[f"ev_ratio_{key_s}"] = (
            float(np.average(ratios, weights=rweights)) if ratios else math.nan
        )
    return out, rows


# ---------------------------------------------------------------------------------- result


@dataclass
class GlifFit:
    """GLIF models fitted to one cell, with their scores.

    Attributes
    ----------
    cell_id
        The recording's cell id.
    models
        Level → fitted :class:`GlifModel`.
    baseline
        The plain LIF reference (R, C, E_L and the rheobase threshold from the data, reset to
        E_L, no spike cut, nothing optimised).
    scores
        One row per model (``level`` 1–5 or :data:`BASELINE`) and split (``train``/``test``):
        the :func:`evaluate` summary.
    sweeps
        Per model, split and sweep: data and model spike counts, Γ.
    identifiability
        Level → what the training sweeps determine and what they cannot (plain words).
    skipped
        Level → why it was not fitted (only with ``on_unidentifiable="skip"``).
    train_sweeps, test_sweeps
        Sweep numbers.
    dt
        Fitting time step (s).
    method
        Integration method.
    provenance
        Package version, parameters, the intermediate regressions and the optimiser history.
    """

    cell_id: str
    models: dict[int, GlifModel]
    baseline: GlifModel | None
    scores: pd.DataFrame
    sweeps: pd.DataFrame
    identifiability: dict[int, str]
    skipped: dict[int, str]
    train_sweeps: list[int]
    test_sweeps: list[int]
    dt: float
    method: str
    provenance: dict[str, Any] = field(default_factory=dict)
    traces: list[Trace] = field(default_factory=list, repr=False)

    def score(self, level: int | str, metric: str, split: str = "test") -> float:
        """One score of one model.

        Parameters
        ----------
        level
            1–5 or :data:`BASELINE`.
        metric
            A column of :attr:`scores` (``count_mae``, ``gamma_4ms``, ``ev_10ms`` ...).
        split
            ``"train"`` or ``"test"``.

        Returns
        -------
        float
            NaN when absent.
        """
        s = self.scores
        row = s[(s["model"] == str(level)) & (s["split"] == split)]
        if row.empty or metric not in row:
            return math.nan
        return float(row[metric].iloc[0])

    def fit_scores(self, level: int) -> dict[str, Any]:
        """A level's scores as a JSON-friendly dict (what the atlas stores).

        Parameters
        ----------
        level
            1–5.

        Returns
        -------
        dict
            ``{"train": {...}, "test": {...}, "baseline_test": {...}, "identifiability": str}``.
        """
        out: dict[str, Any] = {}
        for split in ("train", "test"):
            row = self.scores[
                (self.scores["model"] == str(level)) & (self.scores["split"] == split)
            ]
            out[split] = (
                {k: _num(v) for k, v in row.iloc[0].items() if k not in ("model", "split")}
                if len(row)
                else {}
            )
        row = self.scores[(self.scores["model"] == BASELINE) & (self.scores["split"] == "test")]
        out["baseline_test"] = (
            {k: _num(v) for k, v in row.iloc[0].items() if k not in ("model", "split")}
            if len(row)
            else {}
        )
        out["identifiability"] = self.identifiability.get(level, "")
        out["train_sweeps"] = list(self.train_sweeps)
        out["test_sweeps"] = list(self.test_sweeps)
        return out

    def model_records(self, *, dt: float = 5e-5) -> list[dict[str, Any]]:
        """The fitted models as plain records for storage (the atlas's ``models`` table).

        Parameters
        ----------
        dt
            ``dt`` of the exported Allen configs (s).

        Returns
        -------
        list of dict
            ``kind`` (``"glif"``), ``name`` (``"GLIF<level>"``), ``parameters`` (the Allen
            ``neuron_config``) and ``fit_scores`` (:meth:`fit_scores`), one per level.
        """
        return [
            {
                "kind": "glif",
                "name": f"GLIF{lv}",
                "parameters": m.to_allen_config(dt=dt),
                "fit_scores": self.fit_scores(lv),
            }
            for lv, m in sorted(self.models.items())
        ]

    def trace(self, number: int) -> Trace:
        """The prepared sweep ``number`` (fitting grid).

        Parameters
        ----------
        number
            Sweep number.

        Returns
        -------
        Trace
            Voltage (mV), current (pA), recorded spike samples.
        """
        for t in self.traces:
            if t.number == number:
                return t
        raise ParameterError(
            f"{self.cell_id}: no prepared sweep {number}; have {[t.number for t in self.traces]}"
        )


def _num(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


# -------------------------------------------------------------------------------------- fit


def _safe_reset(p: GlifParameters) -> GlifParameters:
    """Keep the biological reset below the threshold it resets to (else the model fires at every
    step after its first spike): f_v Θ + δV < Θ + δΘ_s at the lowest threshold Θ = Θ∞."""
    if p.level not in (2, 4, 5):
        return p
    th = p.threshold
    lim = (1.0 - p.reset_fraction) * th + p.th_spike_amp - 0.5
    if p.reset_fraction > 1.0:
        return p.with_(reset_fraction=1.0, reset_add=min(p.reset_add, p.th_spike_amp - 0.5))
    return p.with_(reset_add=lim) if p.reset_add > lim else p


def _statement(level: int, notes: dict[str, str]) -> str:
    parts = [notes["passive"], notes["th_inf"]]
    if level in (1, 3):
        parts.append(notes.get("cut", "spike cut: default"))
    if level in (2, 4, 5):
        parts.append(notes.get("reset", ""))
        parts.append(notes.get("th_spike", ""))
    if level in (3, 4, 5):
        parts.append(notes.get("asc", ""))
    if level == 5:
        parts.append(notes.get("th_voltage", ""))
    return " ".join(p for p in parts if p)


def fit(
    recording: Recording | Sequence[Sweep],
    *,
    levels: Sequence[int] = LEVELS,
    train: Sequence[int] | None = None,
    test: Sequence[int] | None = None,
    method: Method = "exact",
    dt: float = 5e-5,
    optimize: bool = True,
    schedule: Sequence[int] = DT_SCHEDULE,
    max_evals: int = 80,
    objective: Literal["best", "teeter", "escape"] = "best",
    on_unidentifiable: Literal["raise", "skip"] = "raise",
    progress: Callable[[int], None] | None = None,
) -> GlifFit:
    """Fit GLIF models of the given levels to a cell's current-clamp sweeps.

    Parameters
    ----------
    recording
        The cell (a :class:`~patchatlas.core.Recording` or its sweeps); sweeps need the injected
        current (``sweep.i``, pA) and the voltage (mV).
    levels
        Levels to fit (1–5).
    train, test
        Sweep numbers for fitting and for evaluation. Default: Noise 1 trains and Noise 2 is
        held out when the stimulus names say so; otherwise every other spiking amplitude is
        held out and the rest (all subthreshold sweeps included) trains.
    method
        ``"exact"`` or ``"euler"`` (Allen's simulator scheme) for optimisation and evaluation.
    dt
        Fitting time step (s).
    optimize
        Optimise the Allen coefficients (False: the values from the data only).
    schedule
        Coarse-to-fine time-step multipliers of the optimisation.
    max_evals
        Nelder–Mead evaluations per schedule stage.
    objective
        ``"teeter"``: Teeter's binned forced-spike likelihood (Laplace in the closest approach
        of V to Θ); ``"escape"``: the forced-spike likelihood of an escape-rate point process
        (hazard ``exp((V − Θ)/σ)/ms``, whose optimum matches the expected to the recorded spike
        count); ``"best"`` (default): both, keeping the one whose free run explains more
        variance (σ = 10 ms) of the *training* spike trains.
    on_unidentifiable
        ``"raise"`` an :class:`~patchatlas.errors.IdentifiabilityError` when a requested level
        cannot be identified from the training sweeps, or ``"skip"`` it (reason in
        :attr:`GlifFit.skipped`).
    progress
        Called with each level when it is done.

    Returns
    -------
    GlifFit
        The models, their train and held-out scores, the plain-LIF reference, the
        identifiability statements and provenance.

    Raises
    ------
    patchatlas.errors.IdentifiabilityError
        No subthreshold or no spiking training sweep (no level can be fitted), or a requested
        level the sweeps cannot identify (with ``on_unidentifiable="raise"``).
    patchatlas.errors.ParameterError
        Unknown levels, method, or sweep numbers.
    """
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad or not levels:
        raise ParameterError(f"levels must be a non-empty subset of {LEVELS}, got {list(levels)}")
    if method not in P.METHODS:
        raise ParameterError(f"method must be one of {P.METHODS}, got {method!r}")
    if on_unidentifiable not in ("raise", "skip"):
        raise ParameterError(
            f"on_unidentifiable must be 'raise' or 'skip', got {on_unidentifiable!r}"
        )
    sweeps = list(recording.sweeps if isinstance(recording, Recording) else recording)
    cell_id = recording.cell_id if isinstance(recording, Recording) else ""
    name = cell_id or "the cell"
    traces = prepare_sweeps(sweeps, dt=dt)
    if not traces:
        raise DataError(
            f"{name}: no current-clamp sweep with a current trace to fit GLIF models to"
        )
    rates = {round(t.dt, 12) for t in traces}
    if len(rates) > 1:
        raise DataError(
            f"{name}: sweeps sampled at different rates ({sorted(rates)}); fit one rate at a time"
        )
    by_num = {t.number: t for t in traces}
    if train is None and test is None:
        train_n, test_n = _default_split(traces)
    else:
        test_n = sorted(test or [])
        train_n = list(train) if train is not None else [n for n in by_num if n not in set(test_n)]
        unknown = sorted((set(train_n) | set(test_n)) - set(by_num))
        if unknown:
            raise ParameterError(
                f"{name}: no usable current-clamp sweeps {unknown}; have {sorted(by_num)}"
            )
    tr = [by_num[n] for n in train_n]
    te = [by_num[n] for n in test_n]
    dt_fit = traces[0].dt
    try:
        pas = passive(tr, dt_fit)
        el = pas.El
        th_inf, th_note = threshold_inf(tr, el)
    except IdentifiabilityError as exc:
        raise IdentifiabilityError(f"{name}: {exc}") from None
    notes = {
        "passive": (
            f"R, C, E_L from the spike-free stretches of {pas.n_sweeps} small-amplitude "
            f"sweep(s) (R {pas.R:.0f} MΩ, C {pas.C:.0f} pF)."
        ),
        "th_inf": f"Θ∞ from the {th_note}.",
    }
    sv = max(pas.noise * math.sqrt(pas.nb), 1.0)
    errors: dict[int, str] = {}
    rule = None
    try:
        rule = reset_rule(tr, el, dt_fit)
        spread_note = (
            "weakly identified: the spike thresholds span only "
            f"{rule.spread:.1f} mV (SD), so f_v rests on little leverage"
            if rule.spread < 2.0
            else f"thresholds spread {rule.spread:.1f} mV (SD)"
        )
        notes["reset"] = (
            f"Reset rule f_v={rule.fraction:.2f}, δV={rule.add:.1f} mV and a "
            f"{rule.cut * dt_fit * 1e3:.1f} ms "
            f"spike cut from {rule.n_spikes} aligned spikes ({spread_note}"
            + ("; f_v was outside [0, 1] and was constrained" if rule.constrained else "")
            + ")."
        )
        notes["cut"] = (
            f"Spike cut {rule.cut * dt_fit * 1e3:.1f} ms from {rule.n_spikes} aligned spikes."
        )
        cut = rule.cut
    except IdentifiabilityError as exc:
        for lv in (2, 4, 5):
            errors[lv] = f"GLIF{lv}: {exc}"
        cut = round(2e-3 / dt_fit)
        notes["cut"] = "Spike cut set to 2 ms (too few spikes to fit it)."
    asc = None
    try:
        asc = after_spike_currents(tr, pas, cut, dt_fit)
        notes["asc"] = (
            f"After-spike currents {asc.amp[0]:.0f} / {asc.amp[1]:.0f} pA with τ "
            f"{1e3 / asc.k[0]:.0f} / "
            f"{1e3 / asc.k[1]:.1f} ms (fixed candidates) from {asc.n_spikes} intervals in step "
            "trains; amplitude and τ trade off within a train, so the pair is the best of 10, "
            "not a unique optimum."
        )
    except IdentifiabilityError as exc:
        for lv in (3, 4, 5):
            errors.setdefault(lv, f"GLIF{lv}: {exc}")
    adapt = {}
    for voltage in (False, True):
        try:
            adapt[voltage] = threshold_adaptation(tr, el, cut, voltage=voltage)
        except IdentifiabilityError as exc:
            for lv in (5,) if voltage else (2, 4, 5):
                errors.setdefault(lv, f"GLIF{lv}: {exc}")
    if False in adapt:
        a0 = adapt[False]
        notes["th_spike"] = (
            f"Spike-induced threshold δΘs={a0.amp:.2f} mV, b_s={a0.b_s:.0f}/s from the "
            "thresholds of "
            f"{a0.n_spikes} spikes in trains (no multi-blip sweeps: within-train threshold drift, "
            "confounded with after-spike currents)."
        )
    if True in adapt:
        a1 = adapt[True]
        notes["th_voltage"] = (
            f"Voltage-dependent threshold a_v={a1.a_v:.2f}/s, b_v={a1.b_v:.0f}/s from "
            f"{a1.n_spikes} "
            "spike thresholds after step-shaped voltage histories: weakly identified without noise "
            "stimuli (steps give few distinct approaches to threshold)."
        )
    identifiability: dict[int, str] = {}
    ev_cache: dict[Any, Any] = {}
    skipped: dict[int, str] = {}
    models: dict[int, GlifModel] = {}
    opt_info: dict[str, Any] = {}
    for lv in sorted(set(levels)):
        if lv in errors:
            identifiability[lv] = f"not identifiable: {errors[lv]}"
            if on_unidentifiable == "raise":
                raise IdentifiabilityError(f"{name}: {errors[lv]}")
            skipped[lv] = errors[lv]
            continue
        identifiability[lv] = _statement(lv, notes)
        r_level = asc.R if (lv >= 3 and asc is not None) else pas.R
        c_level = pas.C * pas.R / r_level  # same τ
        params = GlifParameters(
            level=lv,
            El=el,
            R=r_level,
            C=c_level,
            th_inf=th_inf,
            spike_cut=cut * dt_fit,
        )
        if lv in (2, 4, 5):
            assert rule is not None
            a = adapt[lv == 5]
            params = params.with_(
                reset_fraction=rule.fraction,
                reset_add=rule.add,
                th_spike_amp=a.amp,
                th_spike_decay=a.b_s,
            )
            if lv == 5:
                params = params.with_(th_inf=a.th_inf, a_v=a.a_v, b_v=a.b_v)
            params = _safe_reset(params)
        if lv >= 3:
            assert asc is not None
            params = params.with_(asc_amp=asc.amp, asc_k=asc.k)
        if optimize:
            kinds = ("teeter", "escape") if objective == "best" else (objective,)
            cands = []
            for kind in kinds:
                p_k, info = _optimise(tr, params, el, method, sv, schedule, max_evals, kind)
                summ = (
                    evaluate(GlifModel(p_k), tr, method=method, cache=ev_cache)[0]
                    if len(kinds) > 1
                    else {}
                )
                cands.append((summ.get("ev_10ms", 0.0), kind, p_k, info))
            score, kind, params, info = max(
                cands, key=lambda c: c[0] if math.isfinite(c[0]) else -math.inf
            )
            opt_info[str(lv)] = {**info, "objective": kind, "train_ev_10ms": score}
        params = _safe_reset(params)
        models[lv] = GlifModel(params, name=f"GLIF{lv}")
        if progress is not None:
            progress(lv)
    baseline = GlifModel(
        GlifParameters(level=1, El=el, R=pas.R, C=pas.C, th_inf=th_inf, spike_cut=0.0),
        name=BASELINE,
    )
    score_rows, sweep_rows = [], []
    for label, model in [*((str(k), m) for k, m in models.items()), (BASELINE, baseline)]:
        for split, ts in (("train", tr), ("test", te)):
            if not ts:
                continue
            summ, per = evaluate(model, ts, method=method, cache=ev_cache)
            score_rows.append({"model": label, "split": split, **summ})
            sweep_rows += [{"model": label, "split": split, **r} for r in per]
    provenance = {
        "package_version": __version__,
        "procedure": (
            "Teeter et al. 2018 (regressions from data, Nelder-Mead on the forced-spike likelihood)"
        ),
        "method": method,
        "dt": dt_fit,
        "backend": _backend.active(),
        "optimize": optimize,
        "schedule": list(schedule),
        "max_evals": max_evals,
        "laplace_scale_mv": sv,
        "levels": sorted(set(levels)),
        "passive": {"R": pas.R, "C": pas.C, "El": pas.El, "noise_mv": pas.noise},
        "th_inf": {"value": th_inf, "source": th_note},
        "reset_rule": None if rule is None else rule.__dict__,
        "after_spike_currents": None if asc is None else asc.__dict__,
        "threshold_adaptation": {str(k): v.__dict__ for k, v in adapt.items()},
        "optimisation": opt_info,
    }
    return GlifFit(
        cell_id=cell_id,
        models=models,
        baseline=baseline,
        scores=pd.DataFrame(score_rows),
        sweeps=pd.DataFrame(sweep_rows),
        identifiability=identifiability,
        skipped=skipped,
        train_sweeps=list(train_n),
        test_sweeps=list(test_n),
        dt=dt_fit,
        method=method,
        provenance=provenance,
        traces=traces,
    )
