"""Stored series before unit conversion, and the HDF5 / pynwb helpers every layout reader uses.

Internal seam of :mod:`patchatlas.io.nwb`: :class:`Trace` is one stored series (or a slice of
one) with its conversion, offset, unit and clock; :class:`Pair` is the response and stimulus of
one sweep with what the file says about them. Layout readers produce pairs; the sweep builder
(``_sweeps``) converts them to :class:`~patchatlas.core.Sweep` objects. :func:`read_slice` is
the one place traces are read (size checks against damaged headers, ``lazy`` memory maps).
"""

from __future__ import annotations

import contextvars
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.errors import CorruptFileError
from patchatlas.io._common import unit_factor

log = logging.getLogger("patchatlas.io.nwb")

# read_nwb(lazy=True): map traces from the file instead of reading them
LAZY: contextvars.ContextVar[bool] = contextvars.ContextVar("patchatlas_nwb_lazy", default=False)
# Refuse to allocate arrays far larger than the file could hold (damaged headers).
_MAX_EXPANSION = 1000
_MAX_UNCHECKED_BYTES = 1 << 30

FloatArray = npt.NDArray[np.floating[Any]]


def decode_text(value: Any) -> str:
    """Decode an HDF5 scalar / 1-element array / bytes into a str."""
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


@dataclass
class Trace:
    """One stored series (or a slice of one), before unit conversion."""

    name: str
    type_name: str
    data: npt.NDArray[Any]
    conversion: float
    offset: float
    unit: str
    rate: float | None
    starting_time: float
    timestamps: npt.NDArray[Any] | None = None
    is_stimulus: bool = False

    def quantity_from_unit(self) -> str | None:
        for q in ("voltage", "current"):
            if unit_factor(self.unit, q) is not None:
                return q
        return None

    def values(self, quantity: str, path: Path) -> FloatArray:
        """Values in library units (mV or pA)."""
        f = unit_factor(self.unit, quantity)
        if f is None:
            log.warning(
                "%s: series %s has unit %r; assuming SI (%s)",
                path,
                self.name,
                self.unit,
                "volts" if quantity == "voltage" else "amperes",
            )
            f = 1e3 if quantity == "voltage" else 1e12
        # 1e-9 * 1e12 is 1000.0000000000001 in floats: snap products of decimal factors.
        scale = float(f"{self.conversion * f:.12g}")
        raw = self.data
        if not np.issubdtype(raw.dtype, np.number) or np.issubdtype(raw.dtype, np.complexfloating):
            raise CorruptFileError(
                path, f"series {self.name} holds {raw.dtype} values, not numbers"
            )
        dtype = raw.dtype if raw.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        out: FloatArray = raw.astype(dtype, copy=False)
        if scale != 1.0:
            out = np.multiply(out, scale, dtype=dtype)
        if self.offset:
            out = out + self.offset * f
        return out


@dataclass
class Pair:
    """The response and stimulus of one sweep, with what the file says about them."""

    number: int
    response: Trace | None
    stimulus: Trace | None
    electrode: str | None = None
    stimulus_code: str | None = None
    stimulus_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, Any] | None = None  # patchatlas_* columns of files we wrote


def _check_size(ds: Any, path: Path, what: str) -> None:
    """Refuse datasets whose declared size cannot come from this file (damaged header)."""
    nbytes = int(np.prod(ds.shape, dtype=np.float64) * ds.dtype.itemsize) if ds.shape else 0
    if nbytes <= _MAX_UNCHECKED_BYTES:
        return
    file_size = os.path.getsize(path)
    if nbytes > _MAX_EXPANSION * max(file_size, 1):
        raise CorruptFileError(
            path,
            f"{what} declares {nbytes} bytes of data in a {file_size}-byte file",
            "the file is damaged",
        )


def read_slice(ds: Any, path: Path, what: str, start: int = 0, count: int | None = None) -> Any:
    _check_size(ds, path, what)
    if ds.ndim != 1:
        shape = tuple(ds.shape)
        if ds.ndim == 2 and 1 in shape:
            return np.asarray(ds[()]).reshape(-1)[start : None if count is None else start + count]
        raise CorruptFileError(path, f"{what} has shape {shape}; expected a 1-D trace")
    stop = None if count is None else start + count
    if LAZY.get():
        mapped = _memmap(ds, path, what, start, stop)
        if mapped is not None:
            return mapped
    return np.asarray(ds[start:stop])


def _memmap(ds: Any, path: Path, what: str, start: int, stop: int | None) -> Any:
    """Map a contiguous, uncompressed float dataset from the file (read on demand), or None."""
    if ds.chunks is not None or ds.compression is not None or ds.dtype.kind != "f":
        return None
    if not ds.dtype.isnative:
        return None
    offset = ds.id.get_offset()
    if offset is None:  # not allocated, or stored in an external file
        return None
    n = int(ds.shape[0])
    a = min(max(start, 0), n)
    b = n if stop is None else min(max(stop, a), n)
    if b == a:
        return None
    item = ds.dtype.itemsize
    fname = Path(ds.file.filename)
    if offset + n * item > os.path.getsize(fname):
        raise CorruptFileError(path, f"{what}: data run past the end of the file", "truncated?")
    return np.memmap(fname, dtype=ds.dtype, mode="r", offset=offset + a * item, shape=(b - a,))


