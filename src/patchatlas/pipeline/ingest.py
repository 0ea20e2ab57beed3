"""The ingest: files → engines (in workers) → atlas (one transaction per cell).

Idempotent and resumable: every cell gets a *content key* (SHA-256 of its files' hashes, the
engines' versions and the parameters). A cell whose stored key is equal is skipped; a cell is
written in a single transaction, so a run killed at any point (SIGKILL included) leaves only
complete cells, and re-running finishes the rest. A cell that fails is recorded in
``ingest_errors`` (file, stage, reason) and the others go on.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from patchatlas.atlas.records import CellFailure, CellRecord, EngineOutput, FileRecord
from patchatlas.errors import PatchAtlasError, ReadError
from patchatlas.pipeline.engines import ENGINES, Engine, engine_for

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas.api import Atlas

__all__ = [
    "IngestSummary",
    "Task",
    "compute_cell",
    "discover",
    "ingest",
    "warm_worker",
]

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, str, int, int], None]
"""``progress(event, cell_name, n_finished, n_total)``; event is done/skipped/failed/start."""


@dataclass
class Task:
    """One cell to ingest: its name, files (absolute paths) and annotations."""

    name: str
    files: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)
    digests: list[tuple[int, str]] = field(default_factory=list)
    key: str | None = None


@dataclass
class IngestSummary:
    """Outcome of :func:`ingest`."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    total: int = 0
    failures: list[CellFailure] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.total} cells: {self.done} done, {self.skipped} skipped, {self.failed} failed"


# ------------------------------------------------------------------------------------ discover


def discover(
    source: str | os.PathLike[str], *, engines: Mapping[str, Engine] | None = None
) -> list[Task]:
    """The cells to ingest from a folder (one cell per data file) or a manifest.

    In a folder, every file an available engine handles becomes a cell named by its path relative
    to the folder, without the extension (``"slice1/cell03"``). A manifest (``.csv``, ``.tsv``,
    ``.yaml``) names cells, their files and annotations (see
    :func:`patchatlas.io.manifest.read_manifest`).

    Parameters
    ----------
    source
        A folder (scanned recursively, hidden files skipped) or a manifest file.
    engines
        The engines whose file extensions count in a folder (default: the registry,
        :data:`~patchatlas.pipeline.ENGINES`; unavailable engines are skipped).

    Returns
    -------
    list of Task
        One task per cell (sorted by path for a folder, in manifest order otherwise), files as
        absolute paths; digests and content keys are not computed yet.

    Raises
    ------
    patchatlas.errors.ReadError
        ``source`` does not exist or is neither a folder nor a manifest, or the manifest is
        malformed.
    """
    from patchatlas.io.manifest import MANIFEST_SUFFIXES, read_manifest, scan_folder

    engines = engines or ENGINES
    src = Path(source)
    if not src.exists():
        raise ReadError(src, "no such file or folder", "give a folder of recordings or a manifest")
    if src.is_dir():
        exts = {e for eng in engines.values() if eng.available() for e in eng.extensions}
        tasks = []
        for p in scan_folder(src, exts):
            rel = p.relative_to(src).with_suffix("")
            tasks.append(Task(name=rel.as_posix(), files=[str(p.absolute())]))
        return tasks
    if src.suffix.lower() in MANIFEST_SUFFIXES:
        return [
            Task(name=e["cell_id"], files=list(e["files"]), metadata=dict(e["metadata"]))
            for e in read_manifest(src)
        ]
    raise ReadError(
        src,
        "is not a folder or a manifest",
        "ingest a folder of recordings, or a .csv/.tsv/.yaml manifest naming cells and files",
    )


