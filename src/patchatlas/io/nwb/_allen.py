"""The ``nwb1-allen`` layout: the Allen Cell Types Database NWB 1 download, read with h5py.

``acquisition/timeseries/Sweep_N`` responses and ``stimulus/presentation/Sweep_N`` stimuli,
sliced by ``epochs/Sweep_N`` index ranges and cut at the ``epochs/Experiment_N`` valid-data end;
``analysis/spike_times/Sweep_N`` kept as metadata. Pipeline versions >= 1.1
(``general/generated_by``) store ``data x conversion``; older files store SI values as is.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from patchatlas.errors import CorruptFileError
from patchatlas.io.nwb._metadata import generated_by
from patchatlas.io.nwb._series import Pair, Trace, h5_trace, read_slice, small_datasets

log = logging.getLogger("patchatlas.io.nwb")


def pipeline_version(meta_gen: dict[str, str]) -> tuple[int, int] | None:
    for key, val in meta_gen.items():
        if key.strip().lower() == "version":
            m = re.match(r"\s*(\d+)\.(\d+)", val)
            if m:
                return int(m.group(1)), int(m.group(2))
    return None


def allen_pairs(h5: Any, path: Path) -> list[Pair]:
    gen = h5.get("general")
    generated = (
        generated_by(gen["generated_by"]) if gen is not None and "generated_by" in gen else {}
    )
    version = pipeline_version(generated)
    apply_conv = version is not None and version >= (1, 1)
    acq = h5.get("acquisition/timeseries")
    stim = h5.get("stimulus/presentation")
    epochs = h5.get("epochs")
    numbers: set[int] = set()
    for grp in (acq, stim, epochs):
        if grp is None:
            continue
        for key in grp:
            m = re.fullmatch(r"Sweep_(\d+)", key)
            if m:
                numbers.add(int(m.group(1)))
    pairs: list[Pair] = []
    for n in sorted(numbers):
        key = f"Sweep_{n}"
        start, count = 0, None
        if epochs is not None and key in epochs:
            ep = epochs[key]
            sub = ep.get("response") or ep.get("stimulus")
            if sub is not None and "idx_start" in sub:
                start = int(np.asarray(sub["idx_start"][()]).reshape(-1)[0])
                if "count" in sub:
                    count = int(np.asarray(sub["count"][()]).reshape(-1)[0])
                elif "idx_stop" in sub:
                    count = int(np.asarray(sub["idx_stop"][()]).reshape(-1)[0]) - start + 1
        if start < 0 or (count is not None and count < 0):
            raise CorruptFileError(path, f"epochs/{key} has a negative index range")
        full = count
        valid_end = None
        exp = epochs.get(f"Experiment_{n}") if epochs is not None else None
        if exp is not None:
            sub = exp.get("response") or exp.get("stimulus")
            if sub is not None and "idx_start" in sub and "count" in sub:
                e0 = int(np.asarray(sub["idx_start"][()]).reshape(-1)[0])
                e1 = e0 + int(np.asarray(sub["count"][()]).reshape(-1)[0])
                valid_end = e1
                if count is None or e1 < start + count:
                    count = max(e1 - start, 0)
        resp_g = acq.get(key) if acq is not None else None
        stim_g = stim.get(key) if stim is not None else None
        resp = (
            h5_trace(
                resp_g,
                path,
                is_stimulus=False,
                start=start,
                count=count,
                apply_conversion=apply_conv,
            )
            if resp_g is not None
            else None
        )
        stim_t = (
            h5_trace(
                stim_g,
                path,
                is_stimulus=True,
                start=start,
                count=count,
                apply_conversion=apply_conv,
            )
            if stim_g is not None
            else None
        )
        meta: dict[str, Any] = {"response_series": key if resp_g is not None else None}
        if stim_g is not None:
            meta.update(small_datasets(stim_g))
        if resp_g is not None:
            for k, v in small_datasets(resp_g).items():
                meta.setdefault(k, v)
        meta["index_range"] = (start, start + (count if count is not None else _len(resp, stim)))
        if full is not None:
            meta["sweep_samples"] = full
        if valid_end is not None:
            meta["experiment_end_index"] = valid_end
        spikes = None
        for where in ("analysis/spike_times", "analysis/aibs_spike_times"):
            g = h5.get(where)
            if g is not None and key in g:
                spikes = np.asarray(read_slice(g[key], path, f"{where}/{key}"), dtype=np.float64)
                break
        if spikes is not None:
            meta["allen_spike_times"] = spikes
        name = meta.get("aibs_stimulus_name")
        desc = meta.get("aibs_stimulus_description") or meta.get("stimulus_description")
        pairs.append(
            Pair(
                number=n,
                response=resp,
                stimulus=stim_t,
                stimulus_code=str(desc) if desc else None,
                stimulus_name=str(name) if name else None,
                metadata=meta,
            )
        )
    if version is None:
        log.info("%s: no pipeline version in general/generated_by; data used as stored", path)
    return pairs


def _len(*traces: Trace | None) -> int:
    for t in traces:
        if t is not None:
            return int(t.data.shape[0])
    return 0
