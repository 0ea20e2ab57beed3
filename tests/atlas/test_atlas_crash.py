"""SIGKILL the ingest at random points; re-running must lose nothing, duplicate nothing, and give
the same atlas as an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from patchatlas.atlas import Atlas

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

# The ingest runs in a child process with the real ephys engine plus per-sweep features computed
# from the traces (so the feature rows are exercised too while the feature engine is elsewhere).
SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd
    import patchatlas
    from patchatlas.pipeline import Engine, ingest, register_engine
    from patchatlas.pipeline.engines import compute_ephys

    def compute(paths, idx, params):
        # metadata only from the real engine (fast, independent of the feature engine) ...
        out = compute_ephys(paths, idx, {**params, "features": False})
        # ... and deterministic features from the traces
        rows = []
        for p in paths:
            rec = patchatlas.read(p)
            for s in rec:
                rows.append(dict(level="sweep", sweep_number=s.number, name="v_mean",
                                 value=float(np.mean(s.v))))
                rows.append(dict(level="sweep", sweep_number=s.number, name="v_sd",
                                 value=float(np.std(s.v))))
            rows.append(dict(level="cell", name="n_sweeps", value=float(len(rec))))
        out.features = pd.concat([out.features, pd.DataFrame(rows)], ignore_index=True)
        return out

    # at import time, so that spawned pool workers register it too
    register_engine(Engine(name="ephys", extensions=(".abf",), compute=compute,
                           stores=("recordings", "sweeps", "ephys_features"),
                           version=lambda: "crash-test/1"))

    if __name__ == "__main__":
        s = ingest(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]))
        print(s)
    """
)


def _snapshot(url: str) -> dict[str, pd.DataFrame]:
    atlas = Atlas(url)
    sweeps = []
    for name in atlas.cells().index:
        t = atlas.sweeps(name).table.drop(columns=["recording_id"])
        t.insert(0, "cell_id", name)
        sweeps.append(t)
    feats = atlas.ephys_features("sweep", wide=False)[["cell_id", "sweep_number", "name", "value"]]
    out = {
        "cells": atlas.cells()[["dataset", "species"]].sort_index(),
        "sweeps": pd.concat(sweeps).sort_values(["cell_id", "number"], ignore_index=True),
        "features": feats.sort_values(["cell_id", "sweep_number", "name"], ignore_index=True),
        "cell_features": atlas.ephys_features().sort_index(),
        "errors": atlas.errors()[["cell_name", "path", "stage"]],
    }
    atlas.close()
    return out


def _check_consistent(url: str, n_sweeps: dict[str, int]) -> int:
    """Every stored cell is complete: one file, one recording, all its sweeps and features."""
    atlas = Atlas(url)
    with atlas.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.name, c.content_key, "
                "(SELECT count(*) FROM source_files f WHERE f.cell_id = c.id) AS n_files, "
                "(SELECT count(*) FROM recordings r WHERE r.cell_id = c.id) AS n_rec, "
                "(SELECT count(*) FROM sweeps s JOIN recordings r ON s.recording_id = r.id "
                "  WHERE r.cell_id = c.id) AS n_sw, "
                "(SELECT count(*) FROM ephys_features e WHERE e.cell_id = c.id) AS n_feat "
                "FROM cells c"
            )
        ).all()
    atlas.close()
    for r in rows:
        assert r.content_key is not None, r
        assert (r.n_files, r.n_rec) == (1, 1), r
        assert r.n_sw == n_sweeps[r.name], r
        assert r.n_feat == 2 * n_sweeps[r.name] + 1, r
    return len(rows)


def _orphans(script: Path) -> list[int]:
    """Processes still running that a killed ingest of ``script`` started (its pool workers)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            env = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(script) in cmd or f"PATCHATLAS_CRASH_TEST={script}" in env:
            out.append(int(proc.name))
    return out


def _reset(url: str) -> None:
    atlas = Atlas(url)
    from patchatlas.atlas.schema import Base

    with atlas.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    atlas.close()


def _folder(abf_dir: Path, root: Path, copies: int) -> tuple[Path, dict[str, int]]:
    import patchatlas

    folder = root / "data"
    folder.mkdir()
    n_sweeps = {}
    for f in sorted(abf_dir.glob("*.abf")):
        n = len(patchatlas.read(f))
        for k in range(copies):
            name = f"{f.stem}_{k}"
            (folder / f"{name}.abf").symlink_to(f)
            n_sweeps[name] = n
    (folder / "broken.abf").write_bytes(b"ABF2" + b"\x01" * 64)
    return folder, n_sweeps


def _run(script: Path, folder: Path, url: str, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(script), str(folder), url, str(workers)],
        env={**os.environ, "PATCHATLAS_CRASH_TEST": str(script)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_sigkill_at_random_points(engine: str, abf_dir: Path, tmp_path: Path, request) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "run_ingest.py"
    script.write_text(SCRIPT, encoding="utf-8")
    folder, n_sweeps = _folder(abf_dir, tmp_path, copies=2)

    ref_url = f"sqlite:///{tmp_path / 'reference.db'}"
    t0 = time.monotonic()
    ref = _run(script, folder, ref_url, 1)
    assert ref.wait(timeout=300) == 0, ref.stderr.read() if ref.stderr else ""
    full_time = time.monotonic() - t0
    reference = _snapshot(ref_url)
    assert len(reference["cells"]) == len(n_sweeps)

    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'killed.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    rng = random.Random(20261122)
    kills = runs = 0
    stored = 0
    while kills < 10:
        runs += 1
        assert runs <= 40, f"only {kills} kills in 40 runs (full run {full_time:.1f} s)"
        if stored == len(n_sweeps):  # everything done: start over to hit early states again
            _reset(url)
        # aim the kill inside the work that is left (imports take about a second)
        left = full_time * (1 - stored / len(n_sweeps))
        proc = _run(script, folder, url, 1 if runs % 3 else 2)
        try:
            proc.wait(timeout=rng.uniform(0.8, 0.8 + left))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        # pool workers of a killed parent exit on their own (their pipe closes)
        stored = _check_consistent(url, n_sweeps)

    # no orphans: pool workers of killed runs have exited
    deadline = time.monotonic() + 10
    while _orphans(script) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _orphans(script) == []

    final = _run(script, folder, url, 1)
    assert final.wait(timeout=300) == 0, final.stderr.read() if final.stderr else ""
    assert _check_consistent(url, n_sweeps) == len(n_sweeps)
    got = _snapshot(url)
    for key, df in reference.items():
        pd.testing.assert_frame_equal(got[key], df, obj=key)
