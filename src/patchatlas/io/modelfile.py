"""Saving and loading fitted patchatlas models (joblib pickle + metadata).

A model file is a joblib pickle of ``{"format": "patchatlas-model", "version": 1,
"metadata": {...}, "estimator": ...}``. Pickles run code when loaded: load only files you
trust (your own, or from a source you trust).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from patchatlas.errors import CorruptFileError, ReadError, WriteError

__all__ = ["load_model", "save_model"]

FORMAT = "patchatlas-model"
VERSION = 1


def save_model(path: str | os.PathLike[str], estimator: Any, metadata: dict[str, Any]) -> Path:
    """Write ``estimator`` and its ``metadata`` (genes, features, spec ...) to ``path``.

    Parameters
    ----------
    path
        The model file (a joblib pickle, compressed); missing folders are created.
    estimator
        The fitted estimator (any picklable object).
    metadata
        What a user of the model needs to apply it: gene and feature names, the spec, the
        training data set ... (JSON-like values).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    patchatlas.errors.WriteError
        The file or its folder cannot be written.
    """
    import joblib

    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {
                "format": FORMAT,
                "version": VERSION,
                "metadata": dict(metadata),
                "estimator": estimator,
            },
            p,
            compress=3,
        )
    except OSError as exc:
        raise WriteError(f"{p}: cannot write the model file ({exc})") from exc
    return p


def load_model(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """Read a file written by :func:`save_model`; returns ``(estimator, metadata)``.

    The file is unpickled: load only files you trust.

    Parameters
    ----------
    path
        A model file written by :func:`save_model`.

    Returns
    -------
    estimator : object
        The fitted estimator.
    metadata : dict
        The metadata saved with it.

    Raises
    ------
    patchatlas.errors.ReadError
        The file is missing; or (:class:`~patchatlas.errors.CorruptFileError`) it cannot be
        unpickled, is not a patchatlas model file, is of a newer format version, or has no
        metadata.
    """
    import joblib

    p = Path(path)
    if not p.exists():
        raise ReadError(p, "no such model file", "train one with `patchatlas crossmodal train`")
    try:
        obj = joblib.load(p)
    except Exception as exc:  # unpickling raises many types
        raise CorruptFileError(p, f"not a readable model file ({exc})") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CorruptFileError(p, "not a patchatlas model file", "was it written by save_model?")
    if int(obj.get("version", 0)) > VERSION:
        raise CorruptFileError(
            p,
            f"model file version {obj.get('version')} is newer than this patchatlas reads",
            "upgrade patchatlas",
        )
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise CorruptFileError(p, "model file has no metadata")
    return obj["estimator"], meta
