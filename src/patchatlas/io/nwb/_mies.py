"""MIES files read with h5py: ``data_XXXXX_ADn`` / ``data_XXXXX_DAn`` series and the lab notebook.

:func:`series_pairs_h5` pairs response and stimulus groups by (sweep number, electrode); it reads
the ``nwb1-mies`` layout and, with sweep numbers from the sweep table, the ``nwb2-legacy`` layout
when pynwb rejects the file. :func:`attach_labnotebook` adds each sweep's lab-notebook entries.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.io.nwb._series import (
    MIES_NAME,
    Pair,
    decode_text,
    h5_attr,
    h5_trace,
    series_type,
    small_datasets,
)


def _electrode_h5(group: Any) -> str | None:
    if "electrode_name" in group:
        return decode_text(group["electrode_name"][()])
    if "electrode" in group:
        try:
            return str(group["electrode"].name).rsplit("/", 1)[-1]
        except Exception:
            return None
    src = decode_text(h5_attr(group, "source", ""))
    m = re.search(r"ElectrodeName=([^;]+)", src)
    return m.group(1) if m else None


def _stim_code_h5(group: Any) -> str | None:
    code = h5_attr(group, "stimulus_description")
    if code is None and "stimulus_description" in group:
        code = group["stimulus_description"][()]
    if code is None:
        return None
    txt = decode_text(code).strip()
    return txt or None


def series_pairs_h5(
    resp_root: Any, stim_root: Any, path: Path, sweep_of: dict[str, int] | None = None
) -> list[Pair]:
    """Pair response and stimulus groups by (sweep number, electrode)."""
    found: dict[tuple[int, str | None], Pair] = {}
    for root, is_stim in ((resp_root, False), (stim_root, True)):
        if root is None:
            continue
        for order, key in enumerate(sorted(root)):
            grp = root.get(key)
            if grp is None or not hasattr(grp, "keys") or "data" not in grp:
                continue
            if "Clamp" not in series_type(grp) and not MIES_NAME.match(key):
                continue  # TTL, temperature ... series: not a sweep
            number = _sweep_number_h5(grp, key, sweep_of, order)
            el = _electrode_h5(grp)
            tr = h5_trace(grp, path, is_stimulus=is_stim)
            pair = found.setdefault((number, el), Pair(number, None, None, electrode=el))
            if is_stim:
                if pair.stimulus is not None:
                    continue
                pair.stimulus = tr
                pair.metadata["stimulus_series"] = key
            else:
                if pair.response is not None:
                    continue
                pair.response = tr
                pair.metadata["response_series"] = key
                pair.metadata.update(
                    {k: v for k, v in small_datasets(grp).items() if k != "stimulus_description"}
                )
            code = _stim_code_h5(grp)
            if code and pair.stimulus_code is None:
                pair.stimulus_code = code
    return [found[k] for k in sorted(found, key=lambda k: (k[0], k[1] or ""))]


def _sweep_number_h5(grp: Any, key: str, sweep_of: dict[str, int] | None, order: int) -> int:
    sn = h5_attr(grp, "sweep_number")
    if sn is not None:
        try:
            return int(np.asarray(sn).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            pass
    if sweep_of and str(grp.name) in sweep_of:
        return sweep_of[str(grp.name)]
    m = MIES_NAME.match(key) or re.search(r"(\d+)$", key)
    return int(m.group(1)) if m else order


def mies1_pairs(h5: Any, path: Path) -> list[Pair]:
    return series_pairs_h5(h5.get("acquisition/timeseries"), h5.get("stimulus/presentation"), path)


# --------------------------------------------------------------------------------------------
# MIES lab notebook
# --------------------------------------------------------------------------------------------


def _headstage(pair: Pair) -> int:
    for txt in (pair.electrode or "", *(str(pair.metadata.get(k, "")) for k in ("source",))):
        m = re.search(r"(\d+)$", txt) or re.search(r"ElectrodeNumber=(\d+)", txt)
        if m:
            return int(m.group(1))
    return 0


def _key_names(ds: Any) -> list[str]:
    keys = np.asarray(ds[()])
    if keys.ndim != 2 or keys.shape[0] < 1:
        return []
    return [decode_text(k) for k in keys[0]]


def _last_finite(block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Last finite value along axis 0 of (rows, keys); NaN where none."""
    fin = np.isfinite(block)
    if block.shape[0] == 0:
        return np.full(block.shape[1], np.nan)
    idx = block.shape[0] - 1 - np.argmax(fin[::-1], axis=0)
    out = block[idx, np.arange(block.shape[1])]
    return np.where(fin.any(axis=0), out, np.nan)


