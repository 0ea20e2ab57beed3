"""Biophysical fitting on the pipeline's executors: a local process pool or a Dask cluster.

:func:`fit_cell` reads a cell's recordings, analyses them with :func:`patchatlas.ephys.analyze`,
fits a biophysical model with :func:`patchatlas.models.biophys.fit` and (optionally) stores the
result in the atlas. The fit's blocks of parameter sets are spread over workers by a
``batch_map`` from :func:`executor`:

``PoolMap``
    a ``spawn`` process pool (like the ingest's local executor); each worker receives the
    evaluator once, through the pool initializer, and keeps it (and so the simulator's cell)
    for every block it evaluates;
``DaskMap``
    a Dask client (a scheduler address, or ``local:N`` for a LocalCluster of N single-threaded
    worker processes); the evaluator is scattered to every worker once.

The pipeline holds no science: what is fitted and how is the engine's.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from patchatlas.errors import MissingDependencyError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas.api import Atlas
    from patchatlas.models.biophys import BiophysModel, FitResult
    from patchatlas.models.biophys.fitting import Evaluator

__all__ = ["DaskMap", "PoolMap", "SerialMap", "executor", "fit_cell"]

log = logging.getLogger(__name__)

# evaluators held by this (worker) process, by key
_HELD: dict[str, Evaluator] = {}


def _hold(key: str, evaluator: Evaluator) -> None:
    # under the parent's key: a pickle round trip need not reproduce the same bytes
    _HELD[key] = evaluator


def _evaluate_held(key: str, block: np.ndarray) -> np.ndarray:
    return _HELD[key].evaluate(block)


def _evaluate_with(evaluator: Evaluator, block: np.ndarray) -> np.ndarray:
    return evaluator.evaluate(block)


class SerialMap:
    """Evaluate blocks in this process, one after another (``workers=1``)."""

    n_workers = 1

    def __call__(self, evaluator: Evaluator, blocks: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Evaluate each block.

        Parameters
        ----------
        evaluator
            The fit's evaluator.
        blocks
            Parameter blocks.

        Returns
        -------
        list of numpy.ndarray
            Errors per block.
        """
        return [evaluator.evaluate(b) for b in blocks]

    def close(self) -> None:
        """Nothing to release."""


class PoolMap:
    """A local process pool whose workers hold the evaluator (spawned on first use).

    Parameters
    ----------
    workers
        Number of worker processes.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ParameterError(f"workers must be >= 1, got {workers}")
        self.n_workers = int(workers)
        self._pool: ProcessPoolExecutor | None = None
        self._key: str | None = None

    def __call__(self, evaluator: Evaluator, blocks: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Evaluate the blocks on the pool (one task per block).

        Parameters
        ----------
        evaluator
            The fit's evaluator; a new one restarts the pool with it.
        blocks
            Parameter blocks.

        Returns
        -------
        list of numpy.ndarray
            Errors per block, in order.
        """
        key = evaluator.key
        if self._pool is None or key != self._key:
            self.close()
            self._pool = ProcessPoolExecutor(
                max_workers=self.n_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_hold,
                initargs=(key, evaluator),
            )
            self._key = key
        futures: list[Future[np.ndarray]] = [
            self._pool.submit(_evaluate_held, key, b) for b in blocks
        ]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Shut the pool down."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._key = None


