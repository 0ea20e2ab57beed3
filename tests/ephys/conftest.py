"""Fixtures of the ephys tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import patchatlas
from patchatlas.core.recording import Recording
from tests.conftest import curated


@pytest.fixture(scope="session")
def abf_recordings(ephys_data: Path) -> list[Recording]:
    """Every real ABF recording of ../shared/data/ephys, read once per session."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [patchatlas.read(p) for p in curated(sorted(ephys_data.rglob("*.abf")))]
