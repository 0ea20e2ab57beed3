"""Allen GLIF ``neuron_config.json`` files: read and write (the model engine reads no files).

The Allen Cell Types Database ships each GLIF model as ``<model id>_neuron_config.json``: the
config itself, often wrapped under its model id (``{"566283540": {...}}``). :func:`read_glif_config`
returns the config dict that :meth:`patchatlas.models.glif.GlifModel.from_allen_config` takes;
:func:`write_glif_config` writes one back (from :meth:`GlifModel.to_allen_config`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from patchatlas.errors import ReadError, WriteError

__all__ = ["read_glif_config", "write_glif_config"]


def read_glif_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an Allen GLIF ``neuron_config.json``.

    Parameters
    ----------
    path
        The JSON file.

    Returns
    -------
    dict
        The config; a file that wraps it under its model id (``{"<id>": {...}}``) is returned
        as that one-key dict, so the model keeps its id as its name.

    Raises
    ------
    patchatlas.errors.ReadError
        The file is missing, not JSON, or not a JSON object.
    """
    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "no such file", "give the path of a *_neuron_config.json")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(
            p, f"not a JSON file ({exc})", "give an Allen GLIF neuron_config.json"
        ) from exc
    if not isinstance(data, dict):
        raise ReadError(
            p,
            f"holds a JSON {type(data).__name__}, not an object",
            "an Allen GLIF neuron_config is a JSON object",
        )
    return data


def write_glif_config(
    config: dict[str, Any], path: str | os.PathLike[str], *, model_id: str | None = None
) -> Path:
    """Write a GLIF config as JSON (Allen's layout).

    Parameters
    ----------
    config
        The neuron_config dict (:meth:`patchatlas.models.glif.GlifModel.to_allen_config`).
    path
        Target file; its folder must exist.
    model_id
        Wrap the config under this key, as Allen's downloads do (default: not wrapped).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    patchatlas.errors.WriteError
        The folder does not exist or the file cannot be written.
    """
    p = Path(path)
    if not p.parent.is_dir():
        raise WriteError(f"{p}: folder {p.parent} does not exist (create it first)")
    payload: dict[str, Any] = {model_id: config} if model_id else config
    try:
        p.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except (OSError, TypeError, ValueError) as exc:
        raise WriteError(f"{p}: cannot write the GLIF config ({exc})") from exc
    return p
