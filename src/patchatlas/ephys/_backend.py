"""Private seam of :mod:`patchatlas.ephys`: the spike-detector backend, chosen in one place.

The Allen detection exists three times, kept equal by test (``tests/ephys/test_kernel.py``,
``tests/ephys/test_batched.py``):

* **numpy, per sweep**: :func:`patchatlas.ephys._allen.allen_indices`, the reference;
* **numpy, batched** over the sweeps of a recording: :mod:`patchatlas.ephys._batched`;
* **numba**: :mod:`patchatlas.ephys._kernel`, one compiled pass per sweep, with the spike-table
  assembly and the allen sweep features also compiled.

Nothing outside this module decides between them: the detection code calls the operations below.

The choice
----------
``auto`` (the default) uses numba when it can be imported, unless the environment variable
``PATCHATLAS_NUMBA`` is ``0``, ``false``, ``no`` or ``off``; otherwise numpy. The variable is read
once, when the backend is first needed (not at import); :func:`reset` forgets the choice.

Under ``auto`` **any** numba failure -- importing numba, typing, lowering, LLVM, the on-disk
cache, or a compiled function failing when it runs -- switches this process to the numpy path:
one warning is logged (logger ``patchatlas.ephys._backend``), the operation is redone on the
numpy path, and the user gets the same results, slower; never an exception.

:func:`use` overrides the choice inside a ``with`` block (for the current thread or task):
``use("numpy")`` forces the numpy path; ``use("numba")`` forces the kernel *strictly* (a failure
is raised, so that tests comparing the paths know the kernel ran); ``use(lazy_filter=False)``
filters dV/dt over whole sweeps instead of where the algorithm looks (a test switch; same
results to ~1e-13).

Operations
----------
:func:`indices` (one prepared sweep), :func:`indices_many` (many), :func:`batches` (whether a
sweep is worth holding for a batch), :func:`assemble_table`, :func:`allen_sweep_features` and
:func:`lazy_filter`. Prepared sweeps are :class:`patchatlas.ephys._allen.Prep`.

Public (exported by :mod:`patchatlas.ephys`): :func:`warm_up` and :func:`backend_info`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from patchatlas.core.table import FeatureTable
from patchatlas.ephys._allen import Prep, sweep_indices
from patchatlas.ephys._allen import assemble_table as _numpy_table
from patchatlas.errors import ParameterError

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "active",
    "allen_sweep_features",
    "assemble_table",
    "backend_info",
    "batches",
    "indices",
    "indices_many",
    "lazy_filter",
    "numba_available",
    "reset",
    "use",
    "warm_up",
]

logger = logging.getLogger(__name__)

#: the values :func:`use` accepts
BACKENDS = ("auto", "numba", "numpy")
#: environment variable that switches the compiled kernel off (read at the first choice)
ENV_VAR = "PATCHATLAS_NUMBA"
_OFF = ("0", "false", "no", "off")

T = TypeVar("T")


@dataclass
class _State:
    """What this process knows about numba (guarded by ``_LOCK``)."""

    loaded: bool = False  # the import of the kernel module was tried
    kernel: ModuleType | None = None  # patchatlas.ephys._kernel, when numba imports
    import_error: str = ""  # why it did not
    env_read: bool = False
    env_off: str = ""  # the value of PATCHATLAS_NUMBA that switched the kernel off
    failed: str = ""  # the numba failure that switched this process to numpy
    warm: bool = False  # warm_up() ran the kernel


@dataclass(frozen=True)
class _Override:
    backend: str
    lazy_filter: bool


_STATE = _State()
_LOCK = threading.RLock()
_OVERRIDE: ContextVar[_Override | None] = ContextVar("patchatlas_ephys_backend", default=None)


# --------------------------------------------------------------------------------------------
# the choice
# --------------------------------------------------------------------------------------------


def _load() -> ModuleType | None:
    """The kernel module, importing numba and compiling (or loading from numba's cache) the
    kernel on the first call; None when that fails."""
    if _STATE.loaded:
        return _STATE.kernel
    with _LOCK:
        if _STATE.loaded:
            return _STATE.kernel
        broken: BaseException | None = None
        kernel: ModuleType | None = None
        try:
            kernel = importlib.import_module("patchatlas.ephys._kernel")
        except ModuleNotFoundError as exc:
            if exc.name not in ("numba", "llvmlite"):
                broken = exc
        # a broken installation: numba's own checks (ImportError), llvmlite's shared library
        # (OSError), numba's cache locator or LLVM (RuntimeError), a kernel that does not
        # compile (_kernel.KernelUnavailable, an ImportError)
        except (ImportError, OSError, RuntimeError) as exc:
            broken = exc
        if kernel is None and broken is None:
            _STATE.import_error = "numba not installed (pip install 'patchatlas[ephys]')"
            logger.info("%s: spike detection uses the NumPy path", _STATE.import_error)
        elif broken is not None:
            _STATE.import_error = f"numba kernel unavailable ({_one_line(broken)})"
            logger.warning(
                "%s; spike detection uses the NumPy path (same results, slower). Set %s=0 to "
                "skip numba.",
                _STATE.import_error,
                ENV_VAR,
            )
            logger.debug("numba import failure", exc_info=broken)
        _STATE.kernel = kernel
        _STATE.loaded = True  # last: readers without the lock see a complete state
    return _STATE.kernel


def _env_off() -> str:
    """The ``PATCHATLAS_NUMBA`` value that switches the kernel off ("" when it does not)."""
    if not _STATE.env_read:
        with _LOCK:
            if not _STATE.env_read:
                raw = os.environ.get(ENV_VAR, "")
                _STATE.env_off = raw if raw.strip().lower() in _OFF else ""
                _STATE.env_read = True
    return _STATE.env_off


def _auto_kernel() -> ModuleType | None:
    """The kernel module when ``auto`` uses it, else None."""
    if _STATE.failed or _env_off():
        return None
    return _load()


def _mode() -> str:
    ov = _OVERRIDE.get()
    return "auto" if ov is None else ov.backend


def active() -> str:
    """The backend the current context uses: ``"numba"`` or ``"numpy"``.

    Returns
    -------
    str
        ``"numba"`` or ``"numpy"`` (choosing it, on the first call of the process).
    """
    mode = _mode()
    if mode != "auto":
        return mode
    return "numba" if _auto_kernel() is not None else "numpy"


def numba_available() -> bool:
    """Whether numba and the kernel module can be imported here (the environment switch and any
    earlier failure aside).

    Returns
    -------
    bool
        True when :func:`use` ``("numba")`` can run the kernel.
    """
    return _load() is not None


def lazy_filter() -> bool:
    """Whether dV/dt is filtered only where the algorithm looks (False inside
    ``use(lazy_filter=False)``).

    Returns
    -------
    bool
        The flag of the current context (True by default).
    """
    ov = _OVERRIDE.get()
    return True if ov is None else ov.lazy_filter


@contextlib.contextmanager
def use(backend: str = "auto", *, lazy_filter: bool = True) -> Iterator[None]:
    """Use ``backend`` inside the ``with`` block (this thread or task only).

    Parameters
    ----------
    backend
        ``"auto"`` (the process-wide choice), ``"numpy"`` (force the numpy paths) or
        ``"numba"`` (force the compiled kernel; numba failures are raised, not absorbed).
    lazy_filter
        False: filter dV/dt over the whole sweep (test switch; same results to ~1e-13).

    Yields
    ------
    None

    Raises
    ------
    ParameterError
        An unknown backend, or ``"numba"`` where numba cannot be imported.
    """
    if backend not in BACKENDS:
        raise ParameterError(
            f"ephys backend {backend!r} is unknown; use one of {', '.join(BACKENDS)}"
        )
    if backend == "numba" and _load() is None:
        raise ParameterError(
            f"ephys backend 'numba' cannot be used here: {_STATE.import_error}; "
            "use 'auto' or 'numpy'"
        )
    token = _OVERRIDE.set(_Override(backend, lazy_filter))
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


def reset() -> None:
    """Forget the choice, any numba failure and the warm-up (tests; the environment variable
    is read again at the next choice)."""
    with _LOCK:
        # an import is not undone by forgetting it: what it gave stays
        _STATE.env_read = False
        _STATE.env_off = ""
        _STATE.failed = ""
        _STATE.warm = False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _fail(what: str, exc: BaseException) -> None:
    """Switch this process to the numpy path after a numba failure (one logged warning)."""
    with _LOCK:
        first = not _STATE.failed
        if first:
            _STATE.failed = f"{what}: {_one_line(exc)}"
    if first:
        logger.warning(
            "the compiled spike-detection kernel failed (%s); this process uses the NumPy path "
            "from now on (same results, slower). Set %s=0 to skip numba.",
            _STATE.failed,
            ENV_VAR,
        )
        logger.debug("numba failure", exc_info=exc)


def _run(what: str, kernel_op: Callable[[ModuleType], T], numpy_op: Callable[[], T]) -> T:
    """``kernel_op(kernel)`` on the numba backend, ``numpy_op()`` on the numpy one; under
    ``auto`` a numba failure falls back to ``numpy_op()``."""
    mode = _mode()
    if mode == "numpy":
        return numpy_op()
    if mode == "numba":
        kernel = _load()
        assert kernel is not None  # use("numba") checked it
        return kernel_op(kernel)
    kernel = _auto_kernel()
    if kernel is None:
        return numpy_op()
    try:
        return kernel_op(kernel)
    except kernel.FAILURES as exc:
        _fail(what, exc)
        return numpy_op()


# --------------------------------------------------------------------------------------------
# the operations
# --------------------------------------------------------------------------------------------


def indices(pr: Prep) -> dict[str, Any]:
    """Spike indices of one prepared sweep.

    Parameters
    ----------
    pr
        The prepared sweep (:func:`patchatlas.ephys._detect.prepare`).

    Returns
    -------
    dict
        As :func:`patchatlas.ephys._allen.sweep_indices` (empty when the sweep has no spike).
    """
    if pr.lz.y.size < 2:
        return sweep_indices(pr)
    return _run("spike detection", lambda k: k.allen_indices(pr), lambda: sweep_indices(pr))


def batches(pr: Prep) -> bool:
    """Whether a sweep should wait for :func:`indices_many` with others rather than go through
    :func:`indices` now: only the numpy backend gains from batching, and only for sweeps of at
    most :data:`patchatlas.ephys._batched.BATCH_MAX_SAMPLES` samples.

    Parameters
    ----------
    pr
        The prepared sweep.

    Returns
    -------
    bool
        True when batching pays.
    """
    from patchatlas.ephys._batched import BATCH_MAX_SAMPLES

    return active() == "numpy" and pr.v.size <= BATCH_MAX_SAMPLES


def indices_many(preps: list[Prep]) -> list[dict[str, Any]]:
    """Spike indices of many prepared sweeps (element ``k`` belongs to ``preps[k]``).

    The kernel costs one call per sweep; the numpy backend detects the sweeps that share a
    sampling step, filter and parameters in one pass (:mod:`patchatlas.ephys._batched`). The
    results are those of :func:`indices` on each sweep.

    Parameters
    ----------
    preps
        The prepared sweeps.

    Returns
    -------
    list of dict
        Per sweep, as :func:`indices`.
    """
    if active() == "numba":
        return [indices(pr) for pr in preps]
    from patchatlas.ephys._batched import indices_many as batched

    return batched(preps, max_samples=None)


def assemble_table(pr: Prep, idx: dict[str, Any]) -> FeatureTable:
    """The full spike table of one prepared sweep from its (non-empty) spike indices.

    Parameters
    ----------
    pr
        The prepared sweep (``pr.full`` True).
    idx
        Its spike indices (:func:`indices`).

    Returns
    -------
    FeatureTable
        One row per spike, the columns of :data:`patchatlas.ephys.spikes.SPIKE_COLUMNS` (and the
        ``*_i`` columns when the sweep has a current), provenance ``pr.prov``.
    """
    table: FeatureTable = _run(
        "spike table",
        lambda k: k.assemble_table(pr, idx),
        lambda: _numpy_table(pr.t, pr.v, pr.lz.y, pr.i, idx, pr.prov),
    )
    return table


def allen_sweep_features(
    t: npt.NDArray[np.float64],
    v: npt.NDArray[np.float64],
    threshold_t: npt.NDArray[np.float64],
    start: float,
    end: float,
    amp: float,
) -> dict[str, float] | None:
    """The allen-profile sweep features in one compiled call, or None on the numpy backend
    (the caller, :func:`patchatlas.ephys.train.analyze_sweep`, then computes them itself).

    Parameters
    ----------
    t, v
        Time (s) and voltage (mV) of the sweep.
    threshold_t
        Threshold times of its spikes (s).
    start, end
        The analysis window (s; NaN when unknown).
    amp
        Stimulus amplitude (pA).

    Returns
    -------
    dict or None
        Feature name → value (``TRAIN_FEATURES`` then ``SUBTHRESHOLD_FEATURES`` of
        :mod:`patchatlas.ephys.train`), or None.
    """
    values: dict[str, float] | None = _run(
        "sweep features",
        lambda k: k.sweep_feature_values(t, v, threshold_t, start, end, amp),
        lambda: None,
    )
    return values


# --------------------------------------------------------------------------------------------
# public: warm-up and what is active
# --------------------------------------------------------------------------------------------


def _tiny_sweep() -> Any:
    """A 0.3 s, 50 kHz sweep with three spikes (every kernel function runs on it)."""
    from patchatlas.core.recording import Stimulus, StimulusKind, Sweep

    fs = 50e3
    t = np.arange(int(0.3 * fs)) / fs
    v = -70.0 + 0.01 * np.sin(2 * np.pi * 7.0 * t)
    for t0 in (0.1, 0.15, 0.2):
        x = (t - t0) / 0.0004
        v += 90.0 * np.exp(-(x**2)) * (x > -6)
        v -= 10.0 * np.exp(-np.maximum(t - t0 - 0.001, 0.0) / 0.004) * (t > t0 + 0.001)
    stim = Stimulus(StimulusKind.LONG_SQUARE, 100.0, 0.05, 0.25)
    i = np.where((t >= 0.05) & (t < 0.25), 100.0, 0.0)
    return Sweep(v, i, fs, number=0, stimulus=stim)


def warm_up() -> str:
    """Load the compiled spike-detection kernel now, so that the first real sweep does not pay.

    Chooses the backend (see :func:`backend_info`): with numba, the kernel is compiled on the
    first run in an environment (about 15 s) and read from numba's on-disk cache afterwards
    (about 1 s per process); then runs the detector once on a tiny synthetic sweep, so that a
    kernel that loads but fails to run is found here. Cheap when already warm. Meant for
    process-pool initialisers and long-running servers; a numba failure here falls back to
    NumPy like anywhere else (one logged warning).

    Returns
    -------
    str
        The active backend: ``"numba"`` or ``"numpy"``.
    """
    if _STATE.warm or _mode() == "numpy" or active() != "numba":
        return active()
    from patchatlas.ephys._notes import collecting
    from patchatlas.ephys.train import analyze_sweep

    sweep = _tiny_sweep()
    with collecting():  # notes of the synthetic sweep are nobody's business
        for per_spike in (True, False):
            analyze_sweep(sweep, per_spike=per_spike)
    with _LOCK:
        _STATE.warm = active() == "numba"
    return active()


def backend_info() -> dict[str, str]:
    """Which spike-detection backend is active, and why.

    Chooses the backend when that has not happened yet: unless ``PATCHATLAS_NUMBA=0``, that
    imports numba and loads the kernel (compiling it, about 15 s, on the first run in an
    environment).

    Returns
    -------
    dict
        ``backend``: ``"numba"`` or ``"numpy"``; ``reason``: why, e.g. ``"PATCHATLAS_NUMBA=0"``,
        ``"numba not installed (...)"``, ``"numba kernel unavailable (...)"``, ``"compiled
        kernel loaded"``, or the numba failure that switched this process to NumPy; ``numba``:
        numba's version, or ``"not installed"``.
    """
    mode = _mode()
    name = active()
    if mode != "auto":
        reason = f"forced by use({mode!r})"
    elif _STATE.failed:
        reason = f"numba failed: {_STATE.failed}"
    elif _STATE.env_off:
        reason = f"{ENV_VAR}={_STATE.env_off}"
    elif name == "numpy":
        reason = _STATE.import_error
    else:
        reason = "compiled kernel loaded"
    return {"backend": name, "reason": reason, "numba": _numba_version()}


def _numba_version() -> str:
    """numba's version from the package metadata (without importing it)."""
    from importlib import metadata

    try:
        return metadata.version("numba")
    except metadata.PackageNotFoundError:
        return "not installed"
