"""File-level metadata: the same paths in NWB 1 and NWB 2 (``general/...``, subject, notes)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from patchatlas.io.nwb._series import decode_text, read_scalar

_GENERAL = (
    "institution",
    "lab",
    "experimenter",
    "experiment_description",
    "session_id",
    "protocol",
    "notes",
    "data_collection",
)
_SUBJECT = ("species", "subject_id", "sex", "age", "genotype", "strain", "description", "weight")


def file_metadata(h5: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in ("identifier", "session_description", "session_start_time"):
        if key in h5 and not hasattr(h5[key], "keys"):
            meta[key] = read_scalar(h5[key])
    gen = h5.get("general")
    if gen is not None:
        for key in _GENERAL:
            if key in gen and not hasattr(gen[key], "keys"):
                val = read_scalar(gen[key])
                if val not in (None, ""):
                    meta[key] = val
        subj = gen.get("subject")
        if subj is not None and hasattr(subj, "keys"):
            sub = {k: read_scalar(subj[k]) for k in _SUBJECT if k in subj}
            meta["subject"] = {k: v for k, v in sub.items() if v not in (None, "")}
            if "species" in meta["subject"]:
                meta["species"] = meta["subject"]["species"]
        if "generated_by" in gen:
            meta["generated_by"] = generated_by(gen["generated_by"])
    notes = meta.get("notes")
    if isinstance(notes, str) and notes.startswith("{"):
        try:
            parsed = json.loads(notes)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("patchatlas_metadata"), dict):
            meta.pop("notes")
            meta.update(parsed["patchatlas_metadata"])
            if parsed.get("patchatlas_cell_id"):
                meta["patchatlas_cell_id"] = str(parsed["patchatlas_cell_id"])
    return meta


def generated_by(ds: Any) -> dict[str, str]:
    """``general/generated_by``: key/value pairs, as an (n, 2) table or an alternating list."""
    try:
        flat = [decode_text(x) for x in np.asarray(ds[()]).reshape(-1)]
    except Exception:
        return {}
    return {flat[k]: flat[k + 1] for k in range(0, len(flat) - 1, 2)}
