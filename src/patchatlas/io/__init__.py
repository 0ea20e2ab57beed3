"""File readers and writers. The only part of patchatlas (with ``datasets``) that touches files.

:func:`read` dispatches on the file extension (or on ``format=``) to a reader module, imported
lazily so that ``import patchatlas`` stays fast and optional dependencies stay optional. Every
reader returns :mod:`patchatlas.core` objects in library units and raises
:class:`patchatlas.errors.ReadError` subclasses, never a dependency's own exception.

Readers do I/O only: a recording comes back *as the file states it* — each sweep's stimulus
carries the file's stimulus name, and what the file declares beyond that (a kind from a
stimulus code, stored windows, an Igor protocol note) is in ``Sweep.declared``.
:func:`patchatlas.read` (= :func:`patchatlas.reading.read`) adds the stimulus inference of
:func:`patchatlas.ephys.resolve_stimuli`; use it unless you need the raw reader output.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from patchatlas.errors import ParameterError, ReadError, UnsupportedFormatError

__all__ = [
    "FORMATS",
    "MORPHOLOGY_FORMATS",
    "load_stimulus_ontology",
    "read",
    "read_glif_config",
    "read_morphology",
    "register_reader",
    "write_glif_config",
    "write_nwb",
]

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
#: format names whose reader gives a :class:`~patchatlas.core.Morphology`
MORPHOLOGY_FORMATS = ("swc", "asc")


def register_reader(extension: str, format_name: str, target: str) -> None:
    """Register a reader ``"module:function"`` for a file extension (``".swc"``).

    :func:`read` then dispatches files with that extension to it (it replaces the reader
    registered for the extension before, if any).

    Parameters
    ----------
    extension
        File extension, with or without the leading dot; case is ignored.
    format_name
        Name of the format (``"swc"``, ``"abf"`` ...), as :func:`read`'s ``format=`` takes it.
    target
        The reader as ``"package.module:function"``; it is imported on first use and called
        as ``function(path, **options)``.
    """
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


def _check_options(fn: Any, kwargs: dict[str, Any], path: Path) -> None:
    """Raise :class:`ParameterError` for options the reader ``fn`` does not take."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ParameterError(
            f"{path}: the {fn.__module__.rsplit('.', 1)[-1]} reader has no option "
            f"{', '.join(repr(u) for u in unknown)}; it takes "
            f"{', '.join(accepted) or 'no options'}"
        )


def read(path: str | os.PathLike[str], *, format: str | None = None, **kwargs: Any) -> Any:
    """Read a file (or a folder of Igor waves) into :mod:`patchatlas.core` objects, as stated.

    Stimuli are not inferred here (see the module docs); :func:`patchatlas.read` does.

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

    Returns
    -------
    Recording or Morphology
        What the reader gives: a :class:`~patchatlas.core.Recording` for electrophysiology
        (sweeps as the file states them), a :class:`~patchatlas.core.Morphology` for a
        reconstruction.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, unsupported, truncated or corrupt file; the message names the file.
    patchatlas.errors.ParameterError
        An option the reader does not take.
    """
    p = Path(path)
    if not p.exists():
        raise ReadError(p, "no such file or folder", "check the path")
    if p.is_dir():
        if format in (None, "igor") and any(p.glob("*.ibw")):
            from patchatlas.io.igor import read_igor_folder

            _check_options(read_igor_folder, kwargs, p)
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
    fn = _resolve(target)
    _check_options(fn, kwargs, p)
    return fn(p, **kwargs)


def read_morphology(path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Read a reconstruction (``.swc`` or Neurolucida ``.asc``) into a
    :class:`~patchatlas.core.Morphology`; any other file type is refused.

    Parameters
    ----------
    path
        The file.
    **kwargs
        Reader options (``name=``, ``max_bytes=``).

    Returns
    -------
    Morphology
        The node table (µm), rows in topological order.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, unsupported, marker-list or malformed file.
    """
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower(), ("", ""))[0]
    if fmt not in MORPHOLOGY_FORMATS:
        raise UnsupportedFormatError(
            p,
            f"{p.suffix or 'no extension'} is not a morphology format",
            "patchatlas reads .swc and Neurolucida .asc morphologies",
        )
    return read(p, **kwargs)


def write_nwb(recording: Any, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a :class:`~patchatlas.ephys.Recording` as NWB 2 (icephys tables); see
    :func:`patchatlas.io.nwb.write.write_nwb`. Needs pynwb (``pip install patchatlas[nwb]``).

    The file is written to a temporary name next to ``path`` and moved into place, so a
    failed write leaves no partial file.

    Parameters
    ----------
    recording
        The recording to write (current- and voltage-clamp sweeps).
    path
        Target ``.nwb`` file; its folder must exist.
    overwrite
        Replace an existing file (default: refuse).

    Returns
    -------
    Path
        The file written; :func:`patchatlas.read` gives back the same sweeps.

    Raises
    ------
    patchatlas.errors.WriteError
        The target exists (without ``overwrite``), its folder is missing, the recording has no
        sweeps, pynwb is not installed, or the recording cannot be written.
    """
    from patchatlas.io.nwb.write import write_nwb as _write_nwb

    return _write_nwb(recording, path, overwrite=overwrite)


def load_stimulus_ontology(path: str | os.PathLike[str]) -> Any:
    """Load an Allen stimulus ontology JSON into a :class:`~patchatlas.ephys.StimulusOntology`;
    see :func:`patchatlas.io.ontology.load_stimulus_ontology`.

    Parameters
    ----------
    path
        JSON file, e.g. ``ipfx_stimulus_ontology.json`` (a list of entries, each a list of
        ``[tag, value, ...]`` lists).

    Returns
    -------
    StimulusOntology
        Maps stimulus codes (``"C1LSCOARSE150216[0]"``) to names (``"Long Square"``) and kinds;
        pass it as ``ontology=`` to the NWB reader.

    Raises
    ------
    patchatlas.errors.ReadError
        The file is missing, not JSON, or not a list of tag lists.
    """
    from patchatlas.io.ontology import load_stimulus_ontology as _load

    return _load(path)


def read_glif_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an Allen GLIF ``neuron_config.json``; see
    :func:`patchatlas.io.glif_config.read_glif_config`.

    Parameters
    ----------
    path
        The JSON file.

    Returns
    -------
    dict
        The config (for :meth:`patchatlas.models.glif.GlifModel.from_allen_config`).

    Raises
    ------
    patchatlas.errors.ReadError
        The file is missing, not JSON, or not a JSON object.
    """
    from patchatlas.io.glif_config import read_glif_config as _read

    return _read(path)


def write_glif_config(
    config: dict[str, Any], path: str | os.PathLike[str], *, model_id: str | None = None
) -> Path:
    """Write a GLIF config as JSON; see :func:`patchatlas.io.glif_config.write_glif_config`.

    Parameters
    ----------
    config
        The neuron_config dict.
    path
        Target file.
    model_id
        Wrap the config under this key (Allen's download layout).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    patchatlas.errors.WriteError
        The file cannot be written.
    """
    from patchatlas.io.glif_config import write_glif_config as _write

    return _write(config, path, model_id=model_id)
