"""Neurodata Without Borders (NWB 1 and NWB 2) intracellular recordings.

:func:`read_nwb` sniffs the file (HDF5 signature, then the ``nwb_version`` root attribute of
NWB 2 or the ``/nwb_version`` dataset of NWB 1) and reads one of four layouts:

``nwb2`` (icephys tables)
    NWB 2 with the ``IntracellularRecordingsTable`` hierarchy, read with pynwb
    (``load_namespaces=True``, so cached extensions load). Each table row is one sweep; the
    simultaneous / sequential (with its ``stimulus_type``) / repetition / experimental-condition
    rows it belongs to are kept in ``Sweep.metadata["icephys"]``.
``nwb2-legacy`` (MIES sweep table)
    NWB 2 without those tables: ``acquisition/data_XXXXX_ADn`` responses and
    ``stimulus/presentation/data_XXXXX_DAn`` stimuli paired by sweep number (the series'
    ``sweep_number`` or the ``general/intracellular_ephys/sweep_table``) and electrode. Read with
    pynwb, or with h5py when pynwb rejects the file (``SweepTable`` is deprecated).
``nwb1-allen``
    The Allen Cell Types Database download: ``acquisition/timeseries/Sweep_N``,
    ``stimulus/presentation/Sweep_N``, ``epochs/Sweep_N`` (index ranges), ``epochs/Experiment_N``
    (valid-data range), ``analysis/spike_times/Sweep_N``. Pipeline versions >= 1.1
    (``general/generated_by``) store ``data x conversion``; older files store SI values as is.
``nwb1-mies``
    NWB 1 written by MIES: ``data_XXXXX_ADn`` / ``data_XXXXX_DAn`` series and the lab notebook
    (``general/labnotebook/<device>``), read with h5py.

All values are converted to mV, pA and s (``data x conversion + offset`` in the series' unit).
The clamp mode comes from the series type (``CurrentClampSeries``, ``VoltageClampSeries`` ...; the
NWB 1 ``ancestry``), or from the units when the type says nothing. In voltage clamp ``v`` is the
command and ``i`` the recorded current. Sweep times are on the sweep's own clock (``t0 = 0``);
the series' ``starting_time`` (session clock) is kept in ``Sweep.metadata``.

Stimuli are inferred from the command waveform (:func:`~patchatlas.ephys.infer_recording_stimuli`)
and the kind is then overridden from names: the Allen ``aibs_stimulus_name``, or a MIES / Allen
stimulus code looked up in the ``ontology`` when one is given. Files written by
:func:`patchatlas.io.write_nwb` carry the stimulus description in extra table columns, which
restore it exactly.

NWB 1 needs only h5py; NWB 2 needs pynwb (``pip install patchatlas[nwb]``).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import math
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.ontology import StimulusOntology, kind_from_name
from patchatlas.core.recording import (
    ClampMode,
    DeclaredStimulus,
    Recording,
    Stimulus,
    StimulusKind,
    Sweep,
)
from patchatlas.errors import (
    CorruptFileError,
    PatchAtlasError,
    ReadError,
    UnsupportedFormatError,
)
from patchatlas.io._common import check_file, uniform_time, unit_factor, wrap_errors

__all__ = ["FILE_LAYOUT_KEYS", "PATCHATLAS_COLUMNS", "read_nwb", "sniff_nwb"]

log = logging.getLogger("patchatlas.io.nwb")

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Columns that patchatlas.io.write_nwb adds to the IntracellularRecordingsTable.
PATCHATLAS_COLUMNS = {
    "patchatlas_sweep_number": "sweep number as patchatlas numbered it",
    "patchatlas_kind": "stimulus kind (long_square, short_square, ramp, noise, ...)",
    "patchatlas_amplitude_pa": "stimulus amplitude of the primary epoch, pA",
    "patchatlas_start_s": "start of the primary stimulus epoch, s from the sweep start",
    "patchatlas_end_s": "end of the primary stimulus epoch, s from the sweep start",
    "patchatlas_holding_pa": "holding current the amplitude is relative to, pA",
    "patchatlas_stimulus_name": "stimulus name",
    "patchatlas_stimulus_source": "where the stimulus description came from",
    "patchatlas_t0_s": "time of the first sample on the sweep clock, s",
    "patchatlas_metadata": "JSON object of the sweep's metadata",
}
# Sweep metadata that describes where a sweep sits in the file it was read from; write_nwb does
# not store these (the file it writes has its own), the reader sets them afresh.
FILE_LAYOUT_KEYS = ("icephys", "response_series", "stimulus_series", "series_type", "units")
# read_nwb(lazy=True): map traces from the file instead of reading them
_LAZY: contextvars.ContextVar[bool] = contextvars.ContextVar("patchatlas_nwb_lazy", default=False)
# Refuse to allocate arrays far larger than the file could hold (damaged headers).
_MAX_EXPANSION = 1000
_MAX_UNCHECKED_BYTES = 1 << 30

FloatArray = npt.NDArray[np.floating[Any]]


# --------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------


def _is_hdf5(path: Path) -> bool:
    # HDF5 allows a user block of 0, 512, 1024, 2048 ... bytes before the superblock.
    with path.open("rb") as fh:
        offset = 0
        size = os.path.getsize(path)
        while offset < min(size, 1 << 20):
            fh.seek(offset)
            if fh.read(8) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def _check_global_heaps(path: Path) -> None:
    """Walk every HDF5 global heap collection ("GCOL") and reject damaged ones.

    Variable-length strings live in global heap collections. A damaged object size in one of
    them makes the HDF5 library loop forever when it parses the collection, in C code that no
    Python timeout can interrupt; checking the collections first turns that into an error. A
    collection is a 16-byte header (signature, version 1, 3 reserved bytes, 8-byte size) and
    objects of a 16-byte header (2-byte index, 2-byte reference count, 4 reserved bytes, 8-byte
    size) plus data padded to 8 bytes; index 0 is the free space that ends it.
    """
    import mmap
    import struct

    size = os.path.getsize(path)
    obj_header = struct.Struct("<HHIQ").unpack_from
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = mm.find(b"GCOL\x01\x00\x00\x00")
        while pos >= 0:
            if pos + 16 <= size:
                (coll,) = struct.unpack_from("<Q", mm, pos + 8)
                if 4096 <= coll <= size - pos:
                    end = pos + coll
                    o = pos + 16
                    while o + 16 <= end:
                        idx, _, _, osz = obj_header(mm, o)
                        if idx == 0:
                            # the free-space object spans the rest of the collection
                            step = osz if osz == end - o else end + 1 - o
                        else:
                            step = 16 + (osz + 7) // 8 * 8
                        if o + step > end:
                            raise CorruptFileError(
                                path,
                                f"HDF5 global heap at byte {pos} is damaged (object {idx} of "
                                f"{osz} bytes does not fit the collection)",
                                "the file is damaged; re-copy or re-export it",
                            )
                        o += step
            pos = mm.find(b"GCOL\x01\x00\x00\x00", pos + 4)


def _text(value: Any) -> str:
    """Decode an HDF5 scalar / 1-element array / bytes into a str."""
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def sniff_nwb(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Tell which NWB layout a file has.

    Returns
    -------
    version, layout
        The NWB version string (``"2.4.0"``, ``"NWB-1.0.5"``) and one of ``"nwb2"``,
        ``"nwb1-allen"``, ``"nwb1-mies"`` (NWB 2 files are split into table / legacy layouts only
        when read, since that needs pynwb).

    Raises
    ------
    patchatlas.errors.UnsupportedFormatError
        Not an HDF5 file, or HDF5 but not NWB.
    """
    p = Path(path)
    check_file(p)
    if not _is_hdf5(p):
        raise UnsupportedFormatError(
            p, "is not an HDF5 file (no HDF5 signature)", "NWB files are HDF5; check the file"
        )
    import h5py

    _check_global_heaps(p)
    with wrap_errors(p, "an HDF5/NWB file"), h5py.File(p, "r") as h5:
        return _sniff_open(h5, p)


