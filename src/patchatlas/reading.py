"""Reading a file into analysis-ready objects: :mod:`patchatlas.io` plus stimulus resolution.

:func:`read` is what :func:`patchatlas.read` is: the reader of :mod:`patchatlas.io` (I/O only)
followed, for recordings, by :func:`patchatlas.ephys.resolve_stimuli` (the science of what drove
each sweep stays in :mod:`patchatlas.ephys`). Layers that need analysis-ready recordings (the
pipeline, the atlas's lazy traces, the portal, the CLI) import it from here.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["read"]


def read(path: str | os.PathLike[str], *, format: str | None = None, **kwargs: Any) -> Any:
    """Read a file (or a folder of Igor waves) into patchatlas objects.

    Parameters
    ----------
    path
        File to read. Electrophysiology files (``.nwb``, ``.abf``, ``.ibw``, ``.txt``/``.csv``)
        give a :class:`~patchatlas.core.Recording` whose sweeps carry their resolved
        :class:`~patchatlas.core.Stimulus` (kind, amplitude, window); a folder of ``.ibw`` waves
        gives one recording of all its sweeps. Morphologies (``.swc``, Neurolucida ``.asc``,
        MorphIO/NeuroM ``.h5``) give a :class:`~patchatlas.core.Morphology`.
    format
        Force a reader by name (``"abf"``, ``"nwb"``, ``"igor"``, ``"text"``, ``"swc"`` ...)
        instead of the extension.
    **kwargs
        Options of the reader (e.g. ``time_unit="ms"`` for text files, ``ontology=`` for NWB);
        an option the reader does not take raises
        :class:`~patchatlas.errors.ParameterError` listing the ones it does.

    Returns
    -------
    Recording or Morphology
        The file's contents in library units (s, mV, pA, µm).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, unsupported, truncated or corrupt file; the message names the file.
    patchatlas.errors.ParameterError
        An unknown reader option or format name.
    """
    from patchatlas.core.recording import Recording
    from patchatlas.io import read as read_file

    obj = read_file(path, format=format, **kwargs)
    if isinstance(obj, Recording):
        from patchatlas.ephys.stimulus import resolve_stimuli

        resolve_stimuli(obj)
    return obj
