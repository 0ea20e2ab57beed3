"""Ingest on a real Dask LocalCluster (worker processes): single writer, and 8 workers writing
concurrently to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from patchatlas.atlas import Atlas
from patchatlas.pipeline import ENGINES, ingest
from patchatlas.pipeline.ingest import _prepare, compute_and_write, discover

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]
distributed = pytest.importorskip("distributed")


def _manifest(abf_dir: Path, root: Path, copies: int) -> Path:
    lines = ["cell_id,file,species,donor,layer"]
    for k in range(copies):
        for f in sorted(abf_dir.glob("*.abf")):
            lines.append(f"{f.stem}_{k},{f},mouse,donor{k % 2},{k % 6 + 1}")
    lines.append(f"broken,{root / 'broken.abf'},mouse,donor0,1")
    (root / "broken.abf").write_bytes(b"ABF2" + b"\x00" * 50)
    path = root / "cells.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _sweeps(url: str) -> pd.DataFrame:
    atlas = Atlas(url)
    frames = []
    for name in atlas.cells().index:
        t = atlas.sweeps(name).table.drop(columns=["recording_id"])
        t.insert(0, "cell_id", name)
        frames.append(t)
    return pd.concat(frames).sort_values(["cell_id", "number"], ignore_index=True)


def _assert_no_duplicates(url: str, n_cells: int) -> None:
    atlas = Atlas(url)
    with atlas.engine.connect() as conn:
        per_cell = conn.execute(
            text(
                "SELECT c.name, count(DISTINCT r.id) AS n_rec, count(DISTINCT f.id) AS n_files "
                "FROM cells c LEFT JOIN recordings r ON r.cell_id = c.id "
                "LEFT JOIN source_files f ON f.cell_id = c.id GROUP BY c.name"
            )
        ).all()
        n_donors = conn.execute(text("SELECT count(*) FROM donors")).scalar_one()
        dup_sweeps = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT recording_id, number FROM sweeps "
                "GROUP BY recording_id, number HAVING count(*) > 1) d"
            )
        ).scalar_one()
    assert len(per_cell) == n_cells
    assert all(r.n_rec == 1 and r.n_files == 1 for r in per_cell), per_cell
    assert n_donors == 2
    assert dup_sweeps == 0


def test_dask_local_cluster_single_writer(abf_dir: Path, tmp_path: Path) -> None:
    manifest = _manifest(abf_dir, tmp_path, copies=2)
    url = f"sqlite:///{tmp_path / 'dask.db'}"
    summary = ingest(manifest, url, dask="local:3")
    n = 2 * len(list(abf_dir.glob("*.abf")))
    assert (summary.done, summary.failed) == (n, 1)
    assert Atlas(url).errors()["cell_name"].tolist() == ["broken"]
    _assert_no_duplicates(url, n)

    ref = f"sqlite:///{tmp_path / 'serial.db'}"
    ingest(manifest, ref)
    pd.testing.assert_frame_equal(_sweeps(url), _sweeps(ref))
    assert ingest(manifest, url, dask="local:2").skipped == n


@pytest.mark.postgres
def test_eight_dask_workers_write_to_postgres(abf_dir: Path, tmp_path: Path, pg_url: str) -> None:
    manifest = _manifest(abf_dir, tmp_path, copies=3)
    n = 3 * len(list(abf_dir.glob("*.abf")))
    cluster = distributed.LocalCluster(
        n_workers=8, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        address = cluster.scheduler_address
        summary = ingest(manifest, pg_url, dask=address, writer="workers")
        assert (summary.done, summary.failed) == (n, 1)
        _assert_no_duplicates(pg_url, n)
        assert Atlas(pg_url).errors()["cell_name"].tolist() == ["broken"]

        # every cell written twice at the same time by different workers: still no duplicates
        tasks, _ = _prepare(discover(manifest), ENGINES, {})
        with distributed.Client(address) as client:
            futures = [
                client.submit(compute_and_write, t, pg_url, pure=False, key=f"w{k}-{t.name}")
                for k in range(2)
                for t in tasks
            ]
            results = client.gather(futures)
        assert sum(status == "done" for _, status, _ in results) == 2 * n
        _assert_no_duplicates(pg_url, n)
    finally:
        cluster.close()

    ref = f"sqlite:///{tmp_path / 'serial.db'}"
    ingest(manifest, ref)
    pd.testing.assert_frame_equal(_sweeps(pg_url), _sweeps(ref))
