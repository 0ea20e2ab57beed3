"""Helpers shared by the readers: error wrapping, unit conversion, time-base checks."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.errors import (
    CorruptFileError,
    DataError,
    ParameterError,
    PatchAtlasError,
    ReadError,
)

log = logging.getLogger("patchatlas.io")

# factor that takes a value in the given unit to the library unit (mV, pA, s)
_VOLT = {"v": 1e3, "volt": 1e3, "volts": 1e3, "mv": 1.0, "uv": 1e-3, "µv": 1e-3}
_AMP = {
    "a": 1e12,
    "amp": 1e12,
    "amps": 1e12,
    "ampere": 1e12,
    "amperes": 1e12,
    "ma": 1e9,
    "ua": 1e6,
    "µa": 1e6,
    "na": 1e3,
    "pa": 1.0,
    "fa": 1e-3,
}
_TIME = {"s": 1.0, "sec": 1.0, "seconds": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}


def clean_label(text: str) -> str:
    """A header string without NUL padding and surrounding blanks (ABF 1 pads names and units
    with NUL bytes: ``'pA\\x00\\x00'``)."""
    return text.replace("\x00", " ").strip()


def unit_factor(unit: str, quantity: str) -> float | None:
    """Factor to library units for ``unit`` of ``quantity`` ("voltage", "current", "time").

    Returns ``None`` when the unit string is not recognised. NUL padding is ignored.
    """
    u = clean_label(unit).lower().replace(" ", "")
    table = {"voltage": _VOLT, "current": _AMP, "time": _TIME}[quantity]
    return table.get(u)


def quantity_of(unit: str) -> str | None:
    """``"voltage"``/``"current"``/``"time"`` for a unit string, or ``None``."""
    for q in ("voltage", "current", "time"):
        if unit_factor(unit, q) is not None:
            return q
    return None


def check_file(path: Path) -> None:
    """Raise a :class:`ReadError` for a missing or empty file."""
    if not path.exists():
        raise ReadError(path, "no such file", "check the path")
    if path.is_dir():
        raise ReadError(path, "is a folder, not a file")
    if os.path.getsize(path) == 0:
        raise CorruptFileError(path, "the file is empty (0 bytes)", "re-export or re-copy it")


@contextlib.contextmanager
def wrap_errors(path: Path, what: str) -> Iterator[None]:
    """Turn any non-patchatlas exception raised inside into a :class:`CorruptFileError`."""
    try:
        yield
    except (ReadError, ParameterError):
        raise
    except DataError as exc:
        # the data model's own checks (unequal trace lengths ...) do not know the file: name it
        if str(path) in str(exc):
            raise
        raise CorruptFileError(path, f"{what}: {exc}") from exc
    except PatchAtlasError:
        raise
    except MemoryError as exc:
        raise CorruptFileError(
            path, f"{what}: the header asks for more memory than is available", "file is damaged"
        ) from exc
    except Exception as exc:  # dependencies raise anything: wrap it, keep it as the cause
        detail = f"{type(exc).__name__}: {exc}"
        if len(detail) > 300:
            detail = detail[:300] + "…"
        raise CorruptFileError(
            path,
            f"cannot be read as {what} ({detail})",
            "the file may be truncated or damaged; check it opens in its acquisition software",
        ) from exc


def uniform_time(
    t: npt.NDArray[np.floating[Any]], *, rtol: float = 1e-3
) -> tuple[bool, float, float]:
    """Check whether time stamps are uniform within ``rtol`` of the median step.

    Returns
    -------
    uniform, sampling_rate, t0
        The rate is computed over the whole span, so float32 jitter in the stamps does not bias
        it (this is what makes the IPFX "silent filter bypass" impossible here). The rate is
        NaN when stamps decrease or never advance; repeated stamps (steps of 0) make the
        stamps non-uniform, with the rate from the median positive step.
    """
    if t.size < 2:
        return True, 1.0, float(t[0]) if t.size else 0.0
    dt = np.diff(t.astype(np.float64))
    if not bool(np.all(dt >= 0)) or not bool(np.any(dt > 0)):
        return False, float("nan"), float(t[0])
    if bool(np.any(dt == 0)):
        return False, 1.0 / float(np.median(dt[dt > 0])), float(t[0])
    med = float(np.median(dt))
    uniform = bool(np.max(np.abs(dt - med)) <= rtol * med)
    rate = (t.size - 1) / float(t[-1] - t[0]) if uniform else 1.0 / med
    return uniform, rate, float(t[0])
