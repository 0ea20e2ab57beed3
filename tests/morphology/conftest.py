"""Fixtures for the morphology tests (real files under ../shared/data/morphology)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def morph_data(shared_data: Path) -> Path:
    """../shared/data/morphology."""
    p = shared_data / "morphology"
    if not p.exists():
        pytest.fail(f"morphology data missing at {p}")
    return p


@pytest.fixture(scope="session")
def edge(morph_data: Path) -> Path:
    """The NeuroM synthetic edge cases."""
    return morph_data / "neurom_edge_cases"


@pytest.fixture(scope="session")
def sk(morph_data: Path) -> Path:
    """The skeleton_keys example folder."""
    return morph_data / "skeleton_keys_example"