def _sniff_open(h5: Any, path: Path) -> tuple[str, str]:
    if "nwb_version" in h5.attrs:
        version = _text(h5.attrs["nwb_version"])
        if version.removeprefix("NWB-").startswith("2"):
            return version, "nwb2"
    version = _text(h5["nwb_version"][()]) if "nwb_version" in h5 else ""
    ts = h5.get("acquisition/timeseries")
    if version.removeprefix("NWB-").startswith("1") or ts is not None:
        names = list(ts.keys()) if ts is not None else []
        epochs = list(h5["epochs"].keys()) if "epochs" in h5 else []
        if any(re.fullmatch(r"Sweep_\d+", n) for n in names + epochs):
            return version or "1", "nwb1-allen"
        return version or "1", "nwb1-mies"
    raise UnsupportedFormatError(
        path,
        "is an HDF5 file but not NWB (no nwb_version attribute or dataset)",
        "patchatlas reads NWB 1 and NWB 2 intracellular files",
    )


# --------------------------------------------------------------------------------------------
# Intermediate representation: traces and sweep pairs
# --------------------------------------------------------------------------------------------


@dataclass
class _Trace:
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
class _Pair:
    """The response and stimulus of one sweep, with what the file says about them."""

    number: int
    response: _Trace | None
    stimulus: _Trace | None
    electrode: str | None = None
    stimulus_code: str | None = None
    stimulus_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, Any] | None = None  # patchatlas_* columns of files we wrote


_VC = ("VoltageClamp",)
_CC = ("CurrentClamp", "IZeroClamp")


def _mode_of(pair: _Pair) -> ClampMode | None:
    for tr in (pair.response, pair.stimulus):
        if tr is None:
            continue
        if any(k in tr.type_name for k in _VC):
            return ClampMode.VOLTAGE_CLAMP
        if any(k in tr.type_name for k in _CC):
            return ClampMode.CURRENT_CLAMP
    if pair.response is not None:
        q = pair.response.quantity_from_unit()
        if q == "voltage":
            return ClampMode.CURRENT_CLAMP
        if q == "current":
            return ClampMode.VOLTAGE_CLAMP
    if pair.stimulus is not None:
        q = pair.stimulus.quantity_from_unit()
        if q == "current":
            return ClampMode.CURRENT_CLAMP
        if q == "voltage":
            return ClampMode.VOLTAGE_CLAMP
    return None


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


def _read_slice(ds: Any, path: Path, what: str, start: int = 0, count: int | None = None) -> Any:
    _check_size(ds, path, what)
    if ds.ndim != 1:
        shape = tuple(ds.shape)
        if ds.ndim == 2 and 1 in shape:
            return np.asarray(ds[()]).reshape(-1)[start : None if count is None else start + count]
        raise CorruptFileError(path, f"{what} has shape {shape}; expected a 1-D trace")
    stop = None if count is None else start + count
    if _LAZY.get():
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


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def read_nwb(
    path: str | os.PathLike[str],
    *,
    ontology: StimulusOntology | str | os.PathLike[str] | None = None,
    cell_id: str | None = None,
    electrode: str | None = None,
    lazy: bool = False,
) -> Recording:
    """Read the intracellular sweeps of an NWB 1 or NWB 2 file.

    Parameters
    ----------
    path
        The ``.nwb`` file.
    ontology
        A :class:`~patchatlas.ephys.StimulusOntology` (or the path of an Allen ontology JSON) to
        map MIES/Allen stimulus codes to names and kinds. Without one, only names the file
        spells out (``"Long Square"``) set kinds; otherwise the inferred kind stays.
    cell_id
        Identifier of the recording (defaults to the cell id stored by
        :func:`patchatlas.io.write_nwb`, else the file stem).
    electrode
        Name of the electrode / headstage to read in multi-electrode files (default: the first
        one; the names found are listed in ``Recording.metadata["electrodes"]``).
    lazy
        Map contiguous, uncompressed traces that need no scaling (values stored in mV / pA, the
        usual case) from the file with ``numpy.memmap`` instead of reading them: samples are
        read when used (stimulus inference still reads the command currents).
        Do not truncate or rewrite the file in place while such a recording is in use.

    Returns
    -------
    Recording
        One sweep per recorded series, ordered by sweep number; ``format`` names the layout
        (``"nwb2"``, ``"nwb2-legacy"``, ``"nwb1-allen"``, ``"nwb1-mies"``).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, non-NWB, truncated or damaged file; NWB 2 without pynwb installed.
    """
    p = Path(path)
    onto = _ontology(ontology)
    version, layout = sniff_nwb(p)
    token = _LAZY.set(lazy)
    try:
        return _read(p, onto, version, layout, cell_id, electrode)
    finally:
        _LAZY.reset(token)