def _content_key(
    task: Task, engines: Mapping[str, Engine], params: Mapping[str, Mapping[str, Any]]
) -> str:
    names = sorted({e.name for f in task.files if (e := engine_for(f, engines)) is not None})
    payload = {
        "files": sorted(h for _, h in task.digests),
        "engines": {n: engines[n].version() for n in names},
        "params": {n: _params_for(engines[n], params) for n in names},
        "metadata": task.metadata,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _params_for(engine: Engine, params: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged = dict(engine.defaults)
    merged.update(params.get(engine.name, {}))
    return merged


# ------------------------------------------------------------------------------------- compute


def _failure(task: Task, path: str, stage: str, exc: BaseException) -> CellFailure:
    reason = str(exc) or type(exc).__name__
    if not isinstance(exc, PatchAtlasError):
        # Not a data problem we anticipated: keep the location of the bug.
        tb = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" at {tb[0].filename}:{tb[0].lineno}" if tb else ""
        reason = f"{reason}{where}"
    return CellFailure(task.name, path, stage, type(exc).__name__, reason)


def compute_cell(
    task: Task,
    *,
    engine_names: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> CellRecord | CellFailure:
    """Run the engines on one cell's files; never raises for bad data (returns a failure).

    This is what executors run in their workers.

    Parameters
    ----------
    task
        The cell, with ``digests`` (size and SHA-256 of each file) and its content ``key``
        already computed (as :func:`ingest` does).
    engine_names
        Registered engines to use (default: all of :data:`~patchatlas.pipeline.ENGINES`).
    params
        Engine name → parameters, merged over the engine's defaults.

    Returns
    -------
    CellRecord or CellFailure
        The engines' outputs and file records, ready for the atlas writer; or, when an
        engine is not registered in this process, no engine reads a file, or an engine
        raises, the failure (file, stage, error type and reason).
    """
    missing = [n for n in (engine_names or ()) if n not in ENGINES]
    if missing:
        return CellFailure(
            task.name,
            task.files[0] if task.files else "",
            "dispatch",
            "EngineNotRegistered",
            f"engine(s) {missing} are not registered in this worker process; register engines "
            "when a module (or the main script) is imported so that worker processes see them",
        )
    engines = {n: ENGINES[n] for n in (engine_names or ENGINES)}
    params = params or {}
    files = []
    for i, f in enumerate(task.files):
        size, sha = task.digests[i]
        eng = engine_for(f, engines)
        files.append(
            FileRecord(
                path=f,
                size=size,
                sha256=sha,
                format=Path(f).suffix.lower().lstrip("."),
                role=eng.name if eng else "other",
            )
        )
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(task.files):
        eng = engine_for(f, engines)
        if eng is None:
            return CellFailure(
                task.name,
                f,
                "dispatch",
                "UnsupportedFormatError",
                f"no available engine reads {Path(f).suffix or 'files without extension'!r} "
                f"(engines: {', '.join(sorted(engines))})",
            )
        groups.setdefault(eng.name, []).append(i)
    outputs: list[EngineOutput] = []
    for name, idx in groups.items():
        eng = engines[name]
        paths = [Path(task.files[i]) for i in idx]
        try:
            outputs.append(eng.compute(paths, idx, _params_for(eng, params)))
        except Exception as exc:
            failing = str(paths[0])
            if isinstance(exc, ReadError) and exc.path is not None:
                failing = str(exc.path)
            return _failure(task, failing, name, exc)
    for out in outputs:
        for rec in out.recordings:
            files[rec.file_index].format = rec.format or files[rec.file_index].format
    return CellRecord(
        name=task.name, metadata=task.metadata, files=files, outputs=outputs, content_key=task.key
    )


def compute_and_write(
    task: Task,
    url: str,
    *,
    engine_names: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[str, str, CellFailure | None]:
    """Compute one cell and store it from the worker (PostgreSQL, per-cell transaction)."""
    from patchatlas.atlas.api import Atlas

    atlas = Atlas.for_worker(url)
    result = compute_cell(task, engine_names=engine_names, params=params)
    if isinstance(result, CellFailure):
        atlas.record_failure(result)
        return task.name, "failed", result
    atlas.write_cell(result)
    return task.name, "done", None


# ----------------------------------------------------------------------------------- executors


def _exit_with_parent(parent: int) -> None:
    """Pool-worker initializer: end this worker when the ingest process is gone (even SIGKILLed),
    instead of lingering as an orphan."""
    import threading
    import time

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, name="patchatlas-parent-watch", daemon=True).start()


def warm_worker(engine_names: Sequence[str]) -> str | None:
    """Load what the engines compile (the ephys spike-detection kernel) before the first cell,
    so that no cell pays for it and a compile problem shows once, at start.

    Parameters
    ----------
    engine_names
        The engines this worker runs.

    Returns
    -------
    str or None
        The ephys backend in use (``"numba"`` / ``"numpy"``), None without the ephys engine.
    """
    if "ephys" not in engine_names:
        return None
    from patchatlas.ephys import warm_up

    return warm_up()


def _init_pool_worker(parent: int, engine_names: Sequence[str]) -> None:
    _exit_with_parent(parent)
    warm_worker(engine_names)


def _local_results(
    tasks: Sequence[Task],
    workers: int,
    engine_names: Sequence[str],
    params: Mapping[str, Mapping[str, Any]],
) -> Iterator[CellRecord | CellFailure]:
    if workers <= 1:
        for t in tasks:
            yield compute_cell(t, engine_names=engine_names, params=params)
        return
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    pending: dict[Future[CellRecord | CellFailure], Task] = {}
    it = iter(tasks)
    # "spawn": workers must not inherit this process's database connections (a forked child
    # holding the parent's PostgreSQL socket would keep a killed parent's transaction, and its row
    # locks, alive).
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_pool_worker,
        initargs=(os.getpid(), list(engine_names)),
    ) as pool:
        while True:
            while len(pending) < 2 * workers:
                nxt = next(it, None)
                if nxt is None:
                    break
                fut = pool.submit(compute_cell, nxt, engine_names=engine_names, params=params)
                pending[fut] = nxt
            if not pending:
                return
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                t = pending.pop(fut)
                try:
                    yield fut.result()
                except Exception as exc:
                    yield _failure(t, t.files[0] if t.files else "", "worker", exc)


class _DaskRunner:
    """Dask client on a scheduler address or a LocalCluster (``local:N``)."""

    def __init__(self, address: str) -> None:
        try:
            import distributed
        except ImportError as exc:
            from patchatlas.errors import MissingDependencyError

            raise MissingDependencyError(
                "--dask needs dask distributed; install it with `pip install 'patchatlas[dask]'`"
            ) from exc
        dist: Any = distributed
        self._dist = dist
        self.cluster: Any = None
        self.client: Any
        if address.startswith("local"):
            _, _, n = address.partition(":")
            n_workers = int(n) if n else (os.cpu_count() or 1)
            self.cluster = dist.LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = dist.Client(self.cluster)
        else:
            self.client = dist.Client(address)

    def warm(self, engine_names: Sequence[str]) -> None:
        """Run :func:`warm_worker` on every worker (now and on workers that join later)."""
        self.client.register_worker_callbacks(
            setup=functools.partial(warm_worker, list(engine_names))
        )

    def map_as_completed(
        self, fn: Callable[..., Any], tasks: Sequence[Task], **kwargs: Any
    ) -> Iterator[tuple[Task, Any]]:
        futures = {
            self.client.submit(fn, t, pure=False, key=f"patchatlas-{i}-{t.name}", **kwargs): t
            for i, t in enumerate(tasks)
        }
        for fut in self._dist.as_completed(futures):
            t = futures[fut]
            try:
                yield t, fut.result()
            except Exception as exc:
                yield t, _failure(t, t.files[0] if t.files else "", "worker", exc)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# -------------------------------------------------------------------------------------- ingest


def _prepare(
    tasks: Iterable[Task],
    engines: Mapping[str, Engine],
    params: Mapping[str, Mapping[str, Any]],
) -> tuple[list[Task], list[CellFailure]]:
    from patchatlas.io.manifest import file_digest

    ready, failures = [], []
    for t in tasks:
        try:
            t.digests = [file_digest(f) for f in t.files]
        except ReadError as exc:
            failures.append(_failure(t, str(exc.path), "hash", exc))
            continue
        if not t.files:
            failures.append(
                CellFailure(t.name, "", "discover", "ReadError", "the cell has no files")
            )
            continue
        t.key = _content_key(t, engines, params)
        ready.append(t)
    return ready, failures


def ingest(
    source: str | os.PathLike[str] | Sequence[Task],
    atlas: Atlas | str | os.PathLike[str],
    *,
    workers: int = 1,
    dask: str | None = None,
    writer: Literal["single", "workers"] = "single",
    recompute: bool = False,
    engines: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressFn | None = None,
) -> IngestSummary:
    """Ingest a folder or manifest into an atlas.

    Parameters
    ----------
    source
        Folder of recordings, a manifest file, or a list of :class:`Task`.
    atlas
        An :class:`~patchatlas.atlas.Atlas` or its URL (``sqlite:///atlas.db``,
        ``postgresql://…``; a plain path means SQLite).
    workers
        Local worker processes (1: compute in this process). Workers are spawned fresh, so
        engines added with :func:`register_engine` must be registered when a module (or the
        main script) is imported, not inside a function, to be seen by them (same on Dask).
    dask
        ``"tcp://host:8786"`` (a running scheduler) or ``"local:N"`` (a LocalCluster of N worker
        processes). Overrides ``workers``.
    writer
        ``"single"``: results come back and this process writes them (any database).
        ``"workers"``: each Dask worker writes its cells itself, one transaction per cell
        (PostgreSQL; on SQLite concurrent writers would queue on the file lock).
    recompute
        Recompute cells whose inputs did not change.
    engines
        Engine names to run (default: all registered and available).
    params
        Per-engine parameters, e.g. ``{"ephys": {"profile": "allen"}}``.
    progress
        ``progress(event, cell, n_finished, n_total)`` callback (the CLI draws a bar with it).

    Returns
    -------
    IngestSummary
        Counts of done / skipped / failed cells and the failures.
    """
    from patchatlas.atlas.api import Atlas

    atl = atlas if isinstance(atlas, Atlas) else Atlas(atlas)
    registry = {n: ENGINES[n] for n in (engines or ENGINES) if ENGINES[n].available()}
    engine_names = list(registry)
    params = {k: dict(v) for k, v in (params or {}).items()}
    tasks = (
        list(source)
        if isinstance(source, Sequence) and not isinstance(source, str)
        else discover(source, engines=registry)
    )
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:5]
        raise ReadError(None, f"cell names are not unique: {dup}", "rename the files or cells")
    summary = IngestSummary(total=len(tasks))
    run_id = atl.start_run(
        str(source) if not isinstance(source, Sequence) or isinstance(source, str) else "tasks",
        {"workers": workers, "dask": dask, "engines": engine_names, "params": params},
    )
    n_finished = 0

    def note(event: str, name: str) -> None:
        nonlocal n_finished
        n_finished += 1
        if progress is not None:
            progress(event, name, n_finished, summary.total)

    def fail(f: CellFailure, *, store: bool = True) -> None:
        summary.failed += 1
        summary.failures.append(f)
        if store:
            atl.record_failure(f)
        log.info("failed %s: %s (%s)", f.path, f.reason, f.stage)
        note("failed", f.name)

    ready, early = _prepare(tasks, registry, params)
    for f in early:
        fail(f)
    stored = atl.content_keys()
    todo = []
    for t in ready:
        if not recompute and stored.get(t.name) == t.key:
            summary.skipped += 1
            note("skipped", t.name)
        else:
            todo.append(t)
    if progress is not None:
        progress("start", "", n_finished, summary.total)

    def handle(result: CellRecord | CellFailure) -> None:
        if isinstance(result, CellFailure):
            fail(result)
            return
        try:
            atl.write_cell(result)
        except Exception as exc:
            fail(
                CellFailure(
                    result.name, result.files[0].path, "store", type(exc).__name__, str(exc)
                )
            )
            return
        summary.done += 1
        note("done", result.name)

    try:
        if dask is not None:
            runner = _DaskRunner(dask)
            try:
                runner.warm(engine_names)
                if writer == "workers":
                    for _t, res in runner.map_as_completed(
                        compute_and_write,
                        todo,
                        url=atl.url,
                        engine_names=engine_names,
                        params=params,
                    ):
                        if isinstance(res, CellFailure):  # the worker itself was lost
                            fail(res)
                            continue
                        name, status, failure = res
                        if status == "done":
                            summary.done += 1
                            note("done", name)
                        else:
                            assert failure is not None
                            fail(failure, store=False)
                else:
                    for _t, res in runner.map_as_completed(
                        compute_cell, todo, engine_names=engine_names, params=params
                    ):
                        handle(res)
            finally:
                runner.close()
        else:
            for res in _local_results(todo, workers, engine_names, params):
                handle(res)
    finally:
        atl.finish_run(run_id, summary.done, summary.skipped, summary.failed)
    return summary
