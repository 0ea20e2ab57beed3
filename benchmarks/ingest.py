"""Atlas benchmark: ingest throughput (cells per hour per core) and ``atlas.cells()`` latency.

Usage::

    python benchmarks/ingest.py [--copies 56] [--postgres URL] [--cells 100000]

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


def bench_ingest(folder: Path, url: str, workers: int) -> tuple[int, float]:
    from patchatlas.atlas import Atlas
    from patchatlas.pipeline import ingest

    Atlas(url).close()  # schema creation is not part of the timing
    t0 = time.perf_counter()
    summary = ingest(folder, url, workers=workers)
    elapsed = time.perf_counter() - t0
    assert summary.failed == 0, summary.failures[:3]
    return summary.done, elapsed


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
                done, elapsed = bench_ingest(folder, url, w)
                if handle is not None:
                    _drop_pg(handle)
                per_h_core = done / elapsed * 3600 / w
                rows.append((engine, w, done, elapsed, done / elapsed * 3600, per_h_core))
        print()
        print(f"ingest of {n_files} real ABF files (9 recordings × {args.copies})")
        print()
        print("| engine | workers | cells | time (s) | cells/h | cells/h/core |")
        print("|---|---|---|---|---|---|")
        for e, w, d, t, ph, phc in rows:
            print(f"| {e} | {w} | {d} | {t:.1f} | {ph:,.0f} | {phc:,.0f} |")
        for e in {r[0] for r in rows}:
            t1 = [r[3] for r in rows if r[0] == e and r[1] == 1]
            t2 = [r[3] for r in rows if r[0] == e and r[1] == 2]
            if t1 and t2:
                print(f"\n{e}: speed-up 1 → 2 workers: {t1[0] / t2[0]:.2f}×")

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