def _read(
    p: Path,
    onto: StimulusOntology | None,
    version: str,
    layout: str,
    cell_id: str | None,
    electrode: str | None,
) -> Recording:
    import h5py

    with wrap_errors(p, "NWB"):
        with h5py.File(p, "r") as h5:
            meta = _file_metadata(h5)
            if layout == "nwb1-allen":
                pairs = _allen_pairs(h5, p)
            elif layout == "nwb1-mies":
                pairs = _mies1_pairs(h5, p)
            else:
                pairs = []
        if layout == "nwb2":
            layout, pairs = _nwb2_pairs(p)
        if layout in ("nwb1-mies", "nwb2-legacy"):
            with h5py.File(p, "r") as h5:
                _attach_labnotebook(h5, pairs)
        recording = _build(pairs, p, layout, version, meta, onto, cell_id, electrode)
    return recording


def _ontology(
    ontology: StimulusOntology | str | os.PathLike[str] | None,
) -> StimulusOntology | None:
    if ontology is None or isinstance(ontology, StimulusOntology):
        return ontology
    from patchatlas.io.ontology import load_stimulus_ontology

    return load_stimulus_ontology(ontology)


# --------------------------------------------------------------------------------------------
# File-level metadata (same paths in NWB 1 and NWB 2)
# --------------------------------------------------------------------------------------------

_GENERAL = (
    "institution",
    "lab",
    "experimenter",
    "experiment_description",
    "session_id",
    "protocol",
    "notes",
    "data_collection",
)
_SUBJECT = ("species", "subject_id", "sex", "age", "genotype", "strain", "description", "weight")


def _scalar(ds: Any) -> Any:
    """Small dataset → str / number / list of str; None for anything large or odd."""
    try:
        if ds.size > 64:
            return None
        v = ds[()]
    except Exception:  # odd dtypes (references, compound): skip
        return None
    if isinstance(v, bytes | np.bytes_ | str):
        return _text(v)
    if isinstance(v, np.ndarray):
        if v.dtype.kind in ("O", "S", "U"):
            items = [_text(x) for x in v.reshape(-1)]
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


def _file_metadata(h5: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in ("identifier", "session_description", "session_start_time"):
        if key in h5 and not hasattr(h5[key], "keys"):
            meta[key] = _scalar(h5[key])
    gen = h5.get("general")
    if gen is not None:
        for key in _GENERAL:
            if key in gen and not hasattr(gen[key], "keys"):
                val = _scalar(gen[key])
                if val not in (None, ""):
                    meta[key] = val
        subj = gen.get("subject")
        if subj is not None and hasattr(subj, "keys"):
            sub = {k: _scalar(subj[k]) for k in _SUBJECT if k in subj}
            meta["subject"] = {k: v for k, v in sub.items() if v not in (None, "")}
            if "species" in meta["subject"]:
                meta["species"] = meta["subject"]["species"]
        if "generated_by" in gen:
            meta["generated_by"] = _generated_by(gen["generated_by"])
    notes = meta.get("notes")
    if isinstance(notes, str) and notes.startswith("{"):
        try:
            parsed = json.loads(notes)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("patchatlas_metadata"), dict):
            meta.pop("notes")
            meta.update(parsed["patchatlas_metadata"])
            if parsed.get("patchatlas_cell_id"):
                meta["patchatlas_cell_id"] = str(parsed["patchatlas_cell_id"])
    return meta


def _generated_by(ds: Any) -> dict[str, str]:
    """``general/generated_by``: key/value pairs, as an (n, 2) table or an alternating list."""
    try:
        flat = [_text(x) for x in np.asarray(ds[()]).reshape(-1)]
    except Exception:
        return {}
    return {flat[k]: flat[k + 1] for k in range(0, len(flat) - 1, 2)}


# --------------------------------------------------------------------------------------------
# NWB 1 (h5py)
# --------------------------------------------------------------------------------------------


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    return obj.attrs.get(name, default)


