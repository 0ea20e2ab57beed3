"""Shared fixtures of the synaptic-physiology tests: the real data folders, one simulated
experiment analysed once, and an atlas it was ingested into (session-scoped: the analysis takes
a few seconds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI


@pytest.fixture(scope="session")
def synphys_data(shared_data: Path) -> Path:
    """../shared/data/synphys (fails under CI=true when missing)."""
    path = shared_data / "synphys"
    if not path.is_dir():
        (pytest.fail if IN_CI else pytest.skip)(f"shared data missing: {path}")
    return path


@pytest.fixture(scope="session")
def simulated() -> tuple[Any, Any]:
    """The demo's simulated experiment and its ground truth."""
    from patchatlas.datasets.demo_synphys import simulate_multipatch

    return simulate_multipatch(seed=0)


@pytest.fixture(scope="session")
def sim_result(simulated: tuple[Any, Any]) -> Any:
    """:func:`patchatlas.synphys.analyze` of the simulated experiment."""
    from patchatlas.synphys import analyze

    return analyze(simulated[0])


@pytest.fixture(scope="session")
def sim_atlas(simulated: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite atlas with the simulated experiment ingested by the ``synphys`` engine."""
    from patchatlas.atlas import Atlas
    from patchatlas.io.multipatch import write_multipatch
    from patchatlas.pipeline import ingest

    root = tmp_path_factory.mktemp("synphys_atlas")
    folder = root / "data"
    folder.mkdir()
    write_multipatch(simulated[0], folder / "sim.mpx")
    url = f"sqlite:///{root / 'atlas.db'}"
    Atlas(url, mode="w").close()
    summary = ingest(folder, url, engines=["synphys"])
    assert summary.done == 1, summary.failures
    return url
