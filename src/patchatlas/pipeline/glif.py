"""Batch GLIF fitting: many cells through a local process pool or Dask, models into the atlas.

:func:`fit_atlas` fits GLIF1–5 (:func:`patchatlas.models.glif.fit`) to every cell of an atlas
that has recordings (their source files are read again) and stores each cell's models in the
``models`` table (:func:`patchatlas.atlas.models.store_models`, kind ``"glif"``): the Allen
``neuron_config`` as parameters, train and held-out scores, the fitting provenance. Levels the
sweeps cannot identify are skipped with the reason kept in the provenance; a cell that fails is
counted and reported, the others go on. :func:`fit_files` runs the same fits on files (the CLI).

The executors are the ingest's (same options: ``workers`` local processes, spawned fresh, or a
Dask scheduler ``"tcp://..."`` / ``"local:N"``); the pipeline holds no science.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchatlas.atlas.records import CellFailure
from patchatlas.errors import MissingDependencyError, PatchAtlasError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas.api import Atlas
    from patchatlas.models.glif import GlifFit

__all__ = ["GlifBatchSummary", "GlifTask", "fit_atlas", "fit_files", "fit_task"]

log = logging.getLogger(__name__)

#: defaults of the fitting parameters a batch passes to :func:`patchatlas.models.glif.fit`
DEFAULTS: dict[str, Any] = {"levels": (1, 2, 3, 4, 5), "method": "exact"}


@dataclass
class GlifTask:
    """One cell to fit: its name and recording files."""

    name: str
    files: list[str]


@dataclass
class GlifBatchSummary:
    """Outcome of a batch: counts, failures, and one row per fitted cell and level."""

    done: int = 0
    failed: int = 0
    total: int = 0
    failures: list[CellFailure] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.total} cells: {self.done} fitted, {self.failed} failed"


def _read_cell(task: GlifTask) -> Any:
    from patchatlas.core.recording import Recording
    from patchatlas.reading import read as read_file

    sweeps = []
    for f in task.files:
        sweeps.extend(read_file(f).sweeps)
    return Recording(sweeps=sweeps, cell_id=task.name, source=Path(task.files[0]))


def fit_task(task: GlifTask, params: Mapping[str, Any]) -> tuple[GlifTask, GlifFit | CellFailure]:
    """Read one cell's files and fit it; never raises for bad data (returns the failure).

    Parameters
    ----------
    task
        The cell.
    params
        Keyword arguments of :func:`patchatlas.models.glif.fit` (``levels``, ``method`` ...);
        levels that cannot be identified are skipped.

    Returns
    -------
    tuple
        The task and its :class:`~patchatlas.models.glif.GlifFit`, or a
        :class:`~patchatlas.atlas.records.CellFailure` (stage ``read`` or ``glif``).
    """
    from patchatlas.models.glif import fit

    try:
        rec = _read_cell(task)
    except PatchAtlasError as exc:
        return task, CellFailure(
            task.name, task.files[0] if task.files else "", "read", type(exc).__name__, str(exc)
        )
    try:
        kwargs = {**DEFAULTS, **dict(params), "on_unidentifiable": "skip"}
        return task, fit(rec, **kwargs)
    except PatchAtlasError as exc:
        return task, CellFailure(task.name, task.files[0], "glif", type(exc).__name__, str(exc))


def _warm() -> None:
    from patchatlas.models.glif import warm_up

    warm_up()


def _run(
    tasks: Sequence[GlifTask],
    params: Mapping[str, Any],
    workers: int,
    dask: str | None,
) -> Iterator[tuple[GlifTask, GlifFit | CellFailure]]:
    if dask is not None:
        try:
            import distributed
        except ImportError as exc:
            raise MissingDependencyError(
                "dask=... needs dask distributed; install it with `pip install 'patchatlas[dask]'`"
            ) from exc
        dist: Any = distributed
        cluster = None
        if dask.startswith("local"):
            _, _, n = dask.partition(":")
            cluster = dist.LocalCluster(
                n_workers=int(n) if n else (os.cpu_count() or 1),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = dist.Client(cluster)
        else:
            client = dist.Client(dask)
        try:
            client.register_worker_callbacks(setup=_warm)
            futures = {client.submit(fit_task, t, dict(params), pure=False): t for t in tasks}
            for fut in dist.as_completed(futures):
                t = futures[fut]
                try:
                    yield fut.result()
                except Exception as exc:  # a lost worker: report it, go on
                    yield (
                        t,
                        CellFailure(
                            t.name,
                            t.files[0] if t.files else "",
                            "worker",
                            type(exc).__name__,
                            str(exc),
                        ),
                    )
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if workers <= 1:
        for t in tasks:
            yield fit_task(t, params)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_warm) as pool:
        futs = {pool.submit(fit_task, t, dict(params)): t for t in tasks}
        for fut in as_completed(futs):
            t = futs[fut]
            try:
                yield fut.result()
            except Exception as exc:  # a crashed worker: report it, go on
                yield (
                    t,
                    CellFailure(
                        t.name,
                        t.files[0] if t.files else "",
                        "worker",
                        type(exc).__name__,
                        str(exc),
                    ),
                )


def _rows(name: str, res: GlifFit) -> list[dict[str, Any]]:
    out = []
    for lv in sorted(res.models):
        out.append(
            {
                "cell": name,
                "level": lv,
                "test_count_relative": res.score(lv, "count_relative"),
                "test_gamma_4ms": res.score(lv, "gamma_4ms"),
                "test_ev_10ms": res.score(lv, "ev_10ms"),
                "baseline_test_count_relative": res.score("LIF baseline", "count_relative"),
                "baseline_test_ev_10ms": res.score("LIF baseline", "ev_10ms"),
            }
        )
    for lv, why in sorted(res.skipped.items()):
        out.append({"cell": name, "level": lv, "skipped": why})
    return out


def fit_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    params: Mapping[str, Any] | None = None,
    workers: int = 1,
    dask: str | None = None,
    progress: Callable[[str, str, int, int], None] | None = None,
) -> Iterator[tuple[str, GlifFit | CellFailure]]:
    """Fit every recording file as one cell (named by its stem); results as they finish.

    Parameters
    ----------
    paths
        Recording files.
    params
        Keyword arguments of :func:`patchatlas.models.glif.fit`.
    workers, dask
        Executor: local processes, or a Dask scheduler (``"local:N"`` for a local cluster).
    progress
        ``progress(event, name, n_finished, n_total)`` with event ``done``/``failed``.

    Yields
    ------
    tuple
        The cell name and its fit, or its failure.
    """
    tasks = [GlifTask(Path(p).stem, [str(Path(p).absolute())]) for p in paths]
    for n, (task, res) in enumerate(_run(tasks, dict(params or {}), workers, dask), start=1):
        if progress is not None:
            progress("failed" if isinstance(res, CellFailure) else "done", task.name, n, len(tasks))
        yield task.name, res


def fit_atlas(
    atlas: Atlas | str | os.PathLike[str],
    *,
    cells: Sequence[str] | None = None,
    params: Mapping[str, Any] | None = None,
    workers: int = 1,
    dask: str | None = None,
    progress: Callable[[str, str, int, int], None] | None = None,
) -> GlifBatchSummary:
    """Fit GLIF models to the cells of an atlas and store them (kind ``"glif"``).

    Parameters
    ----------
    atlas
        An :class:`~patchatlas.atlas.Atlas` (writable) or its URL.
    cells
        Cell names (default: every cell with recordings).
    params
        Keyword arguments of :func:`patchatlas.models.glif.fit` (``levels``, ``method`` ...).
    workers, dask
        Executor: local processes, or a Dask scheduler (``"local:N"`` for a local cluster).
    progress
        ``progress(event, cell, n_finished, n_total)`` with event ``done``/``failed``.

    Returns
    -------
    GlifBatchSummary
        Counts, failures (read errors, cells no level can be identified for) and one row per
        cell and level with its held-out scores next to the plain LIF's.
    """
    from patchatlas.atlas.api import Atlas

    atl = atlas if isinstance(atlas, Atlas) else Atlas(atlas)
    names = list(cells) if cells is not None else [str(c) for c in atl.cells().index]
    tasks = []
    for name in names:
        paths = atl.sweeps(name).table["path"].dropna().astype(str).unique().tolist()
        if paths:
            tasks.append(GlifTask(name, paths))
    summary = GlifBatchSummary(total=len(tasks))
    p = {**DEFAULTS, **dict(params or {})}
    for n, (task, res) in enumerate(_run(tasks, p, workers, dask), start=1):
        if isinstance(res, CellFailure):
            summary.failed += 1
            summary.failures.append(res)
            log.info("GLIF fit failed for %s: %s", task.name, res.reason)
            if progress is not None:
                progress("failed", task.name, n, len(tasks))
            continue
        prov = {
            **res.provenance,
            "skipped": {str(k): v for k, v in res.skipped.items()},
            "files": task.files,
        }
        atl.store_models(task.name, res.model_records(), kind="glif", provenance=prov)
        summary.done += 1
        summary.rows += _rows(task.name, res)
        if progress is not None:
            progress("done", task.name, n, len(tasks))
    return summary
