"""Private seam of :mod:`patchatlas.models.glif`: which GLIF kernel runs, chosen in one place.

``auto`` (default) uses the numba kernel (:mod:`._kernel`) when numba imports and compiles,
unless the environment variable ``PATCHATLAS_NUMBA`` is ``0``/``false``/``no``/``off`` (read
when the kernel is first needed, as for the ephys kernel); otherwise the NumPy path
(:mod:`._numpy`), which gives the same numbers (``tests/models/glif/test_kernel.py``). A numba
failure under ``auto`` logs one warning and switches this process to NumPy.

:func:`use` forces a backend inside a ``with`` block (``"numba"`` strictly: a failure raises).

Internal API: :func:`kernel` (the module with ``run``/``run_many``), :func:`use`,
:func:`active`, :func:`warm_up`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from types import ModuleType

import numpy as np

from patchatlas.errors import MissingDependencyError, ParameterError

logger = logging.getLogger(__name__)

ENV_VAR = "PATCHATLAS_NUMBA"
BACKENDS = ("auto", "numba", "numpy")
_OFF = ("0", "false", "no", "off")
_LOCK = threading.Lock()
_STATE: dict[str, object] = {}
_FORCED: ContextVar[str] = ContextVar("patchatlas_glif_backend", default="auto")


def _compiled() -> ModuleType | None:
    """The numba kernel module, or None (numba missing, switched off, or broken)."""
    with _LOCK:
        if "kernel" in _STATE:
            return _STATE["kernel"]  # type: ignore[return-value]
        mod: ModuleType | None = None
        if os.environ.get(ENV_VAR, "").strip().lower() in _OFF:
            _STATE["why"] = f"{ENV_VAR}={os.environ.get(ENV_VAR)}"
        else:
            try:
                mod = importlib.import_module("patchatlas.models.glif._kernel")
                _warm(mod)
            except ModuleNotFoundError as exc:
                _STATE["why"] = f"numba not installed ({exc.name})"
                mod = None
            except (ImportError, OSError, RuntimeError, TypeError, ValueError) as exc:
                _STATE["why"] = f"numba kernel unavailable ({type(exc).__name__}: {exc})"
                logger.warning("%s; GLIF simulations use the NumPy path", _STATE["why"])
                mod = None
        _STATE["kernel"] = mod
        return mod


def _warm(mod: ModuleType) -> None:
    """Compile (or load from numba's cache) both entry points on tiny inputs."""
    from patchatlas.models.glif._params import N_P, P_OFFSET

    p = np.zeros(N_P)
    p[P_OFFSET] = 1.0
    stim = np.zeros(4)
    mod.run(stim, p, np.empty(4), np.empty(4), np.empty(2), np.empty(0, dtype=np.int64))
    mod.run_segments(
        stim,
        p,
        np.array([0, 2, 4], dtype=np.int64),
        np.zeros(2),
        np.empty(4),
        np.empty(4),
        np.array([1], dtype=np.int64),
    )
    mod.run_many(
        stim[None, :],
        p[None, :],
        np.empty((1, 2)),
        np.zeros(1, dtype=np.int64),
        np.zeros(1, dtype=np.int64),
    )


def active() -> str:
    """``"numba"`` or ``"numpy"``: the backend a simulation started now would use."""
    forced = _FORCED.get()
    if forced == "numpy":
        return "numpy"
    return "numba" if _compiled() is not None else "numpy"


def kernel() -> ModuleType:
    """The module with ``run`` and ``run_many`` for the active backend."""
    forced = _FORCED.get()
    if forced == "numpy":
        return importlib.import_module("patchatlas.models.glif._numpy")
    mod = _compiled()
    if mod is None:
        if forced == "numba":
            raise MissingDependencyError(
                f"the numba GLIF kernel is not available: {_STATE.get('why')} "
                "(pip install 'patchatlas[ephys]' for numba)"
            )
        return importlib.import_module("patchatlas.models.glif._numpy")
    return mod


@contextlib.contextmanager
def use(backend: str) -> Iterator[None]:
    """Force a backend inside a ``with`` block (``"auto"``, ``"numba"``, ``"numpy"``)."""
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {BACKENDS}, got {backend!r}")
    token = _FORCED.set(backend)
    try:
        yield
    finally:
        _FORCED.reset(token)


def warm_up() -> str:
    """Load the kernel now (compiling it on first use); returns the active backend."""
    return active()
