"""One analysis of a multipatch experiment: :func:`analyze` → :class:`SynphysResult`.

For every ordered pair of cells (and every pair a headstage without a cell would have formed,
reported as such):

1. presynaptic pulses (read, or found in the command) and the spikes they evoked
   (:mod:`patchatlas.synphys.stimulus`);
2. responses with matched baselines and QC (:func:`patchatlas.synphys.pair_responses`); the
   counts of responses passing the excitatory / inhibitory QC (``n_ex_test_spikes``,
   ``n_in_test_spikes``);
3. foreground-against-background statistics and the automated call
   (:mod:`patchatlas.synphys.detection`); a call carried by the experiment (manual, published)
   wins;
4. averaged responses per category — current / voltage clamp × holding near −70 mV (excitatory
   tests, [−80, −60) mV) or −55 mV (inhibitory tests, [−60, −50) mV), probes up to 50 Hz —
   aligned to the presynaptic spike, fitted with :func:`patchatlas.synphys.fit_psp` (onset
   0.5–10 ms after the spike, 3× weight from there to 4 ms after the latest onset, the spike's
   ±0.5 ms masked; sign from the synapse type); kinetics averaged over categories with weights
   n × amplitude² (Allen: n; a category where the synapse is near its reversal potential has a
   tiny, noisy response), latency only when all categories agree within 200 µs;
5. for synapses: the resting-state amplitude (responses > 8 s after the previous presynaptic
   spike, latency fixed ±100 µs, kinetics within a factor 2 of the synapse's), per-response
   amplitudes with the kinetics fixed, STP metrics and a Tsodyks–Markram fit
   (:mod:`patchatlas.synphys.dynamics`).

Bad input never stops the experiment: a headstage without a cell, a train without spikes or a pair
without usable sweeps is reported in that pair's ``problems`` (and in
:attr:`SynphysResult.problems`), and the other pairs are analysed. A pair whose recording jumps
at the presynaptic pulse onset (stimulus crosstalk above ``ResponseOptions.ic_max_crosstalk``,
60 µV by default, and distinct from its background) is flagged and, unless a manual call exists,
left uncalled rather than called on an artifact.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from patchatlas._version import __version__
from patchatlas.core.multipatch import CellPair, MultipatchExperiment, PulseTrain
from patchatlas.core.recording import ClampMode
from patchatlas.errors import DataError, IndexOutOfRangeError, PatchAtlasError
from patchatlas.synphys.connectivity import pair_was_probed
from patchatlas.synphys.detection import (
    ConnectionCallResult,
    call_connection,
    pair_statistics,
    response_features,
)
from patchatlas.synphys.dynamics import (
    TMFit,
    fit_tsodyks_markram,
    response_amplitudes,
    stp_metrics,
)
from patchatlas.synphys.psp import PspFit, fit_psp
from patchatlas.synphys.registry import MEASUREMENTS
from patchatlas.synphys.responses import PairResponses, ResponseOptions, pair_responses
from patchatlas.synphys.stimulus import detect_evoked_spikes, find_pulses

__all__ = [
    "PAIR_COLUMNS",
    "AverageResponse",
    "PairAnalysis",
    "STPResult",
    "SynphysResult",
    "analyze",
    "prepare_trains",
]

FloatArray = npt.NDArray[np.float64]

#: columns of :attr:`SynphysResult.pairs`
PAIR_COLUMNS: tuple[str, ...] = (
    "pre",
    "post",
    "pre_cell",
    "post_cell",
    "pre_class",
    "post_class",
    "distance_um",
    "lateral_distance_um",
    "vertical_distance_um",
    "n_responses",
    "n_ex_test_spikes",
    "n_in_test_spikes",
    "probed",
    "connected",
    "synapse_type",
    "electrical",
    "call_source",
    "crosstalk_artifact",
    "p_value",
    "confidence",
    "latency",
    "psp_amplitude",
    "psp_rise_time",
    "psp_decay_tau",
    "psc_amplitude",
    "psc_rise_time",
    "psc_decay_tau",
    "detection_power",
    "status",
    "problems",
)

#: (mode, holding label, QC flag, holding range mV) of the averaged-response categories
CATEGORIES: tuple[tuple[str, str, str, tuple[float, float]], ...] = (
    ("ic", "70", "ex_qc", (-80.0, -60.0)),
    ("ic", "55", "in_qc", (-60.0, -50.0)),
    ("vc", "70", "ex_qc", (-80.0, -60.0)),
    ("vc", "55", "in_qc", (-60.0, -50.0)),
)
_ALIGN = (-8e-3, 40e-3)  # spike-aligned window of the averages (s)


@dataclass
class AverageResponse:
    """A spike-aligned averaged response of one category and its template fit.

    Attributes
    ----------
    category
        ``"ic_70"``, ``"ic_55"``, ``"vc_70"``, ``"vc_55"``.
    t
        Time after the presynaptic spike (s).
    y
        Mean response, baseline subtracted (mV or pA; NaN where no response covers a sample).
    n
        Responses averaged.
    fit
        The :class:`~patchatlas.synphys.PspFit` (None when the fit was impossible).
    sign
        The sign constraint used.
    """

    category: str
    t: FloatArray
    y: FloatArray
    n: int
    fit: PspFit | None
    sign: int


@dataclass
class STPResult:
    """Short-term plasticity of one synapse.

    Attributes
    ----------
    summary
        :func:`patchatlas.synphys.stp_metrics` summary (registry names).
    protocols
        Per (induction frequency, recovery delay) metrics.
    pulses
        Per protocol and pulse: mean/median/SD/n of the amplitudes, ``time`` (s after the first
        pulse) and the Tsodyks–Markram ``model`` amplitude.
    tm
        The :class:`~patchatlas.synphys.TMFit` (None when it could not be fitted).
    amplitudes
        Per-response amplitudes used (response table + ``amp``, ``bg_amp``).
    """

    summary: dict[str, float]
    protocols: pd.DataFrame
    pulses: pd.DataFrame
    tm: TMFit | None
    amplitudes: pd.DataFrame


@dataclass
class PairAnalysis:
    """Everything computed for one ordered pair.

    Attributes
    ----------
    pre, post
        Electrodes.
    row
        The pair's row of :attr:`SynphysResult.pairs` (dict).
    averages
        :class:`AverageResponse` per category with responses.
    stp
        :class:`STPResult` for synapses with amplitudes, else None.
    statistics
        :func:`patchatlas.synphys.pair_statistics` (foreground against background).
    auto_call
        The automated call (None when not computed).
    resting
        Resting-state averaged responses (``"ic"``/``"vc"``).
    problems
        What went wrong for this pair (words).
    """

    pre: str
    post: str
    row: dict[str, Any]
    averages: list[AverageResponse] = field(default_factory=list)
    stp: STPResult | None = None
    statistics: dict[str, float] = field(default_factory=dict)
    auto_call: ConnectionCallResult | None = None
    resting: dict[str, AverageResponse] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class SynphysResult:
    """Everything :func:`analyze` computed for one experiment.

    Attributes
    ----------
    experiment
        Experiment name.
    pairs
        One row per ordered pair (:data:`PAIR_COLUMNS`): distances (µm), test counts, the call
        and where it came from, kinetics (s), resting amplitudes (mV, pA), status, problems.
    details
        ``(pre, post) → PairAnalysis`` (averages with fits, STP, statistics).
    responses
        One row per response of every pair (``pre``, ``post`` + the response table).
    problems
        One row per problem: ``pre, post, problem``.
    provenance
        ``package_version``, ``engine``, ``parameters``, ``counts``.
    """

    experiment: str
    pairs: pd.DataFrame
    details: dict[tuple[str, str], PairAnalysis]
    responses: pd.DataFrame
    problems: pd.DataFrame
    provenance: dict[str, Any]

    def __iter__(self) -> Iterator[PairAnalysis]:
        return iter(self.details.values())

    def __len__(self) -> int:
        return len(self.pairs)

    def __repr__(self) -> str:
        n_conn = int(self.pairs["connected"].fillna(False).astype(bool).sum()) if len(self) else 0
        return (
            f"SynphysResult({self.experiment!r}, {len(self)} pairs, {n_conn} connected, "
            f"{len(self.problems)} problems)"
        )

    def pair(self, pre: str, post: str) -> PairAnalysis:
        """The analysis of ``pre → post``.

        Parameters
        ----------
        pre, post
            Electrodes.

        Returns
        -------
        PairAnalysis
        """
        try:
            return self.details[(pre, post)]
        except KeyError:
            raise IndexOutOfRangeError(
                f"{self.experiment!r}: no pair {pre}->{post}; pairs: {list(self.details)[:10]}"
            ) from None

    def measurements(self) -> pd.DataFrame:
        """Every registered measurement of every pair, long format with units.

        Returns
        -------
        pandas.DataFrame
            ``pre, post, name, value, unit`` (finite values only), names from
            :data:`patchatlas.synphys.MEASUREMENTS`.
        """
        rows = []
        for pa in self.details.values():
            for name, value in _pair_measurements(pa).items():
                if value is None or not math.isfinite(value):
                    continue
                rows.append(
                    {
                        "pre": pa.pre,
                        "post": pa.post,
                        "name": name,
                        "value": float(value),
                        "unit": MEASUREMENTS[name].unit,
                    }
                )
        return pd.DataFrame(rows, columns=["pre", "post", "name", "value", "unit"])


def _pair_measurements(pa: PairAnalysis) -> dict[str, float]:
    r = pa.row
    out: dict[str, float] = {}
    for k in ("latency", "psp_amplitude", "psp_rise_time", "psp_decay_tau", "psc_amplitude",
              "psc_rise_time", "psc_decay_tau", "n_ex_test_spikes", "n_in_test_spikes",
              "p_value", "detection_power"):  # fmt: skip
        v = r.get(k)
        if v is not None:
            out[k] = float(v)
    for key, name in (("ic_crosstalk", "crosstalk"), ("ic_crosstalk_excess", "crosstalk_excess")):
        xt = pa.statistics.get(key)
        if xt is not None and math.isfinite(xt):
            out[name] = float(xt)
    for av in pa.averages:
        if av.fit is None:
            continue
        f = av.fit
        vals = (f.amp, f.latency, f.rise_time, f.decay_tau, f.nrmse, float(av.n))
        for key, v in zip(("amp", "latency", "rise_time", "decay_tau", "nrmse", "n"), vals,
                          strict=True):  # fmt: skip
            out[f"{av.category}_{key}"] = float(v)
    if pa.stp is not None:
        for k, v in pa.stp.summary.items():
            if k in MEASUREMENTS:
                out[k] = float(v)
        if pa.stp.tm is not None:
            tm = pa.stp.tm
            out.update(
                tm_amp=tm.amp, tm_U=tm.U, tm_tau_rec=tm.tau_rec, tm_tau_facil=tm.tau_facil,
                tm_r2=tm.r2,
            )  # fmt: skip
    return out


# ------------------------------------------------------------------------------ preparation


def prepare_trains(
    experiment: MultipatchExperiment, *, spike_options: dict[str, Any] | None = None
) -> tuple[dict[int, dict[str, PulseTrain]], list[tuple[str, str, str]]]:
    """Pulse trains with spike times, as :func:`analyze` prepares them.

    Trains the file declares are kept (their spikes detected when missing); in current-clamp
    sweeps without one, pulses are found in the command (:func:`patchatlas.synphys.find_pulses`).

    Parameters
    ----------
    experiment
        The experiment.
    spike_options
        Keyword arguments of :func:`patchatlas.synphys.detect_evoked_spikes`.

    Returns
    -------
    trains : dict
        Sweep position → electrode (with a cell) → :class:`~patchatlas.core.PulseTrain` with
        ``spike_times`` (the input for :func:`patchatlas.synphys.pair_responses`).
    problems : list of (electrode, scope, message)
        Trains that evoked no spike, presynaptic cells in voltage clamp.
    """
    problems: list[tuple[str, str, str]] = []
    spike_kw = dict(spike_options or {})
    cells = set(experiment.electrodes)
    out: dict[int, dict[str, PulseTrain]] = {}
    silent: dict[str, int] = {}
    for k, sync in enumerate(experiment.sweeps):
        here: dict[str, PulseTrain] = {}
        for el, sw in sync.sweeps.items():
            if el not in cells:
                continue
            tr = sync.trains.get(el)
            if tr is None:
                if sw.clamp_mode != ClampMode.CURRENT_CLAMP or sw.i is None:
                    continue
                on, dur, amp = find_pulses(sw.i, sw.dt, t0=sw.t0)
                if on.size == 0:
                    continue
                tr = PulseTrain(el, on, dur, amp)
            if tr.spike_times is None:
                if sw.clamp_mode != ClampMode.CURRENT_CLAMP:
                    problems.append(
                        (
                            el,
                            "*",
                            f"sweep {sync.number}: presynaptic cell {el} in "
                            "voltage clamp; its spikes are not detected",
                        )
                    )
                    tr = replace(tr, spike_times=np.full(tr.n_pulses, np.nan))
                else:
                    spikes = detect_evoked_spikes(
                        sw.v, sw.dt, tr.onsets, tr.durations, t0=sw.t0, **spike_kw
                    )
                    tr = replace(tr, spike_times=spikes)
            if tr.n_pulses and tr.n_spikes == 0:
                silent[el] = silent.get(el, 0) + 1
            here[el] = tr
        if here:
            out[k] = here
    for el, n in silent.items():
        problems.append((el, "*", f"{n} train(s) on {el} evoked no spike"))
    return out, problems


def _aligned_average(
    pr: PairResponses, rows: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, int]:
    """Spike-aligned, baseline-subtracted mean of the selected responses."""
    dt = pr.dt
    t_al = np.asarray(np.arange(round(_ALIGN[0] / dt), round(_ALIGN[1] / dt)) * dt, np.float64)
    data = pr.data[rows]
    delay = pr.table["spike_delay"].to_numpy(dtype=float)[rows]
    pre = (pr.t >= -5e-3) & (pr.t < 0)
    with np.errstate(all="ignore"):
        base = np.nanmedian(data[:, pre], axis=1)
    y = data - base[:, None]
    pos = (t_al[None, :] + delay[:, None] - pr.t[0]) / dt
    i0 = np.floor(pos).astype(np.int64)
    frac = pos - i0
    n = y.shape[1]
    ok = (i0 >= 0) & (i0 + 1 < n)
    i0c = np.clip(i0, 0, n - 2)
    r = np.arange(y.shape[0])[:, None]
    vals = y[r, i0c] * (1 - frac) + y[r, i0c + 1] * frac
    vals = np.where(ok, vals, np.nan)
    # only where every response contributes: responses cut short at the next pulse would
    # otherwise change the composition of the mean along the trace
    full = np.isfinite(vals).all(axis=0)
    mean = np.full(t_al.size, np.nan)
    if vals.shape[0]:
        mean[full] = vals[:, full].mean(axis=0)
    return t_al, mean, int(vals.shape[0])


def _sign_for(synapse_type: str | None, mode: str, hold: str) -> int:
    if synapse_type == "ex":
        return 1 if mode == "ic" else -1
    if synapse_type == "in":
        if hold == "55":
            return -1 if mode == "ic" else 1
        return 0
    return 0


def _fit_average(
    t: FloatArray,
    y: FloatArray,
    mode: str,
    sign: int,
    *,
    onset: tuple[float, float] = (0.5e-3, 10e-3),
    rise_bounds: tuple[float, float] | None = None,
    decay_bounds: tuple[float, float] | None = None,
    exp_baseline: bool = True,
) -> PspFit | None:
    ok = np.isfinite(y)
    if ok.sum() < 20:
        return None
    w = np.where(ok, 1.0, 0.0)
    w[(t >= onset[0]) & (t <= onset[1] + 4e-3) & ok] = 3.0
    w[np.abs(t) <= 0.5e-3] = 0.0
    try:
        return fit_psp(
            t, np.where(ok, y, 0.0), sign=sign, clamp_mode=mode,  # type: ignore[arg-type]
            onset_window=onset, weights=w, rise_bounds=rise_bounds, decay_bounds=decay_bounds,
            exp_baseline=exp_baseline,
        )  # fmt: skip
    except PatchAtlasError:
        return None


def _weighted(vals: list[tuple[float, float]]) -> float:
    v = [(x, n) for x, n in vals if math.isfinite(x) and n > 0]
    if not v:
        return math.nan
    return float(sum(x * n for x, n in v) / sum(n for _, n in v))


# ---------------------------------------------------------------------------------- analyze


def analyze(
    experiment: MultipatchExperiment,
    *,
    alpha: float = 1e-3,
    min_responses: int = 10,
    max_frequency: float = 50.0,
    probe_threshold: int = 10,
    options: ResponseOptions | None = None,
    spike_options: dict[str, Any] | None = None,
    fit_all_pairs: bool = False,
) -> SynphysResult:
    """Analyse a multipatch experiment: responses, calls, PSP fits, kinetics, STP.

    Parameters
    ----------
    experiment
        The experiment (cells, synchronous sweeps, optional trains and calls).
    alpha
        Operating point of the automated call (:func:`patchatlas.synphys.call_connection`).
    min_responses
        Responses a clamp mode needs for the automated call.
    max_frequency
        Highest induction frequency of the probes averaged for kinetics (Hz).
    probe_threshold
        A pair is *probed* with more than this many test spikes
        (:func:`patchatlas.synphys.pair_was_probed`).
    options
        Response windows and QC limits (:class:`patchatlas.synphys.ResponseOptions`). A pair
        whose stimulus crosstalk exceeds ``ic_max_crosstalk``/``vc_max_crosstalk`` gets
        ``crosstalk_artifact`` True and a problem; without a manual call its automated call is
        withheld (``connected`` None, ``probed`` False, status ``"crosstalk artifact"``).
    spike_options
        Keyword arguments of :func:`patchatlas.synphys.detect_evoked_spikes`.
    fit_all_pairs
        Also fit the averaged responses of unconnected pairs (their fit parameters are
        classifier features); by default only synapses are fitted.

    Returns
    -------
    SynphysResult
        Pair table, per-pair details, responses, problems and provenance.

    Raises
    ------
    patchatlas.errors.DataError
        The experiment has no cells.
    """
    if not experiment.cells:
        raise DataError(f"experiment {experiment.name!r} has no cells; nothing to analyse")
    opts = options or ResponseOptions()
    trains, problems = prepare_trains(experiment, spike_options=spike_options)
    cells = {c.electrode: c for c in experiment.cells}
    details: dict[tuple[str, str], PairAnalysis] = {}
    response_tables = []
    cache: dict[tuple[object, ...], object] = {}
    pairs: list[CellPair] = experiment.pairs()
    for el in experiment.electrodes_without_cell:
        for c in experiment.electrodes:
            pairs += [CellPair(el, c), CellPair(c, el)]
    for cp in pairs:
        pa, resp = _analyse_pair(experiment, cp, cells, trains, opts, alpha, min_responses,
                                 max_frequency, probe_threshold, fit_all_pairs,
                                 cache)  # fmt: skip
        for el, scope, msg in problems:
            if el == cp.pre and scope == "*":
                pa.problems.append(msg)
        pa.row["problems"] = "; ".join(pa.problems) or None
        details[(cp.pre, cp.post)] = pa
        if resp is not None and len(resp):
            response_tables.append(resp.table.assign(pre=cp.pre, post=cp.post))
    rows = [pa.row for pa in details.values()]
    table = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    for c in ("connected", "electrical"):
        table[c] = table[c].astype("boolean")
    responses = pd.concat(response_tables, ignore_index=True) if response_tables else pd.DataFrame()
    prob = pd.DataFrame(
        [(pa.pre, pa.post, p) for pa in details.values() for p in pa.problems],
        columns=["pre", "post", "problem"],
    )
    provenance = {
        "package_version": __version__,
        "engine": "synphys",
        "parameters": {
            "alpha": alpha,
            "min_responses": min_responses,
            "max_frequency": max_frequency,
            "probe_threshold": probe_threshold,
            "probed_rule": f"> {probe_threshold} test spikes",
            "response_options": opts.__dict__,
            "spike_options": dict(spike_options or {}),
            "fit_all_pairs": fit_all_pairs,
        },
        "counts": {
            "pairs": len(table),
            "connected": int(table["connected"].fillna(False).sum()),
            "responses": len(responses),
            "problems": len(prob),
        },
    }
    return SynphysResult(experiment.name, table, details, responses, prob, provenance)


def _analyse_pair(
    experiment: MultipatchExperiment,
    cp: CellPair,
    cells: dict[str, Any],
    trains: dict[int, dict[str, PulseTrain]],
    opts: ResponseOptions,
    alpha: float,
    min_responses: int,
    max_frequency: float,
    probe_threshold: int,
    fit_all: bool,
    cache: dict[tuple[object, ...], object],
) -> tuple[PairAnalysis, PairResponses | None]:
    pre_c, post_c = cells.get(cp.pre), cells.get(cp.post)
    row: dict[str, Any] = dict.fromkeys(PAIR_COLUMNS)
    row.update(
        pre=cp.pre,
        post=cp.post,
        pre_cell=pre_c.cell_id if pre_c else None,
        post_cell=post_c.cell_id if post_c else None,
        pre_class=pre_c.cell_class if pre_c else None,
        post_class=post_c.cell_class if post_c else None,
        distance_um=cp.distance_um,
        lateral_distance_um=cp.lateral_distance_um,
        vertical_distance_um=cp.vertical_distance_um,
        n_responses=0,
        n_ex_test_spikes=0,
        n_in_test_spikes=0,
    )
    pa = PairAnalysis(cp.pre, cp.post, row)
    if pre_c is None or post_c is None:
        missing = cp.pre if pre_c is None else cp.post
        pa.problems.append(f"headstage {missing} recorded sweeps but holds no cell")
        row["status"] = "no cell"
        row["probed"] = False
        return pa, None
    manual = experiment.call(cp.pre, cp.post)
    if manual is not None:
        row.update(
            connected=manual.connected,
            synapse_type=manual.synapse_type,
            electrical=manual.electrical,
            call_source=manual.source,
        )
    if not experiment.sweeps:
        row["status"] = "calls only" if manual is not None else "no data"
        row["probed"] = manual is not None and manual.connected is not None
        return pa, None
    pr = pair_responses(experiment, cp.pre, cp.post, trains, options=opts, cache=cache)
    pa.problems += pr.problems
    tab = pr.table
    row["n_responses"] = len(tab)
    n_ex = int(tab["ex_qc"].sum()) if len(tab) else 0
    n_in = int(tab["in_qc"].sum()) if len(tab) else 0
    row["n_ex_test_spikes"], row["n_in_test_spikes"] = n_ex, n_in
    row["probed"] = bool(pair_was_probed([n_ex], [n_in], threshold=probe_threshold)[0])
    if len(tab) == 0 or (n_ex == 0 and n_in == 0):
        if len(tab):
            reasons = tab["qc_failure"].dropna().value_counts()
            top = ", ".join(f"{k} ({v})" for k, v in reasons.head(3).items())
            pa.problems.append(f"no usable sweeps: no response passed QC ({top})")
        row["status"] = "no usable sweeps"
        return pa, pr
    feats = response_features(pr)
    pa.statistics = pair_statistics(feats)
    auto = call_connection(feats, alpha=alpha, min_responses=min_responses)
    pa.auto_call = auto
    row["p_value"], row["confidence"] = auto.p_value, auto.confidence
    artifact = _crosstalk_artifact(pa.statistics, opts)
    row["crosstalk_artifact"] = artifact is not None
    if artifact is not None:
        pa.problems.append(artifact + ("" if manual is not None else ": automated call withheld"))
    if manual is None and artifact is not None:
        row.update(probed=False, status="crosstalk artifact")
        return pa, pr
    if manual is None:
        row.update(connected=auto.connected, synapse_type=auto.synapse_type, call_source="auto")
        if auto.connected is None:
            pa.problems.append(f"too few responses with a baseline for a call (< {min_responses})")
    noise = tab.loc[tab["ex_qc"] & (tab["clamp_mode"] == "ic"), "noise"].to_numpy(dtype=float)
    if noise.size and np.nanmean(noise) > 0:
        n_sp = min(max(n_ex, n_in), 800)
        row["detection_power"] = math.log10(math.sqrt(n_sp) / float(np.nanmean(noise)))
    syn = row["synapse_type"] if row["connected"] else None
    if not row["connected"] and not fit_all:
        row["status"] = "analysed"
        return pa, pr
    # averaged responses per category
    freq = tab["induction_frequency"].to_numpy(dtype=float)
    low = ~(freq > max_frequency)  # NaN (single pulses) counts as low
    hold = tab["holding"].to_numpy(dtype=float)
    spike = np.isfinite(tab["spike_delay"].to_numpy(dtype=float))
    fits: dict[str, tuple[PspFit, int]] = {}
    for mode, lab, flag, (h0, h1) in CATEGORIES:
        sel = (tab["clamp_mode"] == mode).to_numpy() & tab[flag].to_numpy(dtype=bool)
        sel &= low & spike & (hold >= h0) & (hold < h1)
        if sel.sum() == 0:
            continue
        t_al, avg, n = _aligned_average(pr, sel)
        sign = _sign_for(syn, mode, lab)
        fit = _fit_average(t_al, avg, mode, sign)
        pa.averages.append(AverageResponse(f"{mode}_{lab}", t_al, avg, n, fit, sign))
        if fit is not None and "xoffset" not in fit.at_bound:
            fits[f"{mode}_{lab}"] = (fit, n)
    if row["connected"]:
        _kinetics(pa, fits)
        _resting_and_stp(pa, pr, syn, max_frequency, opts)
    row["status"] = "analysed"
    return pa, pr


def _crosstalk_artifact(stats: dict[str, float], opts: ResponseOptions) -> str | None:
    """A problem sentence when a clamp mode's stimulus crosstalk exceeds its limit, else None.

    The excess (foreground minus background median jump at the pulse onset) must be above the
    limit and the two distributions must differ (KS p < 1e-3), so noise alone does not flag.
    """
    for mode, limit, unit in (("ic", opts.ic_max_crosstalk, "mV"),
                              ("vc", opts.vc_max_crosstalk, "pA")):  # fmt: skip
        excess = stats.get(f"{mode}_crosstalk_excess", math.nan)
        p = stats.get(f"{mode}_crosstalk_p", math.nan)
        if limit is None or not (excess > limit) or not (p < 1e-3):
            continue
        return (
            f"crosstalk artifact in {mode.upper()}: the presynaptic pulse onset shifts the "
            f"postsynaptic recording by {excess:.3g} {unit} (limit {limit:g} {unit})"
        )
    return None


def _kinetics(pa: PairAnalysis, fits: dict[str, tuple[PspFit, int]]) -> None:
    row = pa.row
    if not fits:
        pa.problems.append("a synapse without a usable averaged-response fit")
        return

    def weight(f: PspFit, n: int) -> float:
        # n x amplitude^2: a category where the synapse sits near its reversal potential
        # (tiny response) does not pull the kinetics (Allen weights by n only)
        return n * f.amp * f.amp

    lat = _weighted([(f.latency, weight(f, n)) for f, n in fits.values()])
    if all(abs(f.latency - lat) <= 200e-6 for f, _ in fits.values()):
        row["latency"] = lat
    else:
        pa.problems.append("category latencies differ by more than 200 µs: latency not set")
    for mode, prefix in (("ic", "psp"), ("vc", "psc")):
        sel = [(f, weight(f, n)) for k, (f, n) in fits.items() if k.startswith(mode)]
        if sel:
            row[f"{prefix}_rise_time"] = _weighted([(f.rise_time, w) for f, w in sel])
            row[f"{prefix}_decay_tau"] = _weighted([(f.decay_tau, w) for f, w in sel])


def _resting_and_stp(
    pa: PairAnalysis,
    pr: PairResponses,
    syn: str | None,
    max_frequency: float,
    opts: ResponseOptions,
) -> None:
    row, tab = pa.row, pr.table
    latency = row.get("latency")
    if latency is None or not math.isfinite(latency) or syn is None:
        return
    flag = "ex_qc" if syn == "ex" else "in_qc"
    hold_range = (-80.0, -60.0) if syn == "ex" else (-60.0, -50.0)
    hold = tab["holding"].to_numpy(dtype=float)
    base_sel = tab[flag].to_numpy(dtype=bool) & (hold >= hold_range[0]) & (hold < hold_range[1])
    base_sel &= np.isfinite(tab["spike_delay"].to_numpy(dtype=float))
    prev = tab["previous_pulse_dt"].to_numpy(dtype=float)
    for mode, prefix in (("ic", "psp"), ("vc", "psc")):
        rise, decay = row.get(f"{prefix}_rise_time"), row.get(f"{prefix}_decay_tau")
        if rise is None or decay is None or not (math.isfinite(rise) and math.isfinite(decay)):
            continue
        sel = base_sel & (tab["clamp_mode"] == mode).to_numpy()
        rest = sel & (prev >= opts.resting_interval)
        sign = _sign_for(syn, mode, "70" if syn == "ex" else "55")
        if rest.sum():
            t_al, avg, n = _aligned_average(pr, rest)
            fit = _fit_average(
                t_al, avg, mode, sign, onset=(latency - 100e-6, latency + 100e-6),
                rise_bounds=(0.5 * rise, 2.0 * rise), decay_bounds=(0.5 * decay, 2.0 * decay),
            )  # fmt: skip
            pa.resting[mode] = AverageResponse(f"{mode}_resting", t_al, avg, n, fit, sign)
            if fit is not None:
                row[f"{prefix}_amplitude"] = fit.amp
        if mode != "ic" or sel.sum() == 0:
            continue
        sub = PairResponses(
            pr.pre, pr.post, pr.t, pr.dt, pr.data[sel], pr.baseline[sel],
            tab[sel].reset_index(drop=True),
        )  # fmt: skip
        amps = response_amplitudes(sub, latency=latency, rise_time=rise, decay_tau=decay)
        summary, protocols, pulses = stp_metrics(amps, sign=1 if syn == "ex" else -1)
        tm = None
        if len(pulses):
            times = (
                amps.assign(rel=amps["onset"] - amps.groupby("sweep")["onset"].transform("min"))
                .groupby(
                    [amps["induction_frequency"].fillna(-1), amps["recovery_delay"].fillna(-1),
                     "pulse"]
                )["rel"]
                .median()
            )  # fmt: skip
            keys = list(
                zip(pulses["induction_frequency"].fillna(-1), pulses["recovery_delay"].fillna(-1),
                    pulses["pulse"], strict=True)
            )  # fmt: skip
            pulses = pulses.assign(time=[float(times.get(k, math.nan)) for k in keys])
            trains_xy = []
            groups = list(pulses.groupby(["induction_frequency", "recovery_delay"], dropna=False))
            for _, g in groups:
                if g["n_sweeps"].iloc[0] >= 1 and len(g) >= 2:
                    trains_xy.append((g["time"].to_numpy(), g["mean"].to_numpy(), g))
            if not trains_xy:  # single pulses only: no train to fit
                pa.stp = STPResult(summary, protocols, pulses, None, amps)
                continue
            try:
                tm = fit_tsodyks_markram(
                    [(tt, yy) for tt, yy, _ in trains_xy],
                    weights=[g["n"].to_numpy(dtype=float) for _, _, g in trains_xy],
                )
                model = pd.Series(np.nan, index=pulses.index)
                for (_, _, g), p in zip(trains_xy, tm.predictions, strict=True):
                    model.loc[g.index] = p
                pulses = pulses.assign(model=model.to_numpy())
            except DataError as exc:
                pa.problems.append(f"Tsodyks-Markram fit not possible: {exc}")
        pa.stp = STPResult(summary, protocols, pulses, tm, amps)