class DaskMap:
    """Blocks evaluated on a Dask cluster; the evaluator is scattered to the workers once.

    Parameters
    ----------
    address
        A scheduler address, or ``local:N`` for a LocalCluster of N single-threaded worker
        processes.
    """

    def __init__(self, address: str) -> None:
        try:
            import distributed
        except ImportError as exc:
            raise MissingDependencyError(
                "--dask needs dask distributed; install it with `pip install 'patchatlas[dask]'`"
            ) from exc
        dist: Any = distributed
        self._cluster: Any = None
        if address.startswith("local"):
            _, _, n = address.partition(":")
            n_workers = int(n) if n else (os.cpu_count() or 1)
            self._cluster = dist.LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client: Any = dist.Client(self._cluster)
        else:
            self._client = dist.Client(address)
        self.n_workers = max(1, len(self._client.scheduler_info().get("workers", {})) or 1)
        self._key: str | None = None
        self._scattered: Any = None

    def __call__(self, evaluator: Evaluator, blocks: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Evaluate the blocks on the cluster.

        Parameters
        ----------
        evaluator
            The fit's evaluator (scattered once per distinct evaluator).
        blocks
            Parameter blocks.

        Returns
        -------
        list of numpy.ndarray
            Errors per block, in order.
        """
        key = evaluator.key
        if key != self._key:
            self._scattered = self._client.scatter(evaluator, broadcast=True)
            self._key = key
        futs = [self._client.submit(_evaluate_with, self._scattered, b, pure=False) for b in blocks]
        return list(self._client.gather(futs))

    def close(self) -> None:
        """Close the client (and the local cluster, if one was started)."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def executor(*, workers: int = 1, dask: str | None = None) -> SerialMap | PoolMap | DaskMap:
    """The batch map for a fit: serial, a local process pool, or Dask.

    Parameters
    ----------
    workers
        Local worker processes (1: evaluate in this process).
    dask
        Dask scheduler address or ``local:N`` (overrides ``workers``).

    Returns
    -------
    SerialMap or PoolMap or DaskMap
        Call it as ``batch_map(evaluator, blocks)``; ``close()`` it when done.
    """
    if dask:
        return DaskMap(dask)
    if workers <= 1:
        return SerialMap()
    return PoolMap(workers)


def fit_cell(
    recordings: Sequence[str | os.PathLike[str]] | Any,
    model: BiophysModel,
    *,
    parameters: Mapping[str, tuple[float, float]] | None = None,
    generations: int = 10,
    population: int = 24,
    workers: int = 1,
    dask: str | None = None,
    atlas: Atlas | None = None,
    cell_id: str | None = None,
    name: str | None = None,
    progress: Callable[[int, Mapping[str, Any]], None] | None = None,
    **fit_options: Any,
) -> FitResult:
    """Fit a biophysical model to one cell: read, analyse, fit on the executors, store.

    Parameters
    ----------
    recordings
        The cell's ephys files (paths), or a :class:`~patchatlas.core.Recording`, or an
        :class:`~patchatlas.ephys.EphysResult` already analysed.
    model
        The model to fit (e.g. ``patchatlas.load_allen_model(...)`` or a ball-and-stick).
    parameters
        Key → (lower, upper) bounds (default: every non-zero ``gbar`` within a factor 10).
    generations, population
        NSGA-II budget.
    workers
        Local worker processes (each evaluates one block of every generation).
    dask
        Dask scheduler address or ``local:N`` (instead of the local pool).
    atlas
        If given (writable), the fitted model is stored for ``cell_id``.
    cell_id
        The atlas cell (default: the recording's cell id).
    name
        Stored model name (default: ``"<model name> fit"``).
    progress
        Called after each generation (see :func:`patchatlas.models.biophys.fit`).
    **fit_options
        Passed to :func:`patchatlas.models.biophys.fit` (``seed``, ``amplitudes``,
        ``backend``, ``features``, ``delay_s`` ...).

    Returns
    -------
    FitResult
        The fit; ``provenance["executor"]`` says where it ran.
    """
    from patchatlas.core.recording import Recording
    from patchatlas.ephys.analysis import EphysResult, analyze
    from patchatlas.models.biophys import fit

    if isinstance(recordings, EphysResult):
        result = recordings
    else:
        if isinstance(recordings, Recording):
            rec = recordings
        else:
            from patchatlas.reading import read

            paths = [Path(p) for p in recordings]
            if not paths:
                raise ParameterError("fit_cell: no recording files")
            recs = [read(p) for p in paths]
            sweeps = [s for r in recs for s in r.sweeps]
            rec = Recording(sweeps, cell_id=recs[0].cell_id, source=paths[0], format=recs[0].format)
        result = analyze(rec, qc=False)
    bmap = executor(workers=workers, dask=dask)
    try:
        out = fit(
            model,
            result,
            parameters=parameters,
            generations=generations,
            population=population,
            batch_map=bmap,
            n_blocks=bmap.n_workers,
            progress=progress,
            **fit_options,
        )
    finally:
        bmap.close()
    out.provenance["executor"] = (
        f"dask {dask}" if dask else (f"local pool, {workers} workers" if workers > 1 else "serial")
    )
    if atlas is not None:
        from patchatlas.atlas.models_biophys import store_biophys_model

        store_biophys_model(
            atlas,
            cell_id or result.cell_id,
            out.model,
            name=name or f"{model.name} fit",
            fit=out,
        )
    return out
