"""The simulated demo dataset (cells of the point-neuron engine, one batch).

The engine itself is tested in ``tests/models/pointneuron``.
"""

from __future__ import annotations

import numpy as np
import pytest

from patchatlas.datasets.simulate import demo_dataset
from patchatlas.errors import DataError, PatchAtlasError
from patchatlas.models.pointneuron import PRESETS

SMALL = {"long_square": [-90.0, 50.0, 250.0], "short_square": [300.0, 900.0], "ramp": [60.0]}


def crossings(v: np.ndarray) -> np.ndarray:
    """Sample indices of upward -20 mV crossings."""
    return np.flatnonzero((v[:-1] < -20.0) & (v[1:] >= -20.0)) + 1


def test_demo_dataset() -> None:
    cells = demo_dataset(n_cells=3, seed=5, amplitudes=SMALL)
    assert [c.metadata["model"] for c in cells] == list(PRESETS)[:3]
    assert [c.metadata["seed"] for c in cells] == [5, 6, 7]
    assert len({c.cell_id for c in cells}) == 3
    again = demo_dataset(n_cells=3, seed=5, amplitudes=SMALL)
    for a, b in zip(cells, again, strict=True):
        for s, t in zip(a, b, strict=True):
            np.testing.assert_array_equal(s.v, t.v)
    # Different firing types: the FS cell fires most at +250 pA.
    n250 = [crossings(c[2].v).size for c in cells]
    assert n250[1] == max(n250)


@pytest.mark.parametrize(
    "call",
    [
        lambda: demo_dataset(n_cells=0),
        lambda: demo_dataset(presets=[]),
        lambda: demo_dataset(presets=["pyramidal"]),
    ],
)
def test_bad_input_raises_typed_errors(call: object) -> None:
    with pytest.raises(PatchAtlasError) as info:
        call()  # type: ignore[operator]
    assert isinstance(info.value, DataError)
    assert str(info.value)
