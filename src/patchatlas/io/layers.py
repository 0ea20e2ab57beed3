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

    Parameters
    ----------
    path
        The skeleton_keys JSON file (paths in pixels with their ``resolution`` in µm/pixel).

    Returns
    -------
    LayerDrawings
        Pia, white-matter and layer paths and the soma centre in µm (image frame); see
        :meth:`patchatlas.core.LayerDrawings.from_dict`.

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
    """Read reference layer depths (``{"2/3": 115.1, ..., "wm": 922.6}``, µm below pia).

    Parameters
    ----------
    path
        A JSON object of layer name → depth of the layer's top in µm below pia (``"wm"``: the
        white-matter boundary), as skeleton_keys' ``avg_layer_depths.json``.

    Returns
    -------
    dict of str to float
        Layer name → depth (µm), in file order; use it as ``reference_depths=`` of
        :func:`patchatlas.morphology.alignment.layer_align`.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, empty or non-JSON file, not a JSON object, or a depth that is not a number.
    """
    p = Path(path)
    data = _load(p)
    if not isinstance(data, dict):
        raise CorruptFileError(p, "expected a JSON object of layer name → depth (µm)")
    try:
        return {str(k): float(v) for k, v in data.items()}
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(p, f"layer depths must be numbers ({exc})") from exc
