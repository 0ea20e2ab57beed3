"""Tables over whole recordings (pandas at the edge): spike, sweep or cell level, and QC."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from patchatlas.core.recording import Recording
from patchatlas.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "LEVELS",
    "cell_qc_table",
    "features_table",
    "recording_features",
    "recording_qc_table",
]

LEVELS = ("spike", "sweep", "cell")


def _ident(rec: Recording) -> dict[str, Any]:
    return {"cell_id": rec.cell_id, "source": str(rec.source) if rec.source else ""}


def recording_features(
    recording: Recording, *, level: str = "cell", profile: str = "allen"
) -> pd.DataFrame:
    """Features of one recording as a DataFrame: one row per spike, per sweep, or one row.

    A view of :func:`patchatlas.ephys.analyze` (the one analysis the atlas and the portal use
    too): spike rows carry ``sweep_number``, ``spike_index`` and ``in_window``; sweep rows the
    stimulus, the sweep features, the filter used and ``error`` for a sweep that could not be
    analysed; the cell row the Allen cell record (registry names).

    Parameters
    ----------
    recording
        The cell's sweeps.
    level
        ``"spike"``, ``"sweep"`` or ``"cell"``.
    profile
        ``"allen"`` or ``"robust"``.

    Returns
    -------
    pandas.DataFrame
        With ``cell_id`` and ``source`` columns first.
    """
    import pandas as pd

    from patchatlas.ephys.analysis import analyze

    if level not in LEVELS:
        raise ParameterError(f"unknown feature level {level!r}; use one of {LEVELS}")
    ident = _ident(recording)
    if level == "cell":  # only the per-spike features the cell record reads: same record
        res = analyze(recording, profile=profile, detail="cell", qc=False)
        return pd.DataFrame([{**ident, **res.cell}])
    res = analyze(recording, profile=profile, qc=False)
    df = res.sweep_table() if level == "sweep" else res.spike_table()
    df.insert(0, "source", ident["source"])
    df.insert(0, "cell_id", ident["cell_id"])
    return df


def features_table(
    recordings: Iterable[Recording], *, level: str = "cell", profile: str = "allen"
) -> pd.DataFrame:
    """Features of many recordings in one DataFrame (one row per cell at ``level="cell"``).

    The many-cell counterpart of :func:`patchatlas.ephys.cell_features` (one cell → a mapping),
    as :func:`patchatlas.morphology.features_table` is of
    :func:`patchatlas.morphology.features`.

    Parameters
    ----------
    recordings
        One recording per cell.
    level
        ``"cell"``, ``"sweep"`` or ``"spike"`` (see :func:`recording_features`).
    profile
        ``"allen"`` or ``"robust"``.

    Returns
    -------
    pandas.DataFrame
        The rows of every recording, ``cell_id`` first.
    """
    import pandas as pd

    frames = [recording_features(r, level=level, profile=profile) for r in recordings]
    if not frames:
        return pd.DataFrame(columns=["cell_id", "source"])
    return pd.concat(frames, ignore_index=True)


def recording_qc_table(recording: Recording, **kwargs: Any) -> pd.DataFrame:
    """:func:`patchatlas.ephys.qc.recording_qc` as a DataFrame with ``cell_id``.

    Parameters
    ----------
    recording
        The cell's sweeps.
    **kwargs
        Passed to :func:`~patchatlas.ephys.qc.recording_qc` (``rules``, ``flags``).

    Returns
    -------
    pandas.DataFrame
        One row per current-clamp sweep checked, ``cell_id`` first, then the
        :func:`~patchatlas.ephys.qc.sweep_qc` columns.
    """
    import pandas as pd

    from patchatlas.ephys.qc import recording_qc

    rows = recording_qc(recording, **kwargs)
    df = pd.DataFrame(rows)
    df.insert(0, "cell_id", recording.cell_id)
    return df


def cell_qc_table(recording: Recording, **kwargs: Any) -> pd.DataFrame:
    """:func:`patchatlas.ephys.qc.cell_qc` as a DataFrame (one row per rule) with ``cell_id``
    and the cell's verdict ``cell_passed``.

    Parameters
    ----------
    recording
        The cell's sweeps, including its voltage-clamp test-pulse sweeps.
    **kwargs
        Passed to :func:`~patchatlas.ephys.qc.cell_qc` (``rules``, ``ri``, ``sweeps``).

    Returns
    -------
    pandas.DataFrame
        One row per cell rule: ``cell_id``, then ``rule``, ``value``, ``unit``, ``limit``,
        ``passed``, ``reason``, ``sweep_number``, and ``cell_passed`` (the same on every row).
    """
    from patchatlas.ephys.qc import cell_qc

    res = cell_qc(recording, **kwargs)
    df = res.to_pandas()
    df.insert(0, "cell_id", recording.cell_id)
    df["cell_passed"] = res.passed
    return cast("pd.DataFrame", df)
