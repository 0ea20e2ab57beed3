"""The simulated demo dataset: point neurons of different firing types, one batch.

The simulator itself (models, channel kinetics, protocols, integration) is the engine
:mod:`patchatlas.models.pointneuron`; this module picks the cells of the offline demo
(:mod:`patchatlas.datasets.demo` writes them to NWB files).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from patchatlas.core.recording import Recording
from patchatlas.errors import DataError
from patchatlas.models.pointneuron import PRESETS, get_model, simulate_cells

__all__ = ["demo_dataset"]


def demo_dataset(
    n_cells: int = 4,
    seed: int = 0,
    *,
    presets: Sequence[str] | None = None,
    protocols: Sequence[str] = ("long_square", "short_square", "ramp"),
    amplitudes: Mapping[str, Sequence[float]] | None = None,
    sampling_rate: float = 50e3,
    dt: float = 2e-5,
) -> list[Recording]:
    """Simulate a small dataset of cells of different firing types.

    Cell ``k`` uses preset ``presets[k % len(presets)]`` (default: all
    :data:`~patchatlas.models.pointneuron.PRESETS` in order) and noise seed ``seed + k``. All
    cells are integrated in one batch (:func:`~patchatlas.models.pointneuron.simulate_cells`),
    which is much faster than one ``simulate_cell`` call per cell (the traces are statistically
    the same, not bit-identical: the batch shares its step sizes).

    Parameters
    ----------
    n_cells
        Number of cells (>= 1).
    seed
        Noise seed of the first cell; cell ``k`` uses ``seed + k``.
    presets
        Preset names to cycle through.
    protocols, amplitudes, sampling_rate, dt
        As in :func:`~patchatlas.models.pointneuron.simulate_cell` (``amplitudes`` in pA per
        protocol kind, ``sampling_rate`` in Hz, ``dt`` in s).

    Returns
    -------
    list of Recording
        One per cell, ``cell_id`` ``"sim_<preset>_s<seed>"``.

    Raises
    ------
    patchatlas.errors.DataError
        For ``n_cells < 1``, no presets, unknown presets or protocols.
    """
    if n_cells < 1:
        raise DataError(f"demo_dataset: n_cells must be >= 1, got {n_cells}")
    names = list(presets) if presets is not None else list(PRESETS)
    if not names:
        raise DataError("demo_dataset: presets is empty")
    models = [get_model(names[k % len(names)]) for k in range(n_cells)]
    return simulate_cells(
        models,
        seeds=[seed + k for k in range(n_cells)],
        protocols=protocols,
        amplitudes=amplitudes,
        sampling_rate=sampling_rate,
        dt=dt,
    )
