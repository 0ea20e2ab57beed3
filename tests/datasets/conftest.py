"""Fixtures of the data-client tests: the loopback Allen / DANDI stand-ins (fake_services.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_services import FakeServer, FakeServices


@pytest.fixture(scope="session")
def services_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> FakeServices:
    """The served data, built once (NWB files are written on first download)."""
    pytest.importorskip("pynwb")
    return FakeServices(shared_data, tmp_path_factory.mktemp("fake_services"))


@pytest.fixture
def server(services_data: FakeServices) -> Iterator[FakeServer]:
    """A running server with no faults and an empty request log."""
    services_data.faults.clear()
    services_data.log.clear()
    with FakeServer(services_data) as srv:
        yield srv
    services_data.faults.clear()


class Sleeps(list[float]):
    """Records the waits between retries instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    """A sleep recorder for the clients' ``sleep=``."""
    return Sleeps()
