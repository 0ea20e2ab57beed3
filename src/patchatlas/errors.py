"""Exceptions raised by patchatlas.

Every error a user can trigger with bad input is a :class:`PatchAtlasError`. Messages name the
file or object, say what is wrong and what to do about it, so that a batch job can log them and
move on. Dependencies' own exceptions (``h5py``, ``pyabf``, ``pynwb`` ...) never escape a reader:
they are wrapped with the original kept as ``__cause__``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "AtlasError",
    "ChecksumError",
    "CorruptFileError",
    "DataError",
    "DownloadError",
    "IdentifiabilityError",
    "IndexOutOfRangeError",
    "MissingDependencyError",
    "ParameterError",
    "PatchAtlasError",
    "ReadError",
    "StimulusError",
    "UnsupportedFormatError",
    "ValidationError",
    "WriteError",
]


class PatchAtlasError(Exception):
    """Base class of every error patchatlas raises on purpose."""


class ReadError(PatchAtlasError):
    """A file could not be read.

    Parameters
    ----------
    path
        The file that failed.
    problem
        What is wrong, in words a user understands.
    hint
        What to do about it (optional).
    """

    def __init__(self, path: str | os.PathLike[str] | None, problem: str, hint: str = "") -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        self.hint = hint
        where = f"{self.path}: " if self.path is not None else ""
        msg = f"{where}{problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)

    def __reduce__(self) -> tuple[type[ReadError], tuple[Path | None, str, str]]:
        # Keep the error picklable so process pools and Dask workers can send it back.
        return (type(self), (self.path, self.problem, self.hint))


class UnsupportedFormatError(ReadError):
    """The file's extension or content is not a format patchatlas reads."""


class CorruptFileError(ReadError):
    """The file has a known format but is truncated, damaged or internally inconsistent."""


class WriteError(PatchAtlasError):
    """A file could not be written."""


class DataError(PatchAtlasError, ValueError):
    """In-memory data are malformed (wrong shapes, NaNs where values are needed, ...)."""


class StimulusError(DataError):
    """A stimulus description is inconsistent with the sweep it belongs to."""


class IdentifiabilityError(DataError):
    """The data cannot determine what was asked of them (a GLIF level whose mechanism the sweeps
    do not exercise: no subthreshold sweep for R and C, too few spikes for a reset rule ...).
    The message names the object, the missing evidence and what data would identify it."""


class ValidationError(DataError):
    """An object failed validation (morphology structure, schema, ...)."""


class ParameterError(PatchAtlasError, ValueError):
    """A function was called with an argument it cannot use (unknown option, unknown stimulus
    kind, unknown profile ...). The message names the argument and the values it accepts."""


class IndexOutOfRangeError(ParameterError, IndexError):
    """An index (sweep position, row) is outside the object it addresses."""


class AtlasError(PatchAtlasError):
    """The atlas database cannot be used as asked (bad URL, unknown cell, unknown filter, an
    atlas opened read-only for a write, a schema that needs ``patchatlas atlas upgrade`` ...)."""


class MissingDependencyError(PatchAtlasError, ImportError):
    """An optional package needed for this operation is not installed; the message says which
    extra to install (``pip install 'patchatlas[atlas]'`` ...)."""


class DownloadError(PatchAtlasError):
    """A remote service (Allen Brain Atlas API, DANDI, a mirror) could not be reached or answered
    with an error, after the retries.

    Parameters
    ----------
    url
        The address that failed.
    problem
        What went wrong (status, connection error ...).
    hint
        What to do about it: the environment variable naming a mirror, the cache to fall back on.
    """

    def __init__(self, url: str, problem: str, hint: str = "") -> None:
        self.url = url
        self.problem = problem
        self.hint = hint
        msg = f"{url}: {problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)

    def __reduce__(self) -> tuple[type[DownloadError], tuple[str, str, str]]:
        return (type(self), (self.url, self.problem, self.hint))


class ChecksumError(DownloadError):
    """A downloaded file's size or checksum differs from what the service published (the partial
    file is removed, so that running again downloads it afresh)."""
