"""Atlas benchmark: ingest throughput (cells per hour per core) and ``atlas.cells()`` latency.

Usage::

    python benchmarks/ingest.py [--copies 56] [--postgres URL] [--cells 100000] [--workers 1,2]

* Ingest: the real ABFs of ``../shared/data/ephys/abf_pyabf`` replicated (symlinks) to
  ``9 × copies`` files, ingested with the full ephys engine (read, stimulus inference, sweep
  metadata, and the feature extraction when ``patchatlas.ephys.cell_features`` exists) into a
  fresh SQLite atlas and, with ``--postgres``, a fresh PostgreSQL database; 1 and 2 workers.
* Query: ``atlas.cells()`` and a filtered ``atlas.cells(species=..., layer=...)`` on an atlas of
  ``--cells`` synthetic cells (median of 5).

Prints a Markdown table (paste it into benchmarks/RESULTS-atlas.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _fresh_pg(server_url: str) -> tuple[str, object]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from patchatlas.atlas.db import normalize_url

    base = make_url(normalize_url(server_url))
    name = f"pa_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False), (admin, name)


def _drop_pg(handle: object) -> None:
    from sqlalchemy import text

    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def bench_ingest(folder: Path, url: str, workers: int) -> dict[str, float]:
    """One ingest: wall time, CPU seconds of this process (hashing, dispatch, the single writer)
    and of the worker processes, and the load average around it."""
    import resource

    from patchatlas.atlas import Atlas
    from patchatlas.pipeline import ingest

    Atlas(url).close()  # schema creation is not part of the timing
    load0 = os.getloadavg()[0]
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    summary = ingest(folder, url, workers=workers)
    elapsed = time.perf_counter() - t0
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # pool workers, reaped at shutdown
    assert summary.failed == 0, summary.failures[:3]
    return {
        "cells": summary.done,
        "wall_s": elapsed,
        "cpu_main_s": (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime),
        "cpu_workers_s": (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime),
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }


def stage_profile(abfs: list[Path], repeats: int = 3) -> dict[str, float]:
    """Seconds per cell of each stage of the per-cell path, on the real ABFs (median of
    ``repeats``): read → cell analysis (all sweeps' spikes and sweep features) → per-spike table
    → feature rows → store (SQLite, one transaction per cell)."""
    import warnings

    import patchatlas
    from patchatlas.atlas import Atlas
    from patchatlas.ephys import detect_spikes
    from patchatlas.ephys.cell import analyze_recording, cell_record
    from patchatlas.io.manifest import file_digest
    from patchatlas.pipeline.engines import compute_ephys
    from patchatlas.pipeline.ingest import Task, compute_cell

    warnings.simplefilter("ignore")
    stages: dict[str, list[float]] = {}

    def timed(name: str, fn: object) -> object:
        t = time.perf_counter()
        out = fn()  # type: ignore[operator]
        stages.setdefault(name, []).append(time.perf_counter() - t)
        return out

    compute_ephys(abfs[:1], [0], {})  # imports and caches are not part of the timing
    with tempfile.TemporaryDirectory() as tmp:
        atlas = Atlas(f"sqlite:///{Path(tmp) / 'stages.db'}")
        for rep in range(repeats):
            totals: dict[str, float] = {}
            for f in abfs:
                before = {k: len(v) for k, v in stages.items()}
                timed("hash", lambda f=f: file_digest(f))
                rec = timed("read", lambda f=f: patchatlas.read(f))
                results = timed("cell analysis", lambda rec=rec: analyze_recording(rec))
                timed("cell record", lambda r=results, rec=rec: cell_record(r, n_sweeps=len(rec)))
                timed(
                    "per-spike table",
                    lambda rec=rec: [detect_spikes(s.t, s.v) for s in rec.sweeps],
                )
                task = Task(name=f"{f.stem}_{rep}", files=[str(f)], digests=[file_digest(f)])
                rec_ = timed("engine total (compute_cell)", lambda t=task: compute_cell(t))
                timed("store (write_cell)", lambda r=rec_: atlas.write_cell(r))  # type: ignore[arg-type]
                for k, v in stages.items():
                    if len(v) > before.get(k, 0):
                        totals[k] = totals.get(k, 0.0) + v[-1]
            for k, v in totals.items():
                stages.setdefault(f"total:{k}", []).append(v)
        atlas.close()
    n = len(abfs)
    return {
        k[len("total:") :]: statistics.median(v) / n
        for k, v in stages.items()
        if k.startswith("total:")
    }


def bench_query(url: str, n_cells: int) -> dict[str, float]:
    import numpy as np
    from sqlalchemy import insert

    from patchatlas.atlas import Atlas
    from patchatlas.atlas.schema import Base

    atlas = Atlas(url)
    rng = np.random.default_rng(0)
    species = rng.choice(["mouse", "human"], n_cells, p=[0.8, 0.2])
    layers = rng.choice(["1", "2/3", "4", "5", "6"], n_cells)
    depth = rng.uniform(50, 1500, n_cells)
    ttypes = rng.choice([f"type_{k}" for k in range(100)], n_cells)
    conf = rng.uniform(0, 1, n_cells)
    rows = [
        {
            "name": f"syn{i:06d}",
            "dataset": "synthetic",
            "species": species[i],
            "layer": layers[i],
            "depth_um": float(depth[i]),
            "t_type": ttypes[i],
            "t_type_confidence": float(conf[i]),
            "metadata": {},
        }
        for i in range(n_cells)
    ]
    cells = Base.metadata.tables["cells"]
    t0 = time.perf_counter()
    with atlas.engine.begin() as conn:
        for k in range(0, n_cells, 10000):
            conn.execute(insert(cells), rows[k : k + 10000])
    fill = time.perf_counter() - t0

    def median_time(fn: object, n: int = 5) -> float:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    all_t = median_time(lambda: atlas.cells())
    sel_t = median_time(lambda: atlas.cells(species="human", layer="5"))
    assert len(atlas.cells()) == n_cells
    atlas.close()
    return {"fill_s": fill, "cells_all_s": all_t, "cells_filtered_s": sel_t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--copies", type=int, default=56, help="replicas of each of the 9 ABFs")
    ap.add_argument("--postgres", default=os.environ.get("PATCHATLAS_TEST_POSTGRES_URL"))
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage profile")
    args = ap.parse_args()

    import patchatlas.ephys

    abfs = sorted((SHARED / "ephys" / "abf_pyabf").glob("*.abf"))
    if not abfs:
        sys.exit(f"no ABFs under {SHARED}/ephys/abf_pyabf")
    have_features = getattr(patchatlas.ephys, "cell_features", None) is not None
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"ephys cell_features available: {have_features}")
    print(f"load average at start: {os.getloadavg()}")
    if not args.no_stages:
        prof = stage_profile(abfs)
        print()
        print(f"per-cell stages (mean over the {len(abfs)} ABFs, median of 3 passes, 1 process)")
        print()
        print("| stage | ms per cell |")
        print("|---|---|")
        for k, v in prof.items():
            print(f"| {k} | {1000 * v:.1f} |")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "abf"
        folder.mkdir()
        for k in range(args.copies):
            for f in abfs:
                (folder / f"{f.stem}_{k:03d}.abf").symlink_to(f)
        n_files = len(abfs) * args.copies
        engines = [("sqlite", None)]
        if args.postgres:
            engines.append(("postgresql", args.postgres))
        for engine, server in engines:
            for w in [int(x) for x in args.workers.split(",")]:
                handle = None
                if engine == "sqlite":
                    url = f"sqlite:///{Path(tmp) / f'ingest_{w}.db'}"
                else:
                    url, handle = _fresh_pg(server)  # type: ignore[arg-type]
                r = bench_ingest(folder, url, w)
                if handle is not None:
                    _drop_pg(handle)
                rows.append((engine, w, r))
                print(f"  {engine} × {w}: {r}", flush=True)
        print()
        print(f"ingest of {n_files} real ABF files ({len(abfs)} recordings × {args.copies})")
        print()
        print(
            "| engine | workers | cells | wall (s) | cells/h | cells/h/core (wall) "
            "| CPU main (s) | CPU workers (s) | cells/CPU-h | load avg before/after |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for e, w, r in rows:
            ph = r["cells"] / r["wall_s"] * 3600
            cpu = r["cpu_main_s"] + r["cpu_workers_s"]
            print(
                f"| {e} | {w} | {r['cells']:.0f} | {r['wall_s']:.1f} | {ph:,.0f} | {ph / w:,.0f} "
                f"| {r['cpu_main_s']:.1f} | {r['cpu_workers_s']:.1f} "
                f"| {r['cells'] / cpu * 3600:,.0f} | {r['load_before']:.1f} / "
                f"{r['load_after']:.1f} |"
            )
        for e in dict.fromkeys(r[0] for r in rows):
            t1 = [r["wall_s"] for x, w, r in rows if x == e and w == 1]
            t2 = [r["wall_s"] for x, w, r in rows if x == e and w == 2]
            if t1 and t2:
                print(f"\n{e}: speed-up 1 → 2 workers (wall): {t1[0] / t2[0]:.2f}×")
        if args.cells <= 0:
            return

        print()
        print(f"atlas.cells() on {args.cells:,} synthetic cells (median of 5)")
        print()
        print("| engine | fill (s) | cells() (s) | cells(species, layer) (s) |")
        print("|---|---|---|---|")
        for engine, server in engines:
            handle = None
            if engine == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'query.db'}"
            else:
                url, handle = _fresh_pg(server)  # type: ignore[arg-type]
            q = bench_query(url, args.cells)
            if handle is not None:
                _drop_pg(handle)
            print(
                f"| {engine} | {q['fill_s']:.1f} | {q['cells_all_s']:.3f} | "
                f"{q['cells_filtered_s']:.3f} |"
            )


if __name__ == "__main__":
    main()