def read_scalar(ds: Any) -> Any:
    """Small dataset → str / number / list of str; None for anything large or odd."""
    try:
        if ds.size > 64:
            return None
        v = ds[()]
    except Exception:  # odd dtypes (references, compound): skip
        return None
    if isinstance(v, bytes | np.bytes_ | str):
        return decode_text(v)
    if isinstance(v, np.ndarray):
        if v.dtype.kind in ("O", "S", "U"):
            items = [decode_text(x) for x in v.reshape(-1)]
            return items[0] if len(items) == 1 else items
        if v.dtype.kind in ("f", "i", "u", "b"):
            flat = v.reshape(-1)
            if flat.size == 1:
                return flat[0].item()
            return flat.tolist()
        return None
    if isinstance(v, np.generic):
        return v.item()
    return None


def h5_attr(obj: Any, name: str, default: Any = None) -> Any:
    return obj.attrs.get(name, default)


def float_attr(obj: Any, name: str, default: float) -> float:
    v = h5_attr(obj, name)
    if v is None:
        return default
    try:
        f = float(np.asarray(v).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return default
    return f if math.isfinite(f) else default


def series_type(group: Any) -> str:
    anc = h5_attr(group, "ancestry")
    if anc is not None:
        names = [decode_text(a) for a in np.asarray(anc).reshape(-1)]
        if names:
            return names[-1]
    return decode_text(h5_attr(group, "neurodata_type", ""))


def h5_trace(
    group: Any,
    path: Path,
    *,
    is_stimulus: bool,
    start: int = 0,
    count: int | None = None,
    apply_conversion: bool = True,
) -> Trace:
    """A series group (NWB 1 or NWB 2) read with h5py."""
    name = str(group.name).rsplit("/", 1)[-1]
    if "data" not in group:
        raise CorruptFileError(path, f"series {group.name} has no data")
    ds = group["data"]
    data = read_slice(ds, path, f"series {group.name}", start, count)
    conversion = float_attr(ds, "conversion", 1.0) if apply_conversion else 1.0
    offset = float_attr(ds, "offset", 0.0) if apply_conversion else 0.0
    unit = decode_text(h5_attr(ds, "unit", ""))
    rate: float | None = None
    t_start = 0.0
    timestamps = None
    if "starting_time" in group:
        st = group["starting_time"]
        rate = float_attr(st, "rate", math.nan)
        t_start = float(np.asarray(st[()]).reshape(-1)[0])
    elif "timestamps" in group:
        ts = read_slice(group["timestamps"], path, f"timestamps of {group.name}", start, count)
        timestamps = np.asarray(ts, dtype=np.float64)
    return Trace(
        name=name,
        type_name=series_type(group),
        data=data,
        conversion=conversion,
        offset=offset,
        unit=unit,
        rate=rate,
        starting_time=t_start,
        timestamps=timestamps,
        is_stimulus=is_stimulus,
    )


def small_datasets(group: Any, skip: tuple[str, ...] = ("data", "timestamps")) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in group:
        if key in skip:
            continue
        obj = group.get(key, getlink=False)
        if obj is None or hasattr(obj, "keys"):
            continue
        val = read_scalar(obj)
        if val is not None and val != "":
            out[key] = val
    return out


MIES_NAME = re.compile(r"^data_(\d+)_(AD|DA)(\d+)")


def clamp_type_name(ts: Any) -> str:
    for cls in type(ts).__mro__:
        if "Clamp" in cls.__name__:
            return cls.__name__
    return str(getattr(ts, "neurodata_type", type(ts).__name__))


def pynwb_trace(
    ts: Any, path: Path, *, is_stimulus: bool, start: int = 0, count: int | None = None
) -> Trace:
    what = f"series {ts.name}"
    ds = ts.data
    if hasattr(ds, "shape") and hasattr(ds, "dtype") and not isinstance(ds, np.ndarray):
        data = read_slice(ds, path, what, start, count)
    else:
        arr = np.asarray(ds)
        data = arr[start : None if count is None else start + count]
    timestamps = None
    if getattr(ts, "timestamps", None) is not None:
        tsd = ts.timestamps
        timestamps = np.asarray(
            read_slice(tsd, path, f"timestamps of {ts.name}", start, count)
            if hasattr(tsd, "dtype") and not isinstance(tsd, np.ndarray)
            else np.asarray(tsd)[start : None if count is None else start + count],
            dtype=np.float64,
        )
    rate = getattr(ts, "rate", None)
    t_start = getattr(ts, "starting_time", None)
    return Trace(
        name=str(ts.name),
        type_name=clamp_type_name(ts),
        data=data,
        conversion=float(getattr(ts, "conversion", 1.0) or 1.0),
        offset=float(getattr(ts, "offset", 0.0) or 0.0),
        unit=str(getattr(ts, "unit", "") or ""),
        rate=float(rate) if rate is not None else None,
        starting_time=float(t_start) if t_start is not None else 0.0,
        timestamps=timestamps,
        is_stimulus=is_stimulus,
    )


def trailing_number(name: str) -> int | None:
    m = MIES_NAME.match(name) or re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else None


def stim_code(ts: Any) -> str | None:
    code = getattr(ts, "stimulus_description", None)
    if code is None:
        return None
    txt = decode_text(code).strip()
    return None if txt.upper() in ("", "N/A", "NA", "NONE") else txt
