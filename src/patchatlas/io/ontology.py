"""Read an Allen stimulus ontology (JSON) into a :class:`~patchatlas.ephys.StimulusOntology`.

The Allen format is a JSON list of entries; each entry is a list of tag lists such as
``["code", "C1LSCOARSE", "C1LSCOARSE150216"]``, ``["name", "Long Square"]`` or
``["core", "Core 1"]``. Only ``code`` and ``name`` tags are used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from patchatlas.core.ontology import StimulusOntology
from patchatlas.errors import CorruptFileError
from patchatlas.io._common import check_file

__all__ = ["load_stimulus_ontology"]


def _valid_entry(entry: Any) -> bool:
    return isinstance(entry, list) and all(
        isinstance(tag, list) and all(isinstance(x, str) for x in tag) for tag in entry
    )


def load_stimulus_ontology(path: str | os.PathLike[str]) -> StimulusOntology:
    """Load an Allen-format stimulus ontology.

    Parameters
    ----------
    path
        JSON file, e.g. ``ipfx_stimulus_ontology.json`` (a list of entries, each a list of
        ``[tag, value, ...]`` lists).

    Returns
    -------
    StimulusOntology
        Maps stimulus codes (``"C1LSCOARSE150216[0]"``) to names (``"Long Square"``) and kinds.

    Raises
    ------
    patchatlas.errors.CorruptFileError
        The file is not JSON, or not a list of tag lists.
    """
    p = Path(path)
    check_file(p)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(
            p, f"is not valid JSON ({exc})", "pass an Allen stimulus ontology JSON file"
        ) from exc
    if not isinstance(raw, list):
        raise CorruptFileError(
            p,
            f"holds a JSON {type(raw).__name__}, expected a list of ontology entries",
            "pass an Allen stimulus ontology JSON file",
        )
    bad = [k for k, entry in enumerate(raw) if not _valid_entry(entry)]
    if bad:
        raise CorruptFileError(
            p,
            f"entries {bad[:5]} are not lists of [tag, value, ...] string lists",
            "each entry must look like [['code', 'C1LSCOARSE'], ['name', 'Long Square']]",
        )
    return StimulusOntology(raw)
