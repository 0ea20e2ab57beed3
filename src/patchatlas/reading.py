"""Reading a file into analysis-ready objects: :mod:`patchatlas.io` plus stimulus resolution.

:func:`read` is what :func:`patchatlas.read` is: the reader of :mod:`patchatlas.io` (I/O only)
followed, for recordings, by :func:`patchatlas.ephys.resolve_stimuli` (the science of what drove
each sweep stays in :mod:`patchatlas.ephys`). Layers that need analysis-ready recordings (the
pipeline, the atlas's lazy traces, the portal, the CLI) import it from here.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["load_allen_model", "read"]


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


def load_allen_model(
    fit_json: str | os.PathLike[str] | Any,
    swc: str | os.PathLike[str] | Any,
    *,
    modfiles: str | os.PathLike[str] | None = None,
    axon: str = "auto",
    name: str | None = None,
) -> Any:
    """Load an Allen biophysical model (perisomatic or all-active) from its files.

    Reads the fit file (:func:`patchatlas.io.allen_models.read_allen_fit`) and the
    reconstruction (:func:`patchatlas.io.read_morphology`) and builds the model with
    :func:`patchatlas.models.biophys.load_allen_model` (which takes the parsed objects).

    Parameters
    ----------
    fit_json
        ``<id>_fit.json`` of an Allen model download (a path), or the parsed fit (a mapping).
    swc
        The reconstruction (a ``.swc``/``.asc`` path), or a :class:`~patchatlas.core.Morphology`.
    modfiles
        Folder of the model's ``.mod`` files for the NEURON backend (default: ``modfiles/``
        beside the fit file when it exists; Arbor needs none).
    axon
        ``"auto"`` (stub for perisomatic, truncated for all-active), ``"stub"``,
        ``"truncated"`` or ``"reconstructed"``.
    name
        Model name (default: the reconstruction's).

    Returns
    -------
    patchatlas.models.biophys.BiophysModel
        The model; ``model.simulate_step(amplitude_pa)`` runs it on Arbor.

    Raises
    ------
    patchatlas.errors.ReadError
        A missing, unreadable or malformed file (the message names it).
    patchatlas.errors.SectionGroupError
        The fit names an unknown section group (file and entry named).
    patchatlas.errors.ValidationError
        The reconstruction has no soma.
    """
    from collections.abc import Mapping

    from patchatlas.core.morphology import Morphology
    from patchatlas.io import read_morphology
    from patchatlas.io.allen_models import find_modfiles, read_allen_fit
    from patchatlas.models.biophys import load_allen_model as build

    source = ""
    if isinstance(fit_json, Mapping):
        fit = dict(fit_json)
    else:
        source = os.fspath(fit_json)
        fit = read_allen_fit(fit_json)
        if modfiles is None:
            modfiles = find_modfiles(fit_json)
    morph = swc if isinstance(swc, Morphology) else read_morphology(swc)
    return build(
        fit,
        morph,
        axon=axon,  # type: ignore[arg-type]
        source=source,
        name=name,
        modfiles=os.fspath(modfiles) if modfiles is not None else None,
    )
