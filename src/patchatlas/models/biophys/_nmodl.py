"""NMODL compilation for the NEURON backend (internal): ``.mod`` files → a cached mechanism library.

This is a compiled-kernel cache, like numba's on-disk cache of the ephys kernels: the NEURON
backend calls :func:`compiled_library` the first time a model needs mechanisms NEURON does not
have; the model's ``.mod`` files (an Allen download's ``modfiles/``) are compiled once with
NEURON's ``nrnivmodl`` into ``<cache>/nmodl/<digest>/`` and reused by every later process. The
digest covers the file names and contents and the NEURON version, so an edited ``.mod`` file or a
new NEURON compiles afresh. The cache root is ``$PATCHATLAS_CACHE_DIR`` if set, else
``$XDG_CACHE_HOME/patchatlas`` or ``~/.cache/patchatlas``.

Internal API: ``compiled_library(mod_dir) -> Path`` (the folder to give ``neuron.load_mechanisms``)
and ``mechanism_names(mod_dir) -> dict`` (SUFFIX / POINT_PROCESS name → file).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from patchatlas.errors import MechanismError, MissingDependencyError

__all__ = ["cache_root", "compiled_library", "mechanism_names"]

_NAME = re.compile(r"^\s*(?:SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+(\w+)", re.MULTILINE)


def cache_root() -> Path:
    """The patchatlas cache folder (compiled mechanisms live in its ``nmodl/``)."""
    env = os.environ.get("PATCHATLAS_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "patchatlas"


def _mod_files(mod_dir: str | os.PathLike[str]) -> list[Path]:
    d = Path(mod_dir)
    if not d.is_dir():
        raise MechanismError(
            f"{d}: the NMODL folder does not exist; give the folder of the model's .mod files "
            "(an Allen model download has it as modfiles/)"
        )
    files = sorted(d.glob("*.mod"))
    if not files:
        raise MechanismError(f"{d}: no .mod files in this folder")
    return files


def mechanism_names(mod_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """The mechanisms a folder of ``.mod`` files defines.

    Parameters
    ----------
    mod_dir
        Folder of ``.mod`` files.

    Returns
    -------
    dict
        Mechanism name (its ``SUFFIX`` or ``POINT_PROCESS``) → file.
    """
    out: dict[str, Path] = {}
    for f in _mod_files(mod_dir):
        text = f.read_text(encoding="utf-8", errors="replace")
        for name in _NAME.findall(text):
            out[name] = f
    return out


def _nrnivmodl() -> str:
    here = Path(sys.executable).parent / "nrnivmodl"
    if here.is_file():
        return str(here)
    found = shutil.which("nrnivmodl")
    if found is None:
        raise MissingDependencyError(
            "nrnivmodl (NEURON's NMODL compiler) was not found; install NEURON with "
            "pip install 'patchatlas[neuron]' and a C++ compiler, or use backend='arbor'"
        )
    return found


def _digest(files: list[Path], neuron_version: str) -> str:
    h = hashlib.sha256(neuron_version.encode())
    for f in files:
        h.update(f.name.encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:20]


def compiled_library(mod_dir: str | os.PathLike[str], *, neuron_version: str = "") -> Path:
    """Compile a folder of ``.mod`` files once (cached) and return the library folder.

    Parameters
    ----------
    mod_dir
        Folder of ``.mod`` files.
    neuron_version
        NEURON's version (part of the cache key).

    Returns
    -------
    Path
        Folder holding the compiled mechanisms (give it to ``neuron.load_mechanisms``).

    Raises
    ------
    patchatlas.errors.MechanismError
        No such folder, no ``.mod`` files, or ``nrnivmodl`` failed (its output's tail is in the
        message).
    patchatlas.errors.MissingDependencyError
        ``nrnivmodl`` is not installed.
    """
    files = _mod_files(mod_dir)
    key = _digest(files, neuron_version)
    root = cache_root() / "nmodl"
    final = root / key
    if (final / ".complete").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=root))
    try:
        for f in files:
            shutil.copy2(f, tmp / f.name)
        proc = subprocess.run(
            [_nrnivmodl(), "."],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise MechanismError(
                f"{Path(mod_dir)}: nrnivmodl failed to compile the mechanisms (exit "
                f"{proc.returncode}):\n{tail}"
            )
        (tmp / ".complete").write_text("ok\n", encoding="utf-8")
        try:
            tmp.rename(final)
        except OSError:
            # another process finished first: use its copy
            if not (final / ".complete").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