def attach_labnotebook(h5: Any, pairs: list[Pair]) -> None:
    """Add each sweep's MIES lab-notebook entries (its headstage, else the independent layer)."""
    lbn = h5.get("general/labnotebook")
    if lbn is None or not pairs:
        return
    devices = [k for k in lbn if hasattr(lbn[k], "keys")]
    if not devices:
        return
    dev = lbn[devices[0]]
    numeric: dict[int, dict[str, Any]] = {}
    text: dict[int, dict[str, Any]] = {}
    wanted = {p.number for p in pairs}
    if "numericalKeys" in dev and "numericalValues" in dev:
        keys = _key_names(dev["numericalKeys"])
        nds = dev["numericalValues"]
        if len(nds.shape) == 3 and keys and "SweepNum" in keys and nds.shape[1] == len(keys):
            # The notebook grows with every sweep ever acquired (tens of MB once unpacked):
            # read the sweep column, then only the rows of the sweeps in the file.
            sweep_col = np.asarray(nds[:, keys.index("SweepNum"), 0], dtype=np.float64)
            for n in wanted:
                idx = np.flatnonzero(sweep_col == n)
                rows = (
                    np.asarray(nds[idx.tolist(), :, :], dtype=np.float64)
                    if idx.size
                    else np.empty((0, *nds.shape[1:]))
                )
                numeric[n] = {"_rows": rows}
            numeric[-1] = {"_keys": keys}
    if "textualKeys" in dev and "textualValues" in dev:
        tkeys = _key_names(dev["textualKeys"])
        tds = dev["textualValues"]
        if len(tds.shape) == 3 and tkeys and "SweepNum" in tkeys and tds.shape[1] == len(tkeys):
            # Variable-length strings are slow to read: read the sweep column, then only the
            # rows of the sweeps in the file.
            col = tds[:, tkeys.index("SweepNum"), 0]
            tsweep = np.array([decode_text(x) for x in np.asarray(col).reshape(-1)])
            for n in wanted:
                idx = np.flatnonzero(tsweep == str(n))
                rows = (
                    np.asarray(tds[idx.tolist(), :, :])
                    if idx.size
                    else np.empty((0, *tds.shape[1:]), dtype=object)
                )
                text[n] = {"_rows": rows}
            text[-1] = {"_keys": tkeys}
    for p in pairs:
        hs = _headstage(p)
        entries: dict[str, Any] = {}
        if p.number in numeric:
            keys = numeric[-1]["_keys"]
            rows = numeric[p.number]["_rows"]
            if rows.shape[0] and rows.shape[2] > hs:
                own = _last_finite(rows[:, :, hs])
                indep = _last_finite(rows[:, :, -1])
                merged = np.where(np.isfinite(own), own, indep)
                for k, v in zip(keys, merged, strict=True):
                    if math.isfinite(v) and k:
                        entries[k] = float(v)
        if p.number in text:
            tkeys = text[-1]["_keys"]
            trows = text[p.number]["_rows"]
            if trows.shape[0] and trows.shape[2] > hs:
                for j, k in enumerate(tkeys):
                    if not k:
                        continue
                    for layer in (hs, trows.shape[2] - 1):
                        col = [decode_text(x) for x in trows[:, j, layer]]
                        nonempty = [c for c in col if c]
                        if nonempty and k not in entries:
                            entries[k] = nonempty[-1]
                            break
        if entries:
            p.metadata["labnotebook"] = entries
            if "Stim Scale Factor" in entries:
                p.metadata["stim_scale_factor"] = entries["Stim Scale Factor"]
            if p.stimulus_code is None and entries.get("Stim Wave Name"):
                p.stimulus_code = str(entries["Stim Wave Name"])
