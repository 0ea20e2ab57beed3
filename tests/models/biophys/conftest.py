"""Fixtures of the biophysical-model tests: the two Allen models of ../shared/data, the simulators.

Arbor (the ``[models]`` extra) and NEURON (the ``[neuron]`` extra, with a C++ compiler for the
Allen ``.mod`` files, compiled once into the user cache) are required under ``CI=true`` and skip
the tests that need them otherwise.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import IN_CI

PERI_DIR = Path("ephys/allen_metadata/specimen_464198958")
PERI_FIT = PERI_DIR / "biophys_472450023_464198958_fit.json"
PERI_SWC = Path("morphology/allen_swc/Sst-IRES-Cre_Ai14-165865.03.01.01_491119181_m.swc")
PERI_SWEEPS = PERI_DIR / "464198958_ephys_sweeps.json"
AA_FIT = Path("morphology/allen_swc/468193142_all_active_fit.json")
AA_SWC = Path("morphology/allen_swc/Scnn1a-Tg3-Cre_Ai14-177297.06.01.01_491120155_m.swc")
MODFILES = Path("models/allen_modfiles")


def _require(path: Path) -> Path:
    if not path.exists():
        msg = f"shared data not found at {path}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def _need(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        msg = f"{module} is not installed (pip install 'patchatlas[{extra}]')"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def arbor_ok() -> None:
    """Arbor (and DEAP) are installed; fails under CI=true otherwise."""
    _need("arbor", "models")
    _need("deap", "models")


@pytest.fixture(scope="session")
def neuron_ok() -> None:
    """NEURON is installed; fails under CI=true otherwise."""
    _need("neuron", "neuron")


@pytest.fixture(scope="session")
def modfiles(shared_data: Path) -> Path:
    """The 16 Allen NMODL files (test input only)."""
    return _require(shared_data / MODFILES)


@pytest.fixture(scope="session")
def peri_paths(shared_data: Path) -> tuple[Path, Path]:
    """(fit file, SWC) of the perisomatic model of specimen 464198958."""
    return _require(shared_data / PERI_FIT), _require(shared_data / PERI_SWC)


@pytest.fixture(scope="session")
def aa_paths(shared_data: Path) -> tuple[Path, Path]:
    """(fit file, SWC) of the all-active model of cell 491120155."""
    return _require(shared_data / AA_FIT), _require(shared_data / AA_SWC)


@pytest.fixture(scope="session")
def peri_model(peri_paths: tuple[Path, Path], modfiles: Path):
    """The perisomatic model (Arbor needs no mod files; NEURON compiles ``modfiles``)."""
    import patchatlas

    return patchatlas.load_allen_model(*peri_paths, modfiles=modfiles)


@pytest.fixture(scope="session")
def aa_model(aa_paths: tuple[Path, Path], modfiles: Path):
    """The all-active model (legacy truncated axon, as Allen's runner defaults to)."""
    import patchatlas

    return patchatlas.load_allen_model(*aa_paths, modfiles=modfiles)
