"""File readers and writers. The only part of patchatlas (with ``datasets``) that touches files.

:func:`read` dispatches on the file extension (or on ``format=``) to a reader module, imported
lazily so that ``import patchatlas`` stays fast and optional dependencies stay optional. Every
reader returns in-memory objects in library units and raises :class:`patchatlas.errors.ReadError`
subclasses, never a dependency's own exception.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from patchatlas.errors import ReadError, UnsupportedFormatError

__all__ = ["FORMATS", "load_stimulus_ontology", "read", "register_reader", "write_nwb"]

# extension -> (format name, "module:function")
FORMATS: dict[str, tuple[str, str]] = {
    ".abf": ("abf", "patchatlas.io.abf:read_abf"),
    ".ibw": ("igor", "patchatlas.io.igor:read_ibw"),
    ".txt": ("text", "patchatlas.io.text:read_text"),
    ".csv": ("text", "patchatlas.io.text:read_text"),
    ".tsv": ("text", "patchatlas.io.text:read_text"),
    ".dat": ("text", "patchatlas.io.text:read_text"),
    ".nwb": ("nwb", "patchatlas.io.nwb:read_nwb"),
    ".swc": ("swc", "patchatlas.io.swc:read_swc"),
    ".asc": ("asc", "patchatlas.io.asc:read_asc"),
}
_BY_NAME: dict[str, str] = {}


def register_reader(extension: str, format_name: str, target: str) -> None:
    """Register a reader ``"module:function"`` for a file extension (``".swc"``)."""
    ext = extension.lower() if extension.startswith(".") else "." + extension.lower()
    FORMATS[ext] = (format_name, target)


def _resolve(target: str) -> Any:
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


def _format_of(path: Path) -> tuple[str, str]:
    suffixes = [s.lower() for s in path.suffixes]
    # ".abf.csv" and friends: the last suffix decides.
    for ext in reversed(suffixes):
        if ext in FORMATS:
            return FORMATS[ext]
        break
    known = ", ".join(sorted(FORMATS))
    raise UnsupportedFormatError(
        path,
        f"unsupported file type {path.suffix or '(no extension)'!r}",
        f"patchatlas reads {known}; pass format=... if the extension is misleading",
    )


def read(path: str | os.PathLike[str], *, format: str | None = None, **kwargs: Any) -> Any:
    """Read a file (or a folder of Igor waves) into patchatlas objects.

    Parameters
    ----------
    path
        File to read. Electrophysiology files (``.nwb``, ``.abf``, ``.ibw``, ``.txt``/``.csv``)
        give a :class:`~patchatlas.ephys.Recording`; a folder of ``.ibw`` waves gives one
        recording of all its sweeps. Morphologies (``.swc``, Neurolucida ``.asc``) give a
        :class:`~patchatlas.morphology.Morphology`.
    format
        Force a reader by name (``"abf"``, ``"nwb"``, ``"igor"``, ``"text"`` ...) instead of the
        extension.
    **kwargs
        Passed to the reader (e.g. ``time_unit="ms"`` for text files, ``ontology=`` for NWB).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, unsupported, truncated or corrupt file; the message names the file.
    """
    p = Path(path)
    if not p.exists():
        raise ReadError(p, "no such file or folder", "check the path")
    if p.is_dir():
        if format in (None, "igor") and any(p.glob("*.ibw")):
            from patchatlas.io.igor import read_igor_folder

            return read_igor_folder(p, **kwargs)
        raise UnsupportedFormatError(
            p, "is a folder", "read the files in it one by one, or pass a folder of .ibw waves"
        )
    if format is not None:
        targets = dict(FORMATS.values())
        targets.update(_BY_NAME)
        if format not in targets:
            raise UnsupportedFormatError(
                p, f"unknown format {format!r}", f"choose one of {sorted(targets)}"
            )
        target = targets[format]
    else:
        target = _format_of(p)[1]
    return _resolve(target)(p, **kwargs)


def write_nwb(recording: Any, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a :class:`~patchatlas.ephys.Recording` as NWB 2 (icephys tables); see
    :func:`patchatlas.io.nwb_write.write_nwb`. Needs pynwb (``pip install patchatlas[nwb]``)."""
    from patchatlas.io.nwb_write import write_nwb as _write_nwb

    return _write_nwb(recording, path, overwrite=overwrite)


def load_stimulus_ontology(path: str | os.PathLike[str]) -> Any:
    """Load an Allen stimulus ontology JSON into a :class:`~patchatlas.ephys.StimulusOntology`;
    see :func:`patchatlas.io.ontology.load_stimulus_ontology`."""
    from patchatlas.io.ontology import load_stimulus_ontology as _load

    return _load(path)
