"""The ``nwb2`` layout: NWB 2 icephys tables, read with pynwb.

Each ``IntracellularRecordingsTable`` row is one sweep; the simultaneous / sequential (with its
``stimulus_type``) / repetition / experimental-condition rows it belongs to are kept in
``Sweep.metadata["icephys"]``, and the ``patchatlas_*`` columns of files written by
:func:`patchatlas.io.write_nwb` are passed on to restore the stimulus description.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from patchatlas.io.nwb._schema import PATCHATLAS_COLUMNS
from patchatlas.io.nwb._series import Pair, decode_text, pynwb_trace, stim_code, trailing_number


def _ref(col: Any, r: int) -> tuple[Any, int, int] | None:
    """(timeseries, idx_start, count) of a TimeSeriesReference cell, None when missing."""
    if col is None:
        return None
    ref = col[r]
    ts = getattr(ref, "timeseries", None)
    idx_raw, cnt_raw = getattr(ref, "idx_start", None), getattr(ref, "count", None)
    if ts is None or idx_raw is None or cnt_raw is None:
        return None
    idx, cnt = int(idx_raw), int(cnt_raw)
    if ts is None or idx < 0 or cnt < 0:
        return None
    return ts, idx, cnt


def _ragged(table: Any, col: str) -> list[list[int]]:
    if table is None or col not in table.colnames:
        return []
    c = table[col]
    if hasattr(c, "target"):
        ends = np.asarray(c.data[:], dtype=np.int64)
        flat = np.asarray(c.target.data[:], dtype=np.int64)
        starts = np.concatenate(([0], ends[:-1]))
        return [flat[a:b].tolist() for a, b in zip(starts, ends, strict=True)]
    return [[int(x)] for x in np.asarray(c.data[:]).reshape(-1)]


def _ids(table: Any) -> list[int]:
    return [int(x) for x in np.asarray(table.id.data[:]).reshape(-1)]


def _icephys_groups(nwb: Any, n: int) -> list[dict[str, Any]]:
    """For each IntracellularRecordingsTable row: ids of the rows that group it, upwards."""
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    levels = [
        ("simultaneous", "icephys_simultaneous_recordings", "recordings"),
        ("sequential", "icephys_sequential_recordings", "simultaneous_recordings"),
        ("repetition", "icephys_repetitions", "sequential_recordings"),
        ("condition", "icephys_experimental_conditions", "repetitions"),
    ]
    # member index at the level below -> row index at this level
    below: dict[int, list[int]] = {r: [r] for r in range(n)}  # level row -> recording rows
    for label, attr, col in levels:
        table = getattr(nwb, attr, None)
        if table is None or len(table) == 0:
            break
        ids = _ids(table)
        rows = _ragged(table, col)
        extra: dict[str, list[Any]] = {}
        if label == "sequential" and "stimulus_type" in table.colnames:
            extra["stimulus_type"] = [decode_text(x) for x in table["stimulus_type"].data[:]]
        new_below: dict[int, list[int]] = {}
        for row, members in enumerate(rows):
            recs = [rec for m in members for rec in below.get(m, [])]
            new_below[row] = recs
            for rec in recs:
                if 0 <= rec < n:
                    out[rec][f"{label}_id"] = ids[row] if row < len(ids) else row
                    for k, vals in extra.items():
                        if row < len(vals):
                            out[rec][k] = vals[row]
        below = new_below
    return out


def _stored_columns(irt: Any, n: int) -> list[dict[str, Any]] | None:
    cols = [c for c in irt.colnames if c in PATCHATLAS_COLUMNS]
    if not cols:
        return None
    data = {c: list(irt[c].data[:]) for c in cols}
    out = []
    for r in range(n):
        row = {}
        for c in cols:
            v = data[c][r]
            row[c] = decode_text(v) if isinstance(v, bytes | np.bytes_ | str) else v
        out.append(row)
    return out


def table_pairs(nwb: Any, irt: Any, path: Path) -> list[Pair]:
    n = len(irt)
    cats = irt.category_tables
    resp_col = cats["responses"]["response"] if "responses" in cats else None
    stim_col = cats["stimuli"]["stimulus"] if "stimuli" in cats else None
    el_col = cats["electrodes"]["electrode"] if "electrodes" in cats else None
    groups = _icephys_groups(nwb, n)
    stored = _stored_columns(irt, n)
    rec_ids = _ids(irt)
    pairs: list[Pair] = []
    for r in range(n):
        rref = _ref(resp_col, r)
        sref = _ref(stim_col, r)
        resp = (
            pynwb_trace(rref[0], path, is_stimulus=False, start=rref[1], count=rref[2])
            if rref
            else None
        )
        stim = (
            pynwb_trace(sref[0], path, is_stimulus=True, start=sref[1], count=sref[2])
            if sref
            else None
        )
        main = rref[0] if rref else (sref[0] if sref else None)
        el = el_col[r] if el_col is not None else getattr(main, "electrode", None)
        number: int | None = None
        row = stored[r] if stored else None
        if row and row.get("patchatlas_sweep_number") is not None:
            number = int(row["patchatlas_sweep_number"])
        if number is None and main is not None and getattr(main, "sweep_number", None) is not None:
            number = int(main.sweep_number)
        if number is None and main is not None:
            number = trailing_number(str(main.name))
        meta: dict[str, Any] = {"icephys": {"recording_id": rec_ids[r], **groups[r]}}
        for key in (
            "gain",
            "bias_current",
            "bridge_balance",
            "capacitance_compensation",
            "capacitance_fast",
            "capacitance_slow",
            "comments",
            "description",
        ):
            val = getattr(main, key, None)
            if isinstance(val, int | float | str) and val not in ("", "no comments", "NA"):
                meta[key] = val
        code = stim_code(main) if main is not None else None
        if code is None and stim is not None and sref:
            code = stim_code(sref[0])
        pairs.append(
            Pair(
                number=number if number is not None else r,
                response=resp,
                stimulus=stim,
                electrode=str(getattr(el, "name", "")) or None,
                stimulus_code=code,
                metadata=meta,
                stored=row,
            )
        )
    return pairs
