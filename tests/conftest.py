"""Shared fixtures. Real data live in ../shared/data (never copied into the repository).

A test that needs the shared data uses the ``shared_data`` fixture: outside CI it skips when the
folder is missing; with ``CI=true`` it fails, so a CI run can never pass without the real data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PATCHATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def curated(paths):
    """``paths`` without the files of the ``robustness/`` folders: those are real files that
    patchatlas must read correctly *or refuse clearly* (their MANIFESTs say which), so they
    belong to the reader-robustness tests, not to the corpora of "every real recording" whose
    features the other tests compare."""
    return [p for p in paths if "robustness" not in Path(p).parts]


def _require(path: Path, msg: str | None = None) -> Path:
    if not path.exists():
        msg = msg or f"shared data not found at {path} (set PATCHATLAS_SHARED_DATA)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def require_reference_env(python: Path, tool: str, setup: str) -> Path:
    """The interpreter of a reference tool's own venv (IPFX, eFEL, NeuroM ...): fails under
    CI=true when it is missing, skips otherwise."""
    return _require(python, f"{tool} reference env missing at {python}: run bash {setup}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of ../shared/data; fails under CI=true when missing."""
    return _require(SHARED)


@pytest.fixture(scope="session")
def ephys_data(shared_data: Path) -> Path:
    """../shared/data/ephys."""
    return _require(shared_data / "ephys")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect scikit-learn's array-API estimator checks.

    They run only with ``SCIPY_ARRAY_API=1`` (and torch / array_api_strict installed) and would
    otherwise be reported as skips; patchatlas estimators take numpy arrays only, so those checks
    do not apply (``ZScore`` inherits StandardScaler's array-API tag, hence also the
    ``check_array_api_mixed_inputs`` / ``check_array_api_same_namespace`` checks).
    """
    drop = [it for it in items if "check_array_api_" in it.nodeid]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [it for it in items if "check_array_api_" not in it.nodeid]
