"""The ``nwb2-legacy`` layout: NWB 2 without icephys tables (MIES sweep table).

``acquisition/data_XXXXX_ADn`` responses and ``stimulus/presentation/data_XXXXX_DAn`` stimuli
paired by sweep number (the series' ``sweep_number`` or the
``general/intracellular_ephys/sweep_table``) and electrode; read with pynwb
(:func:`legacy_pairs_pynwb`) or with h5py when pynwb rejects the file (:func:`legacy_pairs_h5`).

Converters (x_to_nwb, for one) can link a sweep's response and stimulus to different electrodes
although the sweep table puts them in one sweep. :func:`pair_across_electrodes` then pairs them
by the sweep table when the sweep has exactly one unpaired response and one unpaired stimulus,
and records it (``Pair.metadata["paired_across_electrodes"]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from patchatlas.io.nwb._mies import series_pairs_h5
from patchatlas.io.nwb._series import (
    MIES_NAME,
    Pair,
    clamp_type_name,
    pynwb_trace,
    stim_code,
    trailing_number,
)


def pair_across_electrodes(pairs: list[Pair]) -> list[Pair]:
    """Merge, per sweep number, a lone response-only pair with a lone stimulus-only pair."""
    by_number: dict[int, list[Pair]] = {}
    for p in pairs:
        by_number.setdefault(p.number, []).append(p)
    drop: set[int] = set()
    for group in by_number.values():
        resp = [p for p in group if p.response is not None and p.stimulus is None]
        stim = [p for p in group if p.stimulus is not None and p.response is None]
        if len(resp) != 1 or len(stim) != 1:
            continue
        r, s = resp[0], stim[0]
        r.stimulus = s.stimulus
        r.stimulus_code = r.stimulus_code or s.stimulus_code
        r.stimulus_name = r.stimulus_name or s.stimulus_name
        for key, val in s.metadata.items():
            r.metadata.setdefault(key, val)
        r.metadata["paired_across_electrodes"] = {
            "response_electrode": r.electrode,
            "stimulus_electrode": s.electrode,
        }
        drop.add(id(s))
    return [p for p in pairs if id(p) not in drop]


def legacy_pairs_pynwb(nwb: Any, path: Path) -> list[Pair]:
    sweep_of: dict[int, int] = {}
    table = getattr(nwb, "sweep_table", None)
    if table is not None and len(table) > 0:
        nums = np.asarray(table["sweep_number"].data[:]).reshape(-1)
        for row, series in enumerate(_sweep_table_series(table)):
            for ts in series:
                if row < nums.size:
                    sweep_of[id(ts)] = int(nums[row])
    found: dict[tuple[int, str | None], Pair] = {}
    for container, is_stim in ((nwb.acquisition, False), (nwb.stimulus, True)):
        for order, key in enumerate(sorted(container)):
            ts = container[key]
            if not hasattr(ts, "data") or ts.data is None:
                continue
            if "Clamp" not in clamp_type_name(ts) and not MIES_NAME.match(str(key)):
                continue  # TTL, temperature ... series: not a sweep
            number = getattr(ts, "sweep_number", None)
            if number is None:
                number = sweep_of.get(id(ts))
            if number is None:
                number = trailing_number(str(key))
            if number is None:
                number = order
            el = getattr(getattr(ts, "electrode", None), "name", None)
            pair = found.setdefault((int(number), el), Pair(int(number), None, None, electrode=el))
            slot = "stimulus" if is_stim else "response"
            if getattr(pair, slot) is not None:
                continue
            setattr(pair, slot, pynwb_trace(ts, path, is_stimulus=is_stim))
            pair.metadata[f"{slot}_series"] = str(key)
            code = stim_code(ts)
            if code and pair.stimulus_code is None:
                pair.stimulus_code = code
            if not is_stim:
                for attr in (
                    "gain",
                    "capacitance_fast",
                    "capacitance_slow",
                    "bias_current",
                    "bridge_balance",
                    "capacitance_compensation",
                ):
                    val = getattr(ts, attr, None)
                    if isinstance(val, int | float):
                        pair.metadata[attr] = val
    return pair_across_electrodes(
        [found[k] for k in sorted(found, key=lambda k: (k[0], k[1] or ""))]
    )


def _sweep_table_series(table: Any) -> Iterator[list[Any]]:
    col = table["series"]
    for row in range(len(table)):
        try:
            val = col[row]
        except Exception:
            val = []
        yield list(val) if isinstance(val, list | tuple) else [val]


def legacy_pairs_h5(h5: Any, path: Path) -> list[Pair]:
    sweep_of: dict[str, int] = {}
    st = h5.get("general/intracellular_ephys/sweep_table")
    if st is not None and "series" in st and "sweep_number" in st:
        refs = np.asarray(st["series"][()]).reshape(-1)
        nums = np.asarray(st["sweep_number"][()]).reshape(-1)
        ends = (
            np.asarray(st["series_index"][()], dtype=np.int64).reshape(-1)
            if "series_index" in st
            else np.arange(1, refs.size + 1)
        )
        starts = np.concatenate(([0], ends[:-1]))
        for row, (a, b) in enumerate(zip(starts, ends, strict=True)):
            for ref in refs[a:b]:
                try:
                    sweep_of[str(h5[ref].name)] = int(nums[row])
                except Exception:
                    continue
    return pair_across_electrodes(
        series_pairs_h5(h5.get("acquisition"), h5.get("stimulus/presentation"), path, sweep_of)
    )
