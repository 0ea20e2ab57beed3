"""Tables over whole recordings (pandas at the edge): spike, sweep or cell level, and QC."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from patchatlas.core.recording import Recording
from patchatlas.ephys.cell import analyze_recording, cell_features
from patchatlas.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["LEVELS", "cell_qc_table", "recording_features", "recording_qc_table"]

LEVELS = ("spike", "sweep", "cell")


def _ident(rec: Recording) -> dict[str, Any]:
    return {"cell_id": rec.cell_id, "source": str(rec.source) if rec.source else ""}


def recording_features(
    recording: Recording, *, level: str = "cell", profile: str = "allen"
) -> pd.DataFrame:
    """Features of one recording as a DataFrame: one row per spike, per sweep or one row.

    Spike rows carry ``sweep_number``; sweep rows the sweep features (plus ``error`` for a
    sweep that could not be analysed); the cell row the Allen cell record.
    """
    import pandas as pd

    if level not in LEVELS:
        raise DataError(f"unknown feature level {level!r}; use one of {LEVELS}")
    ident = _ident(recording)
    if level == "cell":
        # cell_features: per-spike features only where the record reads them (same record)
        return pd.DataFrame([{**ident, **cell_features(recording, profile=profile)}])
    results = analyze_recording(recording, profile=profile)
    if level == "sweep":
        rows = []
        for r in results:
            base = {**ident, "sweep_number": r.sweep.number}
            rows.append(
                {**base, **r.features, "error": r.error} if r.ok else {**base, "error": r.error}
            )
        return pd.DataFrame(rows)
    frames = []
    for r in results:
        if r.spikes is None or r.spikes.n_rows == 0:
            continue
        df = r.spikes.to_pandas()
        df.insert(0, "sweep_number", r.sweep.number)
        df.insert(0, "cell_id", recording.cell_id)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["cell_id", "sweep_number", "threshold_index"])
    out = pd.concat(frames, ignore_index=True)
    out.attrs = {}
    return out


def recording_qc_table(recording: Recording, **kwargs: Any) -> pd.DataFrame:
    """:func:`patchatlas.ephys.qc.recording_qc` as a DataFrame with ``cell_id``."""
    import pandas as pd

    from patchatlas.ephys.qc import recording_qc

    rows = recording_qc(recording, **kwargs)
    df = pd.DataFrame(rows)
    df.insert(0, "cell_id", recording.cell_id)
    return df


def cell_qc_table(recording: Recording, **kwargs: Any) -> pd.DataFrame:
    """:func:`patchatlas.ephys.qc.cell_qc` as a DataFrame (one row per rule) with ``cell_id``
    and the cell's verdict ``cell_passed``."""
    from patchatlas.ephys.qc import cell_qc

    res = cell_qc(recording, **kwargs)
    df = res.to_pandas()
    df.insert(0, "cell_id", recording.cell_id)
    df["cell_passed"] = res.passed
    return cast("pd.DataFrame", df)
