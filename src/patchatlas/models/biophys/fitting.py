"""Multi-objective fitting of model parameters to a cell's features: :func:`fit`.

The optimiser is NSGA-II (Deb et al. 2002): non-dominated sorting and crowding-distance
selection from DEAP (``deap.tools.selNSGA2``), simulated-binary crossover and polynomial mutation
on parameters normalised to [0, 1] (log-scaled where the bounds span two decades or more), done
in numpy with a seeded generator (no global random state). The objectives are the Allen features'
SD-normalised errors (:mod:`~patchatlas.models.biophys.objectives`), averaged over the fitted
amplitudes and, by default, over four feature groups (firing, spike shape, after-
hyperpolarisation, baseline: four objectives suit NSGA-II's selection; ``objectives="features"``
gives one per feature); the reported best individual has the lowest summed feature error.

Evaluations are batched: an :class:`Evaluator` simulates a whole block of parameter sets under
every protocol in one simulator call (Arbor: one simulation with one cell per parameter set ×
protocol, the morphology built once; NEURON: one cell whose parameters are changed), then analyses
all resulting sweeps in one :func:`patchatlas.ephys.analyze` call. A generation's offspring are
split into blocks and handed to ``batch_map``: the default evaluates them here one after another;
:func:`patchatlas.pipeline.biophys.fit_cell` spreads them over a local process pool or a Dask
cluster, with the evaluator (and so the cell) built once per worker.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas._version import __version__
from patchatlas.core.recording import Recording, Sweep
from patchatlas.errors import DataError, MissingDependencyError, ParameterError
from patchatlas.models.biophys.objectives import (
    ALLEN_FEATURES,
    FEATURE_GROUPS,
    FitTarget,
    feature_errors,
    sweep_fit_features,
    targets_from_ephys,
)
from patchatlas.models.biophys.protocols import long_square

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from patchatlas.ephys.analysis import EphysResult
    from patchatlas.models.biophys.model import BiophysModel

__all__ = ["BatchMap", "Evaluator", "FitResult", "ParameterSpec", "default_bounds", "fit"]

FloatArray = npt.NDArray[np.float64]
#: ``batch_map(evaluator, blocks) -> list of error arrays``: evaluate blocks of parameter sets
BatchMap = Callable[["Evaluator", Sequence[FloatArray]], list[FloatArray]]


@dataclass(frozen=True)
class ParameterSpec:
    """One fitted parameter.

    Attributes
    ----------
    key
        Model parameter key (``"gbar_NaTs.soma"``).
    lower, upper
        Bounds (the parameter's units).
    log
        Search on a log scale (needs ``lower > 0``).
    """

    key: str
    lower: float
    upper: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (
            math.isfinite(self.lower) and math.isfinite(self.upper) and self.lower < self.upper
        ):
            raise ParameterError(
                f"parameter {self.key}: bounds must be finite with lower < upper, got "
                f"({self.lower!r}, {self.upper!r})"
            )
        if self.log and self.lower <= 0:
            raise ParameterError(f"parameter {self.key}: a log-scaled range needs lower > 0")

    def to_value(self, u: FloatArray) -> FloatArray:
        """Map normalised values in [0, 1] to the parameter's units.

        Parameters
        ----------
        u
            Normalised values.

        Returns
        -------
        numpy.ndarray
            Parameter values.
        """
        if self.log:
            lo, hi = math.log(self.lower), math.log(self.upper)
            return np.exp(lo + u * (hi - lo))
        return self.lower + u * (self.upper - self.lower)

    def to_unit(self, x: FloatArray) -> FloatArray:
        """Map parameter values to [0, 1].

        Parameters
        ----------
        x
            Parameter values.

        Returns
        -------
        numpy.ndarray
            Normalised values (clipped to [0, 1]).
        """
        if self.log:
            lo, hi = math.log(self.lower), math.log(self.upper)
            u = (np.log(np.maximum(x, 1e-300)) - lo) / (hi - lo)
        else:
            u = (x - self.lower) / (self.upper - self.lower)
        return np.clip(u, 0.0, 1.0)


def _specs(
    model: BiophysModel, parameters: Mapping[str, tuple[float, float]] | Sequence[ParameterSpec]
) -> list[ParameterSpec]:
    known = model.parameters
    out: list[ParameterSpec] = []
    items: list[ParameterSpec]
    if isinstance(parameters, Mapping):
        items = []
        for k, b in parameters.items():
            lo, hi = (float(b[0]), float(b[1]))
            items.append(ParameterSpec(k, lo, hi, log=lo > 0 and hi / lo >= 100))
    else:
        items = list(parameters)
    for p in items:
        if p.key not in known:
            raise ParameterError(
                f"{model.name or 'model'}: cannot fit {p.key!r}: no such parameter (the model "
                f"has {', '.join(sorted(known))})"
            )
        out.append(p)
    if not out:
        raise ParameterError("fit: no parameters to fit")
    return out


def default_bounds(model: BiophysModel, *, factor: float = 10.0) -> dict[str, tuple[float, float]]:
    """Search ranges around a model's conductances: every ``gbar_*`` within ``factor`` of its value.

    Parameters
    ----------
    model
        A loaded model (e.g. an Allen fit to refine).
    factor
        Range factor on each side.

    Returns
    -------
    dict
        Parameter key → (lower, upper); conductances that are 0 are left out.
    """
    out = {}
    for k, v in model.parameters.items():
        if k.startswith("gbar_") and v > 0:
            out[k] = (v / factor, v * factor)
    return out


@dataclass
class Evaluator:
    """Scores blocks of parameter sets: simulate every protocol, analyse, SD-normalised errors.

    Picklable: a worker receives it once and keeps it (with the simulator's cell) for every
    block it evaluates.

    Attributes
    ----------
    model
        The model whose parameters are varied.
    targets
        The recorded targets (one protocol each).
    specs
        The fitted parameters.
    backend
        ``"arbor"`` or ``"neuron"``.
    delay_s, tail_s
        Step onset and the time simulated after the step (s).
    penalty
        Error of a feature the model lacks (SDs).
    features
        Objective names (features present in any target, in :data:`ALLEN_FEATURES` order).
    """

    model: BiophysModel
    targets: list[FitTarget]
    specs: list[ParameterSpec]
    backend: str = "arbor"
    delay_s: float = 0.3
    tail_s: float = 0.1
    penalty: float = 20.0
    objectives: str = "groups"
    features: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.targets:
            raise DataError("fit: no targets")
        if self.objectives not in ("groups", "features"):
            raise ParameterError(
                f"fit: objectives must be 'groups' or 'features', got {self.objectives!r}"
            )
        present = {f for t in self.targets for f in t.features}
        if not self.features:
            self.features = tuple(f for f in ALLEN_FEATURES if f in present)
        if not self.features:
            raise DataError("fit: the targets define no feature")

    @property
    def objective_names(self) -> tuple[str, ...]:
        """Names of the objectives (feature groups present, or the features)."""
        if self.objectives == "features":
            return self.features
        return tuple(
            g for g, members in FEATURE_GROUPS.items() if any(f in self.features for f in members)
        )

    def combine(self, feature_errors: FloatArray) -> FloatArray:
        """Objective values from per-feature errors.

        Parameters
        ----------
        feature_errors
            ``(K, n_features)`` errors in the order of :attr:`features`.

        Returns
        -------
        numpy.ndarray
            ``(K, n_objectives)``: the features themselves, or each group's mean.
        """
        if self.objectives == "features":
            return feature_errors
        cols = []
        for g in self.objective_names:
            idx = [j for j, f in enumerate(self.features) if f in FEATURE_GROUPS[g]]
            cols.append(feature_errors[:, idx].mean(axis=1))
        return np.column_stack(cols)

    @property
    def key(self) -> str:
        """A digest identifying this evaluator (workers cache it under this key)."""
        return hashlib.sha256(pickle.dumps(self, protocol=5)).hexdigest()[:16]

    @property
    def clamps(self) -> list[Any]:
        """One long-square clamp per target."""
        return [
            long_square(t.amplitude_pa, delay_s=self.delay_s, duration_s=t.duration_s)
            for t in self.targets
        ]

    @property
    def tstop_s(self) -> float:
        """Simulated time per protocol (s)."""
        return self.delay_s + max(t.duration_s for t in self.targets) + self.tail_s

    def parameter_sets(self, x: FloatArray) -> list[dict[str, float]]:
        """Parameter mappings of a block.

        Parameters
        ----------
        x
            ``(K, P)`` parameter values (the specs' units).

        Returns
        -------
        list of dict
            One flat-key mapping per row.
        """
        keys = [s.key for s in self.specs]
        return [dict(zip(keys, map(float, row), strict=True)) for row in np.atleast_2d(x)]

    def simulate(self, x: FloatArray) -> list[Recording]:
        """The model's sweeps for a block (one recording per parameter set).

        Parameters
        ----------
        x
            ``(K, P)`` parameter values.

        Returns
        -------
        list of Recording
            Sweep ``s`` of recording ``k``: parameter set ``k`` under target ``s``'s protocol.
        """
        from patchatlas.models.biophys.simulation import run_batch

        clamps = self.clamps
        sets = self.parameter_sets(x)
        v = run_batch(self.model, sets, clamps, tstop_s=self.tstop_s, backend=self.backend)
        dt = self.model.dt_s
        n = v.shape[2]
        t = np.arange(n) * dt
        jp = self.model.conditions.junction_potential
        currents = [c.at(t) for c in clamps]
        recs = []
        for k in range(len(sets)):
            sweeps = [
                Sweep(
                    v=v[k, s] - jp,
                    i=currents[s],
                    sampling_rate=1.0 / dt,
                    number=s,
                    stimulus=clamps[s].stimulus,
                )
                for s in range(len(clamps))
            ]
            recs.append(Recording(sweeps, cell_id=f"{self.model.name}#{k}", format="model"))
        return recs

    def errors_of(
        self, recordings: Sequence[Recording]
    ) -> tuple[FloatArray, list[list[dict[str, float]]]]:
        """Objective values (and the model features) of simulated recordings.

        Parameters
        ----------
        recordings
            From :meth:`simulate`.

        Returns
        -------
        errors : numpy.ndarray
            ``(K, n_features)``: per feature, the mean error over the targets that have it.
        features : list of list of dict
            Per recording, per target: the model's fit features.
        """
        from patchatlas.ephys.analysis import analyze

        n_t = len(self.targets)
        allsweeps = []
        for k, rec in enumerate(recordings):
            for s, sw in enumerate(rec.sweeps):
                allsweeps.append(
                    Sweep(sw.v, sw.i, sw.sampling_rate, number=k * n_t + s, stimulus=sw.stimulus)
                )
        res = analyze(Recording(allsweeps, cell_id=self.model.name, format="model"), qc=False)
        by_number = {sa.number: sa for sa in res.sweeps}
        errs = np.zeros((len(recordings), len(self.features)))
        feats: list[list[dict[str, float]]] = []
        for k in range(len(recordings)):
            acc = np.zeros(len(self.features))
            cnt = np.zeros(len(self.features))
            per = []
            for s, target in enumerate(self.targets):
                sa = by_number.get(k * n_t + s)
                mf = sweep_fit_features(sa) if sa is not None and sa.ok else {}
                per.append(mf)
                e = feature_errors(mf, target, penalty=self.penalty)
                for j, name in enumerate(self.features):
                    if name in e:
                        acc[j] += e[name]
                        cnt[j] += 1
            errs[k] = np.where(cnt > 0, acc / np.maximum(cnt, 1), 0.0)
            feats.append(per)
        return errs, feats

    def evaluate(self, x: FloatArray) -> FloatArray:
        """Objective values of a block of parameter sets.

        Parameters
        ----------
        x
            ``(K, P)`` parameter values (the specs' units).

        Returns
        -------
        numpy.ndarray
            ``(K, n_features)`` SD-normalised feature errors (lower is better); the optimiser
            combines them into objectives with :meth:`combine`.
        """
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[0] == 0:
            return np.zeros((0, len(self.features)))
        errs, _ = self.errors_of(self.simulate(x))
        return errs


def serial_map(evaluator: Evaluator, blocks: Sequence[FloatArray]) -> list[FloatArray]:
    """The default ``batch_map``: evaluate the blocks here, one after another.

    Parameters
    ----------
    evaluator
        The evaluator.
    blocks
        ``(K_i, P)`` parameter blocks.

    Returns
    -------
    list of numpy.ndarray
        ``(K_i, n_objectives)`` errors per block.
    """
    return [evaluator.evaluate(b) for b in blocks]


@dataclass
class FitResult:
    """The outcome of :func:`fit`.

    Attributes
    ----------
    model
        The best model (the input model with the best parameters).
    parameters
        Best parameter values by key.
    errors
        Best individual's error per feature (SDs).
    objectives
        Names of the optimised objectives (feature groups or features).
    targets
        The recorded targets.
    hall_of_fame
        The best parameter sets seen (columns: the parameter keys, each objective,
        ``total_error``), best first.
    history
        One row per generation: ``generation``, ``evaluations``, ``best_total``,
        ``median_total``, ``seconds``.
    model_features
        The best model's fit features per target (as the ephys engine measured them).
    sweeps
        The best model's sweep per target (voltage in mV, junction potential applied).
    provenance
        Package version, algorithm and its settings, seed, backend, bounds, evaluations, time.
    """

    model: BiophysModel
    parameters: dict[str, float]
    errors: dict[str, float]
    objectives: tuple[str, ...]
    targets: list[FitTarget]
    hall_of_fame: pd.DataFrame
    history: pd.DataFrame
    model_features: list[dict[str, float]]
    provenance: dict[str, Any]
    sweeps: list[Sweep] = field(default_factory=list)

    @property
    def total_error(self) -> float:
        """Sum of the best individual's feature errors (SDs)."""
        return float(sum(self.errors.values()))

    def feature_table(self) -> pd.DataFrame:
        """Model vs data per target and feature.

        Returns
        -------
        pandas.DataFrame
            Columns ``amplitude_pa``, ``feature``, ``unit``, ``data_mean``, ``data_sd``,
            ``model``, ``error_sd``.
        """
        import pandas as pd

        from patchatlas.models.biophys.objectives import FEATURE_UNITS

        rows = []
        for t, mf in zip(self.targets, self.model_features, strict=True):
            for name, (m, sd) in t.features.items():
                v = mf.get(name, math.nan)
                rows.append(
                    {
                        "amplitude_pa": t.amplitude_pa,
                        "feature": name,
                        "unit": FEATURE_UNITS.get(name, ""),
                        "data_mean": m,
                        "data_sd": sd,
                        "model": v,
                        "error_sd": abs(v - m) / sd if math.isfinite(v) else math.nan,
                    }
                )
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        p = self.provenance
        return (
            f"FitResult({self.model.name!r}, {len(self.parameters)} parameters, total error "
            f"{self.total_error:.3g} SD, {p.get('evaluations')} evaluations)"
        )


def _nsga2_select(
    pop_u: FloatArray, pop_f: FloatArray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the ``k`` survivors (DEAP's NSGA-II), their ranks and crowding distances."""
    try:
        from deap import base, tools
    except ImportError as exc:
        raise MissingDependencyError(
            "biophysical fitting needs DEAP: pip install 'patchatlas[models]' (or pip install deap)"
        ) from exc

    n_obj = pop_f.shape[1]

    class _Fitness(base.Fitness):  # type: ignore[misc]
        weights = (-1.0,) * n_obj

    class _Ind:
        def __init__(self, i: int, values: FloatArray) -> None:
            self.fitness = _Fitness(tuple(float(v) for v in values))
            self.pos = i

    inds = [_Ind(i, pop_f[i]) for i in range(len(pop_f))]
    chosen = tools.selNSGA2(inds, k)
    idx = np.array([c.pos for c in chosen], dtype=np.int64)
    fronts = tools.sortNondominated(chosen, len(chosen))
    rank = np.zeros(len(chosen), dtype=np.int64)
    where = {c.pos: j for j, c in enumerate(chosen)}
    for r, front in enumerate(fronts):
        for c in front:
            rank[where[c.pos]] = r
    crowd = np.array([getattr(c.fitness, "crowding_dist", 0.0) for c in chosen], dtype=np.float64)
    return idx, rank, crowd


def _tournament(
    rng: np.random.Generator, rank: np.ndarray, crowd: np.ndarray, n: int
) -> np.ndarray:
    a = rng.integers(0, len(rank), n)
    b = rng.integers(0, len(rank), n)
    better_a = (rank[a] < rank[b]) | ((rank[a] == rank[b]) & (crowd[a] >= crowd[b]))
    return np.where(better_a, a, b)


def _sbx(
    rng: np.random.Generator, p1: FloatArray, p2: FloatArray, eta: float, prob: float
) -> tuple[FloatArray, FloatArray]:
    """Simulated-binary crossover on [0, 1] (bounded form)."""
    c1, c2 = p1.copy(), p2.copy()
    pick: np.ndarray = np.less(rng.random(p1.shape[0]), prob)
    do = pick[:, None] & (rng.random(p1.shape) < 0.5)
    do &= np.abs(p1 - p2) > 1e-14
    y1, y2 = np.minimum(p1, p2), np.maximum(p1, p2)
    span = np.where(do, y2 - y1, 1.0)
    rand = rng.random(p1.shape)

    def beta_q(beta: FloatArray) -> FloatArray:
        alpha = 2.0 - np.power(beta, -(eta + 1.0))
        low = rand <= 1.0 / alpha
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            q1 = np.power(rand * alpha, 1.0 / (eta + 1.0))
            q2 = np.power(1.0 / np.maximum(2.0 - rand * alpha, 1e-300), 1.0 / (eta + 1.0))
        return np.where(low, q1, q2)

    b1 = 1.0 + 2.0 * y1 / span
    b2 = 1.0 + 2.0 * (1.0 - y2) / span
    n1 = 0.5 * ((y1 + y2) - beta_q(b1) * span)
    n2 = 0.5 * ((y1 + y2) + beta_q(b2) * span)
    n1, n2 = np.clip(n1, 0, 1), np.clip(n2, 0, 1)
    swap = rng.random(p1.shape) < 0.5
    o1 = np.where(swap, n2, n1)
    o2 = np.where(swap, n1, n2)
    c1 = np.where(do, o1, c1)
    c2 = np.where(do, o2, c2)
    return c1, c2


def _mutate(rng: np.random.Generator, x: FloatArray, eta: float, prob: float) -> FloatArray:
    """Polynomial mutation on [0, 1] (bounded form)."""
    do = rng.random(x.shape) < prob
    r = rng.random(x.shape)
    d1, d2 = x, 1.0 - x
    mp = 1.0 / (eta + 1.0)
    low = r < 0.5
    xy1 = 1.0 - d1
    xy2 = 1.0 - d2
    val_low = 2.0 * r + (1.0 - 2.0 * r) * np.power(xy1, eta + 1.0)
    val_high = 2.0 * (1.0 - r) + 2.0 * (r - 0.5) * np.power(xy2, eta + 1.0)
    dq = np.where(low, np.power(val_low, mp) - 1.0, 1.0 - np.power(val_high, mp))
    return np.where(do, np.clip(x + dq, 0.0, 1.0), x)


def _blocks(x: FloatArray, n: int) -> list[FloatArray]:
    n = max(1, min(int(n), x.shape[0]))
    return [b for b in np.array_split(x, n) if b.shape[0]]


def fit(
    model: BiophysModel,
    data: EphysResult | Sequence[FitTarget],
    *,
    parameters: Mapping[str, tuple[float, float]] | Sequence[ParameterSpec] | None = None,
    generations: int = 10,
    population: int = 24,
    seed: int = 0,
    backend: str = "arbor",
    amplitudes: Sequence[float] | None = None,
    features: Sequence[str] = ALLEN_FEATURES,
    delay_s: float = 0.3,
    penalty: float = 20.0,
    objectives: str = "groups",
    batch_map: BatchMap | None = None,
    n_blocks: int = 1,
    crossover_eta: float = 10.0,
    mutation_eta: float = 20.0,
    crossover_prob: float = 0.9,
    progress: Callable[[int, Mapping[str, Any]], None] | None = None,
    hall_of_fame: int = 10,
) -> FitResult:
    """Fit model parameters to a cell's long-square features (NSGA-II, SD-normalised errors).

    Parameters
    ----------
    model
        The model to fit (its other parameters stay as they are).
    data
        :func:`patchatlas.ephys.analyze` of the cell's recording (targets are taken from its
        long squares, see ``amplitudes``), or ready-made targets.
    parameters
        Key → (lower, upper) bounds (log-scaled when they span two decades), or
        :class:`ParameterSpec` objects; default :func:`default_bounds` (every non-zero
        ``gbar`` within a factor 10).
    generations
        Number of generations after the initial population.
    population
        Population size (and offspring per generation).
    seed
        Seed of the optimiser's random generator (same seed, same fit).
    backend
        ``"arbor"`` (default) or ``"neuron"``.
    amplitudes
        Long-square amplitudes to fit (default: two spiking amplitudes, see
        :func:`~patchatlas.models.biophys.objectives.targets_from_ephys`).
    features
        Fit features (default: the Allen list).
    delay_s
        Step onset in the simulated protocols (s); the recorded step's duration is kept.
    penalty
        Error of a feature the model lacks (SDs).
    objectives
        ``"groups"`` (default): four objectives, the mean error of the firing, spike-shape,
        after-hyperpolarisation and baseline features
        (:data:`~patchatlas.models.biophys.objectives.FEATURE_GROUPS`); ``"features"``: one
        objective per feature.
    batch_map
        How blocks of parameter sets are evaluated (default: here, one after another;
        :func:`patchatlas.pipeline.biophys.fit_cell` passes a process-pool or Dask map).
    n_blocks
        Blocks per generation (the number of workers the map has).
    crossover_eta, mutation_eta, crossover_prob
        SBX and polynomial-mutation distribution indexes, and the crossover probability
        (mutation probability: 1 / number of parameters).
    progress
        Called after each generation with ``(generation, {"best_total": ..., "evaluations":
        ..., ...})``.
    hall_of_fame
        How many best parameter sets to keep.

    Returns
    -------
    FitResult
        The best model, its parameters and errors, the hall of fame, the history and provenance.

    Raises
    ------
    patchatlas.errors.ParameterError
        Unknown parameter keys, bad bounds, non-positive sizes.
    patchatlas.errors.DataError
        No long-square sweeps to fit.
    """
    import pandas as pd

    if generations < 0 or population < 4:
        raise ParameterError("fit: generations must be >= 0 and population >= 4")
    targets = (
        list(data)
        if isinstance(data, Sequence)
        else targets_from_ephys(data, amplitudes=amplitudes, features=features)
    )
    specs = _specs(model, parameters if parameters is not None else default_bounds(model))
    ev = Evaluator(
        model,
        targets,
        specs,
        backend=backend,
        delay_s=delay_s,
        penalty=penalty,
        objectives=objectives,
    )
    bmap = batch_map or serial_map
    rng = np.random.default_rng(seed)
    n_par = len(specs)
    t0 = time.perf_counter()

    def to_values(u: FloatArray) -> FloatArray:
        return np.column_stack([s.to_value(u[:, j]) for j, s in enumerate(specs)])

    def evaluate(u: FloatArray) -> FloatArray:
        x = to_values(u)
        parts = bmap(ev, _blocks(x, n_blocks))
        f = np.vstack(parts)
        return np.where(np.isfinite(f), f, penalty)

    pop_u = rng.random((population, n_par))
    pop_f = evaluate(pop_u)  # per-feature errors; selection works on ev.combine(...)
    all_u, all_f = [pop_u], [pop_f]
    evals = population
    history = []

    def note(g: int) -> None:
        tot = pop_f.sum(axis=1)
        row = {
            "generation": g,
            "evaluations": evals,
            "best_total": float(tot.min()),
            "median_total": float(np.median(tot)),
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        if progress is not None:
            progress(g, row)

    idx, rank, crowd = _nsga2_select(pop_u, ev.combine(pop_f), population)
    pop_u, pop_f = pop_u[idx], pop_f[idx]
    note(0)
    for g in range(1, generations + 1):
        parents = _tournament(rng, rank, crowd, population + population % 2)
        p1, p2 = pop_u[parents[0::2]], pop_u[parents[1::2]]
        c1, c2 = _sbx(rng, p1, p2, crossover_eta, crossover_prob)
        kids = np.vstack([c1, c2])[:population]
        kids = _mutate(rng, kids, mutation_eta, 1.0 / n_par)
        kid_f = evaluate(kids)
        evals += kids.shape[0]
        all_u.append(kids)
        all_f.append(kid_f)
        both_u = np.vstack([pop_u, kids])
        both_f = np.vstack([pop_f, kid_f])
        idx, rank, crowd = _nsga2_select(both_u, ev.combine(both_f), population)
        pop_u, pop_f = both_u[idx], both_f[idx]
        note(g)

    U = np.vstack(all_u)
    F = np.vstack(all_f)
    total = F.sum(axis=1)
    order = np.argsort(total, kind="stable")
    best = order[0]
    X = to_values(U)
    keys = [s.key for s in specs]
    best_params = dict(zip(keys, map(float, X[best]), strict=True))
    # the best model's features, measured once more (for the report)
    recs = ev.simulate(X[best][None, :])
    _, feats = ev.errors_of(recs)
    hof_rows = []
    seen: set[tuple[float, ...]] = set()
    for i in order:
        key = tuple(np.round(U[i], 12))
        if key in seen:
            continue
        seen.add(key)
        hof_rows.append(
            {
                **dict(zip(keys, map(float, X[i]), strict=True)),
                **dict(zip(ev.features, map(float, F[i]), strict=True)),
                "total_error": float(total[i]),
            }
        )
        if len(hof_rows) >= hall_of_fame:
            break
    prov = {
        "engine": "patchatlas.models.biophys.fit",
        "package_version": __version__,
        "algorithm": "NSGA-II (DEAP selNSGA2; SBX crossover, polynomial mutation)",
        "generations": generations,
        "population": population,
        "seed": seed,
        "crossover_eta": crossover_eta,
        "mutation_eta": mutation_eta,
        "crossover_prob": crossover_prob,
        "mutation_prob": 1.0 / n_par,
        "backend": backend,
        "bounds": {s.key: [s.lower, s.upper, "log" if s.log else "linear"] for s in specs},
        "objectives": list(ev.objective_names),
        "objective_mode": objectives,
        "features": list(ev.features),
        "targets": [t.as_dict() for t in targets],
        "penalty_sd": penalty,
        "delay_s": delay_s,
        "evaluations": evals,
        "seconds": time.perf_counter() - t0,
        "model": model.info(),
    }
    return FitResult(
        model=model.with_parameters(best_params),
        parameters=best_params,
        errors=dict(zip(ev.features, map(float, F[best]), strict=True)),
        objectives=ev.objective_names,
        targets=targets,
        hall_of_fame=pd.DataFrame(hof_rows),
        history=pd.DataFrame(history),
        model_features=feats[0],
        provenance=prov,
        sweeps=list(recs[0].sweeps),
    )