def _float_attr(obj: Any, name: str, default: float) -> float:
    v = _attr(obj, name)
    if v is None:
        return default
    try:
        f = float(np.asarray(v).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return default
    return f if math.isfinite(f) else default


def _type_name(group: Any) -> str:
    anc = _attr(group, "ancestry")
    if anc is not None:
        names = [_text(a) for a in np.asarray(anc).reshape(-1)]
        if names:
            return names[-1]
    return _text(_attr(group, "neurodata_type", ""))


def _h5_trace(
    group: Any,
    path: Path,
    *,
    is_stimulus: bool,
    start: int = 0,
    count: int | None = None,
    apply_conversion: bool = True,
) -> _Trace:
    """A series group (NWB 1 or NWB 2) read with h5py."""
    name = str(group.name).rsplit("/", 1)[-1]
    if "data" not in group:
        raise CorruptFileError(path, f"series {group.name} has no data")
    ds = group["data"]
    data = _read_slice(ds, path, f"series {group.name}", start, count)
    conversion = _float_attr(ds, "conversion", 1.0) if apply_conversion else 1.0
    offset = _float_attr(ds, "offset", 0.0) if apply_conversion else 0.0
    unit = _text(_attr(ds, "unit", ""))
    rate: float | None = None
    t_start = 0.0
    timestamps = None
    if "starting_time" in group:
        st = group["starting_time"]
        rate = _float_attr(st, "rate", math.nan)
        t_start = float(np.asarray(st[()]).reshape(-1)[0])
    elif "timestamps" in group:
        ts = _read_slice(group["timestamps"], path, f"timestamps of {group.name}", start, count)
        timestamps = np.asarray(ts, dtype=np.float64)
    return _Trace(
        name=name,
        type_name=_type_name(group),
        data=data,
        conversion=conversion,
        offset=offset,
        unit=unit,
        rate=rate,
        starting_time=t_start,
        timestamps=timestamps,
        is_stimulus=is_stimulus,
    )


def _small_datasets(group: Any, skip: tuple[str, ...] = ("data", "timestamps")) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in group:
        if key in skip:
            continue
        obj = group.get(key, getlink=False)
        if obj is None or hasattr(obj, "keys"):
            continue
        val = _scalar(obj)
        if val is not None and val != "":
            out[key] = val
    return out


def _pipeline_version(meta_gen: dict[str, str]) -> tuple[int, int] | None:
    for key, val in meta_gen.items():
        if key.strip().lower() == "version":
            m = re.match(r"\s*(\d+)\.(\d+)", val)
            if m:
                return int(m.group(1)), int(m.group(2))
    return None


def _allen_pairs(h5: Any, path: Path) -> list[_Pair]:
    gen = h5.get("general")
    generated = (
        _generated_by(gen["generated_by"]) if gen is not None and "generated_by" in gen else {}
    )
    version = _pipeline_version(generated)
    apply_conv = version is not None and version >= (1, 1)
    acq = h5.get("acquisition/timeseries")
    stim = h5.get("stimulus/presentation")
    epochs = h5.get("epochs")
    numbers: set[int] = set()
    for grp in (acq, stim, epochs):
        if grp is None:
            continue
        for key in grp:
            m = re.fullmatch(r"Sweep_(\d+)", key)
            if m:
                numbers.add(int(m.group(1)))
    pairs: list[_Pair] = []
    for n in sorted(numbers):
        key = f"Sweep_{n}"
        start, count = 0, None
        if epochs is not None and key in epochs:
            ep = epochs[key]
            sub = ep.get("response") or ep.get("stimulus")
            if sub is not None and "idx_start" in sub:
                start = int(np.asarray(sub["idx_start"][()]).reshape(-1)[0])
                if "count" in sub:
                    count = int(np.asarray(sub["count"][()]).reshape(-1)[0])
                elif "idx_stop" in sub:
                    count = int(np.asarray(sub["idx_stop"][()]).reshape(-1)[0]) - start + 1
        if start < 0 or (count is not None and count < 0):
            raise CorruptFileError(path, f"epochs/{key} has a negative index range")
        full = count
        valid_end = None
        exp = epochs.get(f"Experiment_{n}") if epochs is not None else None
        if exp is not None:
            sub = exp.get("response") or exp.get("stimulus")
            if sub is not None and "idx_start" in sub and "count" in sub:
                e0 = int(np.asarray(sub["idx_start"][()]).reshape(-1)[0])
                e1 = e0 + int(np.asarray(sub["count"][()]).reshape(-1)[0])
                valid_end = e1
                if count is None or e1 < start + count:
                    count = max(e1 - start, 0)
        resp_g = acq.get(key) if acq is not None else None
        stim_g = stim.get(key) if stim is not None else None
        resp = (
            _h5_trace(
                resp_g,
                path,
                is_stimulus=False,
                start=start,
                count=count,
                apply_conversion=apply_conv,
            )
            if resp_g is not None
            else None
        )
        stim_t = (
            _h5_trace(
                stim_g,
                path,
                is_stimulus=True,
                start=start,
                count=count,
                apply_conversion=apply_conv,
            )
            if stim_g is not None
            else None
        )
        meta: dict[str, Any] = {"response_series": key if resp_g is not None else None}
        if stim_g is not None:
            meta.update(_small_datasets(stim_g))
        if resp_g is not None:
            for k, v in _small_datasets(resp_g).items():
                meta.setdefault(k, v)
        meta["index_range"] = (start, start + (count if count is not None else _len(resp, stim)))
        if full is not None:
            meta["sweep_samples"] = full
        if valid_end is not None:
            meta["experiment_end_index"] = valid_end
        spikes = None
        for where in ("analysis/spike_times", "analysis/aibs_spike_times"):
            g = h5.get(where)
            if g is not None and key in g:
                spikes = np.asarray(_read_slice(g[key], path, f"{where}/{key}"), dtype=np.float64)
                break
        if spikes is not None:
            meta["allen_spike_times"] = spikes
        name = meta.get("aibs_stimulus_name")
        desc = meta.get("aibs_stimulus_description") or meta.get("stimulus_description")
        pairs.append(
            _Pair(
                number=n,
                response=resp,
                stimulus=stim_t,
                stimulus_code=str(desc) if desc else None,
                stimulus_name=str(name) if name else None,
                metadata=meta,
            )
        )
    if version is None:
        log.info("%s: no pipeline version in general/generated_by; data used as stored", path)
    return pairs


def _len(*traces: _Trace | None) -> int:
    for t in traces:
        if t is not None:
            return int(t.data.shape[0])
    return 0


_MIES_NAME = re.compile(r"^data_(\d+)_(AD|DA)(\d+)")


def _electrode_h5(group: Any) -> str | None:
    if "electrode_name" in group:
        return _text(group["electrode_name"][()])
    if "electrode" in group:
        try:
            return str(group["electrode"].name).rsplit("/", 1)[-1]
        except Exception:
            return None
    src = _text(_attr(group, "source", ""))
    m = re.search(r"ElectrodeName=([^;]+)", src)
    return m.group(1) if m else None


def _stim_code_h5(group: Any) -> str | None:
    code = _attr(group, "stimulus_description")
    if code is None and "stimulus_description" in group:
        code = group["stimulus_description"][()]
    if code is None:
        return None
    txt = _text(code).strip()
    return txt or None


def _series_pairs_h5(
    resp_root: Any, stim_root: Any, path: Path, sweep_of: dict[str, int] | None = None
) -> list[_Pair]:
    """Pair response and stimulus groups by (sweep number, electrode)."""
    found: dict[tuple[int, str | None], _Pair] = {}
    for root, is_stim in ((resp_root, False), (stim_root, True)):
        if root is None:
            continue
        for order, key in enumerate(sorted(root)):
            grp = root.get(key)
            if grp is None or not hasattr(grp, "keys") or "data" not in grp:
                continue
            if "Clamp" not in _type_name(grp) and not _MIES_NAME.match(key):
                continue  # TTL, temperature ... series: not a sweep
            number = _sweep_number_h5(grp, key, sweep_of, order)
            el = _electrode_h5(grp)
            tr = _h5_trace(grp, path, is_stimulus=is_stim)
            pair = found.setdefault((number, el), _Pair(number, None, None, electrode=el))
            if is_stim:
                if pair.stimulus is not None:
                    continue
                pair.stimulus = tr
                pair.metadata["stimulus_series"] = key
            else:
                if pair.response is not None:
                    continue
                pair.response = tr
                pair.metadata["response_series"] = key
                pair.metadata.update(
                    {k: v for k, v in _small_datasets(grp).items() if k != "stimulus_description"}
                )
            code = _stim_code_h5(grp)
            if code and pair.stimulus_code is None:
                pair.stimulus_code = code
    return [found[k] for k in sorted(found, key=lambda k: (k[0], k[1] or ""))]


def _sweep_number_h5(grp: Any, key: str, sweep_of: dict[str, int] | None, order: int) -> int:
    sn = _attr(grp, "sweep_number")
    if sn is not None:
        try:
            return int(np.asarray(sn).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            pass
    if sweep_of and str(grp.name) in sweep_of:
        return sweep_of[str(grp.name)]
    m = _MIES_NAME.match(key) or re.search(r"(\d+)$", key)
    return int(m.group(1)) if m else order


def _mies1_pairs(h5: Any, path: Path) -> list[_Pair]:
    return _series_pairs_h5(h5.get("acquisition/timeseries"), h5.get("stimulus/presentation"), path)


# --------------------------------------------------------------------------------------------
# MIES lab notebook
# --------------------------------------------------------------------------------------------


def _headstage(pair: _Pair) -> int:
    for txt in (pair.electrode or "", *(str(pair.metadata.get(k, "")) for k in ("source",))):
        m = re.search(r"(\d+)$", txt) or re.search(r"ElectrodeNumber=(\d+)", txt)
        if m:
            return int(m.group(1))
    return 0


def _key_names(ds: Any) -> list[str]:
    keys = np.asarray(ds[()])
    if keys.ndim != 2 or keys.shape[0] < 1:
        return []
    return [_text(k) for k in keys[0]]


def _last_finite(block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Last finite value along axis 0 of (rows, keys); NaN where none."""
    fin = np.isfinite(block)
    if block.shape[0] == 0:
        return np.full(block.shape[1], np.nan)
    idx = block.shape[0] - 1 - np.argmax(fin[::-1], axis=0)
    out = block[idx, np.arange(block.shape[1])]
    return np.where(fin.any(axis=0), out, np.nan)


def _attach_labnotebook(h5: Any, pairs: list[_Pair]) -> None:
    """Add each sweep's MIES lab-notebook entries (its headstage, else the independent layer)."""
    lbn = h5.get("general/labnotebook")
    if lbn is None or not pairs:
        return
    devices = [k for k in lbn if hasattr(lbn[k], "keys")]
    if not devices:
        return
    dev = lbn[devices[0]]
    numeric: dict[int, dict[str, Any]] = {}
    text: dict[int, dict[str, Any]] = {}
    wanted = {p.number for p in pairs}
    if "numericalKeys" in dev and "numericalValues" in dev:
        keys = _key_names(dev["numericalKeys"])
        nds = dev["numericalValues"]
        if len(nds.shape) == 3 and keys and "SweepNum" in keys and nds.shape[1] == len(keys):
            # The notebook grows with every sweep ever acquired (tens of MB once unpacked):
            # read the sweep column, then only the rows of the sweeps in the file.
            sweep_col = np.asarray(nds[:, keys.index("SweepNum"), 0], dtype=np.float64)
            for n in wanted:
                idx = np.flatnonzero(sweep_col == n)
                rows = (
                    np.asarray(nds[idx.tolist(), :, :], dtype=np.float64)
                    if idx.size
                    else np.empty((0, *nds.shape[1:]))
                )
                numeric[n] = {"_rows": rows}
            numeric[-1] = {"_keys": keys}
    if "textualKeys" in dev and "textualValues" in dev:
        tkeys = _key_names(dev["textualKeys"])
        tds = dev["textualValues"]
        if len(tds.shape) == 3 and tkeys and "SweepNum" in tkeys and tds.shape[1] == len(tkeys):
            # Variable-length strings are slow to read: read the sweep column, then only the
            # rows of the sweeps in the file.
            col = tds[:, tkeys.index("SweepNum"), 0]
            tsweep = np.array([_text(x) for x in np.asarray(col).reshape(-1)])
            for n in wanted:
                idx = np.flatnonzero(tsweep == str(n))
                rows = (
                    np.asarray(tds[idx.tolist(), :, :])
                    if idx.size
                    else np.empty((0, *tds.shape[1:]), dtype=object)
                )
                text[n] = {"_rows": rows}
            text[-1] = {"_keys": tkeys}
    for p in pairs:
        hs = _headstage(p)
        entries: dict[str, Any] = {}
        if p.number in numeric:
            keys = numeric[-1]["_keys"]
            rows = numeric[p.number]["_rows"]
            if rows.shape[0] and rows.shape[2] > hs:
                own = _last_finite(rows[:, :, hs])
                indep = _last_finite(rows[:, :, -1])
                merged = np.where(np.isfinite(own), own, indep)
                for k, v in zip(keys, merged, strict=True):
                    if math.isfinite(v) and k:
                        entries[k] = float(v)
        if p.number in text:
            tkeys = text[-1]["_keys"]
            trows = text[p.number]["_rows"]
            if trows.shape[0] and trows.shape[2] > hs:
                for j, k in enumerate(tkeys):
                    if not k:
                        continue
                    for layer in (hs, trows.shape[2] - 1):
                        col = [_text(x) for x in trows[:, j, layer]]
                        nonempty = [c for c in col if c]
                        if nonempty and k not in entries:
                            entries[k] = nonempty[-1]
                            break
        if entries:
            p.metadata["labnotebook"] = entries
            if "Stim Scale Factor" in entries:
                p.metadata["stim_scale_factor"] = entries["Stim Scale Factor"]
            if p.stimulus_code is None and entries.get("Stim Wave Name"):
                p.stimulus_code = str(entries["Stim Wave Name"])


# --------------------------------------------------------------------------------------------
# NWB 2 (pynwb, h5py fallback for the legacy layout)
# --------------------------------------------------------------------------------------------


def _require_pynwb(path: Path) -> Any:
    try:
        import pynwb
    except ImportError as exc:
        raise ReadError(
            path,
            "is an NWB 2 file and reading NWB 2 needs pynwb, which is not installed",
            "pip install 'patchatlas[nwb]'",
        ) from exc
    return pynwb


def _nwb2_pairs(path: Path) -> tuple[str, list[_Pair]]:
    pynwb = _require_pynwb(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
                nwb = io.read()
                irt = getattr(nwb, "intracellular_recordings", None)
                if irt is not None and len(irt) > 0:
                    return "nwb2", _table_pairs(nwb, irt, path)
                return "nwb2-legacy", _legacy_pairs_pynwb(nwb, path)
    except PatchAtlasError:
        raise
    except Exception as exc:
        import h5py

        with h5py.File(path, "r") as h5:
            tables = "general/intracellular_ephys/intracellular_recordings" in h5
            pairs = [] if tables else _legacy_pairs_h5(h5, path)
        if not pairs:
            raise
        log.warning(
            "%s: pynwb could not read the file (%s: %s); read the sweep-table layout with h5py",
            path,
            type(exc).__name__,
            str(exc)[:200],
        )
        return "nwb2-legacy", pairs


def _clamp_type_name(ts: Any) -> str:
    for cls in type(ts).__mro__:
        if "Clamp" in cls.__name__:
            return cls.__name__
    return str(getattr(ts, "neurodata_type", type(ts).__name__))


def _pynwb_trace(
    ts: Any, path: Path, *, is_stimulus: bool, start: int = 0, count: int | None = None
) -> _Trace:
    what = f"series {ts.name}"
    ds = ts.data
    if hasattr(ds, "shape") and hasattr(ds, "dtype") and not isinstance(ds, np.ndarray):
        data = _read_slice(ds, path, what, start, count)
    else:
        arr = np.asarray(ds)
        data = arr[start : None if count is None else start + count]
    timestamps = None
    if getattr(ts, "timestamps", None) is not None:
        tsd = ts.timestamps
        timestamps = np.asarray(
            _read_slice(tsd, path, f"timestamps of {ts.name}", start, count)
            if hasattr(tsd, "dtype") and not isinstance(tsd, np.ndarray)
            else np.asarray(tsd)[start : None if count is None else start + count],
            dtype=np.float64,
        )
    rate = getattr(ts, "rate", None)
    t_start = getattr(ts, "starting_time", None)
    return _Trace(
        name=str(ts.name),
        type_name=_clamp_type_name(ts),
        data=data,
        conversion=float(getattr(ts, "conversion", 1.0) or 1.0),
        offset=float(getattr(ts, "offset", 0.0) or 0.0),
        unit=str(getattr(ts, "unit", "") or ""),
        rate=float(rate) if rate is not None else None,
        starting_time=float(t_start) if t_start is not None else 0.0,
        timestamps=timestamps,
        is_stimulus=is_stimulus,
    )


def _ref(col: Any, r: int) -> tuple[Any, int, int] | None:
    """(timeseries, idx_start, count) of a TimeSeriesReference cell, None when missing."""
    if col is None:
        return None
    ref = col[r]
    ts = getattr(ref, "timeseries", None)
    idx_raw, cnt_raw = getattr(ref, "idx_start", None), getattr(ref, "count", None)
    if ts is None or idx_raw is None or cnt_raw is None:
        return None
    idx, cnt = int(idx_raw), int(cnt_raw)
    if ts is None or idx < 0 or cnt < 0:
        return None
    return ts, idx, cnt


def _ragged(table: Any, col: str) -> list[list[int]]:
    if table is None or col not in table.colnames:
        return []
    c = table[col]
    if hasattr(c, "target"):
        ends = np.asarray(c.data[:], dtype=np.int64)
        flat = np.asarray(c.target.data[:], dtype=np.int64)
        starts = np.concatenate(([0], ends[:-1]))
        return [flat[a:b].tolist() for a, b in zip(starts, ends, strict=True)]
    return [[int(x)] for x in np.asarray(c.data[:]).reshape(-1)]


def _ids(table: Any) -> list[int]:
    return [int(x) for x in np.asarray(table.id.data[:]).reshape(-1)]


def _icephys_groups(nwb: Any, n: int) -> list[dict[str, Any]]:
    """For each IntracellularRecordingsTable row: ids of the rows that group it, upwards."""
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    levels = [
        ("simultaneous", "icephys_simultaneous_recordings", "recordings"),
        ("sequential", "icephys_sequential_recordings", "simultaneous_recordings"),
        ("repetition", "icephys_repetitions", "sequential_recordings"),
        ("condition", "icephys_experimental_conditions", "repetitions"),
    ]
    # member index at the level below -> row index at this level
    below: dict[int, list[int]] = {r: [r] for r in range(n)}  # level row -> recording rows
    for label, attr, col in levels:
        table = getattr(nwb, attr, None)
        if table is None or len(table) == 0:
            break
        ids = _ids(table)
        rows = _ragged(table, col)
        extra: dict[str, list[Any]] = {}
        if label == "sequential" and "stimulus_type" in table.colnames:
            extra["stimulus_type"] = [_text(x) for x in table["stimulus_type"].data[:]]
        new_below: dict[int, list[int]] = {}
        for row, members in enumerate(rows):
            recs = [rec for m in members for rec in below.get(m, [])]
            new_below[row] = recs
            for rec in recs:
                if 0 <= rec < n:
                    out[rec][f"{label}_id"] = ids[row] if row < len(ids) else row
                    for k, vals in extra.items():
                        if row < len(vals):
                            out[rec][k] = vals[row]
        below = new_below
    return out


def _stored_columns(irt: Any, n: int) -> list[dict[str, Any]] | None:
    cols = [c for c in irt.colnames if c in PATCHATLAS_COLUMNS]
    if not cols:
        return None
    data = {c: list(irt[c].data[:]) for c in cols}
    out = []
    for r in range(n):
        row = {}
        for c in cols:
            v = data[c][r]
            row[c] = _text(v) if isinstance(v, bytes | np.bytes_ | str) else v
        out.append(row)
    return out


def _trailing_number(name: str) -> int | None:
    m = _MIES_NAME.match(name) or re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else None


def _stim_code(ts: Any) -> str | None:
    code = getattr(ts, "stimulus_description", None)
    if code is None:
        return None
    txt = _text(code).strip()
    return None if txt.upper() in ("", "N/A", "NA", "NONE") else txt


def _table_pairs(nwb: Any, irt: Any, path: Path) -> list[_Pair]:
    n = len(irt)
    cats = irt.category_tables
    resp_col = cats["responses"]["response"] if "responses" in cats else None
    stim_col = cats["stimuli"]["stimulus"] if "stimuli" in cats else None
    el_col = cats["electrodes"]["electrode"] if "electrodes" in cats else None
    groups = _icephys_groups(nwb, n)
    stored = _stored_columns(irt, n)
    rec_ids = _ids(irt)
    pairs: list[_Pair] = []
    for r in range(n):
        rref = _ref(resp_col, r)
        sref = _ref(stim_col, r)
        resp = (
            _pynwb_trace(rref[0], path, is_stimulus=False, start=rref[1], count=rref[2])
            if rref
            else None
        )
        stim = (
            _pynwb_trace(sref[0], path, is_stimulus=True, start=sref[1], count=sref[2])
            if sref
            else None
        )
        main = rref[0] if rref else (sref[0] if sref else None)
        el = el_col[r] if el_col is not None else getattr(main, "electrode", None)
        number: int | None = None
        row = stored[r] if stored else None
        if row and row.get("patchatlas_sweep_number") is not None:
            number = int(row["patchatlas_sweep_number"])
        if number is None and main is not None and getattr(main, "sweep_number", None) is not None:
            number = int(main.sweep_number)
        if number is None and main is not None:
            number = _trailing_number(str(main.name))
        meta: dict[str, Any] = {"icephys": {"recording_id": rec_ids[r], **groups[r]}}
        for key in (
            "gain",
            "bias_current",
            "bridge_balance",
            "capacitance_compensation",
            "capacitance_fast",
            "capacitance_slow",
            "comments",
            "description",
        ):
            val = getattr(main, key, None)
            if isinstance(val, int | float | str) and val not in ("", "no comments", "NA"):
                meta[key] = val
        code = _stim_code(main) if main is not None else None
        if code is None and stim is not None and sref:
            code = _stim_code(sref[0])
        pairs.append(
            _Pair(
                number=number if number is not None else r,
                response=resp,
                stimulus=stim,
                electrode=str(getattr(el, "name", "")) or None,
                stimulus_code=code,
                metadata=meta,
                stored=row,
            )
        )
    return pairs


def _legacy_pairs_pynwb(nwb: Any, path: Path) -> list[_Pair]:
    sweep_of: dict[int, int] = {}
    table = getattr(nwb, "sweep_table", None)
    if table is not None and len(table) > 0:
        nums = np.asarray(table["sweep_number"].data[:]).reshape(-1)
        for row, series in enumerate(_sweep_table_series(table)):
            for ts in series:
                if row < nums.size:
                    sweep_of[id(ts)] = int(nums[row])
    found: dict[tuple[int, str | None], _Pair] = {}
    for container, is_stim in ((nwb.acquisition, False), (nwb.stimulus, True)):
        for order, key in enumerate(sorted(container)):
            ts = container[key]
            if not hasattr(ts, "data") or ts.data is None:
                continue
            if "Clamp" not in _clamp_type_name(ts) and not _MIES_NAME.match(str(key)):
                continue  # TTL, temperature ... series: not a sweep
            number = getattr(ts, "sweep_number", None)
            if number is None:
                number = sweep_of.get(id(ts))
            if number is None:
                number = _trailing_number(str(key))
            if number is None:
                number = order
            el = getattr(getattr(ts, "electrode", None), "name", None)
            pair = found.setdefault((int(number), el), _Pair(int(number), None, None, electrode=el))
            slot = "stimulus" if is_stim else "response"
            if getattr(pair, slot) is not None:
                continue
            setattr(pair, slot, _pynwb_trace(ts, path, is_stimulus=is_stim))
            pair.metadata[f"{slot}_series"] = str(key)
            code = _stim_code(ts)
            if code and pair.stimulus_code is None:
                pair.stimulus_code = code
            if not is_stim:
                for attr in (
                    "gain",
                    "capacitance_fast",
                    "capacitance_slow",
                    "bias_current",
                    "bridge_balance",
                    "capacitance_compensation",
                ):
                    val = getattr(ts, attr, None)
                    if isinstance(val, int | float):
                        pair.metadata[attr] = val
    return [found[k] for k in sorted(found, key=lambda k: (k[0], k[1] or ""))]


def _sweep_table_series(table: Any) -> Iterator[list[Any]]:
    col = table["series"]
    for row in range(len(table)):
        try:
            val = col[row]
        except Exception:
            val = []
        yield list(val) if isinstance(val, list | tuple) else [val]


def _legacy_pairs_h5(h5: Any, path: Path) -> list[_Pair]:
    sweep_of: dict[str, int] = {}
    st = h5.get("general/intracellular_ephys/sweep_table")
    if st is not None and "series" in st and "sweep_number" in st:
        refs = np.asarray(st["series"][()]).reshape(-1)
        nums = np.asarray(st["sweep_number"][()]).reshape(-1)
        ends = (
            np.asarray(st["series_index"][()], dtype=np.int64).reshape(-1)
            if "series_index" in st
            else np.arange(1, refs.size + 1)
        )
        starts = np.concatenate(([0], ends[:-1]))
        for row, (a, b) in enumerate(zip(starts, ends, strict=True)):
            for ref in refs[a:b]:
                try:
                    sweep_of[str(h5[ref].name)] = int(nums[row])
                except Exception:
                    continue
    return _series_pairs_h5(h5.get("acquisition"), h5.get("stimulus/presentation"), path, sweep_of)


# --------------------------------------------------------------------------------------------
# Recording assembly
# --------------------------------------------------------------------------------------------


def _clean_code(code: str) -> str:
    return re.sub(r"(_DA_\d+)?(\[\d+\])?$", "", code.strip())


def _make_sweep(pair: _Pair, path: Path, onto: StimulusOntology | None) -> Sweep | None:
    resp, stim = pair.response, pair.stimulus
    if resp is None:
        log.warning("%s: sweep %d has a stimulus but no response; skipped", path, pair.number)
        return None
    mode = _mode_of(pair)
    if mode is None:
        log.warning("%s: sweep %d: clamp mode unknown; assuming current clamp", path, pair.number)
        mode = ClampMode.CURRENT_CLAMP
    meta = dict(pair.metadata)
    stored = pair.stored or {}
    t0 = float(stored.get("patchatlas_t0_s", 0.0) or 0.0)
    time = None
    starting_time = resp.starting_time
    if resp.rate is not None:
        rate = resp.rate
    elif resp.timestamps is not None and resp.timestamps.size == resp.data.shape[0]:
        ts = resp.timestamps
        uniform, rate, first = uniform_time(ts)
        starting_time = first
        if not uniform:
            if not math.isfinite(rate):
                raise CorruptFileError(path, f"series {resp.name}: time stamps decrease")
            time = ts - ts[0] + t0
    else:
        raise CorruptFileError(path, f"series {resp.name} has neither a rate nor time stamps")
    if not (math.isfinite(rate) and rate > 0):
        raise CorruptFileError(path, f"series {resp.name} has an invalid sampling rate {rate!r}")
    if (
        stim is not None
        and stim.rate is not None
        and not math.isclose(stim.rate, rate, rel_tol=1e-6)
    ):
        log.warning(
            "%s: sweep %d: stimulus rate %g Hz differs from response rate %g Hz; stimulus dropped",
            path,
            pair.number,
            stim.rate,
            rate,
        )
        stim = None
    if mode is ClampMode.CURRENT_CLAMP:
        v = resp.values("voltage", path)
        i = stim.values("current", path) if stim is not None else None
    else:
        i = resp.values("current", path)
        v = stim.values("voltage", path) if stim is not None else np.full(i.shape, np.nan)
    if i is not None and i.shape != v.shape:
        m = min(i.shape[0], v.shape[0])
        log.warning(
            "%s: sweep %d: response has %d samples, stimulus %d; both cut to %d",
            path,
            pair.number,
            resp.data.shape[0],
            stim.data.shape[0] if stim is not None else 0,
            m,
        )
        v, i = v[:m], i[:m]
        if time is not None:
            time = time[:m]
    if v.shape[0] == 0:
        raise CorruptFileError(path, f"sweep {pair.number} ({resp.name}) holds no samples")
    code = pair.stimulus_code
    name = pair.stimulus_name
    if name is None and code:
        name = (onto.name(code) if onto is not None else None) or _clean_code(code)
    meta["starting_time"] = starting_time
    meta["response_series"] = resp.name
    if stim is not None:
        meta["stimulus_series"] = stim.name
    meta["series_type"] = resp.type_name
    meta["units"] = {"response": resp.unit, "stimulus": stim.unit if stim is not None else None}
    if pair.electrode:
        meta["electrode"] = pair.electrode
    if code:
        meta["stimulus_code"] = code
    if stored.get("patchatlas_metadata"):
        try:
            extra = json.loads(str(stored["patchatlas_metadata"]))
        except ValueError:
            extra = None
        if isinstance(extra, dict):
            meta = {**meta, **extra}
    return Sweep(
        v=v,
        i=i,
        sampling_rate=float(rate),
        number=pair.number,
        clamp_mode=mode,
        stimulus=Stimulus(name=name),
        t0=t0,
        time=time,
        metadata=meta,
    )


def _name_kind(sweep: Sweep, pair: _Pair, onto: StimulusOntology | None) -> StimulusKind | None:
    if pair.stimulus_name:
        kind = kind_from_name(pair.stimulus_name)
        if kind is not None:
            return kind
    if pair.stimulus_code and onto is not None:
        return onto.kind(pair.stimulus_code)
    return kind_from_name(sweep.stimulus.name)


def _declared(kind: StimulusKind | None, row: dict[str, Any] | None) -> DeclaredStimulus | None:
    """What the file states about a sweep's stimulus: the kind its stimulus name or code implies,
    and the ``patchatlas_*`` columns of a file written by :func:`patchatlas.io.write_nwb`."""
    if not row:
        return None if kind is None else DeclaredStimulus(origin="name", kind=kind)

    def num(key: str) -> float:
        v = row.get(key)
        try:
            return float(v) if v is not None else math.nan
        except (TypeError, ValueError):
            return math.nan

    stored_kind = kind
    with contextlib.suppress(ValueError):
        if row.get("patchatlas_kind") is not None:
            stored_kind = StimulusKind(str(row["patchatlas_kind"]))
    name = row.get("patchatlas_stimulus_name")
    return DeclaredStimulus(
        origin="file",
        kind=stored_kind,
        amplitude=num("patchatlas_amplitude_pa"),
        start=num("patchatlas_start_s"),
        end=num("patchatlas_end_s"),
        holding=num("patchatlas_holding_pa"),
        name=str(name) if name else None,
        source=str(row.get("patchatlas_stimulus_source") or "file"),
    )


def _build(
    pairs: list[_Pair],
    path: Path,
    layout: str,
    version: str,
    meta: dict[str, Any],
    onto: StimulusOntology | None,
    cell_id: str | None,
    electrode: str | None,
) -> Recording:
    electrodes = sorted({p.electrode for p in pairs if p.electrode})
    if electrode is not None:
        if electrode not in electrodes:
            raise ReadError(
                path, f"has no electrode {electrode!r}", f"electrodes in this file: {electrodes}"
            )
        pairs = [p for p in pairs if p.electrode == electrode]
    elif len(electrodes) > 1:
        log.warning(
            "%s: %d electrodes (%s); reading %s (pass electrode=... for another)",
            path,
            len(electrodes),
            ", ".join(electrodes),
            electrodes[0],
        )
        pairs = [p for p in pairs if p.electrode in (electrodes[0], None)]
    kept: list[tuple[Sweep, _Pair]] = []
    for p in pairs:
        s = _make_sweep(p, path, onto)
        if s is not None:
            kept.append((s, p))
    if not kept:
        raise CorruptFileError(
            path,
            f"holds no intracellular sweeps with a response series (layout {layout})",
            "check that the file has acquisition series (CurrentClampSeries/VoltageClampSeries)",
        )
    kept.sort(key=lambda sp: sp[0].number)
    sweeps = [s for s, _ in kept]
    for s, p in kept:
        s.declared = _declared(_name_kind(s, p, onto), p.stored)
    rec_meta = dict(meta)
    stored_cell = rec_meta.pop("patchatlas_cell_id", None)
    rec_meta["nwb_version"] = version
    rec_meta["layout"] = layout
    if electrodes:
        rec_meta["electrodes"] = electrodes
    gen = rec_meta.get("generated_by")
    if layout == "nwb1-allen" and isinstance(gen, dict):
        v = _pipeline_version(gen)
        rec_meta["allen_pipeline_version"] = f"{v[0]}.{v[1]}" if v else None
        rec_meta["conversion_applied"] = v is not None and v >= (1, 1)
    return Recording(
        sweeps=sweeps,
        cell_id=cell_id or (str(stored_cell) if stored_cell else path.stem),
        source=path,
        format=layout,
        metadata=rec_meta,
    )
