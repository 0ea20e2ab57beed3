"""Readers for cortical layer drawings and reference layer depths (skeleton_keys JSON files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from patchatlas.errors import CorruptFileError, DataError
from patchatlas.io._common import check_file

if TYPE_CHECKING:
    from patchatlas.core.morphology import LayerDrawings

__all__ = ["read_layer_depths", "read_layer_drawings"]


def _load(path: Path) -> object:
    check_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(path, f"is not valid JSON ({exc})") from exc


def read_layer_drawings(path: str | Path) -> LayerDrawings:
    """Read a ``*_surfaces_and_layers.json`` file (pia, white matter, soma, layer polygons).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, empty, non-JSON or structurally wrong file.
    """
    from patchatlas.core.morphology import LayerDrawings

    p = Path(path)
    data = _load(p)
    if not isinstance(data, dict):
        raise CorruptFileError(p, "expected a JSON object with pia_path, wm_path, soma_path")
    try:
        return LayerDrawings.from_dict(data, name=str(p))
    except DataError as exc:
        raise CorruptFileError(p, str(exc)) from exc


def read_layer_depths(path: str | Path) -> dict[str, float]:
    """Read reference layer depths (``{"2/3": 115.1, ..., "wm": 922.6}``, µm below pia)."""
    p = Path(path)
    data = _load(p)
    if not isinstance(data, dict):
        raise CorruptFileError(p, "expected a JSON object of layer name → depth (µm)")
    try:
        return {str(k): float(v) for k, v in data.items()}
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(p, f"layer depths must be numbers ({exc})") from exc
