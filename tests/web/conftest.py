"""Fixtures of the portal tests: a synthetic atlas (with trace and SWC files), apps, clients."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")

from fastapi.testclient import TestClient

from patchatlas.datasets.synthetic_atlas import SyntheticAtlas, build_synthetic_atlas
from patchatlas.web import create_app

N_CELLS = 120


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SyntheticAtlas:
    """A 120-cell synthetic atlas: 3 cells with sweeps and SWC files, pairs, models."""
    root = tmp_path_factory.mktemp("synth_atlas")
    return build_synthetic_atlas(
        f"sqlite:///{root / 'atlas.db'}", root / "files", n_cells=N_CELLS, seed=7
    )


@pytest.fixture(scope="session")
def client(synth: SyntheticAtlas) -> TestClient:
    """A read-only portal on the synthetic atlas."""
    return TestClient(create_app(synth.url))


@pytest.fixture()
def token_portal(tmp_path: Path):
    """A writable portal on a fresh small atlas: ``(client, token, data_dir)``."""
    atlas_dir = tmp_path / "atlas"
    syn = build_synthetic_atlas(
        f"sqlite:///{atlas_dir / 'atlas.db'}",
        atlas_dir / "files",
        n_cells=12,
        n_trace_cells=0,
        n_swc_cells=0,
        n_pairs=0,
        seed=3,
    )
    token = secrets.token_urlsafe(24)
    tf = tmp_path / "token"
    tf.write_text(token + "\n")
    app = create_app(syn.url, token_file=tf, max_upload_bytes=4096)
    return TestClient(app), token, atlas_dir


@pytest.fixture()
def failed_url(tmp_path: Path) -> str:
    """An atlas whose only ingest failed: one unreadable ABF file."""
    from patchatlas.pipeline import ingest

    src = tmp_path / "data"
    src.mkdir()
    (src / "broken.abf").write_bytes(b"this is not an ABF file" * 10)
    url = f"sqlite:///{tmp_path / 'failed.db'}"
    summary = ingest(src, url)
    assert (summary.done, summary.failed) == (0, 1)
    return url
